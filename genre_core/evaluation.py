"""Clip-level decisions from window predictions, and the metrics we report."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import GENRES


@dataclass(frozen=True)
class ClipDecision:
    """How the windows of one clip add up. Probabilities have shape (n_classes,)."""

    mean_probabilities: np.ndarray  # average of window probabilities
    vote_fractions: np.ndarray  # share of windows whose top genre is each class
    mean_label: int
    vote_label: int


def combine_windows(window_probabilities: np.ndarray) -> ClipDecision:
    """(n_windows, n_classes) -> majority vote and mean probability.

    Vote ties are broken by the mean probability, so the result never depends on class order.
    """
    if window_probabilities.ndim != 2 or len(window_probabilities) == 0:
        raise ValueError("need a non-empty (n_windows, n_classes) array")
    n_classes = window_probabilities.shape[1]
    mean = window_probabilities.mean(axis=0)
    votes = np.bincount(window_probabilities.argmax(axis=1), minlength=n_classes).astype(np.float64)
    fractions = votes / votes.sum()
    tied = np.flatnonzero(votes == votes.max())
    vote_label = int(tied[np.argmax(mean[tied])])
    return ClipDecision(mean, fractions, int(mean.argmax()), vote_label)


def clip_metrics(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int = len(GENRES)) -> dict:
    """Accuracy, balanced accuracy, macro-F1, per-genre recall and the confusion matrix (counts)."""
    from sklearn.metrics import balanced_accuracy_score, confusion_matrix, f1_score  # not on the answer path

    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    labels = list(range(n_classes))
    present = np.unique(y_true)
    cm = confusion_matrix(y_true, y_pred, labels=labels)
    support = cm.sum(axis=1)
    recall = np.divide(np.diag(cm), support, out=np.full(n_classes, np.nan), where=support > 0)
    return {
        "n_clips": int(len(y_true)),
        "accuracy": float(np.mean(y_true == y_pred)),
        "balanced_accuracy": float(balanced_accuracy_score(y_true, y_pred)),
        # macro over the genres present in y_true, so a fold never averages in undefined classes
        "macro_f1": float(f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0)),
        "per_genre_recall": {GENRES[i]: (None if np.isnan(r) else float(r)) for i, r in enumerate(recall)},
        "confusion_matrix": cm.tolist(),
    }


SUMMARY_KEYS = ("accuracy", "balanced_accuracy", "macro_f1")


def summarize_folds(fold_metrics: list[dict]) -> dict:
    """Mean and standard deviation over folds of the scalar metrics, plus the summed confusion."""
    out: dict = {}
    for key in SUMMARY_KEYS:
        values = np.array([m[key] for m in fold_metrics], dtype=np.float64)
        out[key] = {"mean": float(values.mean()), "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0}
    out["confusion_matrix"] = np.sum([m["confusion_matrix"] for m in fold_metrics], axis=0).tolist()
    return out


def recall_from_confusion(cm: np.ndarray) -> np.ndarray:
    """Row-normalised diagonal, NaN where a genre has no clips."""
    cm = np.asarray(cm, dtype=np.float64)
    support = cm.sum(axis=1)
    return np.divide(np.diag(cm), support, out=np.full(len(cm), np.nan), where=support > 0)
