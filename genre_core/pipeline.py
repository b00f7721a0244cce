"""Cross-validation, final fit and writing of every model in the zoo, and the grid search."""
from __future__ import annotations

import datetime as dt
import json
import shutil
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from . import artifacts as art
from .artifacts import load_model
from .catalog import BAR_FILE, SUMMARY_DIR
from .config import DEFAULT_FEATURES, GENRES, FeatureConfig
from .dataset import Clip, DatasetIndex, FeatureCache, artist_filtered_split, inner_validation_split, stratified_folds
from .decision import read_predictions
from .errors import DatasetError
from .evaluation import clip_metrics, combine_windows, summarize_folds
from .features import HANDCRAFTED_NAMES, cut_windows
from .head import write_head
from .inference import ENSEMBLE_NAME, ModelPrediction, ensemble_prediction, predict_file
from .models import build_network, count_parameters
from .svm import PARAM_GRID, class_probabilities, fit_svm, save_svm
from .training import TrainConfig, normalization_stats, predict_windows, train_network
from .transfer import LOGREG_GRID, TAGGER_NAME, EmbeddingCache, clip_probabilities, fit_patch_logreg


@dataclass(frozen=True)
class ModelSpec:
    name: str
    kind: str  # "torch", "svm" or "transfer" (a classifier on the pretrained tagger's clip embedding)
    title: str
    architecture: str = ""
    representation: str = ""
    train: TrainConfig = field(default_factory=TrainConfig)


MODEL_SPECS: dict[str, ModelSpec] = {s.name: s for s in [
    ModelSpec("svm_handcrafted", "svm", "SVM (RBF) on handcrafted clip features"),
    ModelSpec("linear_mel", "torch", "Linear baseline on a 64x100 mel image", "linear", "mel",
              TrainConfig(epochs=30, learning_rate=3e-4)),
    ModelSpec("deep_cnn_mel", "torch", "Deep 5-block CNN on mel spectrograms", "deep_cnn", "mel"),
    ModelSpec("deep_cnn_mfcc", "torch", "Deep 5-block CNN on MFCCs", "deep_cnn", "mfcc"),
    ModelSpec("deep_cnn_spectrogram", "torch", "Deep 5-block CNN on the linear spectrogram", "deep_cnn", "spectrogram"),
    ModelSpec("complex_cnn_mel", "torch", "Complex CNN (~60k parameters) on mel spectrograms", "complex_cnn", "mel"),
    ModelSpec("simple_cnn_mel", "torch", "Simple CNN (~15k parameters) on mel spectrograms", "simple_cnn", "mel"),
    ModelSpec("musicnn_logreg", "transfer", "Logistic regression on pretrained musicnn (Million Song Dataset) "
              "embeddings", "logreg", "musicnn"),
]}
CLIP_CLASSIFIERS = ("svm", "transfer")  # kinds decided once per clip by a scikit-learn pipeline
# Fixed before training (not chosen by test scores): the three representation CNNs, the
# larger 3-block CNN and the SVM; five voters so a majority exists.
ENSEMBLE_MEMBERS = ("deep_cnn_mel", "deep_cnn_mfcc", "deep_cnn_spectrogram", "complex_cnn_mel", "svm_handcrafted")
# The stacked headline candidate combines the pretrained transfer model with the strongest from-scratch
# families (fixed before looking at scores): the deep mel CNN, the spectrogram CNN and the SVM.
STACK_MEMBERS = ("musicnn_logreg", "deep_cnn_mel", "deep_cnn_spectrogram", "svm_handcrafted", "deep_cnn_mfcc")
REFERENCE_CLIPS_PER_GENRE = 1


def _oof_rows(clips: list[Clip], fold: int, probs: np.ndarray, vote_labels: list[int]) -> list[dict]:
    rows = []
    for clip, p, vote in zip(clips, probs, vote_labels):
        row = {"clip_id": clip.clip_id, "fold": fold, "true": clip.genre, "vote": GENRES[vote],
               "mean": GENRES[int(np.argmax(p))]}
        row.update({f"p_{g}": float(v) for g, v in zip(GENRES, p)})
        rows.append(row)
    return rows


def _metrics_from_oof(oof: pd.DataFrame) -> dict:
    """Per-fold and summarised metrics for both decision rules from out-of-fold predictions."""
    out = {}
    for rule in ("vote", "mean"):
        folds = []
        for fold, part in oof.groupby("fold"):
            m = clip_metrics(part["true"].map(GENRES.index).to_numpy(), part[rule].map(GENRES.index).to_numpy())
            folds.append({"fold": int(fold), **m})
        out[rule] = {"folds": folds, "summary": summarize_folds(folds)}
    return out


def _provenance(index: DatasetIndex, protocol: str) -> dict:
    return {
        "dataset": "GTZAN (Tzanetakis & Cook 2002), GTZAN folder layout",
        "root_name": index.root.name,
        "n_clips": len(index.clips),
        "clips_per_genre": index.counts(),
        "clip_ids": [c.clip_id for c in index.clips],
        "skipped": index.skipped,
        "protocol": protocol,
    }


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

ARTIST_PROTOCOL = ("artist-filtered split of Kereliuk, Sturm & Larsen, restricted to the clips present: "
                   "train on its train part (valid part for early stopping), score once on its test part")
# A genre's test recall is reported only when it rests on at least this many test clips.
ARTIST_MIN_TEST_CLIPS = 5


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
            self.patches = embeddings.patch_embeddings(index, progress=progress)

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
        "feature_config": feature_cfg.to_dict(), "data": _provenance(index, protocol),
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
                          aggregation="logistic regression on the penultimate layer of every 3 s patch; "
                                      "a clip's probabilities are the mean over its patches",
                          search_grid={k_: [str(v) for v in vs] for k_, vs in LOGREG_GRID.items()},
                          n_parameters=int(logreg.coef_.size + logreg.intercept_.size))
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
    metrics = {"protocol": protocol, "primary_rule": "vote", **_metrics_from_oof(oof_frame),
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
              "data": _provenance(index, protocol),
              "n_parameters": int(sum(c["n_parameters"] for c in member_configs.values()))}
    metrics = {"protocol": protocol, "primary_rule": "vote", **_metrics_from_oof(oof),
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


def plain_svm_bar(index: DatasetIndex, cache: FeatureCache, models_dir: Path, k: int = 5, seed: int = 0) -> dict:
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


def _fmt(summary: dict, key: str) -> str:
    return f"{summary[key]['mean']:.3f} ± {summary[key]['std']:.3f}"


def write_model_card(folder: Path, config: dict, metrics: dict, models_dir: Path) -> None:
    """A short human-readable card, with the SVM bar beside this model's numbers."""
    lines = [f"# {config['name']}", "", config.get("title", ""), "",
             f"- Kind: {config['kind']}; architecture: {config.get('architecture')}; "
             f"input: {config.get('representation')}; parameters: {config.get('n_parameters')}",
             f"- Features: {json.dumps(config['feature_config'])}",
             f"- Data: {config['data']['n_clips']} clips ({json.dumps(config['data']['clips_per_genre'])})",
             f"- Protocol: {metrics['protocol']}", "",
             "## Cross-validated clip-level results (mean ± std over folds)", "",
             "| model | rule | accuracy | balanced accuracy | macro-F1 |", "|---|---|---|---|---|"]
    rows = [(config["name"], metrics)]
    svm_metrics = models_dir / "svm_handcrafted" / art.METRICS_FILE
    if config["name"] != "svm_handcrafted" and svm_metrics.exists():
        rows.append(("svm_handcrafted (the bar)", json.loads(svm_metrics.read_text())))
    for name, m in rows:
        for rule in ("vote", "mean"):
            s = m[rule]["summary"]
            lines.append(f"| {name} | {rule} | {_fmt(s, 'accuracy')} | {_fmt(s, 'balanced_accuracy')} | {_fmt(s, 'macro_f1')} |")
    bar_path = models_dir / BAR_FILE
    if bar_path.exists():
        s = json.loads(bar_path.read_text())["summary"]
        lines.append(f"| plain SVM bar (MFCC mean/std, centroid, ZCR) | clip | {_fmt(s, 'accuracy')} | "
                     f"{_fmt(s, 'balanced_accuracy')} | {_fmt(s, 'macro_f1')} |")
    recall = metrics["vote"]["summary"]["confusion_matrix"]
    from .evaluation import recall_from_confusion

    per_genre = recall_from_confusion(np.asarray(recall))
    lines += ["", "Per-genre recall (vote, all folds pooled): " + ", ".join(
        f"{g} {r:.2f}" for g, r in zip(GENRES, per_genre) if not np.isnan(r))]
    if "artist_filtered" in metrics:
        a = metrics["artist_filtered"]
        v = a["vote"]
        fmt = lambda x: "–" if x is None else f"{x:.3f}"  # noqa: E731
        lines += ["", "## Artist-filtered test (trained once on its train part, scored once on its test part)", "",
                  f"- {v['n_clips']} test clips ({', '.join(f'{g} {n}' for g, n in a['test_clips_per_genre'].items() if n)})",
                  f"- All test clips: accuracy {fmt(v['accuracy'])}, balanced accuracy {fmt(v['balanced_accuracy'])}, "
                  f"macro-F1 {fmt(v['macro_f1'])}",
                  f"- The {len(a['covered_genres'])} genres with at least {a['min_test_clips_per_genre']} test clips "
                  f"({', '.join(a['covered_genres'])}): accuracy {fmt(v['covered']['accuracy'])}, "
                  f"balanced accuracy {fmt(v['covered']['balanced_accuracy'])}",
                  f"- Cannot speak for: {', '.join(a['uncovered_genres']) or 'none'} (too few test clips here)."]
    if "train_config" in config:
        t = config["train_config"]
        lines += ["", "## Training", "",
                  f"Adam (lr {t['learning_rate']}, weight decay {t['weight_decay']}), batch {t['batch_size']}, "
                  f"ReduceLROnPlateau, early stopping on validation loss (patience {t['patience']}); "
                  f"{t['sampling']} sampling of {t['crops_per_clip']} random 3 s crops per clip and epoch; "
                  f"time/frequency masking up to {t['time_mask']:.0%}/{t['freq_mask']:.0%}, cutout p={t['cutout']}, "
                  f"flip p={t['flip']}. Best epochs per fold: {config.get('cv_best_epochs')}; final fit "
                  f"{t['epochs']} epochs on all clips; seed {t['seed']}."]
    if config["kind"] == "svm":
        lines += ["", "## Training", "", "StandardScaler + RBF SVC (class_weight balanced); C and gamma chosen by "
                  f"inner 3-fold grid search on each training part: final {config['hyperparameters']}."]
    if config["kind"] == "transfer":
        lines += ["", "## Training", "",
                  f"Input: the frozen pretrained tagger `{config['embedding_model']}` (see its MODEL_CARD.md), "
                  f"{config['aggregation']} (200 values per patch). StandardScaler + logistic regression "
                  f"(class_weight balanced); C chosen by inner 3-fold grid search (patches of a clip kept together) "
                  f"on each training part: final {config['hyperparameters']}. Nothing of the tagger is trained here. "
                  "The timeline shows the same classifier's answer for each 3 s patch."]
    lines += ["", "'vote' is the majority vote over 3 s windows (50 % overlap); 'mean' averages window probabilities "
              "(clip classifiers: both are their own clip-level decision).",
              "", "## Limits", "",
              f"- Trained on {config['data']['n_clips']} GTZAN clips: " + ", ".join(
                  f"{g} {n}" for g, n in config["data"]["clips_per_genre"].items()) + ". Where a genre has about",
              "  ten clips, its recall rests on those few and varies a lot between folds.",
              "- GTZAN has repeated clips and artist overlap between k-fold folds, which flatters the k-fold numbers;",
              "  the artist-filtered test above is the harder, more honest figure for the genres it covers.",
              "- 30 s excerpts of Western popular music from around 2000; other music is outside what it has seen.", ""]
    (folder / art.CARD_FILE).write_text("\n".join(lines))


# ---- grid search ----

def grid_search(
    index: DatasetIndex, cache_dir: Path | None, representations: list[str], architectures: list[str],
    batch_sizes: list[int], k: int, epochs: int, seed: int, out_csv: Path, progress: bool = True,
    feature_cfg: FeatureConfig = DEFAULT_FEATURES,
) -> pd.DataFrame:
    """Representation x architecture x batch size, each scored by clip-level stratified k-fold."""
    results = []
    for rep in representations:
        cache = FeatureCache(cache_dir, feature_cfg)
        images = [cache.get(c, rep) for c in index.clips]
        folds = stratified_folds(index.labels(), k, seed)
        for arch in architectures:
            for batch in batch_sizes:
                spec = ModelSpec(f"grid-{arch}-{rep}-b{batch}", "torch", "", arch, rep,
                                 TrainConfig(epochs=epochs, batch_size=batch, seed=seed))
                started = time.perf_counter()
                oof, _, _ = run_torch_cv(spec, index, images, folds, feature_cfg, None, False, progress)
                m = _metrics_from_oof(pd.DataFrame(oof))["vote"]["summary"]
                results.append({"representation": rep, "architecture": arch, "batch_size": batch, "epochs": epochs,
                                "folds": k, "accuracy_mean": m["accuracy"]["mean"], "accuracy_std": m["accuracy"]["std"],
                                "balanced_accuracy_mean": m["balanced_accuracy"]["mean"],
                                "balanced_accuracy_std": m["balanced_accuracy"]["std"],
                                "macro_f1_mean": m["macro_f1"]["mean"], "seconds": round(time.perf_counter() - started, 1)})
                pd.DataFrame(results).to_csv(out_csv, index=False, float_format="%.4f")
    return pd.DataFrame(results)


# ---- per-genre average images for the dataset page ----



def training_clip_hashes(index: DatasetIndex) -> dict[str, dict[str, str]]:
    """sha256 of every training file's bytes, and of its original 16-bit PCM where the copy's manifest.csv
    gives it (GTZAN's own .wav/.au files then match too), so an uploaded training clip is recognised."""
    import hashlib

    files = {hashlib.sha256(c.path.read_bytes()).hexdigest(): c.clip_id for c in index.clips}
    pcm: dict[str, str] = {}
    manifest = index.root / "manifest.csv"
    if manifest.exists():
        table = pd.read_csv(manifest)
        if {"file", "original_pcm_sha256"} <= set(table.columns):
            present = {c.clip_id for c in index.clips}
            for file, digest in zip(table["file"], table["original_pcm_sha256"]):
                if Path(file).stem in present:
                    pcm[str(digest)] = Path(file).stem
    return {"file_sha256": files, "pcm_sha256": pcm}


def write_dataset_summary(index: DatasetIndex, cache: FeatureCache, models_dir: Path, progress: bool = True) -> Path:
    """Average mel (n_mels, T) and MFCC (n_mfcc, T) image of every genre, aligned at the clip start."""
    from tqdm import tqdm

    sums: dict[str, dict[str, np.ndarray]] = {}
    counts = {g: 0 for g in GENRES}
    n_frames = None
    for clip in tqdm(index.clips, desc="genre averages", unit="clip", disable=not progress):
        mel, mfcc = cache.get(clip, "mel"), cache.get(clip, "mfcc")
        # GTZAN clips differ by a few frames; 30 s = 1292 frames at 22050 Hz / hop 512
        n_frames = min(n_frames or mel.shape[1], mel.shape[1], 1292)
        entry = sums.setdefault(clip.genre, {"mel": np.zeros((mel.shape[0], 1292)), "mfcc": np.zeros((mfcc.shape[0], 1292))})
        entry["mel"][:, : mel.shape[1]] += mel[:, :1292]
        entry["mfcc"][:, : mfcc.shape[1]] += mfcc[:, :1292]
        counts[clip.genre] += 1
    genres = [g for g in GENRES if counts[g]]
    folder = models_dir / SUMMARY_DIR
    folder.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        folder / "genre_averages.npz",
        genres=np.array(genres),
        mel=np.stack([sums[g]["mel"][:, :n_frames] / counts[g] for g in genres]).astype(np.float16),
        mfcc=np.stack([sums[g]["mfcc"][:, :n_frames] / counts[g] for g in genres]).astype(np.float16),
    )
    art.write_json(folder / "summary.json", {
        "feature_config": cache.cfg.to_dict(), "seconds_per_frame": cache.cfg.seconds_per_frame,
        "clips_per_genre": counts, "n_frames": n_frames, "data": _provenance(index, "all clips of the copy"),
        "training_clip_hashes": training_clip_hashes(index),
    })
    return folder
