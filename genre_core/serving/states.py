"""How sure the answer is: confident, not sure, not music, or mixed genres, with data-derived thresholds.

``training.calibration`` measures, on the GTZAN copy and out of fold, where the headline stops being
reliable and what the pretrained tagger's embedding of real music looks like, and stores the thresholds in
``models/headline/states.json`` (read back by ``models.states``). ``assess`` applies them to one
classification. Nothing here is a hand-picked constant except the
display smoothing of the timeline.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from genre_core.features.config import genre_name
from genre_core.models.states import StateModel, novelty

SMOOTH_PATCHES = 5  # display: a section is read off a 5-patch (15 s) majority filter of the timeline


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
                       f"If forced to choose: {genre_name(genre)} ({probability:.0%}).")
    sections: tuple[Section, ...] = ()
    if patch_probabilities is not None and times is not None and len(patch_probabilities) >= 2 * SMOOTH_PATCHES:
        patch_labels = [labels[i] for i in patch_probabilities.argmax(axis=1)]
        share = float(np.mean([g == genre for g in patch_labels]))
        sections = sections_of(patch_labels, times)
        if share < t.mixed_share_below and len({s.genre for s in sections}) > 1:
            return Verdict("mixed", genre, probability, runner,
                           f"Mixed genres: the song changes along the way; overall closest to {genre_name(genre)} "
                           f"({probability:.0%}).", sections)
    if probability < t.unsure_below:
        return Verdict("unsure", genre, probability, runner,
                       f"Not sure: {genre_name(genre)} or {genre_name(runner)} ({probability:.0%} against "
                       f"{float(genre_probabilities[order[1]]):.0%}).", sections)
    return Verdict("confident", genre, probability, runner, f"{genre_name(genre).capitalize()} ({probability:.0%}).", sections)


def describe_sections(sections: tuple[Section, ...]) -> str:
    """'0:00–0:30 classical, 0:30–1:00 metal, ...'."""
    mmss = lambda s: f"{int(s // 60)}:{int(s % 60):02d}"  # noqa: E731
    return ", ".join(f"{mmss(s.start)}–{mmss(s.end)} {genre_name(s.genre)}" for s in sections)
