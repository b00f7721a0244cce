"""The headline rule is chosen by nested cross-validation from stored out-of-fold predictions."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from genre_core.features.config import GENRES
from genre_core.models.embeddings import clip_probabilities
from genre_core.models.headline import load_headline
from genre_core.training.decision import build_headline
from genre_core.training.transfer import fit_patch_logreg


def _rows(truth: np.ndarray, folds: np.ndarray, accuracy: float, rng: np.random.Generator, prefix: str = "") -> list:
    rows = []
    for i, (t, f) in enumerate(zip(truth, folds)):
        right = rng.random() < accuracy
        label = t if right else (t + 1 + rng.integers(9)) % 10
        p = rng.dirichlet(np.ones(10)) * 0.4
        p[label] += 0.6
        row = {"clip_id": f"{prefix}{GENRES[t]}.{i:05d}", "fold": int(f), "true": GENRES[t], "vote": GENRES[label],
               "mean": GENRES[int(np.argmax(p))], **{f"p_{g}": v for g, v in zip(GENRES, p)}}
        rows.append(row)
    return rows


def _write_model(models: Path, name: str, truth: np.ndarray, folds: np.ndarray, accuracy: float, seed: int,
                 artist_accuracy: float | None = None) -> None:
    """A fake stored model whose out-of-fold (and artist-filtered test) answers are right with that probability."""
    rng = np.random.default_rng(seed)
    folder = models / name
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"name": name, "kind": "svm", "labels": list(GENRES),
                                                    "data": {"n_clips": len(truth)}}))
    pd.DataFrame(_rows(truth, folds, accuracy, rng)).to_csv(folder / "oof_predictions.csv", index=False)
    if artist_accuracy is not None:
        test = np.repeat(np.arange(10), 6)
        pd.DataFrame(_rows(test, np.zeros_like(test), artist_accuracy, rng, "test-")).drop(columns="fold").to_csv(
            folder / "artist_predictions.csv", index=False)


@pytest.fixture()
def stored(tmp_path):
    truth = np.repeat(np.arange(10), 12)
    folds = np.tile(np.arange(1, 5), 30)
    _write_model(tmp_path, "strong", truth, folds, 0.9, 0)
    _write_model(tmp_path, "weak", truth, folds, 0.4, 1)
    _write_model(tmp_path, "noise", truth, folds, 0.1, 2)
    return tmp_path


def test_the_best_rule_is_chosen_and_scored_out_of_fold(stored):
    metrics = build_headline(stored, ("strong", "weak", "noise"))
    config = json.loads((stored / "headline" / "config.json").read_text())
    scores = metrics["candidates_balanced_accuracy_all_folds"]
    assert set(scores) == {"strong", "weak", "noise", "stack"}
    assert config["members"] in (["strong"], ["strong", "weak", "noise"])
    # the nested estimate is of the chosen rule on clips it was not chosen on: near the strong model, far from noise
    nested = metrics["mean"]["summary"]["balanced_accuracy"]["mean"]
    assert nested > 0.75 and len(metrics["outer_folds"]) == 4
    oof = pd.read_csv(stored / "headline" / "oof_predictions.csv")
    assert len(oof) == 120 and (oof["vote"] == oof[[f"p_{g}" for g in GENRES]].idxmax(axis=1).str[2:]).all()


def test_stored_headline_combines_member_probabilities(stored):
    build_headline(stored, ("strong", "weak", "noise"))
    headline = load_headline(stored)
    p = np.full(10, 0.02)
    p[3] = 0.82
    probs = headline.probabilities({"strong": p, "weak": p, "noise": p})
    assert probs.shape == (10,) and probs.sum() == pytest.approx(1.0) and int(np.argmax(probs)) == 3
    assert headline.probabilities({"weak": p}) is None  # a missing member: no headline, the page falls back


def test_patch_logistic_regression_learns_separable_embeddings():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(10, 16)) * 3
    labels = np.repeat(np.arange(10), 4)
    clips = [centres[y] + rng.normal(size=(5, 16)) for y in labels]
    pipeline, params = fit_patch_logreg(clips, labels)
    assert "logreg__C" in params
    clip_probs, patch_probs = clip_probabilities(pipeline, centres[7] + rng.normal(size=(6, 16)), 10)
    assert patch_probs.shape == (6, 10) and int(np.argmax(clip_probs)) == 7
    np.testing.assert_allclose(clip_probs, patch_probs.mean(axis=0))


def test_every_candidate_is_reported_on_both_protocols_and_the_card_says_which_was_trusted(tmp_path):
    truth = np.repeat(np.arange(10), 12)
    folds = np.tile(np.arange(1, 5), 30)
    _write_model(tmp_path, "strong", truth, folds, 0.9, 0, artist_accuracy=0.3)  # learns the artists
    _write_model(tmp_path, "weak", truth, folds, 0.5, 1, artist_accuracy=0.95)
    metrics = build_headline(tmp_path, ("strong", "weak"))
    config = json.loads((tmp_path / "headline" / "config.json").read_text())
    artist = metrics["candidates_artist_covered_balanced"]
    assert set(artist) == {"strong", "weak", "stack"} and artist["weak"] > artist["strong"]
    assert config["chosen"] in ("strong", "stack")  # chosen on nested k-fold, never on the artist test
    card = (tmp_path / "headline" / "MODEL_CARD.md").read_text()
    assert "| weak | " in card and "The artist-filtered test would rank weak first" in card
    assert "Trusted: the nested k-fold choice" in card
    assert metrics["artist_filtered"]["mean"]["n_clips"] == 60
    assert config["data"] == {"n_clips": 120}  # the members' provenance: the headline says which clips it rests on


def test_the_stacks_artist_figure_never_learns_from_the_test_clips_labels(tmp_path):
    """The artist test clips are GTZAN clips too, so they have out-of-fold rows. Here member b is right on
    exactly those rows (and on the artist test) and noise elsewhere: a stacker that learned from the test clips'
    rows would trust b and score high on the test; one that learned from the other clips cannot know b."""
    rng = np.random.default_rng(0)
    truth = np.repeat(np.arange(10), 12)
    folds = np.tile(np.arange(1, 5), 30)
    on_test = np.tile(np.arange(12) < 5, 10)  # 5 clips of every genre sit in the artist test part

    def probs(genre: int, right: bool) -> np.ndarray:
        p = rng.dirichlet(np.ones(10))
        return 0.3 * p + 0.7 * np.eye(10)[genre] if right else p

    for name, right_on_test in (("a", False), ("b", True)):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "config.json").write_text(json.dumps({"name": name, "kind": "svm", "labels": list(GENRES),
                                                        "data": {"n_clips": len(truth)}}))
        oof, test = [], []
        for i, (t, f, in_test) in enumerate(zip(truth, folds, on_test)):
            p = probs(t, right_on_test == in_test)
            row = {"clip_id": f"{GENRES[t]}.{i:05d}", "fold": int(f), "true": GENRES[t],
                   "vote": GENRES[int(p.argmax())], "mean": GENRES[int(p.argmax())],
                   **{f"p_{g}": v for g, v in zip(GENRES, p)}}
            oof.append(row)
            if in_test:
                q = probs(t, right_on_test)
                test.append({**row, "vote": GENRES[int(q.argmax())], "mean": GENRES[int(q.argmax())],
                             **{f"p_{g}": v for g, v in zip(GENRES, q)}})
        pd.DataFrame(oof).to_csv(folder / "oof_predictions.csv", index=False)
        pd.DataFrame(test).drop(columns="fold").to_csv(folder / "artist_predictions.csv", index=False)
    artist = build_headline(tmp_path, ("a", "b"))["candidates_artist_covered_balanced"]
    assert artist["b"] == pytest.approx(1.0)
    assert artist["stack"] < 0.5


def test_every_candidate_has_the_fold_mean_figure_the_model_tables_report(stored):
    from genre_core.training.evaluation import clip_metrics, summarize_folds

    metrics = build_headline(stored, ("strong", "weak", "noise"))
    fold_mean = metrics["candidates_balanced_accuracy_fold_mean"]
    assert set(fold_mean) == set(metrics["candidates_balanced_accuracy_all_folds"])
    # a single candidate's figure is the mean over folds of its own out-of-fold answers, as its metrics.json has it
    oof = pd.read_csv(stored / "strong" / "oof_predictions.csv")
    per_fold = [clip_metrics(f["true"].map(GENRES.index).to_numpy(), f["mean"].map(GENRES.index).to_numpy())
                for _, f in oof.groupby("fold")]
    expected = summarize_folds(per_fold)["balanced_accuracy"]
    assert fold_mean["strong"]["mean"] == pytest.approx(expected["mean"], abs=1e-9)
    assert fold_mean["strong"]["std"] == pytest.approx(expected["std"], abs=1e-9)
    card = (stored / "headline" / "MODEL_CARD.md").read_text()
    assert "mean ± std over folds" in card and "all folds pooled" in card
