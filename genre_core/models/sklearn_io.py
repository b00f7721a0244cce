"""Fitted scikit-learn models (the SVM, the transfer head, the stacker) stored with skops (no pickle).

scikit-learn and skops are imported inside the functions that need them: together they take ~4 s to
import, and the answer path (a transfer model with its head in ``head.py``) needs neither."""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from genre_core.audio.errors import ModelLoadError

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

# Types a stored scikit-learn model file (SVM or transfer head) may contain; anything else is refused at load time.
TRUSTED_TYPES = {
    "sklearn.pipeline.Pipeline",
    "sklearn.preprocessing._data.StandardScaler",
    "sklearn.svm._classes.SVC",
    "sklearn.linear_model._logistic.LogisticRegression",
    "numpy.dtype",
    "numpy.ndarray",
    "builtins.dict",
    "builtins.list",
    "builtins.tuple",
    "builtins.str",
    "builtins.int",
    "builtins.float",
    "builtins.bool",
}


def class_probabilities(pipeline, features: np.ndarray, n_classes: int) -> np.ndarray:
    """(n, n_features) -> (n, n_classes): predict_proba's columns follow the classes seen in training,
    so they are placed by label index (a genre absent from training gets 0). ``pipeline``: a fitted
    scikit-learn classifier or a :class:`~genre_core.models.head.LinearHead`."""
    full = np.zeros((len(features), n_classes))
    full[:, pipeline.classes_] = pipeline.predict_proba(features)
    return full


def save_svm(pipeline: Pipeline, path: Path) -> str:
    """Write the pipeline with skops; return the file's sha256."""
    import skops.io as sio

    sio.dump(pipeline, path)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_svm(path: Path, expected_sha256: str | None) -> Pipeline:
    """Load a pipeline written by :func:`save_svm`, refusing unknown types or a changed file."""
    import skops.io as sio

    data = path.read_bytes()
    if expected_sha256 and hashlib.sha256(data).hexdigest() != expected_sha256:
        raise ModelLoadError(f"{path} does not match the checksum in its config.json (file changed or corrupt).")
    try:
        untrusted = set(sio.get_untrusted_types(data=data))
    except Exception as exc:  # skops raises several types for a broken archive
        raise ModelLoadError(f"{path} is not a readable model file ({exc}).") from exc
    unexpected = untrusted - TRUSTED_TYPES
    if unexpected:
        raise ModelLoadError(f"{path} contains unexpected types {sorted(unexpected)}; refusing to load it.")
    return sio.loads(data, trusted=sorted(untrusted))
