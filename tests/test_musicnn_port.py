"""The PyTorch port of musicnn against the original TensorFlow graph (tests/fixtures/musicnn_reference.npz,
written by scripts/musicnn_reference.py in a TensorFlow virtualenv)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from musicnn_signal import SIGNAL_RATE, reference_signal

from genre_core.audio.decode import load_audio
from genre_core.audio.errors import ModelLoadError
from genre_core.models.musicnn import cut_patches, load_tagger, log_mel, spread_patches

ROOT = Path(__file__).resolve().parent.parent
TAGGER = ROOT / "models" / "musicnn_msd"
REFERENCE = np.load(Path(__file__).parent / "fixtures" / "musicnn_reference.npz")
TAGGRAM_TOL, PENULTIMATE_TOL = 1e-4, 1e-3


@pytest.fixture(scope="module", params=["onnxruntime", "torch"])
def tagger(request):
    """Both ways of running the network: the ONNX export under ONNX Runtime (the default) and torch."""
    loaded = load_tagger(TAGGER, backend="auto" if request.param == "onnxruntime" else "torch")
    assert loaded.backend == request.param
    return loaded


def test_onnx_export_is_used_only_for_the_weights_it_was_made_from(tmp_path):
    import json
    import shutil

    for name in ("config.json", "weights.safetensors", "musicnn.onnx"):
        shutil.copy(TAGGER / name, tmp_path / name)
    assert load_tagger(tmp_path).backend == "onnxruntime"
    config = json.loads((tmp_path / "config.json").read_text())
    config["onnx"]["weights_sha256"] = "0" * 64  # exported from other weights
    (tmp_path / "config.json").write_text(json.dumps(config))
    assert load_tagger(tmp_path).backend == "torch"
    config = json.loads((TAGGER / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps(config))
    (tmp_path / "musicnn.onnx").write_bytes(b"damaged")
    assert load_tagger(tmp_path).backend == "torch"


def test_onnx_and_torch_agree_on_gtzan_like_input():
    onnx, torch_backend = load_tagger(TAGGER), load_tagger(TAGGER, backend="torch")
    patches = np.random.default_rng(1).uniform(0, 4, (3, 187, 96)).astype(np.float32)
    a, b = onnx.run(patches), torch_backend.run(patches)
    np.testing.assert_allclose(a["tags"], b["tags"], atol=1e-4)
    np.testing.assert_allclose(a["penultimate"], b["penultimate"], atol=1e-3)


def test_long_songs_are_heard_at_evenly_spread_patches():
    assert spread_patches(10, 32).tolist() == list(range(10))
    assert spread_patches(10, None).tolist() == list(range(10))
    chosen = spread_patches(80, 32)
    assert len(chosen) == 32 and chosen[0] == 0 and chosen[-1] == 79
    assert np.all(np.diff(chosen) >= 2) and np.all(np.diff(chosen) <= 3)


def test_network_matches_tensorflow_on_the_same_patches(tagger):
    out = tagger.run(REFERENCE["signal/patches"])
    np.testing.assert_allclose(out["tags"], REFERENCE["signal/taggram"], atol=TAGGRAM_TOL)
    np.testing.assert_allclose(out["penultimate"], REFERENCE["signal/penultimate"], atol=PENULTIMATE_TOL)
    # a faithful port is far inside the tolerance
    assert np.abs(out["tags"] - REFERENCE["signal/taggram"]).max() < 1e-5


def test_batching_does_not_change_the_answer(tagger):
    patches = REFERENCE["signal/patches"]
    one, three = tagger.run(patches, per_call=1), tagger.run(patches, per_call=3)
    np.testing.assert_allclose(one["tags"], three["tags"], atol=1e-6)


def test_front_end_matches_musicnn_from_a_file(tagger, tmp_path):
    """Decoding + resampling to 16 kHz + log-mel, end to end, as musicnn's extractor did it."""
    path = tmp_path / "signal.wav"
    sf.write(path, reference_signal(), SIGNAL_RATE, subtype="PCM_16")
    clip = load_audio(path, target_sr=tagger.front_end.sample_rate)
    patches = tagger.patches(clip.samples)
    assert patches.shape == REFERENCE["signal/patches"].shape == (3, 187, 96)
    np.testing.assert_allclose(patches, REFERENCE["signal/patches"], atol=2e-3)
    np.testing.assert_allclose(tagger.run(patches)["tags"], REFERENCE["signal/taggram"], atol=TAGGRAM_TOL)


def test_short_input_is_repeat_padded_to_one_patch(tagger):
    frames = log_mel(np.zeros(8000, dtype=np.float32) + 0.01, tagger.front_end)
    patches = cut_patches(frames, tagger.front_end)
    assert patches.shape == (1, 187, 96)


def test_gtzan_clips_match_tensorflow(tagger, gtzan_dir):
    for rel in REFERENCE["clips"]:
        name = Path(str(rel)).stem.replace(".", "_")
        clip = load_audio(gtzan_dir / str(rel), target_sr=16000)
        patches = tagger.patches(clip.samples)
        np.testing.assert_allclose(patches[:1], REFERENCE[f"{name}/patches"], atol=2e-3)
        out = tagger.run(patches)
        np.testing.assert_allclose(out["tags"], REFERENCE[f"{name}/taggram"], atol=TAGGRAM_TOL)
        np.testing.assert_allclose(out["penultimate"], REFERENCE[f"{name}/penultimate"], atol=PENULTIMATE_TOL)


def test_broken_tagger_folder_is_reported(tmp_path):
    with pytest.raises(ModelLoadError, match="config.json"):
        load_tagger(tmp_path)
    (tmp_path / "config.json").write_text((TAGGER / "config.json").read_text())
    (tmp_path / "weights.safetensors").write_bytes(b"not weights")
    with pytest.raises(ModelLoadError, match="weights"):
        load_tagger(tmp_path)


def test_weights_are_the_converted_checkpoint(tagger):
    """The stored weights are what scripts/convert_musicnn.py wrote (provenance in config.json)."""
    import hashlib

    digest = hashlib.sha256((TAGGER / "weights.safetensors").read_bytes()).hexdigest()
    assert digest == tagger.config["provenance"]["weights_sha256"]
    assert tagger.config["provenance"]["package"] == "musicnn" and "ISC" in tagger.config["licence"]
    assert sum(p.numel() for p in tagger.network.parameters()) > 700_000


def test_the_patches_of_a_long_song_are_computed_as_from_the_whole_song():
    tagger = load_tagger(TAGGER, backend="torch")
    song = (np.random.default_rng(2).standard_normal(16000 * 110 + 321) * 0.1).astype(np.float32)
    every = tagger.patches(song)
    heard, chosen, total = tagger.heard_patches(song, 32)
    assert total == len(every) == 36 and len(chosen) == 32 and heard.shape == (32, 187, 96)
    np.testing.assert_allclose(heard, every[chosen], atol=2e-3)  # float16 rounding of the mel power may differ
    short, chosen, total = tagger.heard_patches(song[:16000 * 30], 32)
    assert total == 10 and np.array_equal(short, tagger.patches(song[:16000 * 30]))


def test_the_vgg_port_maps_every_checkpoint_variable_and_flattens_like_tensorflow():
    """MSD_vgg (measured as a lever, not shipped): TF kernels (kh, kw, in, out) land on the right convs and the
    tag layer reads the 256 pool5 values through TF's (256, 50) kernel. (No TensorFlow reference for this port:
    its tags on real clips were checked against musicnn's, reports/README.md.)"""
    import sys

    import torch

    sys.path.insert(0, str(ROOT / "scripts"))
    from convert_musicnn import vgg_state_dict

    from genre_core.models.musicnn_net import MusicVGG

    rng = np.random.default_rng(0)
    tf_vars = {}
    for i in range(5):
        tf_vars[f"{i + 1}CNN/kernel"] = rng.normal(size=(3, 3, 1 if i == 0 else 128, 128)).astype(np.float32) * 0.05
        tf_vars[f"{i + 1}CNN/bias"] = np.zeros(128, np.float32)
    for name, width in [("batch_normalization", 1)] + [(f"batch_normalization_{i}", 128) for i in range(1, 6)]:
        for field, value in (("gamma", 1.0), ("beta", 0.0), ("moving_mean", 0.0), ("moving_variance", 1.0)):
            tf_vars[f"{name}/{field}"] = np.full(width, value, np.float32)
    tf_vars["dense/kernel"] = rng.normal(size=(256, 50)).astype(np.float32)
    tf_vars["dense/bias"] = np.zeros(50, np.float32)
    network = MusicVGG().eval()
    network.load_state_dict(vgg_state_dict(tf_vars), strict=True)
    np.testing.assert_array_equal(network.convs[1].weight[5, 7].detach().numpy(), tf_vars["2CNN/kernel"][:, :, 7, 5])
    with torch.inference_mode():
        out = network.features(torch.from_numpy(rng.normal(size=(2, 187, 96)).astype(np.float32)))
    assert out["pool5"].shape == (2, 256) and out["logits"].shape == (2, 50)
    np.testing.assert_allclose(out["logits"].numpy(), out["pool5"].numpy() @ tf_vars["dense/kernel"], rtol=1e-4, atol=1e-4)
