"""A whole library on Ray: started on loopback inside the test, rows equal to the single-process path,
resume after an interruption, and a two-node local cluster that uses both nodes."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import chirp, write_wav

pytest.importorskip("ray")

from genre_core.library.engine import classify_entries, run_library  # noqa: E402
from genre_core.library.results import CSV, TABLE, list_sources, read_done  # noqa: E402

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


def test_a_two_node_cluster_uses_both_nodes(library, expected, tmp_path):
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "node_ip_address": "127.0.0.1",
                                                            "include_dashboard": False})
    cluster.add_node(num_cpus=1, node_ip_address="127.0.0.1")
    try:
        table, _, _ = run_library(library, tmp_path / "results", address=cluster.address, workers=2, batch_size=1,
                                  progress=False)
    finally:
        cluster.shutdown()
    _same(table, expected)
    assert table["node"].nunique() == 2


def test_library_command_prints_a_summary_and_refuses_a_missing_source(library, tmp_path):
    run = [sys.executable, "-m", "genre_core", "library"]
    env = {**os.environ, "RAY_ADDRESS": ""}
    out = subprocess.run([*run, str(library / "missing"), "--out", str(tmp_path / "r")], capture_output=True,
                         text=True, cwd=ROOT, env=env, timeout=300)
    assert out.returncode != 0 and "error:" in out.stderr and "Traceback" not in out.stderr
    listing = tmp_path / "songs.txt"
    listing.write_text(f"{library / 'chirp.wav'}\n{library / 'gone.wav'}\n")
    out = subprocess.run([*run, str(listing), "--out", str(tmp_path / "r"), "--workers", "1", "--quiet"],
                         capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "1 of 2 files classified" in out.stdout and "no such file" in out.stdout
