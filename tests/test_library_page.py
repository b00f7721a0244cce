"""The Library page and the library command's summary as people read them: songs named relative to the
library, hip-hop spelled out, agreement only where every model ran, one probability format, words not
column names, user text kept as text; tables written by the previous version still load."""
from __future__ import annotations

import json
import os
import shutil

import pandas as pd
import pytest
from library_table import ALL_MODELS, HOSTILE, INTROS, UNSURE, write_library
from streamlit.testing.v1 import AppTest
from test_app import APP, TIMEOUT

from genre_core.library.results import COLUMNS, CSV, TABLE, for_people, summary_lines


@pytest.fixture(scope="module")
def library(tmp_path_factory, gtzan_dir):
    """(songs folder, results folder, table) of a library classified here (see library_table)."""
    folder = tmp_path_factory.mktemp("library")
    table = write_library(gtzan_dir, folder / "songs", folder / "results")
    return folder / "songs", folder / "results", table


def _page(results) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.switch_page("pages/library.py").run()
    at.text_input[0].set_value(str(results)).run()
    assert not at.exception, at.exception
    return at


def _shown(frame) -> pd.DataFrame:
    """The columns of a st.dataframe that the reader sees, in their order."""
    order = list(frame.proto.column_order) or list(frame.value.columns)
    return frame.value[order]


def _by_path(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` indexed by each song's path in the library (its folder column, then its name)."""
    return frame.set_axis([os.path.join(f, s) for f, s in zip(frame["folder"], frame["song"])])


def _config(frame) -> dict:
    return json.loads(frame.proto.columns)


def test_the_page_names_songs_in_words_and_shows_agreement_only_where_measured(library):
    songs, results, table = library
    by_song = {str(p.relative_to(songs)): p.resolve() for p in songs.rglob("*") if p.is_file()}
    stored = table.set_index("path")
    assert stored.loc[str(by_song["hiphop/hiphop.00005.ogg"]), "genre"] == "hiphop"  # stored labels stay
    assert (table["state"] == "unsure").sum() == 1, "the mix should be the one 'not sure' answer"

    at = _page(results)
    assert at.subheader[0].value == "6 songs classified, 1 could not be"
    main, least = _by_path(_shown(at.dataframe[0])), _by_path(_shown(at.dataframe[1]))
    for frame in (main, least):
        assert all("_" not in c for c in frame.columns), frame.columns  # headers in words
        genres = frame[[c for c in frame.columns if c in ("genre", "second genre")]]
        assert not genres.isin(["hiphop"]).any().any()  # folder and file names keep theirs
    assert "hip-hop" in set(main["genre"])
    assert list(main.columns[:5]) == ["song", "genre", "probability", "state", "models agreeing"]
    assert "second genre" in main.columns and "second genre's probability" in least.columns
    # songs by name and folder in the library: both intros told apart, the hostile name as the characters it has
    assert set(main.index) == set(by_song) - {"notes.wav"} and {*INTROS, HOSTILE} <= set(main.index)
    assert list(main["song"]).count("01 Intro.mp3") == 2
    assert at.selectbox[0].options == list(main.index)

    # agreement: blank for the default run, and for the --all-models song what Classify shows for that file
    from genre_core.serving.zoo import ModelZoo

    result = ModelZoo.load().classify(by_song[ALL_MODELS])
    agreeing = main["models agreeing"]
    assert agreeing[ALL_MODELS] == f"{result.agreeing} of {len(result.predictions)}"
    assert agreeing.drop(ALL_MODELS).isna().all()
    assert any("measured on 1 song of 6" in c.value and "--all-models" in c.value for c in at.caption)

    # one probability format in both tables ('92.4 %'), the stored probability in %
    formats = {_config(f)["probability"]["type_config"]["format"] for f in at.dataframe[:2]}
    assert formats == {"%.1f %%"}
    assert _config(at.dataframe[1])["second genre's probability"]["type_config"]["format"] == "%.1f %%"
    assert main["probability"][UNSURE] == pytest.approx(
        100 * stored.loc[str(by_song[UNSURE]), "probability"])
    assert list(least.index) == [UNSURE]
    assert any(c.value.startswith("1 answer is 'not sure'") for c in at.caption)

    chart = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert chart["layout"]["yaxis"]["title"]["text"] == "songs"
    assert "songs" in chart["data"][0]["hovertemplate"] and "hip-hop" in chart["data"][0]["x"]
    assert "hiphop" not in chart["data"][0]["x"]
    assert any("hip-hop 1 song" in c.value for c in at.caption)

    at.selectbox[0].set_value(str(by_song[HOSTILE])).run()  # the hostile name opens like any other
    assert not at.exception and at.button[0].label == "Open in Classify"


def test_a_default_run_hides_agreement_and_says_why(library, tmp_path):
    _, results, table = library
    default = table[~table["path"].str.endswith(ALL_MODELS)]
    default.to_parquet(tmp_path / TABLE, index=False)
    at = _page(tmp_path)
    assert "models agreeing" not in _shown(at.dataframe[0]).columns
    assert any("measured only with `--all-models`" in c.value for c in at.caption)


def test_a_library_of_one_song_is_counted_in_the_singular(library, tmp_path):
    _, _, table = library
    table[table["genre"] == "hiphop"].to_parquet(tmp_path / TABLE, index=False)
    at = _page(tmp_path)
    assert at.subheader[0].value == "1 song classified"
    assert any(c.value == "In words: hip-hop 1 song." for c in at.caption)
    assert any(c.value.startswith("No answer is 'not sure'") for c in at.caption)
    assert at.selectbox[0].options == ["hiphop.00005.ogg"]  # the library's folder is the song's own


@pytest.mark.parametrize("kind", ["parquet", "csv"])
def test_a_table_of_the_previous_version_still_loads(library, tmp_path, kind):
    """Written before ``models_run`` existed: agreement 1.0 on every row of a default run (it said nothing)."""
    _, results, table = library
    old = table.drop(columns=["models_run"]).assign(agreement=table["error"].isna().map({True: 1.0, False: None}))
    if kind == "parquet":
        old.to_parquet(tmp_path / TABLE, index=False)
    else:
        shutil.copy(results / CSV, tmp_path / CSV)
        pd.read_csv(tmp_path / CSV).drop(columns=["models_run"]).to_csv(tmp_path / CSV, index=False)
    at = _page(tmp_path)
    assert not at.error and at.subheader[0].value == "6 songs classified, 1 could not be"
    assert "models agreeing" not in _shown(at.dataframe[0]).columns


def _rows(*rows: dict) -> pd.DataFrame:
    return pd.DataFrame([{c: None for c in COLUMNS} | row for row in rows], columns=COLUMNS)


def test_summary_spells_hip_hop_and_counts_in_words():
    one = _rows({"path": "/m/a.mp3", "genre": "hiphop", "state": "unsure"})
    lines = summary_lines(one)
    assert lines[0] == "1 of 1 file classified"
    assert lines[1].split() == ["hip-hop", "1"] and not any("hiphop" in line for line in lines)
    assert lines[-1] == "1 answer is 'not sure' (state column)"
    two = _rows({"path": "/m/a.mp3", "genre": "hiphop", "state": "unsure"},
                {"path": "/m/b.mp3", "genre": "rock", "state": "unsure"},
                {"path": "/m/c.mp3", "error": "'c.mp3' is not an audio file"})
    lines = summary_lines(two, [("/m/gone.mp3", "no such file")])
    assert lines[0] == "2 of 4 files classified" and "2 failed:" in lines
    assert lines[-1] == "2 answers are 'not sure' (state column)"


def test_for_people_spells_both_genres_and_names_songs_in_their_folder():
    table = _rows({"path": "/music/a/01 Intro.mp3", "genre": "rock", "second_genre": "hiphop", "probability": 0.5,
                   "state": "not_music", "agreement": 0.5, "models_run": 8.0},
                  {"path": "/music/b/01 Intro.mp3", "genre": "hiphop", "second_genre": "rock", "probability": 0.925,
                   "state": "unsure", "agreement": 1.0})  # agreement without models_run: an older table, unknown
    shown = for_people(table)
    assert list(shown["second genre"]) == ["hip-hop", "rock"] and list(shown["genre"]) == ["rock", "hip-hop"]
    assert list(shown["path in the library"]) == ["a/01 Intro.mp3", "b/01 Intro.mp3"]
    assert list(shown["folder"]) == ["a", "b"] and list(shown["song"]) == ["01 Intro.mp3"] * 2
    assert list(shown["state"]) == ["not music", "not sure"]
    assert list(shown["probability"]) == pytest.approx([50.0, 92.5])
    assert shown["models agreeing"][0] == "4 of 8" and pd.isna(shown["models agreeing"][1])
    assert list(table["genre"]) == ["rock", "hiphop"]  # the stored labels are left as they are


def test_a_run_of_the_previous_version_finishes_into_a_full_table(library, tmp_path):
    """Every part written before ``models_run`` existed (a run stopped after its last part): finishing it with
    this version gives every column, models_run unknown, instead of failing on the missing one."""
    from genre_core.library.results import PARTS, FileEntry, finish_table

    _, _, table = library
    (tmp_path / PARTS).mkdir()
    older = table.drop(columns=["models_run"])
    older.iloc[:3].to_parquet(tmp_path / PARTS / "part-000000.parquet", index=False)
    older.iloc[3:].to_parquet(tmp_path / PARTS / "part-000001.parquet", index=False)
    entries = [FileEntry(p, int(s), float(m)) for p, s, m in zip(table["path"], table["size_bytes"], table["mtime"])]
    finished = finish_table(tmp_path, entries)
    assert list(finished.columns) == COLUMNS and list(finished["path"]) == list(table["path"])
    assert finished["models_run"].isna().all()
