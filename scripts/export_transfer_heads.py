"""Write ``head.safetensors`` for stored transfer models trained before heads were written (``head.py``).

Training writes it itself now; run this once for an older folder (the product only reads the result):

    .venv/bin/python scripts/export_transfer_heads.py [--models models]

For every folder of kind "transfer": loads ``model.skops`` (checked against its sha256), writes the same
fitted numbers to ``head.safetensors`` and a ``head`` block in config.json naming the skops file's sha256.
Leaves config.json as it was when the arrays, read back from the file, give probabilities that differ from
scikit-learn's on the model's reference embeddings (``models/headline/reference_embeddings.npz`` when present,
else random ones) by more than 1e-9 (in float64: on float32 input scikit-learn computes in float32, ~1e-6 apart
from the arrays' float64).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from genre_core.models.artifacts import CONFIG_FILE, SVM_FILE, list_model_folders, write_json  # noqa: E402
from genre_core.models.head import load_head, write_head  # noqa: E402
from genre_core.models.sklearn_io import load_svm  # noqa: E402

TOLERANCE = 1e-9


def probe_embeddings(models_dir: Path, n_features: int) -> np.ndarray:
    """(n, n_features) embeddings to compare on: real ones if stored, else standard-normal ones."""
    path = models_dir / "headline" / "reference_embeddings.npz"
    if path.exists():
        with np.load(path) as data:
            arrays = [data[k] for k in data.files if data[k].ndim == 2 and data[k].shape[1] == n_features]
        if arrays:
            return np.vstack(arrays).astype(np.float64)  # stored as float16; sklearn keeps the input's precision
    return np.random.default_rng(0).standard_normal((500, n_features))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=str(ROOT / "models"))
    models_dir = Path(parser.parse_args().models)
    for folder in list_model_folders(models_dir):
        config = json.loads((folder / CONFIG_FILE).read_text())
        if config.get("kind") != "transfer":
            continue
        pipeline = load_svm(folder / SVM_FILE, config.get("weights_sha256"))
        probe = probe_embeddings(models_dir, pipeline.n_features_in_)
        config["head"] = write_head(pipeline, folder, config["weights_sha256"])
        stored = load_head(folder, config)  # the file as the loader will read it
        difference = np.inf if stored is None else np.abs(stored.predict_proba(probe) - pipeline.predict_proba(probe)).max()
        if difference > TOLERANCE:
            sys.exit(f"{folder.name}: the head read back differs from scikit-learn by {difference:.2e}; "
                     "config.json left as it was (the head is not used)")
        write_json(folder / CONFIG_FILE, config)
        print(f"{folder.name}: wrote {config['head']['file']} ({len(probe)} embeddings, max |difference| "
              f"{difference:.1e})")


if __name__ == "__main__":
    main()
