"""Classifying a whole music library on Ray: started on this machine by default (loopback only, no
dashboard), or joined to a running cluster when given its address; the same code spreads over its nodes.

Each worker is an actor that loads the models once and classifies the files of the batches it is given
(audio is read and decoded in the workers: on a cluster the paths must be readable on every node, e.g. a
shared mount). Results stream back to the driver, which writes each finished batch as a Parquet part, so
an interrupted run (Ctrl-C) continues where it stopped. Ray's own messages go to a log file in the results
folder, not to the console. ``classify_entries`` is the same work in one process.
"""
from __future__ import annotations

import os
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import TextIO

import pandas as pd

from genre_core.audio.errors import GenreCoreError
from genre_core.library.results import (
    COLUMNS,
    FileEntry,
    finish_table,
    list_sources,
    next_part_number,
    read_done,
    result_row,
    still_to_do,
    write_part,
    write_playlists,
)
from genre_core.serving.zoo import DEFAULT_MODELS_DIR, ModelZoo

# Each worker uses one core: its actor asks Ray for one CPU, and its thread pools are told the same.
WORKER_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "GENRE_CORE_THREADS": "1"}
RAY_LOG = "ray.log"  # in the results folder: everything Ray prints while the run goes on
CONNECT_SECONDS = 5.0  # a cluster's head answers at once; no answer in this time is no cluster


class LibraryInterrupted(KeyboardInterrupt):
    """Ctrl-C during a run: every finished part is kept; ``table`` holds what is done so far, ``done`` of
    ``total`` audio files."""

    def __init__(self, table: pd.DataFrame, done: int, total: int) -> None:
        super().__init__()
        self.table, self.done, self.total = table, done, total


def classify_one(zoo: ModelZoo, entry: FileEntry, all_models: bool = False, node: str = "") -> dict:
    """One file's row; a file that cannot be classified gets its reason, never an exception."""
    try:
        result = zoo.classify(entry.path, models=None if all_models else zoo.answer_models)
    except (GenreCoreError, OSError) as exc:
        return result_row(entry, None, None, str(exc), node)
    except Exception as exc:  # one odd file must not stop a library of thousands; its reason is kept
        return result_row(entry, None, None, f"unexpected error: {exc}", node)
    return result_row(entry, result, zoo, None, node)


def classify_entries(zoo: ModelZoo, entries: list[FileEntry], all_models: bool = False) -> list[dict]:
    """The single-process path: the rows the Ray path must equal."""
    return [classify_one(zoo, e, all_models) for e in entries]


class LibraryWorker:
    """A Ray Data actor: loads the models once, then classifies batches of file entries."""

    def __init__(self, models_dir: str, all_models: bool) -> None:
        import ray

        self.zoo = ModelZoo.load(models_dir, defer=not all_models)
        self.all_models = all_models
        self.node = ray.get_runtime_context().get_node_id()

    def __call__(self, batch: pd.DataFrame) -> pd.DataFrame:
        rows = [classify_one(self.zoo, FileEntry(r.path, int(r.size_bytes), float(r.mtime)), self.all_models, self.node)
                for r in batch.itertuples()]
        return pd.DataFrame(rows, columns=COLUMNS)


def _host_port(address: str) -> tuple[str, int]:
    """'10.0.0.5:6379' (or 'ray://10.0.0.5:10001') -> ('10.0.0.5', 6379); GenreCoreError when it is not HOST:PORT."""
    host, _, port = address.split("://")[-1].rpartition(":")
    if not host or not port.isdigit():
        raise GenreCoreError(f"the Ray address {address!r} is not HOST:PORT (e.g. 10.0.0.5:6379, as `ray start --head` "
                             "prints it on the head node).")
    return host.strip("[]"), int(port)


def check_reachable(address: str, source: str = "--address") -> None:
    """Fail in words, within seconds, when nothing listens at ``address`` (Ray itself retries for minutes)."""
    host, port = _host_port(address)
    where = f"the Ray cluster at {address} (from {source})"
    try:
        socket.create_connection((host, port), timeout=CONNECT_SECONDS).close()
    except socket.gaierror:
        raise GenreCoreError(f"cannot join {where}: the host name {host!r} is not known. Check the address: the head "
                             "node prints it when `ray start --head --port PORT` starts (--address='IP:PORT').") from None
    except OSError as exc:
        reason = f"no answer within {CONNECT_SECONDS:.0f} s" if isinstance(exc, TimeoutError) else (
            exc.strerror or str(exc)).lower()
        raise GenreCoreError(f"cannot join {where}: {reason}. Check that the head node runs (`ray start --head --port "
                             f"{port}` there; `ray status` on it lists the nodes), that the host and port are the ones "
                             f"it printed, and that no firewall blocks port {port}.") from None


def _answers(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=CONNECT_SECONDS).close()
    except OSError:
        return False
    return True


def _stay_on_loopback_if_the_head_does(address: str) -> None:
    """Join a head that listens on loopback only on loopback.

    On Linux Ray replaces a loopback address by the machine's interface address before connecting
    (services.resolve_ip_for_localhost, unless RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0). A head started with that
    variable at 0 listens on 127.0.0.1 only, so the rewritten address never answers and Ray retries for
    minutes; the variable's effect, Ray's ``ENABLE_RAY_CLUSTER``, is read when Ray is imported, so it is set
    here as the variable would have set it.
    """
    from ray._private import ray_constants, services

    host, port = _host_port(address)
    rewritten = services.resolve_ip_for_localhost(host)
    if rewritten != host and not _answers(rewritten, port):
        ray_constants.ENABLE_RAY_CLUSTER = False


def _use_token_when_present() -> None:
    """Send the token in ~/.ray/auth_token (or $RAY_AUTH_TOKEN[_PATH]) when $RAY_AUTH_MODE is not set.

    Ray 2.60's ``ray start --head`` turns token authentication on whenever such a token exists (scripts.py
    calls ``maybe_enable_token_auth_if_token_available``), and ``ray.init`` does the same for a cluster it finds
    itself, but never for an address it is given (worker.py: ``if address in (None, "auto")``): a driver
    joining by address is refused. A token sent to a cluster without authentication is ignored.
    """
    if "RAY_AUTH_MODE" in os.environ:
        return
    try:
        from ray._private.authentication.authentication_token_setup import (
            maybe_enable_token_auth_if_token_available,
        )
    except ImportError:  # a Ray without token authentication
        return
    maybe_enable_token_auth_if_token_available(warn_if_disabled=False)


def _join(address: str, source: str) -> None:
    import ray

    check_reachable(address, source)
    _stay_on_loopback_if_the_head_does(address)
    _use_token_when_present()
    # something answers at the address: a few tries tell a Ray head from anything else (Ray's default is 20)
    own_budget = "RAY_gcs_server_port_wait_time_s" not in os.environ
    if own_budget:
        os.environ["RAY_gcs_server_port_wait_time_s"] = "5"
    try:
        ray.init(address=address, log_to_driver=False, runtime_env={"env_vars": WORKER_ENV})
    except Exception as exc:
        chain, cause = [], exc
        while cause is not None and len(chain) < 5:
            chain.append(str(cause))
            cause = cause.__cause__ or cause.__context__
        if any("InvalidAuthToken" in text or "Authentication token" in text for text in chain):
            raise GenreCoreError(
                f"the Ray cluster at {address} (from {source}) refused this machine: it asks for its token. Copy "
                "the head node's ~/.ray/auth_token to ~/.ray/auth_token here (or set RAY_AUTH_TOKEN to its "
                "content; `ray get-auth-token` on the head prints it).") from None
        first_line = chain[0].strip().splitlines()[0] if chain[0].strip() else type(exc).__name__
        raise GenreCoreError(
            f"could not join the Ray cluster at {address} (from {source}): {first_line}. Check that the port is "
            "the one given to `ray start --head --port` (not the dashboard's), and that this machine runs the "
            f"cluster's Ray ({ray.__version__} here) and Python versions.") from None
    finally:
        if own_budget:
            del os.environ["RAY_gcs_server_port_wait_time_s"]


def start_ray(address: str | None, workers: int | None) -> bool:
    """Join the cluster at ``address`` (or ``RAY_ADDRESS``), else start Ray on this machine on loopback only,
    whatever an earlier ``ray start`` left in Ray's temp folder. Returns whether this call started (and so
    must stop) Ray. Raises GenreCoreError, in words, when the cluster cannot be joined."""
    import ray

    if ray.is_initialized():
        return False
    source = "--address" if address else "RAY_ADDRESS"
    address = address or os.environ.get("RAY_ADDRESS") or None
    if address:
        _join(address, source)
        return True
    # "local": without it ray.init joins the cluster named in /tmp/ray/ray_current_cluster, which every
    # `ray start` writes and nothing removes when that cluster is killed
    try:
        ray.init(address="local", num_cpus=workers or os.cpu_count(), include_dashboard=False,
                 _node_ip_address="127.0.0.1", log_to_driver=False, runtime_env={"env_vars": WORKER_ENV},
                 configure_logging=False)
    except BaseException:  # Ctrl-C while Ray starts: stop what it started so far
        ray.shutdown()
        raise
    return True


@contextmanager
def output_to(log: Path) -> Iterator[TextIO]:
    """Send all this process writes to stdout and stderr (Ray's Python loggers and its C++ core alike) to
    the end of ``log``; yields a stream to the console as it was, for our progress bar."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    with open(log, "a", encoding="utf-8") as file:
        file.write(f"--- genre-core library, {time.strftime('%Y-%m-%d %H:%M:%S')} ---\n")
        file.flush()
        for fd in saved:
            os.dup2(file.fileno(), fd)
        console = os.fdopen(os.dup(saved[2]), "w", buffering=1, encoding="utf-8", errors="replace")
        try:
            yield console
        finally:
            console.close()
            sys.stdout.flush()
            sys.stderr.flush()
            for fd, copy in saved.items():
                os.dup2(copy, fd)
                os.close(copy)


def _classify_on_ray(todo: list[FileEntry], out: Path, models_dir: str | os.PathLike, address: str | None,
                     workers: int | None, all_models: bool, batch_size: int, console: TextIO | None) -> float:
    """Classify ``todo`` on Ray, writing each finished batch as a part; returns the seconds spent classifying."""
    import ray
    from tqdm import tqdm

    started_here = start_ray(address, workers)
    try:
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False  # one bar of ours: files, songs per minute, ETA
        context.print_on_execution_start = False
        cpus = int(ray.cluster_resources().get("CPU", 1))
        pool = max(1, min(workers or cpus, cpus, len(todo)))
        dataset = ray.data.from_items([asdict(e) for e in todo],
                                      override_num_blocks=max(1, -(-len(todo) // batch_size)))
        results = dataset.map_batches(LibraryWorker, fn_constructor_kwargs={"models_dir": str(models_dir),
                                                                           "all_models": all_models},
                                      batch_size=batch_size, batch_format="pandas",
                                      compute=ray.data.ActorPoolStrategy(size=pool), num_cpus=1)
        number = next_part_number(out)
        began = time.perf_counter()
        with tqdm(total=len(todo), desc="classifying", unit="song", disable=console is None, file=console) as bar:
            for batch in results.iter_batches(batch_size=None, batch_format="pandas"):
                write_part(out, batch.to_dict("records"), number)
                number += 1
                bar.update(len(batch))
                minutes = (time.perf_counter() - began) / 60
                bar.set_postfix_str(f"{bar.n / max(minutes, 1e-9):.0f} songs/min")
        return time.perf_counter() - began
    finally:
        if started_here:
            ray.shutdown()


def run_library(source: str | os.PathLike, out: str | os.PathLike, models_dir: str | os.PathLike = DEFAULT_MODELS_DIR,
                address: str | None = None, workers: int | None = None, all_models: bool = False,
                batch_size: int = 4, progress: bool = True, stop_after: int | None = None):
    """Classify every audio file of ``source`` into ``out``: parts, then library.parquet, library.csv and one
    M3U8 playlist per genre; Ray's own messages go to ``out``/ray.log.

    Files already in ``out`` with the same size and modification time are skipped. ``workers``: actors
    (default: one per CPU of the cluster). ``stop_after`` ends the run after that many files (tests of resume).
    Returns (table, files that could not be listed, seconds spent classifying). Ctrl-C raises
    LibraryInterrupted once what is done is written.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    entries, missing = list_sources(source)
    todo = still_to_do(entries, read_done(out))
    if stop_after is not None:
        todo = todo[:stop_after]
    seconds, interrupted = 0.0, False
    if todo:
        with output_to(out / RAY_LOG) as console:
            try:
                seconds = _classify_on_ray(todo, out, models_dir, address, workers, all_models, batch_size,
                                           console if progress else None)
            except KeyboardInterrupt:
                interrupted = True
    table = finish_table(out, entries, missing)
    write_playlists(out, table)
    if interrupted:
        raise LibraryInterrupted(table, len(table) - len(missing), len(entries))
    return table, missing, seconds
