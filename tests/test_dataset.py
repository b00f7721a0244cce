"""Indexing, the feature cache and clip-level splits that never leak."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from genre_core.audio.errors import DatasetError
from genre_core.features.config import DEFAULT_FEATURES, GENRES
from genre_core.features.dataset import (
    FeatureCache,
    artist_filtered_split,
    index_dataset,
    inner_validation_split,
    stratified_folds,
)


def test_index_skips_unreadable_clips_with_a_reason(tiny_gtzan):
    index = index_dataset(tiny_gtzan, check_audio=True)
    assert len(index.clips) == 30
    assert [name for name, _ in index.skipped] == ["jazz/jazz.00054.wav"]
    assert "not an audio file" in index.report()


def test_index_of_missing_or_empty_folder(tmp_path):
    with pytest.raises(DatasetError):
        index_dataset(tmp_path / "missing")
    with pytest.raises(DatasetError, match="No GTZAN clips"):
        index_dataset(tmp_path)


def test_feature_cache_second_run_reads_from_disk(tiny_gtzan, tmp_path):
    index = index_dataset(tiny_gtzan)
    clip = index.clips[0]
    first = FeatureCache(tmp_path, DEFAULT_FEATURES)
    a = first.get(clip, "mel")
    second = FeatureCache(tmp_path, DEFAULT_FEATURES)
    b = second.get(clip, "mel")
    assert (first.misses, second.hits, second.misses) == (1, 1, 0)
    np.testing.assert_allclose(a, b, atol=0.05)  # float16 on disk


def test_folds_split_by_clip_and_are_stratified():
    labels = np.repeat(np.arange(10), [11, 100, 10, 10, 10, 10, 10, 100, 10, 10])
    folds = stratified_folds(labels, k=5, seed=0)
    seen = np.concatenate([test for _, test in folds])
    assert sorted(seen) == list(range(len(labels)))  # every clip tested exactly once
    for train, test in folds:
        assert not set(train) & set(test)
        assert np.bincount(labels[test], minlength=10).min() >= 2


def test_windows_of_one_clip_never_cross_the_split(gtzan_dir):
    """On the real copy: a clip id lands on one side only, so its windows do too."""
    index = index_dataset(gtzan_dir)
    ids = np.array([c.clip_id for c in index.clips])
    for train, test in stratified_folds(index.labels(), k=5, seed=0):
        assert not set(ids[train]) & set(ids[test])
        inner_train, inner_val = inner_validation_split(index.labels()[train])
        assert not set(ids[train][inner_train]) & set(ids[train][inner_val])


def test_too_few_clips_for_k_folds():
    with pytest.raises(DatasetError, match="at least 5 clips"):
        stratified_folds(np.array([0, 0, 0, 1, 1, 1]), k=5)


def test_inner_validation_has_every_genre():
    labels = np.repeat(np.arange(10), 8)
    train, val = inner_validation_split(labels, fraction=0.15)
    assert set(labels[val]) == set(range(10))
    assert not set(train) & set(val)


def test_artist_filtered_split_needs_its_files(tiny_gtzan, tmp_path):
    index = index_dataset(tiny_gtzan)
    assert artist_filtered_split(index) is None  # no splits/ folder
    splits = tiny_gtzan / "splits"
    splits.mkdir(exist_ok=True)
    names = [c.relative_path for c in index.clips]
    (splits / "train_filtered.txt").write_text("\n".join(names[:20]))
    (splits / "valid_filtered.txt").write_text("\n".join(names[20:25]))
    (splits / "test_filtered.txt").write_text("\n".join(names[25:]))
    split = artist_filtered_split(index)
    assert split is not None and [len(split[p]) for p in ("train", "valid", "test")] == [20, 5, len(names) - 25]
    (splits / "test_filtered.txt").write_text("\n".join(names[25:] + [f"blues/blues.{i:05d}.wav" for i in range(50, 90)]))
    split = artist_filtered_split(index)  # restricted to the clips present
    assert split is not None and len(split["test"]) == len(names) - 25
    assert artist_filtered_split(index, min_coverage=0.9) is None  # most of the test list is missing
    for f in splits.iterdir():
        f.unlink()
    splits.rmdir()


def test_published_split_restricted_to_the_partial_copy(gtzan_dir):
    """On the 460-clip copy: 300 train+valid and 123 test clips (issue 9); on the full set, 443/197/290."""
    index = index_dataset(gtzan_dir)
    split = artist_filtered_split(index)
    assert split is not None
    n_train, n_valid, n_test = (len(split[p]) for p in ("train", "valid", "test"))
    if len(index.clips) == 460:
        assert n_train + n_valid == 300 and n_test == 123
        test_genres = pd.Series([index.clips[i].genre for i in split["test"]]).value_counts().to_dict()
        assert {g: test_genres[g] for g in ("classical", "jazz", "pop", "rock")} == \
            {"classical": 31, "jazz": 27, "pop": 30, "rock": 32}
    elif len(index.clips) >= 999:
        assert (n_train, n_valid) == (443, 197) and n_test in (289, 290)
    parts = [set(split[p].tolist()) for p in ("train", "valid", "test")]
    assert not (parts[0] & parts[2]) and not (parts[1] & parts[2]) and not (parts[0] & parts[1])
    assert len(GENRES) == 10


def test_why_balanced_accuracy_leads_is_said_from_the_counts():
    from genre_core.features.dataset import balanced_accuracy_in_words

    assert balanced_accuracy_in_words({"blues": 100, "disco": 24, "metal": 20, "pop": 0}) == \
        "so the 100-clip genres cannot hide the 20-clip ones"
    assert "equals accuracy" in balanced_accuracy_in_words({g: 100 for g in ("blues", "rock")})
    assert "equals accuracy" in balanced_accuracy_in_words({})
