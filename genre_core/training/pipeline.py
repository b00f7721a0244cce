"""Training one model of the zoo: k-fold cross-validation, the artist-filtered test, the final fit on every
clip, and its model folder (written to a staging folder first, so nothing stored is lost on failure)."""
from __future__ import annotations

import datetime as dt
import shutil
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from genre_core.audio.errors import DatasetError
from genre_core.features.config import GENRES, FeatureConfig
from genre_core.features.dataset import (
    Clip,
    DatasetIndex,
    FeatureCache,
    artist_filtered_split,
    inner_validation_split,
    stratified_folds,
)
from genre_core.features.spectral import HANDCRAFTED_NAMES, cut_windows
from genre_core.models import artifacts as art
from genre_core.models.artifacts import load_model
from genre_core.models.embeddings import TAGGER_NAME, EmbeddingCache, clip_probabilities
from genre_core.models.head import write_head
from genre_core.models.networks import build_network, count_parameters
from genre_core.models.predict import (
    combine_windows,
    predict_file,
    predict_windows,
)
from genre_core.models.sklearn_io import class_probabilities, save_svm
from genre_core.training.cards import write_model_card
from genre_core.training.evaluation import artist_metrics, metrics_from_oof
from genre_core.training.loop import normalization_stats, train_network
from genre_core.training.specs import CLIP_CLASSIFIERS, ModelSpec
from genre_core.training.summary import provenance
from genre_core.training.svm import PARAM_GRID, fit_svm
from genre_core.training.transfer import LOGREG_GRID, fit_patch_logreg

REFERENCE_CLIPS_PER_GENRE = 1


def _oof_rows(clips: list[Clip], fold: int, probs: np.ndarray, vote_labels: list[int]) -> list[dict]:
    rows = []
    for clip, p, vote in zip(clips, probs, vote_labels):
        row = {"clip_id": clip.clip_id, "fold": fold, "true": clip.genre, "vote": GENRES[vote],
               "mean": GENRES[int(np.argmax(p))]}
        row.update({f"p_{g}": float(v) for g, v in zip(GENRES, p)})
        rows.append(row)
    return rows


def reference_clips(index: DatasetIndex) -> list[Clip]:
    """A fixed, small list of clips (the first of every genre) for the stored-prediction check."""
    out = []
    for genre in GENRES:
        out += [c for c in index.clips if c.genre == genre][:REFERENCE_CLIPS_PER_GENRE]
    return out


def record_reference_predictions(folder: Path, index: DatasetIndex) -> None:
    """Predict the reference clips with the stored (reloaded) model and keep the probabilities."""
    model = load_model(folder)
    rows = []
    for clip in reference_clips(index):
        pred = predict_file(model, clip.path)
        rows.append({"clip": clip.relative_path, "clip_id": clip.clip_id,
                     "probabilities": [round(float(p), 6) for p in pred.probabilities], "vote": pred.vote_label})
    art.write_json(folder / art.REFERENCE_FILE, {"labels": list(GENRES), "clips": rows})


def _fold_split(labels: np.ndarray, train_idx: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    inner_train, inner_val = inner_validation_split(labels[train_idx], seed=seed)
    return train_idx[inner_train], train_idx[inner_val]


def _train_and_predict(
    spec: ModelSpec, images: list[np.ndarray], labels: np.ndarray, feature_cfg: FeatureConfig,
    train_idx: np.ndarray, val_idx: np.ndarray, test_idx: np.ndarray, seed: int,
    checkpoint: Path | None, resume: bool, progress: bool, description: str,
) -> tuple[np.ndarray, list[int], list[dict], int]:
    """Train one network (early stopping on ``val_idx``) and predict ``test_idx`` clip by clip.

    Returns mean probabilities (n_test, n_classes), window-vote labels, history rows and the best epoch.
    """
    mean, std = normalization_stats([images[i] for i in train_idx])
    norm = lambda i: (images[i] - mean[:, None]) / std[:, None]  # noqa: E731
    torch.manual_seed(seed)
    network = build_network(spec.architecture, len(GENRES), feature_cfg.n_bins(spec.representation))
    result = train_network(
        network, [norm(i) for i in train_idx], labels[train_idx], feature_cfg, replace(spec.train, seed=seed),
        [norm(i) for i in val_idx], labels[val_idx], checkpoint_path=checkpoint, resume=resume, progress=progress,
        description=description,
    )
    probs, votes = [], []
    for i in test_idx:
        decision = combine_windows(predict_windows(network, cut_windows(norm(i), feature_cfg)))
        probs.append(decision.mean_probabilities)
        votes.append(decision.vote_label)
    return np.array(probs), votes, result.history, result.best_epoch


def run_torch_cv(
    spec: ModelSpec, index: DatasetIndex, images: list[np.ndarray], folds: list, feature_cfg: FeatureConfig,
    checkpoint_dir: Path | None, resume: bool, progress: bool,
) -> tuple[list[dict], list[dict], list[int]]:
    """Train one network per fold. Returns out-of-fold rows, history rows and best epochs."""
    labels = index.labels()
    oof, history, best_epochs = [], [], []
    for fold, (train_idx, test_idx) in enumerate(folds, start=1):
        tr, val = _fold_split(labels, train_idx, spec.train.seed + fold)
        ckpt = checkpoint_dir / f"{spec.name}-fold{fold}.pt" if checkpoint_dir else None
        probs, votes, rows, best = _train_and_predict(
            spec, images, labels, feature_cfg, tr, val, test_idx, spec.train.seed + fold, ckpt, resume, progress,
            f"{spec.name} fold {fold}/{len(folds)}")
        best_epochs.append(best)
        history += [{"fold": fold, **row} for row in rows]
        oof += _oof_rows([index.clips[i] for i in test_idx], fold, probs, votes)
    return oof, history, best_epochs


# ---- the artist-filtered protocol, beside k-fold ----


class ClipClassifier:
    """Fit and predict a clip-level model (SVM on handcrafted features, or a transfer head) on clip indices."""

    def __init__(self, spec: ModelSpec, index: DatasetIndex, cache: FeatureCache,
                 embeddings: EmbeddingCache | None, progress: bool) -> None:
        self.kind = spec.kind
        self.labels = index.labels()
        if spec.kind == "svm":
            self.features = np.stack([cache.get(c, "handcrafted") for c in index.clips])
        else:
            if embeddings is None:
                raise ValueError(f"{spec.name} needs the pretrained tagger's embedding cache")
            self.patches = embeddings.patch_embeddings(index, spec.head_input, progress=progress)

    def fit(self, idx: np.ndarray, seed: int):
        if self.kind == "svm":
            return fit_svm(self.features[idx], self.labels[idx], seed)
        return fit_patch_logreg([self.patches[i] for i in idx], self.labels[idx], seed)

    def predict(self, pipeline, idx: np.ndarray) -> tuple[np.ndarray, list[int]]:
        """(n, n_classes) probabilities and each clip's decision."""
        if self.kind == "svm":
            probs = class_probabilities(pipeline, self.features[idx], len(GENRES))
            # The SVM's own decision is its vote; its Platt probabilities can disagree on small data.
            return probs, list(pipeline.predict(self.features[idx]))
        probs = np.stack([clip_probabilities(pipeline, self.patches[i], len(GENRES))[0] for i in idx])
        return probs, list(probs.argmax(axis=1))


def run_artist_protocol(
    spec: ModelSpec, index: DatasetIndex, parts: dict[str, np.ndarray], cache: FeatureCache,
    checkpoint_dir: Path | None, resume: bool, progress: bool, classifier: ClipClassifier | None = None,
) -> tuple[pd.DataFrame, list[dict]]:
    """Train once on the artist split's train part and predict its test part. Returns rows and history."""
    labels = index.labels()
    test = parts["test"]
    clips = [index.clips[i] for i in test]
    if classifier is not None:
        train = np.concatenate([parts["train"], parts["valid"]])  # tuned by inner CV, no early stopping
        pipeline, _ = classifier.fit(train, 0)
        probs, votes = classifier.predict(pipeline, test)
        return pd.DataFrame(_oof_rows(clips, 0, probs, votes)), []
    images = [cache.get(c, spec.representation) for c in index.clips]
    train, valid = parts["train"], parts["valid"]
    if not len(valid):  # no listed validation clip here: hold out part of train as k-fold does
        train, valid = _fold_split(labels, train, spec.train.seed)
    ckpt = checkpoint_dir / f"{spec.name}-artist.pt" if checkpoint_dir else None
    probs, votes, rows, _ = _train_and_predict(spec, images, labels, cache.cfg, train, valid, test, spec.train.seed,
                                               ckpt, resume, progress, f"{spec.name} artist split")
    return pd.DataFrame(_oof_rows(clips, 0, probs, votes)), [{"fold": "artist", **r} for r in rows]


def evaluation_folds(index: DatasetIndex, split: str, k: int, seed: int) -> tuple[list, str]:
    """Clip-index (train, test) pairs and a description of the protocol.

    ``split`` is "kfold" (stratified k-fold by clip) or "artist" (the published artist-filtered
    train+valid / test split, restricted to the clips present). With "kfold" the artist-filtered test is
    also run, as its own block, whenever the split lists are present.
    """
    if split == "kfold":
        return stratified_folds(index.labels(), k, seed), f"clip-level stratified {k}-fold (seed {seed})"
    if split == "artist":
        parts = artist_filtered_split(index)
        if parts is None:
            raise DatasetError("The artist-filtered split needs splits/*_filtered.txt naming train and test clips that "
                               "are in this dataset folder; it has none. Use the default --split kfold.")
        return [(np.concatenate([parts["train"], parts["valid"]]), parts["test"])], \
            "artist-filtered split of Kereliuk, Sturm & Larsen (train+valid / test)"
    raise ValueError(f"unknown split '{split}'")


def train_spec(
    spec: ModelSpec, index: DatasetIndex, cache: FeatureCache, models_dir: Path, k: int = 5, seed: int = 0,
    checkpoint_dir: Path | None = None, resume: bool = False, progress: bool = True, split: str = "kfold",
    embeddings: EmbeddingCache | None = None,
) -> dict:
    """Evaluate on held-out clips (k-fold or the artist split), then a final fit on every clip,
    written to ``models_dir/spec.name``."""
    started = time.perf_counter()
    feature_cfg = cache.cfg
    labels = index.labels()
    folds, protocol = evaluation_folds(index, split, k, seed)
    folder = models_dir / spec.name
    staging = models_dir / f".{spec.name}.staging"  # nothing stored is replaced until the new one is complete
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    protocol += f"; final fit on all {len(index.clips)} clips"
    config: dict = {
        "name": spec.name, "title": spec.title, "kind": spec.kind, "labels": list(GENRES),
        "feature_config": feature_cfg.to_dict(), "data": provenance(index, protocol),
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "torch_version": torch.__version__,
    }
    classifier = ClipClassifier(spec, index, cache, embeddings, progress) if spec.kind in CLIP_CLASSIFIERS else None
    artist_parts = artist_filtered_split(index) if split == "kfold" else None
    artist_frame, artist_history = (None, []) if artist_parts is None else run_artist_protocol(
        spec, index, artist_parts, cache, checkpoint_dir, resume, progress, classifier)
    if classifier is not None:
        oof = []
        for fold, (train_idx, test_idx) in enumerate(folds, start=1):
            pipeline, _ = classifier.fit(train_idx, seed)
            probs, votes = classifier.predict(pipeline, test_idx)
            oof += _oof_rows([index.clips[i] for i in test_idx], fold, probs, votes)
        pipeline, best_params = classifier.fit(np.arange(len(index.clips)), seed)
        if spec.kind == "svm":
            config.update(representation="handcrafted", architecture="svm_rbf", feature_names=list(HANDCRAFTED_NAMES),
                          search_grid={k_: [str(v) for v in vs] for k_, vs in PARAM_GRID.items()},
                          n_parameters=int(pipeline.named_steps["svc"].support_vectors_.size))
        else:
            logreg = pipeline.named_steps["logreg"]
            config.update(representation="musicnn", architecture="logreg", embedding_model=TAGGER_NAME,
                          head_input=spec.head_input.to_dict(),
                          aggregation=f"logistic regression on the {' and '.join(spec.head_input.layers)} outputs "
                                      "of every 3 s patch; a clip's probabilities are the mean over its patches",
                          search_grid={k_: [str(v) for v in vs] for k_, vs in LOGREG_GRID.items()},
                          n_inputs=int(logreg.coef_.shape[1]), n_parameters=int(logreg.coef_.size + logreg.intercept_.size))
        config["hyperparameters"] = best_params
        config["weights_sha256"] = save_svm(pipeline, staging / art.SVM_FILE)
        if spec.kind == "transfer":  # the same numbers without skops, for a quick start (head.py)
            config["head"] = write_head(pipeline, staging, config["weights_sha256"])
        history: list[dict] = []
        final_epochs = None
    else:
        images = [cache.get(c, spec.representation) for c in index.clips]
        oof, history, best_epochs = run_torch_cv(spec, index, images, folds, feature_cfg, checkpoint_dir, resume, progress)
        # Final fit: all clips, as many epochs as the folds needed (median of their best epochs).
        final_epochs = int(max(3, np.median(best_epochs)))
        mean, std = normalization_stats(images)
        torch.manual_seed(spec.train.seed)
        network = build_network(spec.architecture, len(GENRES), feature_cfg.n_bins(spec.representation))
        final_cfg = replace(spec.train, epochs=final_epochs)
        ckpt = checkpoint_dir / f"{spec.name}-final.pt" if checkpoint_dir else None
        result = train_network(network, [(im - mean[:, None]) / std[:, None] for im in images], labels, feature_cfg,
                               final_cfg, checkpoint_path=ckpt, resume=resume, progress=progress,
                               description=f"{spec.name} final fit")
        history += [{"fold": "final", **row} for row in result.history]
        config.update(architecture=spec.architecture, representation=spec.representation,
                      n_parameters=count_parameters(network), train_config=asdict(final_cfg),
                      cv_best_epochs=best_epochs,
                      normalization={"mean": mean.round(5).tolist(), "std": std.round(5).tolist()})
        config["weights_sha256"] = art.save_torch_weights(staging, network)

    oof_frame = pd.DataFrame(oof).sort_values("clip_id")
    oof_frame.to_csv(staging / art.OOF_FILE, index=False, float_format="%.6f")
    metrics = {"protocol": protocol, "primary_rule": "vote", **metrics_from_oof(oof_frame),
               "training_seconds": round(time.perf_counter() - started, 1), "final_fit_epochs": final_epochs}
    if artist_frame is not None:
        artist_frame.sort_values("clip_id").to_csv(staging / art.ARTIST_FILE, index=False, float_format="%.6f")
        metrics["artist_filtered"] = artist_metrics(artist_frame)
        history = artist_history + history
    art.write_json(staging / art.CONFIG_FILE, config)
    art.write_json(staging / art.METRICS_FILE, metrics)
    art.write_history(staging / art.HISTORY_FILE, history)
    record_reference_predictions(staging, index)
    write_model_card(staging, config, metrics, models_dir)
    if folder.exists():
        shutil.rmtree(folder)
    staging.rename(folder)
    return metrics
