"""Transfer models: a classifier on musicnn's frozen embedding of every 3 s patch of a clip.

The pretrained tagger (``models/musicnn_msd``, see ``musicnn.py``) turns each non-overlapping 3 s
patch into tag probabilities and a 200-dimensional penultimate embedding. A transfer model is a
logistic regression trained on every patch of the training clips (each patch labelled with its
clip's genre); a clip's probabilities are the mean of its patch probabilities over the whole file,
so the timeline and the answer come from the same classifier. The scikit-learn pipeline is
stored with skops, like the SVM.
"""
from __future__ import annotations

import hashlib
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .audio import load_audio
from .dataset import Clip, DatasetIndex, file_digest
from .musicnn import Tagger, patch_times
from .svm import class_probabilities

if TYPE_CHECKING:  # scikit-learn only where a head is fitted (it takes seconds to import)
    from sklearn.pipeline import Pipeline

TAGGER_NAME = "musicnn_msd"
EMBEDDING_VERSION = 1  # bump when the way patches are embedded changes
LOGREG_GRID = {"logreg__C": [0.003, 0.01, 0.03, 0.1, 0.3]}


@dataclass(frozen=True)
class TaggerOutput:
    """What the tagger hears in one clip, patch by patch."""

    tags: np.ndarray  # (n_patches, n_tags) probabilities
    penultimate: np.ndarray  # (n_patches, n_units)
    times: np.ndarray  # (n_patches, 2) start/end seconds
    total_patches: int | None = None  # patches in the whole clip, when only some were heard

    @property
    def sampled(self) -> bool:
        """True when a long clip was heard at spread-out patches rather than every 3 s."""
        return self.total_patches is not None and self.total_patches > len(self.tags)

    def mean_tags(self) -> np.ndarray:
        """(n_tags,) tag probabilities averaged over the clip."""
        return self.tags.mean(axis=0)


def embed(tagger: Tagger, samples: np.ndarray, max_patches: int | None = None) -> TaggerOutput:
    """(n_samples,) mono at the tagger's rate -> its output for every 3 s patch of the whole clip.

    With ``max_patches``, a clip of more patches is heard at that many evenly spread patches (the
    network is ~30 ms per patch on 2 cores: a 4-minute song has 80).
    """
    patches, chosen, total = tagger.heard_patches(samples, max_patches)
    out = tagger.run(patches)
    return TaggerOutput(out["tags"], out["penultimate"], patch_times(chosen, tagger.front_end), total)


class EmbeddingCache:
    """Tagger outputs of dataset clips on disk, keyed by file content and the tagger's weights."""

    def __init__(self, directory: str | os.PathLike | None, tagger: Tagger) -> None:
        weights = hashlib.sha256((tagger.folder / "weights.safetensors").read_bytes()).hexdigest()[:12]
        self.directory = Path(directory) / f"{tagger.name}-{weights}-v{EMBEDDING_VERSION}" if directory else None
        self.tagger = tagger
        if self.directory:
            self.directory.mkdir(parents=True, exist_ok=True)

    def get(self, clip: Clip) -> TaggerOutput:
        path = self.directory / f"{clip.clip_id}-{file_digest(clip.path)}.npz" if self.directory else None
        if path is not None and path.exists():
            with np.load(path) as data:
                return TaggerOutput(data["tags"], data["penultimate"], data["times"])
        samples = load_audio(clip.path, self.tagger.front_end.sample_rate).samples
        out = embed(self.tagger, samples)
        if path is not None:
            tmp = path.with_suffix(".tmp.npz")
            np.savez(tmp, tags=out.tags, penultimate=out.penultimate, times=out.times)
            tmp.replace(path)
        return out

    def patch_embeddings(self, index: DatasetIndex, progress: bool = True) -> list[np.ndarray]:
        """One (n_patches, n_units) penultimate array per clip of ``index``."""
        from tqdm import tqdm

        clips = tqdm(index.clips, desc=f"{self.tagger.name} embeddings", unit="clip", disable=not progress)
        return [self.get(c).penultimate for c in clips]


def clip_probabilities(pipeline: Pipeline, patches: np.ndarray, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """(n_patches, n_units) embeddings -> clip probabilities (n_classes,) and patch ones (n_patches, n_classes)."""
    patch_probs = class_probabilities(pipeline, patches, n_classes)
    return patch_probs.mean(axis=0), patch_probs


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
