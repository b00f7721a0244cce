"""The training loop: a one-epoch smoke test, class weights, augmentation, exact resume."""
from __future__ import annotations

import numpy as np
import torch

from genre_core.features.config import DEFAULT_FEATURES
from genre_core.models.networks import build_network, count_parameters
from genre_core.training.loop import TrainConfig, augment, class_weights, normalization_stats, train_network


def _toy_images(n_per_class: int = 4, n_classes: int = 3, seed: int = 0):
    """Class c has energy in rows 10c..10c+10: a pattern a CNN learns in a few epochs."""
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for c in range(n_classes):
        for _ in range(n_per_class):
            img = rng.standard_normal((40, 300)).astype(np.float32) * 0.3
            img[10 * c : 10 * c + 10] += 2.0
            images.append(img)
            labels.append(c)
    return images, np.array(labels)


def test_parameter_counts_match_the_reference_sizes():
    assert 12_000 < count_parameters(build_network("simple_cnn", 10, 128)) < 18_000
    assert 50_000 < count_parameters(build_network("complex_cnn", 10, 128)) < 70_000
    for bins in (20, 128, 1025):
        out = build_network("deep_cnn", 10, bins)(torch.zeros(2, 1, bins, 130))
        assert out.shape == (2, 10)


def test_one_epoch_smoke():
    images, labels = _toy_images()
    net = build_network("simple_cnn", 3, 40)
    result = train_network(net, images, labels, DEFAULT_FEATURES, TrainConfig(epochs=1, batch_size=8),
                           images[:3], labels[:3], progress=False)
    assert len(result.history) == 1
    row = result.history[0]
    assert np.isfinite(row["train_loss"]) and np.isfinite(row["val_loss"]) and 0 <= row["val_acc"] <= 1


def test_training_learns_a_separable_pattern():
    images, labels = _toy_images()
    net = build_network("deep_cnn", 3, 40)
    result = train_network(net, images, labels, DEFAULT_FEATURES, TrainConfig(epochs=8, batch_size=8, patience=8),
                           images, labels, progress=False)
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]
    assert max(r["val_acc"] for r in result.history) > 0.9


def test_interrupted_and_resumed_equals_uninterrupted(tmp_path):
    images, labels = _toy_images()
    cfg = TrainConfig(epochs=4, batch_size=8, seed=3, patience=10)

    def fresh():
        torch.manual_seed(0)
        return build_network("simple_cnn", 3, 40)

    straight = train_network(fresh(), images, labels, DEFAULT_FEATURES, cfg, images, labels, progress=False)
    ckpt = tmp_path / "run.pt"
    train_network(fresh(), images, labels, DEFAULT_FEATURES, cfg, images, labels, checkpoint_path=ckpt,
                  progress=False, stop_after=2)
    resumed = train_network(fresh(), images, labels, DEFAULT_FEATURES, cfg, images, labels, checkpoint_path=ckpt,
                            resume=True, progress=False)
    assert [r["epoch"] for r in resumed.history] == [1, 2, 3, 4]
    for key, value in straight.state_dict.items():
        assert torch.equal(value, resumed.state_dict[key]), key
    assert [round(r["val_loss"], 6) for r in straight.history] == [round(r["val_loss"], 6) for r in resumed.history]


def test_class_weights_favour_rare_classes():
    w = class_weights(np.array([0] * 100 + [1] * 10), 3)
    assert w[1] > 5 * w[0] and w[2] == 0


def test_normalization_and_augment_shapes():
    images, _ = _toy_images()
    mean, std = normalization_stats(images)
    assert mean.shape == std.shape == (40,)
    batch = np.ones((4, 40, 130), dtype=np.float32)
    out = augment(batch.copy(), TrainConfig(time_mask=0.2, freq_mask=0.2, cutout=1.0, flip=1.0),
                  np.random.default_rng(0))
    assert out.shape == batch.shape and (out == 0).any()


def test_inference_copy_gives_the_same_outputs():
    from genre_core.models.networks import optimize_for_inference

    torch.manual_seed(0)
    for arch, bins in (("simple_cnn", 128), ("complex_cnn", 128), ("deep_cnn", 1025), ("deep_cnn", 20), ("linear", 128)):
        net = build_network(arch, 10, bins)
        for module in net.modules():  # non-trivial batch-norm statistics
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-1, 1)
                module.running_var.uniform_(0.5, 2)
                module.weight.data.uniform_(-2, 2)
        net.eval()
        x = torch.randn(5, 1, bins, 130)
        with torch.inference_mode():
            torch.testing.assert_close(optimize_for_inference(net)(x.contiguous(memory_format=torch.channels_last)),
                                       net(x), atol=1e-4, rtol=1e-4)
