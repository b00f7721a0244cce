"""A whole library on Ray: started on loopback inside the test, rows equal to the single-process path,
resume after an interruption, and a two-node local cluster that uses both nodes."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote, urlparse

import numpy as np
import pandas as pd
import pytest
from conftest import chirp, ray_lines, write_wav

pytest.importorskip("ray")

from genre_core.library.engine import classify_entries, run_library  # noqa: E402
from genre_core.library.results import (  # noqa: E402
    COLUMNS,
    CSV,
    TABLE,
    finish_table,
    list_sources,
    read_done,
    result_row,
    still_to_do,
    write_part,
    write_playlists,
)

ROOT = Path(__file__).resolve().parent.parent
COMPARED = ["path", "genre", "second_genre", "state", "top_tags", "warnings", "error"]


@pytest.fixture(scope="module")
def library(tmp_path_factory, audio_dir):
    folder = tmp_path_factory.mktemp("library")
    (folder / "album").mkdir()
    shutil.copy(audio_dir / "chirp.wav", folder / "chirp.wav")
    shutil.copy(audio_dir / "stereo48k.wav", folder / "album" / "stereo48k.wav")
    shutil.copy(audio_dir / "text.wav", folder / "album" / "text.wav")  # not audio: a row with its reason
    write_wav(folder / "album" / "long.wav", np.tile(chirp(10.0, f0=180), 15))  # 150 s: heard at spread patches
    (folder / "notes.txt").write_text("not a song")
    return folder


@pytest.fixture(scope="module")
def expected(library):
    from genre_core.serving.zoo import ModelZoo

    entries, _ = list_sources(library)
    return pd.DataFrame(classify_entries(ModelZoo.load(defer=True), entries))


def _same(rows: pd.DataFrame, expected: pd.DataFrame) -> None:
    rows = rows.sort_values("path").reset_index(drop=True)
    expected = expected.sort_values("path").reset_index(drop=True)
    assert list(rows["path"]) == list(expected["path"])
    as_text = lambda frame: frame[COMPARED].astype(object).where(frame[COMPARED].notna(), None)  # noqa: E731
    pd.testing.assert_frame_equal(as_text(rows), as_text(expected), check_dtype=False)
    assert np.allclose(rows["probability"].astype(float).fillna(-1), expected["probability"].astype(float).fillna(-1),
                       atol=1e-5)


@pytest.fixture()
def local_ray():
    """Ray on this machine for one test: 2 CPUs, loopback only, no dashboard (runs reuse it)."""
    import ray

    from genre_core.library.engine import start_ray

    start_ray(None, 2)
    yield
    ray.shutdown()


def test_ray_on_this_machine_equals_one_process_and_resumes(library, expected, tmp_path, local_ray):
    out = tmp_path / "results"
    table, missing, _ = run_library(library, out, workers=2, progress=False, stop_after=2)  # interrupted after 2
    assert len(read_done(out)) == 2 and not missing
    table, _, seconds = run_library(library, out, workers=2, progress=False)  # continues with the other 2
    _same(table, expected)
    assert table.loc[table["path"].str.endswith("text.wav"), "error"].str.contains("not an audio file").all()
    assert (out / TABLE).exists() and pd.read_csv(out / CSV)["path"].tolist() == table["path"].tolist()
    _, _, seconds = run_library(library, out, workers=2, progress=False)
    assert seconds == 0  # nothing new: nothing classified again
    copy = tmp_path / "library"  # the shared folder stays as it is for the other tests
    shutil.copytree(library, copy)
    run_library(copy, tmp_path / "copy-results", workers=2, progress=False)
    changed = copy / "chirp.wav"
    write_wav(changed, np.tile(chirp(5.0, f0=300), 2))  # same name, new content: classified again
    table, _, seconds = run_library(copy, tmp_path / "copy-results", workers=1, progress=False)
    assert seconds > 0 and table.loc[table["path"] == str(changed.resolve()), "size_bytes"].item() == changed.stat().st_size


def test_library_command_prints_a_summary_and_refuses_a_missing_source(library, tmp_path):
    run = [sys.executable, "-m", "genre_core", "library"]
    env = {**os.environ, "RAY_ADDRESS": ""}
    out = subprocess.run([*run, str(library / "missing"), "--out", str(tmp_path / "r")], capture_output=True,
                         text=True, cwd=ROOT, env=env, timeout=300)
    assert out.returncode != 0 and "error:" in out.stderr and "Traceback" not in out.stderr
    listing = tmp_path / "songs.txt"
    listing.write_text(f"{library / 'chirp.wav'}\n{library / 'gone.wav'}\nalbum/also-gone.mp3\n")
    out = subprocess.run([*run, str(listing), "--out", str(tmp_path / "r"), "--workers", "1"],
                         capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "1 of 3 files classified" in out.stdout and "no such file" in out.stdout
    # every line of the list has its row, the missing ones with their reason
    table = pd.read_csv(tmp_path / "r" / CSV)
    assert table["path"].tolist() == [str(library / "chirp.wav"), str(library / "gone.wav"),
                                      str(tmp_path / "album" / "also-gone.mp3")]
    assert table["error"].tolist()[1:] == ["no such file"] * 2 and pd.isna(table["error"][0])
    # the console has our progress bar and summary; Ray's own lines are in the log file the summary names
    assert "classifying" in out.stderr and not ray_lines(out.stdout + out.stderr), ray_lines(out.stdout + out.stderr)
    assert f"Ray's messages: {tmp_path / 'r' / 'ray.log'}" in out.stdout
    assert ray_lines((tmp_path / "r" / "ray.log").read_text())


def test_a_manifest_with_missing_paths_gives_each_line_a_row(library, tmp_path):
    manifest = tmp_path / "songs.csv"
    pd.DataFrame({"path": [str(library / "chirp.wav"), "nowhere/a.flac", str(library / "album" / "text.wav")]}
                 ).to_csv(manifest, index=False)
    entries, missing = list_sources(manifest)
    assert missing == [(str(tmp_path / "nowhere" / "a.flac"), "no such file")]
    write_part(tmp_path / "out", [result_row(e, None, None, "kept as written") for e in entries], 0)
    table = finish_table(tmp_path / "out", entries, missing)
    assert table["path"].tolist() == [e.path for e in entries] + [str(tmp_path / "nowhere" / "a.flac")]
    assert table["error"].tolist() == ["kept as written", "kept as written", "no such file"]
    assert pd.isna(table["size_bytes"].iloc[-1]) and table["size_bytes"].iloc[0] == entries[0].size_bytes
    again = pd.read_parquet(tmp_path / "out" / TABLE)
    assert again["path"].tolist() == table["path"].tolist()
    # the missing file's row has no size: it is not taken for done, and a file that turns up is classified
    assert [e.path for e in still_to_do(entries, again)] == []


def read_playlist(path: Path) -> list[tuple[int, str, Path]]:
    """(seconds, title, file) of each entry of an M3U8 playlist, files resolved as a player does."""
    lines = path.read_text(encoding="utf-8").split("\n")
    assert lines[0] == "#EXTM3U" and lines[-1] == ""
    entries = []
    for info, location in zip(lines[1:-1:2], lines[2:-1:2]):
        seconds, title = info.removeprefix("#EXTINF:").split(",", 1)
        assert info.startswith("#EXTINF:") and not location.startswith("#")
        file = Path(unquote(urlparse(location).path)) if location.startswith("file:") else path.parent / location
        entries.append((int(seconds), title, file.resolve()))
    return entries


def test_playlists_one_per_genre_and_for_the_answers_in_doubt(tmp_path):
    music, out = tmp_path / "music", tmp_path / "sorted"
    names = ["a, b (live).wav", "#1 hit.wav", "line\nbreak.wav", " spaced.wav", "ünï.wav", "bad.wav"]
    (music / "x").mkdir(parents=True)
    files = [music / "x" / n for n in names[:5]] + [out / "#first.wav"]  # one inside the results folder
    out.mkdir()
    for file in files:
        file.write_bytes(b"")
    rows = [("hiphop", "confident", 30.4), ("hiphop", "mixed", 181.0), ("rock", "unsure", 29.6),
            ("rock", "confident", None), ("jazz", "not_music", 5.0), ("rock", "confident", 12.0)]
    table = pd.DataFrame([{**dict.fromkeys(COLUMNS), "path": str(f), "genre": g, "state": st, "duration_s": d}
                          for f, (g, st, d) in zip(files, rows)], columns=COLUMNS)
    failed = {**dict.fromkeys(COLUMNS), "path": str(music / "bad.wav"), "error": "not an audio file"}
    written = write_playlists(out, pd.concat([table, pd.DataFrame([failed])], ignore_index=True))
    assert sorted(p.name for p in written) == ["hip-hop.m3u8", "not music.m3u8", "not sure.m3u8", "rock.m3u8"]
    assert read_playlist(out / "hip-hop.m3u8") == [(30, "a, b (live).wav", files[0]), (181, "#1 hit.wav", files[1])]
    assert read_playlist(out / "not sure.m3u8") == [(30, "line break.wav", files[2])]
    assert read_playlist(out / "rock.m3u8") == [(-1, "spaced.wav", files[3]), (12, "#first.wav", files[5])]
    assert read_playlist(out / "not music.m3u8") == [(5, "ünï.wav", files[4])]
    text = (out / "hip-hop.m3u8").read_text(encoding="utf-8")
    assert "../music/x/a, b (live).wav" in text and "../music/x/#1 hit.wav" in text  # relative to the folder
    assert "./#first.wav" in (out / "rock.m3u8").read_text(encoding="utf-8")
    # rewritten from the whole table: a genre with no song left loses its playlist
    write_playlists(out, table[table["genre"] != "hiphop"])
    assert not (out / "hip-hop.m3u8").exists() and (out / "rock.m3u8").exists()
    elsewhere = pd.DataFrame([{**dict.fromkeys(COLUMNS), "path": "/proc/version", "genre": "pop", "state": "confident",
                               "duration_s": 1.0}], columns=COLUMNS)
    write_playlists(out, elsewhere)  # no folder in common but the root: the path stays absolute
    assert (out / "pop.m3u8").read_text(encoding="utf-8") == "#EXTM3U\n#EXTINF:1,version\n/proc/version\n"
    assert not (out / "rock.m3u8").exists()
