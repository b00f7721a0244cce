"""Fitting the RBF SVM on handcrafted clip features (C and gamma by inner grid search)."""
from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline


PARAM_GRID = {"svc__C": [1.0, 3.0, 10.0, 30.0], "svc__gamma": ["scale", 0.01, 0.03]}


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
