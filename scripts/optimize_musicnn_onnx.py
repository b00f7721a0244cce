"""Write the served ONNX graph of the musicnn tagger: the reference export's function, rewritten to run faster.

Run once by a developer after scripts/export_musicnn_onnx.py (the product only reads the result):

    .venv/bin/python scripts/optimize_musicnn_onnx.py [--folder models/musicnn_msd]

The rewrite (``MaxFirstMusiCNN`` in genre_core/models/musicnn_net.py): each front-end batch norm moves
after the max over the bands (exact: a monotone map commutes with a max; channels whose batch-norm scale
is negative take the min, through their negated conv), so the batch norm and ReLU run on tensors 30-96
times smaller, and the max is a MaxPool that ONNX Runtime keeps in its blocked layout (no layout reorder
of the conv outputs); the front-end filters that training left dead (every weight below 1e-5 of the
layer's largest) are not run, their channel being the constant it is with zero weights. The graph is
portable ONNX: ONNX Runtime fits it to the CPU when it loads it. Writes ``musicnn_served.onnx`` and an
``onnx_served`` block in config.json (sha256 of the graph and weights, what was changed, differences
measured); refuses to write when it differs from torch by more than ONNX_TOLERANCE. ``musicnn.onnx``
stays the reference; scripts/check_served_tagger.py checks the answers on GTZAN.
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch
from export_musicnn_onnx import ROOT, check_patches, export_onnx, graph_outputs, max_differences, record_graph

from genre_core.models.musicnn import ONNX_FILE, ONNX_TOLERANCE, load_tagger
from genre_core.models.musicnn_net import MaxFirstMusiCNN

SERVED_FILE = "musicnn_served.onnx"
DEAD_BELOW = 1e-5  # a filter is dead when its largest |weight| is below this fraction of its layer's largest
REWRITE = ("front-end batch norms after the max over the bands (min for negative scales, through the negated conv); "
           "that max as a MaxPool over conv outputs padded with zero filters to the 8-channel block; dead filters "
           "(largest |weight| < 1e-5 of the layer's largest) not run, their channel the constant bn(relu(bias))")


def _filters_run(network: torch.nn.Module, served: MaxFirstMusiCNN) -> dict:
    """Per front-end conv: filters run of all, and the largest |weight| of those left out."""
    out = {}
    for name, conv, live in zip(("timbral 7x38", "timbral 7x67", "temporal 128", "temporal 64", "temporal 32"),
                                [*network.timbral, *network.temporal], served.live):
        dead = torch.ones(conv.out_channels, dtype=torch.bool)
        dead[live] = False
        largest = float(conv.weight.detach()[dead].abs().max()) if dead.any() else 0.0
        out[name] = {"run": len(live), "of": conv.out_channels, "largest_weight_left_out": largest}
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", default=str(ROOT / "models" / "musicnn_msd"))
    folder = Path(parser.parse_args().folder)
    tagger = load_tagger(folder, backend="torch")
    patches = check_patches(tagger)
    expected = tagger.run(patches)
    with tempfile.TemporaryDirectory() as tmp:
        exported = Path(tmp) / SERVED_FILE
        served = MaxFirstMusiCNN(tagger.network, tagger.front_end.n_mels, dead_below=DEAD_BELOW).eval()
        export_onnx(served, tagger, exported)
        diffs = max_differences(exported, expected, patches)
        to_reference = max_differences(exported, graph_outputs(folder / ONNX_FILE, patches), patches)
        print("max |served - torch|:", diffs, " max |served - reference graph|:", to_reference)
        if any(diffs[k] > ONNX_TOLERANCE[k] for k in diffs):
            print(f"refusing to write: tolerances {ONNX_TOLERANCE}")
            return 1
        target = folder / SERVED_FILE
        target.write_bytes(exported.read_bytes())
    record_graph(folder, "onnx_served", target, rewrite=REWRITE, reference=ONNX_FILE,
                 filters_run=_filters_run(tagger.network, served), max_abs_difference_to_torch=diffs,
                 max_abs_difference_to_reference_graph=to_reference, script="scripts/optimize_musicnn_onnx.py")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
