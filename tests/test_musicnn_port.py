"""The PyTorch port of musicnn against the original TensorFlow graph (tests/fixtures/musicnn_reference.npz,
written by scripts/musicnn_reference.py in a TensorFlow virtualenv)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from musicnn_signal import SIGNAL_RATE, reference_signal

from genre_core.audio import load_audio
from genre_core.errors import ModelLoadError
from genre_core.musicnn import cut_patches, load_tagger, log_mel

ROOT = Path(__file__).resolve().parent.parent
TAGGER = ROOT / "models" / "musicnn_msd"
REFERENCE = np.load(Path(__file__).parent / "fixtures" / "musicnn_reference.npz")
TAGGRAM_TOL, PENULTIMATE_TOL = 1e-4, 1e-3


@pytest.fixture(scope="module")
def tagger():
    return load_tagger(TAGGER)


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
