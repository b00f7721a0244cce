"""End to end on generated data: k-fold, final fit, stored folder, loader, ensemble, CLI."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from genre_core.audio.errors import ModelLoadError
from genre_core.features.config import DEFAULT_FEATURES, GENRES
from genre_core.features.dataset import FeatureCache, index_dataset
from genre_core.models.artifacts import load_model, shared_tagger
from genre_core.models.embeddings import TAGGER_NAME, EmbeddingCache
from genre_core.serving.verify import verify_reference_predictions
from genre_core.serving.zoo import ModelZoo
from genre_core.training.decision import build_headline
from genre_core.training.ensemble import build_ensemble
from genre_core.training.pipeline import train_spec
from genre_core.training.specs import MODEL_SPECS, STACK_MEMBERS
from genre_core.training.summary import write_dataset_summary

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def trained(tiny_gtzan, tmp_path_factory) -> Path:
    """A models folder with an SVM, a one-epoch deep CNN, a transfer model, the ensemble, the headline
    rule and the dataset summary."""
    models = tmp_path_factory.mktemp("models")
    index = index_dataset(tiny_gtzan, check_audio=True)
    cache = FeatureCache(tmp_path_factory.mktemp("cache"), DEFAULT_FEATURES)
    cnn = MODEL_SPECS["deep_cnn_mfcc"]
    train_spec(replace(cnn, train=replace(cnn.train, epochs=1)), index, cache, models, k=3, progress=False)
    train_spec(MODEL_SPECS["svm_handcrafted"], index, cache, models, k=3, progress=False)
    embeddings = EmbeddingCache(tmp_path_factory.mktemp("embeddings"), shared_tagger(models, TAGGER_NAME))
    train_spec(MODEL_SPECS["musicnn_logreg"], index, cache, models, k=3, progress=False, embeddings=embeddings)
    build_ensemble(models, index)
    build_headline(models, STACK_MEMBERS)
    write_dataset_summary(index, cache, models, progress=False)
    return models


def test_folder_holds_every_artifact(trained):
    folder = trained / "deep_cnn_mfcc"
    for name in ("config.json", "weights.safetensors", "metrics.json", "history.csv", "MODEL_CARD.md",
                 "reference_predictions.json", "oof_predictions.csv"):
        assert (folder / name).exists(), name
    config = json.loads((folder / "config.json").read_text())
    assert config["labels"] == list(GENRES)
    assert config["feature_config"] == DEFAULT_FEATURES.to_dict()
    assert config["data"]["n_clips"] == 30 and len(config["normalization"]["mean"]) == 20
    metrics = json.loads((folder / "metrics.json").read_text())
    assert len(metrics["vote"]["folds"]) == 3
    history = pd.read_csv(folder / "history.csv")
    assert set(history["fold"].astype(str)) == {"1", "2", "3", "final"}
    assert (trained / "svm_handcrafted" / "model.skops").exists()


def test_metrics_agree_with_out_of_fold_predictions(trained):
    for name in ("deep_cnn_mfcc", "svm_handcrafted", "musicnn_logreg", "ensemble", "headline"):
        oof = pd.read_csv(trained / name / "oof_predictions.csv")
        metrics = json.loads((trained / name / "metrics.json").read_text())
        assert len(oof) == 30 and oof["clip_id"].is_unique
        assert metrics["vote"]["summary"]["confusion_matrix"] == pd.crosstab(
            pd.Categorical(oof["true"], GENRES), pd.Categorical(oof["vote"], GENRES), dropna=False).to_numpy().tolist()


def test_round_trip_reproduces_recorded_predictions(trained, tiny_gtzan):
    assert verify_reference_predictions(trained, tiny_gtzan) == []


def test_svm_is_easy_on_separable_tones(trained):
    metrics = json.loads((trained / "svm_handcrafted" / "metrics.json").read_text())
    assert metrics["vote"]["summary"]["accuracy"]["mean"] > 0.8


def test_zoo_classifies_with_every_model_and_the_headline(trained, tiny_gtzan):
    zoo = ModelZoo.load(trained)
    assert set(zoo.models) == {"deep_cnn_mfcc", "svm_handcrafted", "musicnn_logreg"} and not zoo.errors
    result = zoo.classify(tiny_gtzan / "metal" / "metal.00001.wav")
    assert set(result.predictions) == {"deep_cnn_mfcc", "svm_handcrafted", "musicnn_logreg"}
    assert result.ensemble is not None and result.final.model == "headline"
    final = result.final
    assert final.probabilities.sum() == pytest.approx(1.0, abs=1e-6)
    # one rule: the headline genre is the top of its own probabilities
    assert final.vote_label == final.labels[int(final.probabilities.argmax())]
    transfer = result.predictions["musicnn_logreg"]
    assert transfer.window_probabilities.shape == (1, 10) and transfer.window_times[0, 1] == pytest.approx(2.992)
    cnn = result.predictions["deep_cnn_mfcc"]
    assert cnn.window_probabilities.shape == (1, 10)  # 4 s clip: one 3 s window


def _copy(trained: Path, tmp_path: Path) -> Path:
    target = tmp_path / "models"
    shutil.copytree(trained, target)
    return target


def test_broken_folders_are_reported_and_others_still_work(trained, tmp_path, tiny_gtzan):
    models = _copy(trained, tmp_path)
    (models / "deep_cnn_mfcc" / "weights.safetensors").write_bytes(b"garbage")
    zoo = ModelZoo.load(models)
    assert "deep_cnn_mfcc" in zoo.errors and "corrupt" in zoo.errors["deep_cnn_mfcc"]
    assert str(models / "deep_cnn_mfcc") in zoo.errors["deep_cnn_mfcc"]
    assert zoo.classify(tiny_gtzan / "rock" / "rock.00000.wav").final.vote_label in GENRES


def test_unreadable_config_is_reported_not_fatal(trained, tmp_path, tiny_gtzan):
    models = _copy(trained, tmp_path)
    (models / "svm_handcrafted" / "config.json").write_text("{ not json")
    zoo = ModelZoo.load(models)
    assert "not valid JSON" in zoo.errors["svm_handcrafted"] and "deep_cnn_mfcc" in zoo.models
    assert zoo.classify(tiny_gtzan / "rock" / "rock.00000.wav").final.vote_label in GENRES


def test_missing_weights(trained, tmp_path):
    models = _copy(trained, tmp_path)
    (models / "deep_cnn_mfcc" / "weights.safetensors").unlink()
    with pytest.raises(ModelLoadError, match="has no weights.safetensors"):
        load_model(models / "deep_cnn_mfcc")


def test_weights_that_do_not_match_the_config(trained, tmp_path):
    models = _copy(trained, tmp_path)
    path = models / "deep_cnn_mfcc" / "config.json"
    config = json.loads(path.read_text())
    path.write_text(json.dumps({**config, "architecture": "complex_cnn"}))
    with pytest.raises(ModelLoadError, match="do not match the architecture"):
        load_model(models / "deep_cnn_mfcc")
    path.write_text(json.dumps({**config, "feature_config": {**config["feature_config"], "n_mfcc": 40}}))
    with pytest.raises(ModelLoadError):
        load_model(models / "deep_cnn_mfcc")


def test_tampered_svm_file_is_refused(trained, tmp_path):
    models = _copy(trained, tmp_path)
    with open(models / "svm_handcrafted" / "model.skops", "ab") as handle:
        handle.write(b"x")
    with pytest.raises(ModelLoadError, match="checksum"):
        load_model(models / "svm_handcrafted")


def test_dataset_summary(trained):
    from genre_core.outputs.catalog import dataset_summary

    summary = dataset_summary(trained)
    assert summary.mel.shape[:2] == (10, 128) and summary.mfcc.shape[:2] == (10, 20)
    assert summary.clips_per_genre["jazz"] == 3


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "genre_core", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=300)


def test_cli_predict_json(trained, tiny_gtzan):
    out = _cli("predict", str(tiny_gtzan / "pop" / "pop.00002.wav"), "--json", "--models-dir", str(trained))
    assert out.returncode == 0, out.stderr
    answer = json.loads(out.stdout)
    assert answer["genre"] in GENRES and len(answer["top3"]) == 3 and answer["timeline"]
    assert answer["genre"] == max(answer["probabilities"], key=answer["probabilities"].get)  # one rule
    assert len(answer["tags"]) == 10 and all(0 <= p <= 1 for _, p in answer["tags"])
    tagger = answer["model_versions"]["musicnn_msd"]
    assert tagger["backend"] in ("onnxruntime", "torch")
    assert tagger["graph"] == ("musicnn_served.onnx" if tagger["backend"] == "onnxruntime" else None)  # which one served


@pytest.mark.parametrize("name, expected", [
    ("empty.wav", "empty"), ("random.wav", "not an audio file"), ("random.mp3", "not an audio file"),
    ("header_only.wav", "no audio"), ("short.wav", "only 0.50 s"), ("tiny.wav", "only 0.20 s"),
    ("silence.wav", "silent"), ("nan_float.wav", "NaN"),
    ("missing.wav", "No such file"),
])
def test_cli_bad_files_exit_non_zero_with_one_clear_line(trained, audio_dir, capsys, name, expected):
    from genre_core.cli.main import main

    assert main(["predict", str(audio_dir / name), "--models-dir", str(trained)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error:") and expected in err and "Traceback" not in err, err


@pytest.mark.parametrize("name, warning", [("truncated.wav", "truncated"), ("rate8k.wav", "8000 Hz"),
                                           ("twenty_minutes.wav", "first 10 minutes"), ("zero_tail.mp3", "decoded"),
                                           ("chirp.m4a", None),
                                           ("rate96k.wav", None), ("six_channels.wav", None)])
def test_cli_odd_files_get_a_result(trained, audio_dir, capsys, name, warning):
    from genre_core.cli.main import main

    assert main(["predict", str(audio_dir / name), "--models-dir", str(trained)]) == 0
    out = capsys.readouterr()
    assert name in out.out and (warning is None or warning in out.err)


def test_cli_bad_data_dir_and_unknown_model(tmp_path):
    out = _cli("index", "--data", str(tmp_path / "nowhere"))
    assert out.returncode == 2 and "not found" in out.stderr and "Traceback" not in out.stderr
    out = _cli("train", "no_such_model", "--data", str(tmp_path))
    assert out.returncode == 2 and "Traceback" not in out.stderr


def test_artist_split_protocol(tiny_gtzan, tmp_path):
    """With split lists present the SVM is scored on the listed test clips only; without, a clear refusal."""
    from genre_core.audio.errors import DatasetError

    index = index_dataset(tiny_gtzan, check_audio=True)
    cache = FeatureCache(tmp_path / "cache", DEFAULT_FEATURES)
    with pytest.raises(DatasetError, match="artist-filtered split needs"):
        train_spec(MODEL_SPECS["svm_handcrafted"], index, cache, tmp_path / "models", split="artist")
    assert not (tmp_path / "models" / "svm_handcrafted").exists()
    data = tmp_path / "data"
    shutil.copytree(tiny_gtzan, data)
    (data / "jazz" / "jazz.00054.wav").unlink()
    (data / "splits").mkdir()
    names = [f"{c.genre}/{c.clip_id}.wav" for c in index.clips]
    (data / "splits" / "train_filtered.txt").write_text("\n".join(n for n in names if n.endswith("0.wav")))
    (data / "splits" / "valid_filtered.txt").write_text("\n".join(n for n in names if n.endswith("1.wav")))
    (data / "splits" / "test_filtered.txt").write_text("\n".join(n for n in names if n.endswith("2.wav")))
    metrics = train_spec(MODEL_SPECS["svm_handcrafted"], index_dataset(data), cache, tmp_path / "models", split="artist")
    assert "artist-filtered" in metrics["protocol"] and metrics["vote"]["folds"][0]["n_clips"] == 10
    # k-fold with the lists present: the artist-filtered test is stored beside it as its own block
    metrics = train_spec(MODEL_SPECS["svm_handcrafted"], index_dataset(data), cache, tmp_path / "kf", k=2)
    block = metrics["artist_filtered"]
    assert block["vote"]["n_clips"] == 10 and sum(block["test_clips_per_genre"].values()) == 10
    assert block["uncovered_genres"] == list(GENRES)  # one test clip per genre: no genre is covered
    assert block["vote"]["covered"]["balanced_accuracy"] is None
    stored = pd.read_csv(tmp_path / "kf" / "svm_handcrafted" / "artist_predictions.csv")
    assert len(stored) == 10 and set(stored["clip_id"]) == {n.split("/")[1][:-4] for n in names if n.endswith("2.wav")}


def test_transfer_folder_and_headline_folder(trained):
    config = json.loads((trained / "musicnn_logreg" / "config.json").read_text())
    assert config["kind"] == "transfer" and config["embedding_model"] == "musicnn_msd"
    assert "logreg__C" in config["hyperparameters"]
    assert config["head_input"] == {"layers": ["penultimate", "tags"]} and config["n_inputs"] == 250
    card = (trained / "musicnn_logreg" / "MODEL_CARD.md").read_text()
    assert "Logistic regression" in card and "250 values per patch" in card
    n_per_genre = config["data"]["clips_per_genre"]
    assert "right / clips): blues " in card and f"/{n_per_genre['blues']})" in card  # recall with its clip count
    headline = json.loads((trained / "headline" / "config.json").read_text())
    metrics = json.loads((trained / "headline" / "metrics.json").read_text())
    assert headline["rule"] in ("single", "stack") and len(metrics["outer_folds"]) == 3
    names = {c["name"] for c in headline["candidates"]}
    assert {"deep_cnn_mfcc", "svm_handcrafted", "musicnn_logreg", "stack"} <= names
    assert (trained / "headline" / "stack.skops").exists() == (headline["rule"] == "stack")


def test_console_script_works_from_any_folder(tmp_path):
    """`genre-core` (installed by scripts/setup.sh) finds the package and the stored models outside the clone."""
    script = Path(sys.executable).parent / "genre-core"
    if not script.exists():
        pytest.skip("the package is not installed in this environment (scripts/setup.sh installs it)")
    out = subprocess.run([str(script), "evaluate"], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "musicnn_logreg" in out.stdout
