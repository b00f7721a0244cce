"""Checking that stored models still reproduce the predictions they recorded when trained."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from genre_core.models.artifacts import REFERENCE_FILE, list_model_folders, load_model
from genre_core.models.predict import predict_file


def verify_reference_predictions(models_dir: Path, data_dir: Path, atol: float = 2e-3) -> list[str]:
    """Re-predict each model's reference clips from ``data_dir``; return a list of mismatches."""
    problems = []
    for folder in list_model_folders(models_dir):
        path = folder / REFERENCE_FILE
        if not path.exists():
            continue
        model = load_model(folder)
        for row in json.loads(path.read_text())["clips"]:
            got = predict_file(model, _find_clip(data_dir, row["clip"])).probabilities
            if not np.allclose(got, row["probabilities"], atol=atol):
                problems.append(f"{folder.name} on {row['clip']}: max difference "
                                f"{np.max(np.abs(got - np.asarray(row['probabilities']))):.4f}")
    return problems


def _find_clip(data_dir: Path, relative: str) -> Path:
    """The clip under ``data_dir`` whatever its extension (.ogg here, .wav/.au in a full download)."""
    target = data_dir / relative
    if target.exists():
        return target
    matches = sorted(target.parent.glob(Path(relative).stem + ".*"))
    if not matches:
        raise FileNotFoundError(f"reference clip {relative} not found under {data_dir}")
    return matches[0]
