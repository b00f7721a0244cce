"""SVM on handcrafted clip features: a scikit-learn pipeline stored with skops (no pickle).

scikit-learn and skops are imported inside the functions that need them: together they take ~4 s to
import, and the answer path (a transfer model with its head in ``head.py``) needs neither."""
from __future__ import annotations

import hashlib
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .errors import ModelLoadError

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

PARAM_GRID = {"svc__C": [1.0, 3.0, 10.0, 30.0], "svc__gamma": ["scale", 0.01, 0.03]}
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


def fit_svm(features: np.ndarray, labels: np.ndarray, seed: int = 0, inner_folds: int = 3) -> tuple[Pipeline, dict]:
    """Grid-search C and gamma by inner stratified k-fold, refit on all of ``features`` (n_clips, n_features)."""
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    pipeline = Pipeline([
        ("scale", StandardScaler()),
        ("svc", SVC(kernel="rbf", probability=True, class_weight="balanced", random_state=seed)),
    ])
    smallest = int(np.bincount(labels)[np.bincount(labels) > 0].min())
    cv = StratifiedKFold(n_splits=max(2, min(inner_folds, smallest)), shuffle=True, random_state=seed)
    search = GridSearchCV(pipeline, PARAM_GRID, cv=cv, scoring="balanced_accuracy", n_jobs=1)
    with warnings.catch_warnings():
        # scikit-learn 1.9 deprecates probability=True (removal in 1.11; we pin 1.9.x). The stored
        # file format does not depend on it.
        warnings.filterwarnings("ignore", message=".*probability.*parameter was deprecated", category=FutureWarning)
        search.fit(features, labels)
    return search.best_estimator_, {k: v for k, v in search.best_params_.items()}


def class_probabilities(pipeline, features: np.ndarray, n_classes: int) -> np.ndarray:
    """(n, n_features) -> (n, n_classes): predict_proba's columns follow the classes seen in training,
    so they are placed by label index (a genre absent from training gets 0). ``pipeline``: a fitted
    scikit-learn classifier or a :class:`~genre_core.head.LinearHead`."""
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
