"""Fitting the transfer head: a class-balanced logistic regression on every 3 s patch's pretrained embedding."""
from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline


LOGREG_GRID = {"logreg__C": [0.003, 0.01, 0.03, 0.1, 0.3]}


def fit_patch_logreg(
    clip_patches: list[np.ndarray], labels: np.ndarray, seed: int = 0, inner_folds: int = 3,
    grid: dict | None = None,
) -> tuple[Pipeline, dict]:
    """Standardise + class-balanced logistic regression on every patch of every clip.

    ``clip_patches`` holds one (n_patches, n_units) array per clip, ``labels`` one genre per clip.
    C is chosen by an inner stratified k-fold that keeps the patches of a clip together.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, StratifiedGroupKFold
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    x = np.vstack(clip_patches)
    y = np.concatenate([np.full(len(p), label) for p, label in zip(clip_patches, labels)])
    groups = np.concatenate([np.full(len(p), i) for i, p in enumerate(clip_patches)])
    pipeline = Pipeline([
        ("scale", StandardScaler()),
        ("logreg", LogisticRegression(class_weight="balanced", max_iter=5000)),
    ])
    counts = np.bincount(labels)
    smallest = int(counts[counts > 0].min())
    cv = StratifiedGroupKFold(n_splits=max(2, min(inner_folds, smallest)), shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning)  # y_pred classes absent from a small inner fold
        if grid is not None and all(len(v) == 1 for v in grid.values()):  # nothing to choose: one fit
            fitted = pipeline.set_params(**{k: v[0] for k, v in grid.items()}).fit(x, y)
            return fitted, {k: v[0] for k, v in grid.items()}
        search = GridSearchCV(pipeline, grid or LOGREG_GRID, cv=cv, scoring="balanced_accuracy", n_jobs=1)
        search.fit(x, y, groups=groups)
    return search.best_estimator_, dict(search.best_params_)
