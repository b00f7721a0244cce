"""The committed models: complete, loadable, honest metrics, and reproducing their recorded predictions."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from genre_core.features.config import DEFAULT_FEATURES, GENRES
from genre_core.features.dataset import index_dataset
from genre_core.models.artifacts import list_model_folders, load_model
from genre_core.serving.verify import verify_reference_predictions
from genre_core.training.evaluation import artist_metrics, clip_metrics
from genre_core.training.specs import ENSEMBLE_MEMBERS, MODEL_SPECS

MODELS = Path(__file__).resolve().parent.parent / "models"
STORED = sorted(f.name for f in list_model_folders(MODELS) if f.name in MODEL_SPECS)
SCORED = STORED + ["ensemble", "headline"]


def test_the_core_models_the_ensemble_and_the_headline_are_stored(models_dir):
    assert {"musicnn_logreg", "deep_cnn_mel", "deep_cnn_mfcc", "svm_handcrafted", "linear_mel"} <= set(STORED)
    for name in ("ensemble", "headline", "musicnn_msd"):
        assert (models_dir / name / "config.json").exists(), name
    assert (models_dir / "dataset_summary" / "genre_averages.npz").exists()
    assert (models_dir / "headline" / "states.json").exists()


@pytest.mark.parametrize("name", STORED)
def test_stored_model_loads_with_its_metadata(models_dir, name):
    model = load_model(models_dir / name)
    assert model.labels == GENRES
    assert model.feature_config == DEFAULT_FEATURES
    for file in ("metrics.json", "history.csv", "MODEL_CARD.md", "reference_predictions.json", "oof_predictions.csv",
                 "artist_predictions.csv"):
        assert (models_dir / name / file).exists(), file
    assert model.config["data"]["n_clips"] == len(model.config["data"]["clip_ids"])


def test_every_stored_model_was_trained_on_the_same_clips(models_dir, gtzan_dir):
    """Provenance: one copy of the data for the whole zoo, and those clips exist in $GTZAN_DIR."""
    clip_sets = {name: frozenset(json.loads((models_dir / name / "config.json").read_text())["data"]["clip_ids"])
                 for name in STORED}
    assert len(set(clip_sets.values())) == 1, {n: len(c) for n, c in clip_sets.items()}
    clips = next(iter(clip_sets.values()))
    assert clips <= {c.clip_id for c in index_dataset(gtzan_dir).clips}
    summary = json.loads((models_dir / "dataset_summary" / "summary.json").read_text())
    assert set(summary["data"]["clip_ids"]) == clips


@pytest.mark.parametrize("name", SCORED)
def test_stored_metrics_follow_from_the_stored_predictions(models_dir, name):
    """Recompute every fold's metrics, and the artist-filtered block, from the stored predictions."""
    oof = pd.read_csv(models_dir / name / "oof_predictions.csv")
    metrics = json.loads((models_dir / name / "metrics.json").read_text())
    clip_ids = json.loads((models_dir / STORED[0] / "config.json").read_text())["data"]["clip_ids"]
    assert sorted(oof["clip_id"]) == sorted(clip_ids)  # each clip tested exactly once
    for rule in ("vote", "mean"):
        for fold in metrics[rule]["folds"]:
            part = oof[oof["fold"] == fold["fold"]]
            again = clip_metrics(part["true"].map(GENRES.index).to_numpy(), part[rule].map(GENRES.index).to_numpy())
            assert again["accuracy"] == pytest.approx(fold["accuracy"])
            assert again["balanced_accuracy"] == pytest.approx(fold["balanced_accuracy"])
    artist = pd.read_csv(models_dir / name / "artist_predictions.csv")
    again = artist_metrics(artist)
    assert again["vote"]["balanced_accuracy"] == pytest.approx(metrics["artist_filtered"]["vote"]["balanced_accuracy"])
    assert again["covered_genres"] == metrics["artist_filtered"]["covered_genres"]
    assert not set(artist["clip_id"]) & set(_artist_train_ids(models_dir))  # the test part is disjoint


def _artist_train_ids(models_dir: Path) -> list[str]:
    config = json.loads((models_dir / STORED[0] / "config.json").read_text())
    artist = set(pd.read_csv(models_dir / STORED[0] / "artist_predictions.csv")["clip_id"])
    return [c for c in config["data"]["clip_ids"] if c not in artist]


def test_ensemble_members_were_fixed_in_code(models_dir):
    config = json.loads((models_dir / "ensemble" / "config.json").read_text())
    assert tuple(config["members"]) == tuple(m for m in ENSEMBLE_MEMBERS if m in STORED)


def test_headline_is_at_least_as_good_as_its_best_member_out_of_fold(models_dir):
    """The answer shown is the rule that won out of fold; it never scores below the single models it beat."""
    config = json.loads((models_dir / "headline" / "config.json").read_text())
    metrics = json.loads((models_dir / "headline" / "metrics.json").read_text())
    scores = metrics["candidates_balanced_accuracy_all_folds"]
    chosen = "stack" if config["rule"] == "stack" else config["members"][0]
    assert scores[chosen] == max(scores.values())


def test_stored_models_reproduce_their_recorded_predictions(models_dir, gtzan_dir):
    """A stale or mismatched artifact (weights, normalisation, feature code) fails here."""
    assert verify_reference_predictions(models_dir, gtzan_dir) == []


def test_one_song_gets_one_answer_whatever_its_encoding(gtzan_dir, tmp_path):
    """A medley as WAV and as MP3 at two qualities: the same headline genre (issue: three encodings, three answers)."""
    import numpy as np
    import soundfile as sf

    from genre_core.serving.zoo import ModelZoo

    clips = ["rock/rock.00012.ogg", "pop/pop.00012.ogg", "rock/rock.00013.ogg"]
    medley = np.concatenate([sf.read(gtzan_dir / c, dtype="float32")[0] for c in clips])
    sf.write(tmp_path / "medley.wav", medley, 22050, subtype="PCM_16")
    sf.write(tmp_path / "medley_low.mp3", medley, 22050, format="MP3", compression_level=0.9)
    sf.write(tmp_path / "medley_high.mp3", medley, 22050, format="MP3", compression_level=0.1)
    zoo = ModelZoo.load(MODELS)
    answers = {p.name: zoo.classify(p).final for p in sorted(tmp_path.iterdir())}
    assert len({a.vote_label for a in answers.values()}) == 1, {n: a.top(2) for n, a in answers.items()}
    # MP3's encoder delay shifts the 3 s patch grid and the codec drops detail: measured up to 0.18 apart
    probabilities = np.stack([a.probabilities for a in answers.values()])
    assert np.abs(probabilities - probabilities[0]).max() < 0.25


@pytest.fixture(scope="module")
def zoo():
    from genre_core.serving.zoo import ModelZoo

    return ModelZoo.load(MODELS)


def test_answer_first_then_the_rest_equals_one_full_run(zoo, gtzan_dir):
    """The classify page shows the headline from its own models first, then adds the others."""
    import numpy as np

    path = gtzan_dir / "jazz" / "jazz.00004.ogg"
    full = zoo.classify(path)
    quick = zoo.classify(path, models=zoo.answer_models)
    assert set(quick.predictions) == set(zoo.answer_models) < set(zoo.models)
    assert quick.ensemble is None and quick.headline is not None and quick.verdict is not None
    assert quick.final.vote_label == full.final.vote_label
    np.testing.assert_allclose(quick.final.probabilities, full.final.probabilities, atol=1e-6)
    assert quick.verdict.state == full.verdict.state
    completed = zoo.complete(quick)
    assert set(completed.predictions) == set(full.predictions)
    assert completed.ensemble.vote_label == full.ensemble.vote_label
    for name, prediction in full.predictions.items():
        np.testing.assert_allclose(completed.predictions[name].probabilities, prediction.probabilities, atol=1e-5)


def test_a_deferred_zoo_answers_first_and_loads_the_rest_when_asked(gtzan_dir):
    """The app loads only the answer's models at start; the others come with the first full request."""
    import numpy as np

    from genre_core.serving.zoo import ModelZoo

    path = gtzan_dir / "rock" / "rock.00003.ogg"
    full = ModelZoo.load(MODELS).classify(path)
    lazy = ModelZoo.load(MODELS, defer=True)
    assert set(lazy.models) == set(lazy.answer_models) and set(lazy.pending) == set(full.predictions) - set(lazy.models)
    assert lazy.sample_rate == full.clip.sample_rate and lazy.model_names == sorted(full.predictions)
    quick = lazy.classify(path, models=lazy.answer_models)
    assert quick.ensemble is None and lazy.missing(quick) == sorted(lazy.pending)
    np.testing.assert_allclose(quick.final.probabilities, full.final.probabilities, atol=1e-6)
    completed = lazy.complete(quick)
    assert not lazy.pending and not lazy.missing(completed) and set(lazy.models) == set(full.predictions)
    assert completed.ensemble.vote_label == full.ensemble.vote_label
    for name, prediction in full.predictions.items():
        np.testing.assert_allclose(completed.predictions[name].probabilities, prediction.probabilities, atol=1e-5)


def test_a_broken_comparison_model_is_reported_when_it_is_loaded(tmp_path, gtzan_dir):
    import shutil

    from genre_core.serving.zoo import ModelZoo

    models = tmp_path / "models"
    shutil.copytree(MODELS, models)
    (models / "linear_mel" / "weights.safetensors").write_bytes(b"broken")
    zoo = ModelZoo.load(models, defer=True)
    assert "linear_mel" in zoo.pending and not zoo.errors
    result = zoo.complete(zoo.classify(gtzan_dir / "pop" / "pop.00001.ogg", models=zoo.answer_models))
    assert "linear_mel" in zoo.errors and "linear_mel" not in result.predictions and not zoo.missing(result)
    assert result.ensemble is not None


def test_a_long_song_is_heard_at_spread_patches(zoo, gtzan_dir, tmp_path):
    """Over 32 patches (96 s) the tagger hears 32 evenly spread ones; the rest of the answer is unchanged."""
    import numpy as np
    import soundfile as sf

    from genre_core.serving.zoo import ModelZoo

    clips = [f"classical/classical.000{i:02d}.ogg" for i in range(4)]  # 4 x 30 s = 40 patches
    song = np.concatenate([sf.read(gtzan_dir / c, dtype="float32")[0] for c in clips])
    sf.write(tmp_path / "long.wav", song, 22050, subtype="PCM_16")
    sampled = zoo.classify(tmp_path / "long.wav", models=zoo.answer_models)
    heard = sampled.tags(zoo.tagger)
    assert heard.sampled and heard.total_patches == 40 and len(heard.tags) == 32
    assert heard.times[0, 0] == 0 and heard.times[-1, 1] == pytest.approx(40 * 187 * 256 / 16000)
    every = ModelZoo.load(MODELS, max_patches=None).classify(tmp_path / "long.wav", models=zoo.answer_models)
    assert not every.tags(zoo.tagger).sampled and len(every.tags(zoo.tagger).tags) == 40
    assert sampled.final.vote_label == every.final.vote_label == "classical"
    assert np.abs(sampled.final.probabilities - every.final.probabilities).max() < 0.05
