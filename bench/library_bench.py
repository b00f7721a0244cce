"""Throughput of `genre-core library` per core: one process on one thread against Ray with 1 and 2 one-CPU
workers on this machine, on the same files; start-up reported apart from the steady state; rows compared.

    .venv/bin/python bench/library_bench.py --data ../shared/gtzan [--clips 200] [--long 10] [--baseline TREE]

GTZAN clips are copied as they are; "long" songs are 4-minute FLACs made of eight clips of one genre. Every
figure includes reading and decoding the files. The one-thread process is pinned to one core (its ONNX Runtime,
BLAS and OpenMP pools told 1 thread), loads the answer's models and warms up (its start-up), then classifies
the files in turn (its steady state). A Ray run's start-up is the time from the call to its first finished
batch (starting Ray, the actors loading the models, the first batch); its steady state is the songs after that
first batch over the time from it to the last (each batch is written as a part: their times are read back).
``--baseline TREE``: also run the one-thread process on the code of another checkout (e.g. ``git worktree add
/tmp/before 1d5015d``), in the same run, for the songs-per-core-minute ratio.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from genre_core.audio.decode import load_audio  # noqa: E402
from genre_core.features.dataset import index_dataset  # noqa: E402
from genre_core.library.engine import run_library  # noqa: E402
from genre_core.library.results import PARTS  # noqa: E402


def make_files(data: Path, folder: Path, clips: int, long: int) -> None:
    import soundfile as sf

    index = index_dataset(data)
    chosen = [index.clips[i] for i in np.linspace(0, len(index.clips) - 1, clips).round().astype(int)]
    (folder / "clips").mkdir(parents=True)
    for clip in chosen:
        shutil.copy(clip.path, folder / "clips" / clip.path.name)
    if long:
        (folder / "long").mkdir()
        by_genre: dict[str, list] = {}
        for clip in index.clips:
            by_genre.setdefault(clip.genre, []).append(clip)
        genres = sorted(by_genre)
        for i in range(long):
            parts = by_genre[genres[i % len(genres)]]
            song = np.concatenate([load_audio(parts[(i + k) % len(parts)].path, 22050).samples for k in range(8)])
            sf.write(folder / "long" / f"song{i:03d}.flac", song, 22050)


ONE_THREAD = {"GENRE_CORE_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
# run in a fresh interpreter on the code of ``tree``: load + warm up, then each file in turn; prints JSON
CHILD = """
import json, os, sys, time
os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
started = time.perf_counter()
from genre_core.library.engine import classify_one
from genre_core.library.results import list_sources
from genre_core.serving.zoo import ModelZoo
zoo = ModelZoo.load(defer=True)
zoo.warm_up()
loaded = time.perf_counter()
entries, _ = list_sources(sys.argv[1])
rows = [classify_one(zoo, e) for e in entries]
done = time.perf_counter()
print(json.dumps({"startup_s": loaded - started, "run_s": done - loaded,
                  "rows": [{k: r[k] for k in ("path", "genre", "probability")} for r in rows]}))
"""


def one_thread_process(folder: Path, tree: Path) -> tuple[pd.DataFrame, float, float]:
    """(rows, start-up s, steady-state s) of one process pinned to one core, on the code of ``tree``."""
    env = {**os.environ, **ONE_THREAD, "PYTHONPATH": str(tree)}
    out = subprocess.run([sys.executable, "-c", CHILD, str(folder)], env=env, cwd=tree, capture_output=True,
                         text=True, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return pd.DataFrame(result["rows"]), result["startup_s"], result["run_s"]


def on_ray(folder: Path, out: Path, workers: int, batch_size: int) -> tuple[pd.DataFrame, float, float]:
    """(table, start-up s, songs per second in the steady state) of a local Ray run with ``workers`` actors."""
    started = time.time()
    table, _, _ = run_library(folder, out, workers=workers, batch_size=batch_size, progress=False)
    parts = sorted((p.stat().st_mtime, len(pd.read_parquet(p))) for p in (out / PARTS).glob("*.parquet"))
    first_at, first_rows = parts[0]
    steady_songs = sum(rows for _, rows in parts[1:])
    return table, first_at - started, steady_songs / max(parts[-1][0] - first_at, 1e-9)


def same(a: pd.DataFrame, b: pd.DataFrame) -> str:
    a, b = a.sort_values("path").reset_index(drop=True), b.sort_values("path").reset_index(drop=True)
    genres = int((a["genre"].fillna("") == b["genre"].fillna("")).sum())
    gap = float(np.nanmax(np.abs(a["probability"].astype(float) - b["probability"].astype(float))))
    return f"{genres}/{len(a)} genres equal, largest probability difference {gap:.1e}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True)
    parser.add_argument("--clips", type=int, default=200)
    parser.add_argument("--long", type=int, default=10)
    parser.add_argument("--baseline", help="a checkout of the code to compare with (its one-thread process)")
    args = parser.parse_args()
    os.environ.setdefault("RAY_ADDRESS", "")
    work = Path(tempfile.mkdtemp(prefix="library-bench-"))
    try:
        make_files(Path(args.data), work / "songs", args.clips, args.long)
        print(f"# library throughput per core — {os.cpu_count()} CPU cores, {time.strftime('%Y-%m-%d %H:%M')}, "
              f"load {os.getloadavg()[0]:.2f}")
        for part in ["clips"] + (["long"] if args.long else []):
            folder = work / "songs" / part
            n = len(list(folder.iterdir()))
            print(f"\n## {n} {'GTZAN clips (30 s)' if part == 'clips' else '4-minute songs'}")
            single, startup, run_s = one_thread_process(folder, ROOT)
            per_core = n / run_s * 60
            print(f"one process, one thread:  {per_core:7.1f} songs per core-minute ({run_s / n * 1000:.0f} core-ms/song; "
                  f"start-up {startup:.1f} s apart)")
            if args.baseline:
                before, b_startup, b_run = one_thread_process(folder, Path(args.baseline))
                b_per_core = n / b_run * 60
                print(f"  the same, {Path(args.baseline).name}: {b_per_core:7.1f} songs per core-minute "
                      f"({b_run / n * 1000:.0f} core-ms/song; start-up {b_startup:.1f} s) -> ours {per_core / b_per_core:.2f}x; "
                      f"{same(before, single)}")
            for workers in (1, 2):
                batch = 4 if part == "clips" else 1
                table, ray_startup, rate = on_ray(folder, work / f"out-{part}-{workers}", workers, batch)
                efficiency = rate * 60 / (workers * per_core)
                print(f"Ray, {workers} one-CPU worker{'s' if workers > 1 else ' '}: steady {rate * 60:7.1f} songs/min = "
                      f"{rate * 60 / workers:6.1f} per core-minute, {efficiency:.2f} x {workers} x the one-thread process; "
                      f"start-up {ray_startup:.1f} s (to the first batch of {batch}); {same(table, single)}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
