"""The majority-vote ensemble built from its members' stored predictions, and the plain SVM reference bar."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from genre_core.features.config import DEFAULT_FEATURES, GENRES
from genre_core.features.dataset import DatasetIndex, FeatureCache, stratified_folds
from genre_core.features.spectral import HANDCRAFTED_NAMES
from genre_core.models import artifacts as art
from genre_core.models.artifacts import BAR_FILE, read_predictions
from genre_core.models.predict import ENSEMBLE_NAME, ModelPrediction, ensemble_prediction
from genre_core.training.cards import write_model_card
from genre_core.training.evaluation import artist_metrics, clip_metrics, metrics_from_oof, summarize_folds
from genre_core.training.specs import ENSEMBLE_MEMBERS
from genre_core.training.summary import provenance


def _ensemble_rows(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The ensemble's decision per clip from its members' stored predictions of the same clips."""
    first = next(iter(frames.values()))
    prob_cols = [f"p_{g}" for g in GENRES]
    rows = []
    for clip_id in first.index:
        preds = [ModelPrediction(n, GENRES, f.loc[clip_id, prob_cols].to_numpy(dtype=float), f.loc[clip_id, "vote"])
                 for n, f in frames.items()]
        ens = ensemble_prediction(preds)
        rows.append({"clip_id": clip_id, "fold": first.loc[clip_id, "fold"], "true": first.loc[clip_id, "true"],
                     "vote": ens.vote_label, "mean": ens.mean_label,
                     **{c: float(v) for c, v in zip(prob_cols, ens.probabilities)}})
    return pd.DataFrame(rows)


def build_ensemble(models_dir: Path, index: DatasetIndex, members: tuple[str, ...] = ENSEMBLE_MEMBERS) -> dict:
    """Ensemble metrics from the members' out-of-fold predictions (same folds), and its folder."""
    frames = read_predictions(models_dir, list(members), art.OOF_FILE)
    if not frames:
        raise FileNotFoundError("no ensemble member has been trained yet")
    oof = _ensemble_rows(frames)
    folder = models_dir / ENSEMBLE_NAME
    folder.mkdir(parents=True, exist_ok=True)
    member_configs = {n: json.loads((models_dir / n / art.CONFIG_FILE).read_text()) for n in frames}
    member_metrics = {n: json.loads((models_dir / n / art.METRICS_FILE).read_text()) for n in frames}
    protocol = next(iter(member_metrics.values()))["protocol"]
    config = {"name": ENSEMBLE_NAME, "title": "Ensemble: majority vote of " + ", ".join(frames), "kind": "ensemble",
              "members": list(frames), "labels": list(GENRES), "architecture": "majority vote",
              "representation": "all", "feature_config": DEFAULT_FEATURES.to_dict(),
              "data": provenance(index, protocol),
              "n_parameters": int(sum(c["n_parameters"] for c in member_configs.values()))}
    metrics = {"protocol": protocol, "primary_rule": "vote", **metrics_from_oof(oof),
               "training_seconds": round(sum(m["training_seconds"] for m in member_metrics.values()), 1)}
    oof.to_csv(folder / art.OOF_FILE, index=False, float_format="%.6f")
    artist = read_predictions(models_dir, list(frames), art.ARTIST_FILE)
    if len(artist) == len(frames):
        artist_frame = _ensemble_rows(artist)
        artist_frame.to_csv(folder / art.ARTIST_FILE, index=False, float_format="%.6f")
        metrics["artist_filtered"] = artist_metrics(artist_frame)
    art.write_json(folder / art.CONFIG_FILE, config)
    art.write_json(folder / art.METRICS_FILE, metrics)
    write_model_card(folder, config, metrics, models_dir)
    return metrics


def compute_plain_svm_bar(index: DatasetIndex, cache: FeatureCache, models_dir: Path, k: int = 5, seed: int = 0) -> dict:
    """The issue's reference bar under our folds: a default RBF SVM on MFCC mean/std, spectral
    centroid and zero-crossing rate (no tuning), clip-level stratified k-fold."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    features = np.stack([cache.get(c, "handcrafted") for c in index.clips])
    columns, names = [], []
    for i, name in enumerate(HANDCRAFTED_NAMES):
        if name.startswith("mfcc") or name.startswith(("spectral_centroid", "zero_crossing_rate")):
            columns.append(np.sqrt(features[:, i]) if name.endswith("_var") else features[:, i])
            names.append(name.replace("_var", "_std"))
    x, labels = np.stack(columns, axis=1), index.labels()
    folds = []
    for fold, (train, test) in enumerate(stratified_folds(labels, k, seed), start=1):
        model = make_pipeline(StandardScaler(), SVC()).fit(x[train], labels[train])
        folds.append({"fold": fold, **clip_metrics(labels[test], model.predict(x[test]))})
    result = {"description": "default RBF SVC (C=1, gamma='scale') on MFCC 1-20 mean/std, spectral centroid "
                             f"mean/std and zero-crossing rate mean/std ({len(names)} features)",
              "features": names, "protocol": f"clip-level stratified {k}-fold (seed {seed})",
              "folds": folds, "summary": summarize_folds(folds)}
    art.write_json(models_dir / BAR_FILE, result)
    return result
