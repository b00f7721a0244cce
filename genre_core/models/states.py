"""The stored answer-state thresholds and training-clip embeddings (``models/headline/states.json``), and the
novelty measure they are compared with. Derived by ``training.calibration``; applied by ``serving.states``."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

STATES_FILE = "states.json"


REFERENCE_EMBEDDINGS_FILE = "reference_embeddings.npz"


NEIGHBOURS = 5  # novelty: mean distance to the 5 nearest training clips


@dataclass(frozen=True)
class Thresholds:
    unsure_below: float  # headline probability under which fewer than half of out-of-fold answers are right
    novelty_above: float  # 99th percentile of leave-one-out novelty of the training clips
    quiet_below_db: float  # 10 dB under the quietest training clip (RMS, dBFS)
    mixed_share_below: float  # 5th percentile of the share of patches agreeing with a clip's own answer
    evidence: dict = field(default_factory=dict)


def novelty(clip_embedding: np.ndarray, reference: np.ndarray, mean: np.ndarray, std: np.ndarray,
            exclude: int | None = None) -> float:
    """Mean distance of a (n_units,) clip embedding to its nearest training clips, in standardised units."""
    distances = np.linalg.norm(reference - (clip_embedding - mean) / std, axis=1)
    if exclude is not None:
        distances[exclude] = np.inf
    return float(np.sort(distances)[:NEIGHBOURS].mean())


@dataclass
class StateModel:
    thresholds: Thresholds
    reference: np.ndarray
    mean: np.ndarray
    std: np.ndarray


def load_states(models_dir: Path) -> StateModel | None:
    folder = Path(models_dir) / "headline"
    if not (folder / STATES_FILE).exists() or not (folder / REFERENCE_EMBEDDINGS_FILE).exists():
        return None
    thresholds = Thresholds(**json.loads((folder / STATES_FILE).read_text()))
    with np.load(folder / REFERENCE_EMBEDDINGS_FILE) as data:
        return StateModel(thresholds, data["reference"].astype(np.float32), data["mean"], data["std"])
