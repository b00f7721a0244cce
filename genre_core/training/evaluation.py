"""The metrics we report: per fold and summarised for k-fold, and the artist-filtered test with its
covered genres, all from stored out-of-fold predictions."""
from __future__ import annotations

import numpy as np
import pandas as pd

from genre_core.features.config import GENRES


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


def metrics_from_oof(oof: pd.DataFrame) -> dict:
    """Per-fold and summarised metrics for both decision rules from out-of-fold predictions."""
    out = {}
    for rule in ("vote", "mean"):
        folds = []
        for fold, part in oof.groupby("fold"):
            m = clip_metrics(part["true"].map(GENRES.index).to_numpy(), part[rule].map(GENRES.index).to_numpy())
            folds.append({"fold": int(fold), **m})
        out[rule] = {"folds": folds, "summary": summarize_folds(folds)}
    return out


ARTIST_PROTOCOL = ("artist-filtered split of Kereliuk, Sturm & Larsen, restricted to the clips present: "
                   "train on its train part (valid part for early stopping), score once on its test part")


# A genre's test recall is reported only when it rests on at least this many test clips.
ARTIST_MIN_TEST_CLIPS = 5


def coverage_in_words(block: dict, name=str) -> str:
    """Which genres an artist-filtered block can judge, with their test clips, from the stored block;
    ``name`` spells a genre label."""
    counts = block["test_clips_per_genre"]
    covered = [f"{name(g)} ({counts[g]})" for g in block["covered_genres"]]
    thin = [f"{name(g)} ({counts[g]})" for g in block["uncovered_genres"] if counts.get(g)]
    absent = [name(g) for g in block["uncovered_genres"] if not counts.get(g)]
    words = (f"{len(covered)} genres have at least {block['min_test_clips_per_genre']} test clips and can be judged: "
             f"{', '.join(covered) or 'none'}.")
    if thin or absent:
        words += " Too few to judge: " + ", ".join(thin + [f"{g} (none)" for g in absent]) + "."
    return words


def artist_metrics(frame: pd.DataFrame) -> dict:
    """Metrics of predictions on the artist-filtered test part, honest about thin genres.

    ``frame`` has columns true, vote, mean (genre names). Besides the all-genre figures it gives the
    figures over the genres with at least ARTIST_MIN_TEST_CLIPS test clips ("covered"), and names the rest.
    """
    counts = frame["true"].value_counts()
    test_counts = {g: int(counts.get(g, 0)) for g in GENRES}
    covered = [g for g in GENRES if test_counts[g] >= ARTIST_MIN_TEST_CLIPS]
    block = {"protocol": ARTIST_PROTOCOL, "test_clips_per_genre": test_counts, "covered_genres": covered,
             "uncovered_genres": [g for g in GENRES if g not in covered],
             "min_test_clips_per_genre": ARTIST_MIN_TEST_CLIPS}
    y_true = frame["true"].map(GENRES.index).to_numpy()
    for rule in ("vote", "mean"):
        y_pred = frame[rule].map(GENRES.index).to_numpy()
        overall = clip_metrics(y_true, y_pred)
        mask = frame["true"].isin(covered).to_numpy()
        recalls = [overall["per_genre_recall"][g] for g in covered]
        block[rule] = {**overall, "covered": {
            "n_clips": int(mask.sum()),
            "accuracy": float(np.mean(y_true[mask] == y_pred[mask])) if mask.any() else None,
            "balanced_accuracy": float(np.mean(recalls)) if recalls else None,
        }}
    return block
