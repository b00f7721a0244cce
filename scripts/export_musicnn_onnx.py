"""Export the stored musicnn tagger to ONNX, so ONNX Runtime can run it (~1.3x faster than torch here).

Run once by a developer after scripts/convert_musicnn.py (the product only reads the result):

    .venv/bin/python scripts/export_musicnn_onnx.py [--folder models/musicnn_msd]

Writes ``musicnn.onnx`` beside ``weights.safetensors`` (same weights, float32, outputs: tag
probabilities and the penultimate embedding) and an ``onnx`` block in config.json with the sha256 of
both files, so the loader uses the ONNX graph only while it matches the stored weights. Refuses to
write when ONNX Runtime's output differs from torch's by more than the tolerances below. This graph is
the reference; ``scripts/optimize_musicnn_onnx.py`` writes the faster one that serves.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from genre_core.models.musicnn import ONNX_FILE, ONNX_TOLERANCE, OnnxNetwork, Tagger, load_tagger  # noqa: E402

OPSET = 17


class TagsAndEmbedding(torch.nn.Module):
    """(batch, time, n_mels) -> tag probabilities (batch, n_tags), penultimate (batch, units)."""

    def __init__(self, network: torch.nn.Module) -> None:
        super().__init__()
        self.network = network

    def forward(self, patches: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.network.features(patches)
        return torch.sigmoid(out["logits"]), out["penultimate"]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def export_onnx(network: torch.nn.Module, tagger: Tagger, path: Path) -> None:
    """Write ``network`` (a module with ``features``) as an ONNX graph: patches -> tags, penultimate."""
    example = torch.zeros(2, tagger.front_end.patch_frames, tagger.front_end.n_mels)
    torch.onnx.export(TagsAndEmbedding(network).eval(), (example,), str(path), dynamo=False,
                      input_names=["patches"], output_names=["tags", "penultimate"], opset_version=OPSET,
                      dynamic_axes={"patches": {0: "batch"}, "tags": {0: "batch"}, "penultimate": {0: "batch"}})


def check_patches(tagger: Tagger) -> np.ndarray:
    """(n, time, n_mels) log-mel-like input: a chirp's patches and random ones in the front end's value range."""
    front = tagger.front_end
    rng = np.random.default_rng(0)
    t = np.arange(30 * front.sample_rate) / front.sample_rate
    chirp = (0.3 * np.sin(2 * np.pi * (100 + 60 * t) * t)).astype(np.float32)
    return np.concatenate([tagger.patches(chirp),
                           rng.uniform(0, 4, (4, front.patch_frames, front.n_mels)).astype(np.float32)])


def graph_outputs(graph: Path, patches: np.ndarray) -> dict[str, np.ndarray]:
    """The graph's tags and penultimate on ``patches``, run by ONNX Runtime."""
    return OnnxNetwork(graph, threads=torch.get_num_threads())(patches)


def max_differences(graph: Path, expected: dict[str, np.ndarray], patches: np.ndarray) -> dict[str, float]:
    """Largest |graph - expected| of each output on ``patches``."""
    got = graph_outputs(graph, patches)
    return {k: float(np.abs(got[k] - expected[k]).max()) for k in expected}


def record_graph(folder: Path, key: str, graph: Path, **details) -> None:
    """Write the ``key`` block of the folder's config.json: the graph's file, sha256 of it and of the weights
    (the loader serves it only while both match), how it was made, and ``details``."""
    config = json.loads((folder / "config.json").read_text())
    config[key] = {"file": graph.name, "sha256": sha256(graph), "weights_sha256": sha256(folder / "weights.safetensors"),
                   "opset": OPSET, "exported_with": f"torch {torch.__version__} (torch.onnx.export, dynamo=False)",
                   **details}
    (folder / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    print(f"wrote {graph} ({graph.stat().st_size / 1e6:.1f} MB) and the {key} block of {folder / 'config.json'}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", default=str(ROOT / "models" / "musicnn_msd"))
    folder = Path(parser.parse_args().folder)
    tagger = load_tagger(folder, backend="torch")
    with tempfile.TemporaryDirectory() as tmp:
        exported = Path(tmp) / ONNX_FILE
        export_onnx(tagger.network, tagger, exported)
        patches = check_patches(tagger)
        diffs = max_differences(exported, tagger.run(patches), patches)
        print("max |onnx - torch|:", diffs)
        if any(diffs[k] > ONNX_TOLERANCE[k] for k in diffs):
            print(f"refusing to write: tolerances {ONNX_TOLERANCE}")
            return 1
        target = folder / ONNX_FILE
        target.write_bytes(exported.read_bytes())
    record_graph(folder, "onnx", target, max_abs_difference_to_torch=diffs, script="scripts/export_musicnn_onnx.py")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
