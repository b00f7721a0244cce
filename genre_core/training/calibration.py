"""The answer-state thresholds (not sure / not music / mixed), derived out of fold from the stored
predictions and the training clips, and written beside the headline (read back by ``models.states``)."""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd

from genre_core.features.config import GENRES
from genre_core.features.spectral import loudness_db
from genre_core.models.embeddings import HeadInput, clip_probabilities
from genre_core.models.states import REFERENCE_EMBEDDINGS_FILE, STATES_FILE, Thresholds, novelty
from genre_core.training.transfer import fit_patch_logreg


def _unsure_threshold(oof: pd.DataFrame) -> tuple[float, dict]:
    """The headline probability from which at least half of the out-of-fold answers were right.

    How often an answer is right is fitted as a monotone function of its probability (isotonic
    regression); the threshold is where that fit reaches one half.
    """
    from sklearn.isotonic import IsotonicRegression

    probs = oof[[f"p_{g}" for g in GENRES]].to_numpy()
    top = probs.max(axis=1)
    right = (probs.argmax(axis=1) == oof["true"].map(GENRES.index).to_numpy()).astype(float)
    fit = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(top, right)
    grid = np.linspace(0.0, 1.0, 201)
    reached = grid[fit.predict(grid) >= 0.5]
    threshold = float(reached[0]) if len(reached) else 1.0
    below = top < threshold
    return threshold, {"clips_below": int(below.sum()),
                       "accuracy_below": float(right[below].mean()) if below.any() else None,
                       "accuracy_above": float(right[~below].mean()) if (~below).any() else None}


def calibrate(models_dir: Path, index, embeddings, cache, transfer_model: str = "musicnn_logreg") -> Thresholds:
    """Derive the thresholds from the stored out-of-fold predictions and the training clips; store them."""

    folder = Path(models_dir) / "headline"
    headline_oof = pd.read_csv(folder / "oof_predictions.csv")
    unsure, unsure_evidence = _unsure_threshold(headline_oof)

    outputs = [embeddings.get(c) for c in index.clips]
    clip_vectors = np.stack([o.penultimate.mean(axis=0) for o in outputs])
    mean, std = clip_vectors.mean(axis=0), clip_vectors.std(axis=0) + 1e-6
    reference = (clip_vectors - mean) / std
    loo = np.array([novelty(clip_vectors[i], reference, mean, std, exclude=i) for i in range(len(outputs))])

    # the share of 3 s patches agreeing with the clip's own answer, out of fold (same folds, same C as stored)
    config = json.loads((Path(models_dir) / transfer_model / "config.json").read_text())
    head_input = HeadInput.from_config(config)
    folds = pd.read_csv(Path(models_dir) / transfer_model / "oof_predictions.csv").set_index("clip_id")["fold"]
    fold_of = np.array([folds[c.clip_id] for c in index.clips])
    labels = index.labels()
    shares = np.zeros(len(outputs))
    for fold in np.unique(fold_of):
        train, test = np.flatnonzero(fold_of != fold), np.flatnonzero(fold_of == fold)
        pipeline, _ = fit_patch_logreg([head_input.stack(outputs[i]) for i in train], labels[train],
                                       grid={"logreg__C": [config["hyperparameters"]["logreg__C"]]})
        for i in test:
            clip_probs, patch_probs = clip_probabilities(pipeline, head_input.stack(outputs[i]), len(GENRES))
            shares[i] = float(np.mean(patch_probs.argmax(axis=1) == clip_probs.argmax()))
    loudness = np.array([loudness_db(cache.get(c, "handcrafted")) for c in index.clips])
    thresholds = Thresholds(
        unsure_below=round(unsure, 3),
        novelty_above=round(float(np.percentile(loo, 99)), 3),
        quiet_below_db=round(float(loudness.min()) - 10.0, 1),
        mixed_share_below=round(float(np.percentile(shares, 5)), 3),
        evidence={"unsure": unsure_evidence, "n_clips": len(outputs),
                  "novelty_percentiles_50_95_99_max": np.percentile(loo, [50, 95, 99, 100]).round(2).tolist(),
                  "patch_share_percentiles_5_25_50": np.percentile(shares, [5, 25, 50]).round(3).tolist(),
                  "quietest_training_clip_db": round(float(loudness.min()), 1), "patch_model": transfer_model},
    )
    np.savez_compressed(folder / REFERENCE_EMBEDDINGS_FILE, reference=reference.astype(np.float16), mean=mean, std=std)
    (folder / STATES_FILE).write_text(json.dumps(asdict(thresholds), indent=2) + "\n")
    return thresholds
