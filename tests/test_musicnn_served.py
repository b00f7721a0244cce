"""The served ONNX graph of the tagger (scripts/optimize_musicnn_onnx.py): the reference function, rewritten to
run faster, checked against torch; the loader falls back to the reference export, then to torch."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from genre_core.models.musicnn import ONNX_FILE, ONNX_TOLERANCE, load_tagger
from genre_core.models.musicnn_net import MaxFirstMusiCNN

TAGGER = Path(__file__).resolve().parent.parent / "models" / "musicnn_msd"
REFERENCE = np.load(Path(__file__).parent / "fixtures" / "musicnn_reference.npz")
SERVED = json.loads((TAGGER / "config.json").read_text())["onnx_served"]


@pytest.fixture(scope="module")
def torch_tagger():
    return load_tagger(TAGGER, backend="torch")


def _patches() -> np.ndarray:
    """Real log-mel patches (musicnn's own test signal) and random ones in the front end's value range."""
    rng = np.random.default_rng(4)
    return np.concatenate([REFERENCE["signal/patches"], rng.uniform(0, 4, (3, 187, 96)).astype(np.float32)])


def test_the_served_graph_is_the_rewritten_one_and_matches_torch(torch_tagger):
    served = load_tagger(TAGGER)
    assert served.graph == SERVED["file"] != ONNX_FILE
    patches = _patches()
    got, expected = served.run(patches), torch_tagger.run(patches)
    for key, tolerance in ONNX_TOLERANCE.items():
        np.testing.assert_allclose(got[key], expected[key], atol=tolerance)
    # an exact rewrite: as close to torch as the reference export is
    reference = load_tagger(TAGGER, backend="reference")
    assert reference.graph == ONNX_FILE
    np.testing.assert_allclose(got["tags"], reference.run(patches)["tags"], atol=1e-5)


def test_max_first_front_end_is_the_same_function_in_torch(torch_tagger):
    """Batch norm after the max over the bands (min where its scale is negative) gives the network's own values;
    leaving out the dead filters moves the front end by float rounding only."""
    network = torch_tagger.network
    scales = torch.cat([bn.weight for bn in [*network.timbral_bn, *network.temporal_bn]])
    assert (scales < 0).any() and (scales > 0).any()  # both branches of the rewrite are exercised
    x = torch.from_numpy(_patches())
    with torch.inference_mode():
        expected = network.front_end(x).numpy()
        exact = MaxFirstMusiCNN(network, torch_tagger.front_end.n_mels).eval()
        np.testing.assert_array_equal(exact.front_end(x).numpy(), expected)
        live_only = MaxFirstMusiCNN(network, torch_tagger.front_end.n_mels, dead_below=1e-5).eval()
        assert [len(live) for live in live_only.live] == [SERVED["filters_run"][k]["run"] for k in SERVED["filters_run"]]
        assert sum(len(live) for live in live_only.live) < 100  # of 561
        np.testing.assert_allclose(live_only.front_end(x).numpy(), expected, atol=1e-7)
        a, b = live_only.features(x), network.features(x)
    np.testing.assert_allclose(a["penultimate"].numpy(), b["penultimate"].numpy(), atol=1e-6)


def test_the_loader_falls_back_to_the_reference_graph_then_torch(tmp_path):
    for name in ("config.json", "weights.safetensors", ONNX_FILE, SERVED["file"]):
        shutil.copy(TAGGER / name, tmp_path / name)
    assert load_tagger(tmp_path).graph == SERVED["file"]
    (tmp_path / SERVED["file"]).write_bytes(b"damaged")  # its sha256 no longer matches: the reference serves
    assert load_tagger(tmp_path).graph == ONNX_FILE
    config = json.loads((TAGGER / "config.json").read_text())
    shutil.copy(TAGGER / SERVED["file"], tmp_path / SERVED["file"])
    config["onnx_served"]["weights_sha256"] = "0" * 64  # made from other weights
    (tmp_path / "config.json").write_text(json.dumps(config))
    assert load_tagger(tmp_path).graph == ONNX_FILE
    config["onnx"]["weights_sha256"] = "0" * 64
    (tmp_path / "config.json").write_text(json.dumps(config))
    tagger = load_tagger(tmp_path)
    assert tagger.backend == "torch" and tagger.graph is None
