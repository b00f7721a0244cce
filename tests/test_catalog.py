"""Pure readings of stored results that the pages lay out: learning-curve models, largest confusions, recall."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from genre_core.models.artifacts import HISTORY_FILE
from genre_core.outputs.catalog import fold_epochs, history, largest_confusions, recall_table, with_learning_curves

COLUMNS = ["fold", "epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds"]


def _history(folder, rows: list[tuple]) -> None:
    folder.mkdir()
    pd.DataFrame(rows, columns=COLUMNS).to_csv(folder / HISTORY_FILE, index=False)


def test_only_models_with_cross_validation_epochs_have_learning_curves(tmp_path):
    _history(tmp_path / "fitted_in_one_go", [])  # what the SVM and the musicnn head store: a header, no rows
    _history(tmp_path / "final_fit_only", [("final", 1, 2.0, 0.1, 2.0, 0.1, 1e-3, 1.0),
                                           ("artist", 1, 2.0, 0.1, 2.0, 0.1, 1e-3, 1.0)])
    _history(tmp_path / "cnn", [("0", 1, 2.0, 0.1, 1.9, 0.2, 1e-3, 1.0), ("0", 2, 1.5, 0.4, 1.6, 0.3, 1e-3, 1.0),
                                ("final", 1, 2.0, 0.1, 2.0, 0.1, 1e-3, 1.0)])
    (tmp_path / "no_history").mkdir()
    names = ["fitted_in_one_go", "cnn", "final_fit_only", "no_history", "missing"]
    assert with_learning_curves(tmp_path, names) == ["cnn"]
    assert list(fold_epochs(history(tmp_path, "cnn"))["epoch"]) == [1, 2]
    assert fold_epochs(history(tmp_path, "no_history")).empty


def test_the_stored_models_without_epochs_are_left_out():
    from genre_core.outputs.catalog import metrics_table
    from genre_core.serving.zoo import DEFAULT_MODELS_DIR

    names = list(metrics_table(DEFAULT_MODELS_DIR)["model"])
    kept = with_learning_curves(DEFAULT_MODELS_DIR, names)
    assert not {"musicnn_logreg", "svm_handcrafted", "headline", "ensemble"} & set(kept)
    assert {"deep_cnn_mel", "simple_cnn_mel"} <= set(kept)


LABELS = ("blues", "hiphop", "rock")


def test_largest_confusions_rank_by_share_of_the_true_genre_and_say_it_in_words():
    cm = np.array([[90, 4, 6],    # blues: 100 clips, 6 % to rock, 4 % to hip-hop
                   [2, 17, 1],    # hiphop: 20 clips, 10 % to blues, 5 % to rock
                   [0, 0, 50]])   # rock: no mistakes
    frame = largest_confusions(cm, LABELS, k=3)
    assert list(frame["confusion"]) == ["hip-hop → blues: 2 clips (10 %)", "blues → rock: 6 clips (6 %)",
                                        "hip-hop → rock: 1 clip (5 %)"]
    assert list(frame["clips"]) == [2, 6, 1]
    assert frame["share"].tolist() == pytest.approx([0.10, 0.06, 0.05])
    everything = largest_confusions(cm, LABELS, k=10)
    assert len(everything) == 4  # empty cells and the diagonal are never listed
    assert "hiphop" not in " ".join(everything["confusion"])


def test_largest_confusions_of_a_perfect_model_are_none():
    assert largest_confusions(np.diag([5, 5, 5]), LABELS).empty


def test_recall_table_has_every_genre_and_one_column_per_model():
    a = np.array([[8, 2, 0], [1, 3, 0], [0, 0, 0]])
    b = np.array([[10, 0, 0], [2, 2, 0], [0, 0, 0]])
    table = recall_table({"model a": a, "model b": b}, LABELS)
    assert list(table["genre"]) == ["blues", "hip-hop", "rock"]
    assert list(table["clips"]) == [10, 4, 0]
    assert table["model a"].tolist()[:2] == pytest.approx([0.8, 0.75])
    assert table["model b"].tolist()[:2] == pytest.approx([1.0, 0.5])
    assert np.isnan(table["model a"].iloc[2])  # no clips: no recall, not 0
