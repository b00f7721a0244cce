"""`genre-core library` the way a user runs it: commands in subprocesses, a cluster made with `ray start`,
Ctrl-C, a wrong address, a stale /tmp/ray/ray_current_cluster.

Each test gives Ray its own temp folder (RAY_TMPDIR) and home (where `ray start` and `ray.init` keep the
token), so other Ray users of this machine are neither seen nor touched; the nodes a test starts live in
sessions of their own and are stopped by session, never with a bare `ray stop` (which stops every Ray on
the machine).
"""
from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import pytest
from conftest import chirp, ray_lines, write_wav

pytest.importorskip("ray")

from genre_core.library.results import CSV, PARTS, TABLE, read_done  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RAY = Path(sys.executable).with_name("ray") if Path(sys.executable).with_name("ray").exists() else shutil.which("ray")
pytestmark = [pytest.mark.skipif(RAY is None, reason="the `ray` command is not installed"),
              pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads sessions from /proc")]
LIBRARY = [sys.executable, "-m", "genre_core", "library"]
def free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def processes_of(session: int) -> list[int]:
    """Live (not zombie) processes of ``session``: a process started with its own session and its children."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        state, _, _, sid = text[text.rindex(")") + 2:].split()[:4]
        if int(sid) == session and state != "Z":
            found.append(int(stat.parent.name))
    return found


def wait_gone(session: int, seconds: float) -> list[int]:
    deadline = time.monotonic() + seconds
    while (left := processes_of(session)) and time.monotonic() < deadline:
        time.sleep(0.5)
    return left


def stop_session(session: int) -> list[int]:
    """SIGTERM every process of ``session`` (what `ray stop` sends, but only to these), SIGKILL what is left
    after 10 s; returns what still runs after that."""
    for signum, grace in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        for pid in processes_of(session):
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                pass
        if not wait_gone(session, grace):
            return []
    return processes_of(session)


@pytest.fixture()
def ray_home():
    """A short folder (Ray's socket paths must stay under 108 characters) for Ray's temp files and $HOME."""
    base = Path(tempfile.mkdtemp(prefix="gc-ray-", dir="/tmp"))
    (base / "home").mkdir()
    yield base
    shutil.rmtree(base, ignore_errors=True)


def user_env(base: Path) -> dict[str, str]:
    """A user's shell: no Ray settings (the test suite's conftest sets one); Ray's files and token under ``base``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    env.update(RAY_TMPDIR=str(base), HOME=str(base / "home"))
    return env


@pytest.fixture(scope="module")
def songs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("songs")
    for i in range(4):
        write_wav(folder / f"song{i}.wav", chirp(4.0, f0=100 + 40 * i))
    (folder / "notes.wav").write_text("not audio")  # a row with its reason
    return folder


def test_a_leftover_ray_current_cluster_does_not_change_the_default(songs, ray_home, tmp_path):
    """What `ray start --head` leaves in Ray's temp folder when its cluster is killed without `ray stop`."""
    (ray_home / "ray").mkdir()
    (ray_home / "ray" / "ray_current_cluster").write_text(f"127.0.0.1:{free_ports(1)[0]}\n")
    run = subprocess.Popen([*LIBRARY, str(songs), "--out", str(tmp_path / "out"), "--workers", "1", "--quiet"],
                           env=user_env(ray_home), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           start_new_session=True)
    stdout, stderr = run.communicate(timeout=300)
    assert run.returncode == 0, stderr[-2000:]
    assert "num_cpus" not in stderr
    assert pd.read_parquet(tmp_path / "out" / TABLE)["error"].isna().sum() == 4
    assert not wait_gone(run.pid, 15), "the Ray it started is still running"


@pytest.mark.parametrize("host", ["127.0.0.1", "no-such-host.invalid"])
def test_an_unreachable_address_fails_in_words_within_30_s(host, songs, ray_home, tmp_path):
    address = f"{host}:{free_ports(1)[0]}"  # nothing listens there
    began = time.monotonic()
    try:
        run = subprocess.run([*LIBRARY, str(songs), "--out", str(tmp_path / "out"), "--address", address],
                             env=user_env(ray_home), cwd=ROOT, capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail(f"still trying to join {address} after 60 s")
    assert time.monotonic() - began < 30
    assert run.returncode != 0 and "Traceback" not in run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and address in lines[0] and "Check" in lines[0], lines
    assert not ray_lines(run.stdout + run.stderr)


def ray_start(arguments: list[str], env: dict[str, str], sessions: list[int]) -> str:
    """`ray start ARGUMENTS` with one CPU in a session of its own (its node's processes stay in it after it
    returns; the session is added to ``sessions`` first, to be stopped whatever happens); returns its output."""
    start = subprocess.Popen([RAY, "start", *arguments, "--num-cpus", "1", "--disable-usage-stats"], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    sessions.append(start.pid)
    log = start.communicate(timeout=120)[0]
    assert start.returncode == 0, log[-3000:]
    return log


def test_joins_a_head_that_listens_on_loopback_only(songs, ray_home, tmp_path):
    """A head started with RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 listens on 127.0.0.1 only; Ray on Linux turns
    127.0.0.1:P into the interface's address, where nothing answers (Ray then retried for minutes)."""
    env = user_env(ray_home)
    port, dashboard, agent = free_ports(3)
    sessions: list[int] = []
    try:
        ray_start(["--head", "--port", str(port), "--dashboard-port", str(dashboard),
                   "--dashboard-agent-listen-port", str(agent)], {**env, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"},
                  sessions)
        run = subprocess.run([*LIBRARY, str(songs), "--out", str(tmp_path / "out"), "--address", f"127.0.0.1:{port}",
                              "--quiet"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        pytest.fail("still trying to join the loopback-only head after 120 s")
    finally:
        left = {session: stop_session(session) for session in sessions}
    assert run.returncode == 0, run.stderr[-3000:]
    assert not any(left.values()), f"Ray processes left running: {left}"
    assert pd.read_parquet(tmp_path / "out" / TABLE)["error"].isna().sum() == 4


def test_joins_a_cluster_started_with_ray_start_and_uses_both_nodes(songs, ray_home, tmp_path):
    """As Ray's docs say: `ray start --head --port P` (with a token in ~/.ray/auth_token, as any earlier
    `ray.init` leaves, token authentication is on), a second node with `ray start --address` and
    RAY_AUTH_MODE=token (Ray's token guide: every node sets it), then our command with --address."""
    env = user_env(ray_home)
    subprocess.run([RAY, "get-auth-token", "--generate"], env=env, capture_output=True, check=True, timeout=120)
    assert (ray_home / "home" / ".ray" / "auth_token").exists()
    port, dashboard, head_agent, node_agent = free_ports(4)
    sessions, logs, out = [], [], tmp_path / "out"
    try:
        logs.append(ray_start(["--head", "--port", str(port), "--dashboard-port", str(dashboard),
                               "--dashboard-agent-listen-port", str(head_agent)], env, sessions))
        logs.append(ray_start(["--address", f"127.0.0.1:{port}", "--dashboard-agent-listen-port", str(node_agent)],
                              {**env, "RAY_AUTH_MODE": "token"}, sessions))
        assert "Token authentication is enabled" in logs[0]
        deadline = time.monotonic() + 90  # as a user would: `ray status` until the second node's CPU counts
        while not re.search(r"/2\.0 CPU", subprocess.run([RAY, "status", "--address", f"127.0.0.1:{port}"],
                                                          env={**env, "RAY_AUTH_MODE": "token"}, capture_output=True,
                                                          text=True, timeout=60).stdout):
            assert time.monotonic() < deadline, "the second node never joined"
            time.sleep(1)
        run = subprocess.run([*LIBRARY, str(songs), "--out", str(out), "--address", f"127.0.0.1:{port}",
                              "--workers", "2", "--batch-size", "1"],
                             # Ray Data starts its actors one by one and feeds the first that is ready: with four
                             # songs, the head's worker could take them all before the second node's had loaded
                             # the models (seen once in CI). Here the pool waits for both before the first song.
                             env={**env, "RAY_DATA_DEFAULT_WAIT_FOR_MIN_ACTORS_S": "120"}, cwd=ROOT,
                             capture_output=True, text=True, timeout=300)
    finally:
        left = {session: stop_session(session) for session in sessions}
    assert run.returncode == 0, run.stderr[-3000:]
    assert not any(left.values()), f"Ray processes left running: {left}"
    table = pd.read_parquet(out / TABLE)
    classified = table[table["error"].isna()]
    assert len(classified) == 4 and table["node"].nunique() == 2
    assert table.loc[table["path"].str.endswith("notes.wav"), "error"].str.contains("not an audio file").all()
    # Ray's own lines (the token notice, core_worker.cc's max_restarts error, the executor's INFO) are in
    # the log file the summary names, not on the console
    assert not ray_lines(run.stdout + run.stderr), ray_lines(run.stdout + run.stderr)
    assert f"Ray's messages: {out / 'ray.log'}" in run.stdout
    assert ray_lines((out / "ray.log").read_text())


SONGS = 80


def test_ctrl_c_stops_keeps_the_parts_and_tells_how_to_resume(ray_home, tmp_path):
    folder = tmp_path / "songs"
    folder.mkdir()
    for i in range(SONGS):  # enough that the run is still going when the first part is written
        write_wav(folder / f"song{i:02d}.wav", chirp(3.0, f0=90 + 3 * i))
    out = tmp_path / "out"
    env = user_env(ray_home)
    # started as a shell script's `genre-core library ... &` starts it: with SIGINT ignored
    run = subprocess.Popen([*LIBRARY, str(folder), "--out", str(out), "--workers", "1", "--batch-size", "1"],
                           env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           start_new_session=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    deadline = time.monotonic() + 240
    while not list((out / PARTS).glob("*.parquet")) if (out / PARTS).is_dir() else True:
        assert run.poll() is None and time.monotonic() < deadline, "no part written"
        time.sleep(0.1)
    os.kill(run.pid, signal.SIGINT)
    sent = time.monotonic()
    try:
        stdout, stderr = run.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        run.kill()
        stdout, stderr = run.communicate()
        pytest.fail(f"still running 15 s after Ctrl-C: {stderr[-1500:]}")
    assert run.returncode == 130 and time.monotonic() - sent < 15, stderr[-2000:]
    assert not wait_gone(run.pid, 15), "the Ray it started is still running"
    done = read_done(out)
    assert 0 < len(done) < SONGS
    assert f"interrupted: {len(done)} of {SONGS} songs are done" in stderr and "Traceback" not in stderr
    resume = stderr.strip().splitlines()[-1].strip()
    assert shlex.split(resume)[-8:] == ["library", str(folder), "--out", str(out), "--workers", "1",
                                        "--batch-size", "1"]
    assert len(pd.read_csv(out / CSV)) == len(done)  # the table of what is done is there already
    assert not ray_lines(stdout + stderr)

    first = {p.name for p in (out / PARTS).glob("*.parquet")}
    again = subprocess.run(shlex.split(resume), env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-2000:]
    new_parts = [p for p in (out / PARTS).glob("*.parquet") if p.name not in first]
    redone = set(pd.concat([pd.read_parquet(p) for p in new_parts])["path"])
    assert not redone & set(done["path"]) and len(redone) == SONGS - len(done)
    table = pd.read_parquet(out / TABLE)
    assert len(table) == SONGS and table["error"].isna().all()
    listed = sum(p.read_text(encoding="utf-8").count("#EXTINF") for p in out.glob("*.m3u8"))
    assert listed == SONGS  # the playlists hold the songs of both runs
