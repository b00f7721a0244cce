"""INT8 versions of the tagger's graph with ONNX Runtime's quantisation tools, measured against the float graphs.

Not shipped (see models/musicnn_msd/MODEL_CARD.md); kept so the measurement can be repeated:

    GTZAN_DIR=/work/shared/gtzan .venv/bin/python scripts/quantize_musicnn_onnx.py [--out /tmp/musicnn_int8]

Writes, under ``--out``: the reference graph quantised statically (QDQ, per-channel int8 weights, activations
calibrated on GTZAN patches, MinMax or percentile) and the served graph's two timbral convs quantised
dynamically (ConvInteger, per-channel weights: the conv output stays float, so no per-tensor activation scale
clips the channels). Prints each one's time on a 30 s clip's 10 patches, interleaved with the float graphs, and
its largest difference from the reference graph. ``scripts/check_served_tagger.py --graph FILE`` then applies
the shipping rule to any of them. (Static QDQ of the served graph makes ONNX Runtime 1.30 abort while loading.)
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from genre_core.audio.decode import load_audio  # noqa: E402
from genre_core.features.dataset import default_data_dir, index_dataset  # noqa: E402
from genre_core.models.musicnn import ONNX_FILE, OnnxNetwork, Tagger, load_tagger  # noqa: E402


def _timbral_convs(path: Path) -> list[str]:
    import onnx

    graph = onnx.load(str(path)).graph
    convs = [node.name for node in graph.node if node.op_type == "Conv"]
    return convs[:2]  # the graph's first two convs are the timbral ones (both exports keep the module order)


def quantise(folder: Path, out: Path, calibration: np.ndarray) -> dict[str, Path]:
    """Write the INT8 candidates; returns name -> file."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_dynamic,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Patches(CalibrationDataReader):
        def __init__(self) -> None:
            self.batches = iter([{"patches": calibration[i:i + 4]} for i in range(0, len(calibration), 4)])

        def get_next(self):
            return next(self.batches, None)

    out.mkdir(parents=True, exist_ok=True)
    reference, served = folder / ONNX_FILE, folder / load_tagger(folder).graph
    prepared = out / "reference_prepared.onnx"
    quant_pre_process(str(reference), str(prepared))
    files = {}
    for name, method, options in (("static_qdq_minmax", CalibrationMethod.MinMax, {}),
                                  ("static_qdq_percentile", CalibrationMethod.Percentile, {"CalibPercentile": 99.99})):
        files[name] = out / f"reference_{name}.onnx"
        quantize_static(str(prepared), str(files[name]), Patches(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, calibrate_method=method,
                        op_types_to_quantize=["Conv"], extra_options=options)
    for name, weights in (("dynamic_timbral_u8", QuantType.QUInt8), ("dynamic_timbral_s8", QuantType.QInt8)):
        files[name] = out / f"served_{name}.onnx"
        quantize_dynamic(str(served), str(files[name]), per_channel=True, weight_type=weights,
                         op_types_to_quantize=["Conv"], nodes_to_quantize=_timbral_convs(served))
    return files


def _clip_patches(tagger: Tagger, clips: list) -> np.ndarray:
    """(n, time, n_mels): every patch of these dataset clips."""
    return np.concatenate([tagger.patches(load_audio(c.path, tagger.front_end.sample_rate).samples) for c in clips])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", default=str(ROOT / "models" / "musicnn_msd"))
    parser.add_argument("--out", default="/tmp/musicnn_int8")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    data = default_data_dir()
    if data is None:
        print("Set GTZAN_DIR: the calibration and test patches come from GTZAN clips.")
        return 2
    folder = Path(args.folder)
    tagger = load_tagger(folder)
    clips = index_dataset(data).clips
    calibration, test = _clip_patches(tagger, clips[::40]), _clip_patches(tagger, clips[5::97])[:10]
    files = {"reference float": folder / ONNX_FILE, "served float": folder / tagger.graph,
             **quantise(folder, Path(args.out), calibration)}
    networks = {name: OnnxNetwork(path) for name, path in files.items()}
    expected = networks["reference float"](test)
    times: dict[str, list[float]] = {name: [] for name in networks}
    for _ in range(args.repeats + 1):
        for name, network in networks.items():
            start = time.perf_counter()
            for i in range(0, len(test), 2):
                network(test[i:i + 2])
            times[name].append((time.perf_counter() - start) * 1000)
    print(f"{len(calibration)} calibration patches ({len(clips[::40])} clips); a 30 s clip's {len(test)} patches, "
          f"2 per call, median of {args.repeats}:")
    for name, network in networks.items():
        got = network(test)
        gaps = ", ".join(f"{k} {np.abs(got[k] - expected[k]).max():.2e}" for k in expected)
        print(f"{name:>24}: {statistics.median(times[name][1:]):7.1f} ms; max |Δ| to the reference: {gaps}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
