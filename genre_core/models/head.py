"""A transfer model's fitted head (standardise, then multinomial logistic regression) as plain arrays.

scikit-learn fits the head and skops stores it (``model.skops``, the reference). Importing skops takes
about 3 s on 2 cores (it imports every scikit-learn estimator to know which types it trusts), longer
than the whole answer, so the same fitted numbers are also written to ``head.safetensors`` with the
sha256 of the ``model.skops`` they were read from. The loader uses them when that sha256 still matches
the model's weights, and the skops pipeline otherwise; ``tests/test_head.py`` checks both agree.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load_file, save_file

HEAD_FILE = "head.safetensors"


@dataclass(frozen=True)
class LinearHead:
    """``predict_proba`` and ``predict`` of a StandardScaler + multinomial LogisticRegression pipeline."""

    mean: np.ndarray  # (n_features,) the scaler's mean_
    scale: np.ndarray  # (n_features,) the scaler's scale_
    coef: np.ndarray  # (n_seen_classes, n_features)
    intercept: np.ndarray  # (n_seen_classes,)
    classes_: np.ndarray  # (n_seen_classes,) label indices, as the pipeline's classes_

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """(n, n_features) -> (n, n_seen_classes): softmax of the linear scores."""
        scores = ((np.asarray(features, dtype=np.float64) - self.mean) / self.scale) @ self.coef.T + self.intercept
        scores -= scores.max(axis=1, keepdims=True)
        exp = np.exp(scores)
        return exp / exp.sum(axis=1, keepdims=True)

    def predict(self, features: np.ndarray) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(features), axis=1)]

    @classmethod
    def from_pipeline(cls, pipeline) -> "LinearHead":
        """The numbers of a fitted ``Pipeline([("scale", StandardScaler()), ("logreg", LogisticRegression())])``."""
        scaler, logreg = pipeline.named_steps["scale"], pipeline.named_steps["logreg"]
        if logreg.coef_.shape[0] != len(logreg.classes_):  # two classes: one row of scores, another formula
            raise ValueError("only a multinomial head over three or more classes can be stored as arrays")
        n_features = logreg.coef_.shape[1]
        mean = np.zeros(n_features) if scaler.mean_ is None else scaler.mean_
        scale = np.ones(n_features) if scaler.scale_ is None else scaler.scale_
        return cls(*(np.asarray(a, dtype=np.float64) for a in (mean, scale, logreg.coef_, logreg.intercept_)),
                   np.asarray(pipeline.classes_, dtype=np.int64))

    def save(self, path: Path) -> str:
        """Write the arrays; return the file's sha256."""
        arrays = {"mean": self.mean, "scale": self.scale, "coef": self.coef, "intercept": self.intercept,
                  "classes": self.classes_}
        # safetensors writes the bytes in memory order: scikit-learn's coef_ is Fortran-ordered
        save_file({k: np.ascontiguousarray(v) for k, v in arrays.items()}, str(path))
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def write_head(pipeline, folder: Path, pipeline_sha256: str) -> dict:
    """Store ``pipeline``'s numbers next to its skops file; returns the config block that vouches for them."""
    sha256 = LinearHead.from_pipeline(pipeline).save(folder / HEAD_FILE)
    return {"file": HEAD_FILE, "sha256": sha256, "from_weights_sha256": pipeline_sha256}


def load_head(folder: Path, config: dict) -> LinearHead | None:
    """The stored head if the config vouches for it (written from the current ``model.skops`` and unchanged
    since), else None: the caller then loads the skops pipeline, which gives the same answer, slower."""
    block = config.get("head")
    if not block or block.get("from_weights_sha256") != config.get("weights_sha256"):
        return None
    path = folder / block.get("file", HEAD_FILE)
    try:
        if hashlib.sha256(path.read_bytes()).hexdigest() != block.get("sha256"):
            return None
        arrays = load_file(str(path))
        return LinearHead(arrays["mean"], arrays["scale"], arrays["coef"], arrays["intercept"], arrays["classes"])
    except (OSError, SafetensorError, KeyError):
        return None
