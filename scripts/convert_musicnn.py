"""Convert musicnn's MSD_musicnn TensorFlow checkpoint into the model folder models/musicnn_msd/.

Run once by a developer (not by the product, which never needs TensorFlow or musicnn):

    .venv/bin/python scripts/convert_musicnn.py                 # fetches musicnn==0.1.0 with pip --no-deps
    .venv/bin/python scripts/convert_musicnn.py --wheel musicnn-0.1.0-py3-none-any.whl

It reads the checkpoint with our own reader (scripts/tf_checkpoint.py), maps the variables onto
genre_core.models.musicnn_net.MusiCNN, and writes weights.safetensors, config.json (front end, architecture,
tags, licence, provenance with sha256 of every source file) and MODEL_CARD.md.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import torch
from safetensors.torch import save_file

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(Path(__file__).resolve().parent)]

from tf_checkpoint import read_checkpoint  # noqa: E402

from genre_core.models.musicnn import TaggerFrontEnd  # noqa: E402
from genre_core.models.musicnn_net import MusiCNN  # noqa: E402

PACKAGE, VERSION, MODEL = "musicnn", "0.1.0", "MSD_musicnn"
ARCHITECTURE = {"n_mels": 96, "n_tags": 50, "midend_filters": 64, "backend_units": 200, "frontend_scale": 1.6}
SOURCE_FILES = [f"musicnn/{MODEL}/.index", f"musicnn/{MODEL}/.data-00000-of-00001", f"musicnn/{MODEL}/config.json",
                "musicnn/models.py", "musicnn/extractor.py", "musicnn/configuration.py",
                f"{PACKAGE}-{VERSION}.dist-info/LICENSE.md"]
# Creation order of the layers in musicnn's models.build_musicnn -> our module names.
CONV_NAMES = {"conv2d": "timbral.0", "conv2d_1": "timbral.1", "conv2d_2": "temporal.0", "conv2d_3": "temporal.1",
              "conv2d_4": "temporal.2", "conv2d_5": "midend.0", "conv2d_6": "midend.1", "conv2d_7": "midend.2",
              "dense": "dense", "dense_1": "tags"}
BN_NAMES = {"batch_normalization": "input_bn", "batch_normalization_1": "timbral_bn.0",
            "batch_normalization_2": "timbral_bn.1", "batch_normalization_3": "temporal_bn.0",
            "batch_normalization_4": "temporal_bn.1", "batch_normalization_5": "temporal_bn.2",
            "batch_normalization_6": "midend_bn.0", "batch_normalization_7": "midend_bn.1",
            "batch_normalization_8": "midend_bn.2", "batch_normalization_9": "pool_bn",
            "batch_normalization_10": "dense_bn"}
BN_FIELDS = {"gamma": "weight", "beta": "bias", "moving_mean": "running_mean", "moving_variance": "running_var"}


def to_state_dict(tf_vars: dict) -> dict[str, torch.Tensor]:
    """TensorFlow variables (NHWC kernels (kh, kw, in, out), dense (in, out)) -> MusiCNN state dict."""
    state: dict[str, torch.Tensor] = {}
    for tf_name, ours in CONV_NAMES.items():
        kernel = torch.from_numpy(tf_vars[f"{tf_name}/kernel"])
        if ours.startswith("midend"):  # (7, C_in, 1, C_out): a conv spanning all of its input's width
            weight = kernel[:, :, 0, :].permute(2, 1, 0)
        elif kernel.ndim == 4:
            weight = kernel.permute(3, 2, 0, 1)
        else:
            weight = kernel.t()
        state[f"{ours}.weight"] = weight.contiguous()
        state[f"{ours}.bias"] = torch.from_numpy(tf_vars[f"{tf_name}/bias"])
    for tf_name, ours in BN_NAMES.items():
        for tf_field, field in BN_FIELDS.items():
            state[f"{ours}.{field}"] = torch.from_numpy(tf_vars[f"{tf_name}/{tf_field}"])
        state[f"{ours}.num_batches_tracked"] = torch.tensor(0)
    return state


def vgg_state_dict(tf_vars: dict) -> dict[str, torch.Tensor]:
    """TensorFlow variables of musicnn's MSD_vgg / MTT_vgg checkpoint -> MusicVGG state dict.

    Used by scripts/transfer_levers.py to measure the vgg embedding; not shipped (see the issue-18 note)."""
    state: dict[str, torch.Tensor] = {}
    for i in range(5):
        state[f"convs.{i}.weight"] = torch.from_numpy(tf_vars[f"{i + 1}CNN/kernel"]).permute(3, 2, 0, 1).contiguous()
        state[f"convs.{i}.bias"] = torch.from_numpy(tf_vars[f"{i + 1}CNN/bias"])
    names = [("input_bn", "batch_normalization")] + [(f"bns.{i}", f"batch_normalization_{i + 1}") for i in range(5)]
    for ours, tf_name in names:
        for tf_field, field in BN_FIELDS.items():
            state[f"{ours}.{field}"] = torch.from_numpy(tf_vars[f"{tf_name}/{tf_field}"])
        state[f"{ours}.num_batches_tracked"] = torch.tensor(0)
    state["tags.weight"] = torch.from_numpy(tf_vars["dense/kernel"]).t().contiguous()
    state["tags.bias"] = torch.from_numpy(tf_vars["dense/bias"])
    return state


def fetch_wheel(folder: Path) -> Path:
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(folder),
                    f"{PACKAGE}=={VERSION}"], check=True)
    return next(folder.glob(f"{PACKAGE}-{VERSION}-*.whl"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--wheel", help=f"{PACKAGE}-{VERSION} wheel (default: fetch it with pip --no-deps)")
    parser.add_argument("--out", default=str(ROOT / "models" / "musicnn_msd"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        wheel = Path(args.wheel) if args.wheel else fetch_wheel(Path(tmp))
        unpacked = Path(tmp) / "wheel"
        with zipfile.ZipFile(wheel) as archive:
            archive.extractall(unpacked)
        sys.path.insert(0, str(unpacked))
        from musicnn import configuration  # plain constants, no TensorFlow import

        tags = list(configuration.MSD_LABELS)
        front = TaggerFrontEnd(sample_rate=configuration.SR, n_fft=configuration.FFT_SIZE,
                               hop_length=configuration.FFT_HOP, n_mels=configuration.N_MELS)
        network = MusiCNN(**ARCHITECTURE)
        network.load_state_dict(to_state_dict(read_checkpoint(f"{unpacked / 'musicnn' / MODEL}/")), strict=True)
        sources = {name: hashlib.sha256((unpacked / name).read_bytes()).hexdigest() for name in SOURCE_FILES}
        licence = (unpacked / f"{PACKAGE}-{VERSION}.dist-info" / "LICENSE.md").read_text()
        wheel_sha = hashlib.sha256(wheel.read_bytes()).hexdigest()

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in network.state_dict().items()}, str(out / "weights.safetensors"))
    weights_sha = hashlib.sha256((out / "weights.safetensors").read_bytes()).hexdigest()
    config = {
        "name": "musicnn_msd", "kind": "tagger",
        "title": "musicnn pretrained on the Million Song Dataset (50 Last.fm tags)",
        "architecture": ARCHITECTURE, "front_end": front.to_dict(), "tags": tags,
        "licence": "ISC (musicnn, Copyright (c) 2019 Jordi Pons); see LICENSE.md in this folder",
        "provenance": {"package": PACKAGE, "version": VERSION, "model": MODEL, "wheel": wheel.name,
                       "wheel_sha256": wheel_sha, "source_sha256": sources,
                       "converted_by": "scripts/convert_musicnn.py", "weights_sha256": weights_sha},
        "reference": "J. Pons and X. Serra, musicnn: pre-trained convolutional neural networks for music audio "
                     "tagging, ISMIR 2019 late-breaking demo",
    }
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    (out / "LICENSE.md").write_text(licence)
    (out / "MODEL_CARD.md").write_text(f"""# musicnn_msd

{config['title']}: a port of `{MODEL}` from the PyPI wheel `{PACKAGE}=={VERSION}` (ISC licence, see LICENSE.md)
to PyTorch (`genre_core/models/musicnn.py`), converted by `scripts/convert_musicnn.py` from the TensorFlow checkpoint
(sha256 of every source file in config.json).

- Input: 16 kHz mono, 96-band mel power spectrogram (n_fft 512, hop 256), log10(1 + 10000 x), 3 s patches
  of 187 frames; output: 50 tag probabilities (sigmoid) and a 200-dimensional penultimate embedding per patch.
- Trained by its authors for multi-label tagging on about 200k tracks of the Million Song Dataset with the
  50 most frequent Last.fm tags ({', '.join(tags[:8])}, ...). Not trained on GTZAN.
- Port check: `tests/test_musicnn_port.py` compares taggram and penultimate features with those of the original
  TensorFlow graph stored in `tests/fixtures/musicnn_reference.npz` (made by `scripts/musicnn_reference.py`).
- Used here as a frozen embedding for the transfer models (`musicnn_*` folders) and to show the tags it hears.
- Limits: Last.fm tags are noisy and biased towards Western rock/pop/indie of the 2000s; genre tags such as
  "Hip-Hop" or "country" are rare in its training data, so their probabilities are low in absolute terms.
""")
    print(f"wrote {out} ({weights_sha[:12]})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
