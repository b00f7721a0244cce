"""How sure the answer is: confident, not sure, not music, or mixed genres, with data-derived thresholds.

``calibrate`` measures, on the GTZAN copy and out of fold, where the headline stops being reliable and
what the pretrained tagger's embedding of real music looks like, and stores the thresholds in
``models/headline/states.json`` (with the training clips' embeddings in ``reference_embeddings.npz``).
``assess`` applies them to one classification. Nothing here is a hand-picked constant except the
display smoothing of the timeline.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .config import GENRES
from .features import HANDCRAFTED_NAMES, rms_db

STATES_FILE = "states.json"
REFERENCE_FILE = "reference_embeddings.npz"
NEIGHBOURS = 5  # novelty: mean distance to the 5 nearest training clips
SMOOTH_PATCHES = 5  # display: a section is read off a 5-patch (15 s) majority filter of the timeline


@dataclass(frozen=True)
class Thresholds:
    unsure_below: float  # headline probability under which fewer than half of out-of-fold answers are right
    novelty_above: float  # 99th percentile of leave-one-out novelty of the training clips
    quiet_below_db: float  # 10 dB under the quietest training clip (RMS, dBFS)
    mixed_share_below: float  # 5th percentile of the share of patches agreeing with a clip's own answer
    evidence: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Section:
    start: float
    end: float
    genre: str


@dataclass(frozen=True)
class Verdict:
    """The state of one answer. ``state`` is "confident", "unsure", "not_music" or "mixed"."""

    state: str
    genre: str
    probability: float
    runner_up: str
    headline: str  # one line for the listener
    sections: tuple[Section, ...] = ()


RMS_INDEX = HANDCRAFTED_NAMES.index("rms_mean")


def loudness_db(handcrafted: np.ndarray) -> float:
    """Mean frame RMS of a clip in dBFS, from its (len(HANDCRAFTED_NAMES),) handcrafted features."""
    return rms_db(handcrafted[RMS_INDEX])


def novelty(clip_embedding: np.ndarray, reference: np.ndarray, mean: np.ndarray, std: np.ndarray,
            exclude: int | None = None) -> float:
    """Mean distance of a (n_units,) clip embedding to its nearest training clips, in standardised units."""
    distances = np.linalg.norm(reference - (clip_embedding - mean) / std, axis=1)
    if exclude is not None:
        distances[exclude] = np.inf
    return float(np.sort(distances)[:NEIGHBOURS].mean())


def sections_of(patch_labels: list[str], times: np.ndarray) -> tuple[Section, ...]:
    """Contiguous runs of the (majority-smoothed) patch genres, as sections with start/end seconds."""
    if not patch_labels:
        return ()
    half = SMOOTH_PATCHES // 2
    smoothed = []
    for i in range(len(patch_labels)):
        window = patch_labels[max(0, i - half): i + half + 1]
        smoothed.append(max(set(window), key=lambda g: (window.count(g), g == patch_labels[i])))
    out, start = [], 0
    for i in range(1, len(smoothed) + 1):
        if i == len(smoothed) or smoothed[i] != smoothed[start]:
            out.append(Section(float(times[start, 0]), float(times[i - 1, 1]), smoothed[start]))
            start = i
    return tuple(out)


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
    from .transfer import clip_probabilities, fit_patch_logreg

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
    folds = pd.read_csv(Path(models_dir) / transfer_model / "oof_predictions.csv").set_index("clip_id")["fold"]
    fold_of = np.array([folds[c.clip_id] for c in index.clips])
    labels = index.labels()
    shares = np.zeros(len(outputs))
    for fold in np.unique(fold_of):
        train, test = np.flatnonzero(fold_of != fold), np.flatnonzero(fold_of == fold)
        pipeline, _ = fit_patch_logreg([outputs[i].penultimate for i in train], labels[train],
                                       grid={"logreg__C": [config["hyperparameters"]["logreg__C"]]})
        for i in test:
            clip_probs, patch_probs = clip_probabilities(pipeline, outputs[i].penultimate, len(GENRES))
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
    np.savez_compressed(folder / REFERENCE_FILE, reference=reference.astype(np.float16), mean=mean, std=std)
    (folder / STATES_FILE).write_text(json.dumps(asdict(thresholds), indent=2) + "\n")
    return thresholds


@dataclass
class StateModel:
    thresholds: Thresholds
    reference: np.ndarray
    mean: np.ndarray
    std: np.ndarray


def load_states(models_dir: Path) -> StateModel | None:
    folder = Path(models_dir) / "headline"
    if not (folder / STATES_FILE).exists() or not (folder / REFERENCE_FILE).exists():
        return None
    thresholds = Thresholds(**json.loads((folder / STATES_FILE).read_text()))
    with np.load(folder / REFERENCE_FILE) as data:
        return StateModel(thresholds, data["reference"].astype(np.float32), data["mean"], data["std"])


def assess(genre_probabilities: np.ndarray, labels: tuple[str, ...], loudness_db: float,
           clip_embedding: np.ndarray | None, patch_probabilities: np.ndarray | None, times: np.ndarray | None,
           states: StateModel) -> Verdict:
    """The state of one answer from its (n_classes,) probabilities and, when known, the tagger's view."""
    t = states.thresholds
    order = np.argsort(genre_probabilities)[::-1]
    genre, runner = labels[order[0]], labels[order[1]]
    probability = float(genre_probabilities[order[0]])
    far = clip_embedding is not None and novelty(clip_embedding, states.reference, states.mean,
                                                 states.std) > t.novelty_above
    if loudness_db < t.quiet_below_db or far:
        why = "is far quieter than any song" if loudness_db < t.quiet_below_db else "sounds unlike the music"
        return Verdict("not_music", genre, probability, runner,
                       f"This does not sound like music the models know: it {why} they were trained on. "
                       f"If forced to choose: {genre} ({probability:.0%}).")
    sections: tuple[Section, ...] = ()
    if patch_probabilities is not None and times is not None and len(patch_probabilities) >= 2 * SMOOTH_PATCHES:
        patch_labels = [labels[i] for i in patch_probabilities.argmax(axis=1)]
        share = float(np.mean([g == genre for g in patch_labels]))
        sections = sections_of(patch_labels, times)
        if share < t.mixed_share_below and len({s.genre for s in sections}) > 1:
            return Verdict("mixed", genre, probability, runner,
                           f"Mixed genres: the song changes along the way; overall closest to {genre} "
                           f"({probability:.0%}).", sections)
    if probability < t.unsure_below:
        return Verdict("unsure", genre, probability, runner,
                       f"Not sure: {genre} or {runner} ({probability:.0%} against "
                       f"{float(genre_probabilities[order[1]]):.0%}).", sections)
    return Verdict("confident", genre, probability, runner, f"{genre.capitalize()} ({probability:.0%}).", sections)


def describe_sections(sections: tuple[Section, ...]) -> str:
    """'0:00–0:30 classical, 0:30–1:00 metal, ...'."""
    mmss = lambda s: f"{int(s // 60)}:{int(s % 60):02d}"  # noqa: E731
    return ", ".join(f"{mmss(s.start)}–{mmss(s.end)} {s.genre}" for s in sections)
