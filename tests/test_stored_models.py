"""The committed models: complete, loadable, honest metrics, and reproducing their recorded predictions."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from genre_core.artifacts import list_model_folders, load_model
from genre_core.config import DEFAULT_FEATURES, GENRES
from genre_core.evaluation import clip_metrics
from genre_core.pipeline import ENSEMBLE_MEMBERS, MODEL_SPECS
from genre_core.verify import verify_reference_predictions


def test_every_specified_model_and_the_ensemble_is_stored(models_dir):
    names = {f.name for f in list_model_folders(models_dir)}
    assert set(MODEL_SPECS) | {"ensemble"} <= names
    assert (models_dir / "dataset_summary" / "genre_averages.npz").exists()


@pytest.mark.parametrize("name", sorted(MODEL_SPECS))
def test_stored_model_loads_with_its_metadata(models_dir, name):
    model = load_model(models_dir / name)
    assert model.labels == GENRES
    assert model.feature_config == DEFAULT_FEATURES
    for file in ("metrics.json", "history.csv", "MODEL_CARD.md", "reference_predictions.json", "oof_predictions.csv"):
        assert (models_dir / name / file).exists(), file
    assert model.config["data"]["n_clips"] == len(model.config["data"]["clip_ids"])


@pytest.mark.parametrize("name", sorted(MODEL_SPECS) + ["ensemble"])
def test_stored_metrics_follow_from_the_out_of_fold_predictions(models_dir, name):
    """Recompute every fold's metrics from the stored predictions: no number is typed in by hand."""
    oof = pd.read_csv(models_dir / name / "oof_predictions.csv")
    metrics = json.loads((models_dir / name / "metrics.json").read_text())
    config = json.loads((models_dir / name / "config.json").read_text())
    assert sorted(oof["clip_id"]) == sorted(config["data"]["clip_ids"])  # each clip tested exactly once
    for rule in ("vote", "mean"):
        for fold in metrics[rule]["folds"]:
            part = oof[oof["fold"] == fold["fold"]]
            again = clip_metrics(part["true"].map(GENRES.index).to_numpy(), part[rule].map(GENRES.index).to_numpy())
            assert again["accuracy"] == pytest.approx(fold["accuracy"])
            assert again["balanced_accuracy"] == pytest.approx(fold["balanced_accuracy"])


def test_ensemble_members_were_fixed_in_code(models_dir):
    config = json.loads((models_dir / "ensemble" / "config.json").read_text())
    assert tuple(config["members"]) == ENSEMBLE_MEMBERS


def test_stored_models_reproduce_their_recorded_predictions(models_dir, gtzan_dir):
    """A stale or mismatched artifact (weights, normalisation, feature code) fails here."""
    assert verify_reference_predictions(models_dir, gtzan_dir) == []
