"""Classifying a whole music library on Ray: started on this machine by default (loopback only, no
dashboard), or joined to a running cluster when given its address; the same code spreads over its nodes.

Each worker is an actor that loads the models once and classifies the files of the batches it is given
(audio is read and decoded in the workers: on a cluster the paths must be readable on every node, e.g. a
shared mount). Results stream back to the driver, which writes each finished batch as a Parquet part, so
an interrupted run continues where it stopped. ``classify_entries`` is the same work in one process.
"""
from __future__ import annotations

import os
import time
from dataclasses import asdict
from pathlib import Path

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
)
from genre_core.serving.zoo import DEFAULT_MODELS_DIR, ModelZoo

# Each worker uses one core: its actor asks Ray for one CPU, and its thread pools are told the same.
WORKER_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "GENRE_CORE_THREADS": "1"}


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


def start_ray(address: str | None, workers: int | None) -> bool:
    """Join the cluster at ``address`` (or ``RAY_ADDRESS``), else start Ray on this machine on loopback only.
    Returns whether this call started (and so must stop) Ray."""
    import ray

    if ray.is_initialized():
        return False
    address = address or os.environ.get("RAY_ADDRESS") or None
    if address:
        # a cluster on this machine's loopback (tests, a single machine) is joined from loopback too
        on_loopback = address.split("://")[-1].split(":")[0] in ("127.0.0.1", "localhost")
        ray.init(address=address, log_to_driver=False, runtime_env={"env_vars": WORKER_ENV},
                 **({"_node_ip_address": "127.0.0.1"} if on_loopback else {}))
    else:
        ray.init(num_cpus=workers or os.cpu_count(), include_dashboard=False, _node_ip_address="127.0.0.1",
                 log_to_driver=False, runtime_env={"env_vars": WORKER_ENV}, configure_logging=False)
    return True


def run_library(source: str | os.PathLike, out: str | os.PathLike, models_dir: str | os.PathLike = DEFAULT_MODELS_DIR,
                address: str | None = None, workers: int | None = None, all_models: bool = False,
                batch_size: int = 4, progress: bool = True, stop_after: int | None = None):
    """Classify every audio file of ``source`` into ``out`` (parts, then library.parquet and library.csv).

    Files already in ``out`` with the same size and modification time are skipped. ``workers``: actors
    (default: one per CPU of the cluster). ``stop_after`` ends the run after that many files (tests of resume).
    Returns (table, files that could not be listed, seconds spent classifying).
    """
    import ray
    from tqdm import tqdm

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    entries, missing = list_sources(source)
    todo = still_to_do(entries, read_done(out))
    if stop_after is not None:
        todo = todo[:stop_after]
    seconds = 0.0
    if todo:
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
            with tqdm(total=len(todo), desc="classifying", unit="song", disable=not progress) as bar:
                for batch in results.iter_batches(batch_size=None, batch_format="pandas"):
                    write_part(out, batch.to_dict("records"), number)
                    number += 1
                    bar.update(len(batch))
                    minutes = (time.perf_counter() - began) / 60
                    bar.set_postfix_str(f"{bar.n / max(minutes, 1e-9):.0f} songs/min")
            seconds = time.perf_counter() - began
        finally:
            if started_here:
                ray.shutdown()
    return finish_table(out, entries), missing, seconds
