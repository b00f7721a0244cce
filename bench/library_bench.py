"""Throughput of `genre-core library`: songs per minute in one process, on Ray with 1 and 2 workers on this
machine, and on a two-node local Ray cluster (head + worker node on loopback); results compared row by row.

    .venv/bin/python bench/library_bench.py --data ../shared/gtzan [--clips 200] [--long 20] [--skip-cluster]

GTZAN clips are copied as they are; "long" songs are 4-minute WAVs made of eight clips of one genre. Every
figure includes reading and decoding the files; the Ray figures include the actors loading the models
(reported separately as the run's fixed cost).
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # the local cluster stays on loopback

from genre_core.audio.decode import load_audio  # noqa: E402
from genre_core.features.dataset import index_dataset  # noqa: E402
from genre_core.library.engine import classify_entries, run_library  # noqa: E402
from genre_core.library.results import list_sources  # noqa: E402
from genre_core.serving.zoo import ModelZoo  # noqa: E402


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


def one_process(folder: Path) -> tuple[pd.DataFrame, float, float]:
    started = time.perf_counter()
    zoo = ModelZoo.load(defer=True)
    zoo.warm_up()
    loaded = time.perf_counter()
    entries, _ = list_sources(folder)
    rows = pd.DataFrame(classify_entries(zoo, entries))
    return rows, loaded - started, time.perf_counter() - loaded


def on_ray(folder: Path, out: Path, workers: int, address: str | None = None) -> tuple[pd.DataFrame, float]:
    started = time.perf_counter()
    table, _, _ = run_library(folder, out, workers=workers, address=address, progress=False)
    return table, time.perf_counter() - started


def same(a: pd.DataFrame, b: pd.DataFrame) -> str:
    a, b = a.sort_values("path").reset_index(drop=True), b.sort_values("path").reset_index(drop=True)
    genres = int((a["genre"].fillna("") == b["genre"].fillna("")).sum())
    gap = float(np.nanmax(np.abs(a["probability"].astype(float) - b["probability"].astype(float))))
    return f"{genres}/{len(a)} genres equal, largest probability difference {gap:.1e}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True)
    parser.add_argument("--clips", type=int, default=200)
    parser.add_argument("--long", type=int, default=20)
    parser.add_argument("--skip-cluster", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("RAY_ADDRESS", "")
    work = Path(tempfile.mkdtemp(prefix="library-bench-"))
    try:
        make_files(Path(args.data), work / "songs", args.clips, args.long)
        print(f"# library throughput — {os.cpu_count()} CPU cores, {time.strftime('%Y-%m-%d %H:%M')}")
        for part in ["clips"] + (["long"] if args.long else []):
            folder = work / "songs" / part
            n = len(list(folder.iterdir()))
            single, load_s, run_s = one_process(folder)
            print(f"\n## {n} {'GTZAN clips (30 s)' if part == 'clips' else '4-minute songs'}")
            print(f"one process:           {n / run_s * 60:7.1f} songs/min ({run_s / n * 1000:.0f} ms/song; models "
                  f"loaded in {load_s:.1f} s)")
            for workers in (1, 2):
                table, seconds = on_ray(folder, work / f"out-{part}-{workers}", workers)
                print(f"Ray, {workers} worker{'s' if workers > 1 else ' '}:         {n / seconds * 60:7.1f} songs/min "
                      f"({seconds / n * 1000:.0f} ms/song, start-up included; {same(table, single)})")
            if not args.skip_cluster and part == "clips":
                from ray.cluster_utils import Cluster

                cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "node_ip_address": "127.0.0.1",
                                                                        "include_dashboard": False})
                cluster.add_node(num_cpus=1, node_ip_address="127.0.0.1")
                try:
                    table, seconds = on_ray(folder, work / "out-cluster", 2, cluster.address)
                finally:
                    cluster.shutdown()
                print(f"Ray, 2-node cluster:   {n / seconds * 60:7.1f} songs/min (nodes used: "
                      f"{table['node'].nunique()}; rows per node {sorted(table['node'].value_counts().tolist())}; "
                      f"{same(table, single)})")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
