"""Provenance of the data a model saw, and the dataset summary the app reads (per-genre average mel/MFCC
images, clip counts, hashes of the training clips)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from genre_core.features.config import GENRES
from genre_core.features.dataset import DatasetIndex, FeatureCache
from genre_core.models import artifacts as art
from genre_core.models.artifacts import SUMMARY_DIR


def provenance(index: DatasetIndex, protocol: str) -> dict:
    return {
        "dataset": "GTZAN (Tzanetakis & Cook 2002), GTZAN folder layout",
        "root_name": index.root.name,
        "n_clips": len(index.clips),
        "clips_per_genre": index.counts(),
        "clip_ids": [c.clip_id for c in index.clips],
        "skipped": index.skipped,
        "protocol": protocol,
    }


def training_clip_hashes(index: DatasetIndex) -> dict[str, dict[str, str]]:
    """sha256 of every training file's bytes, and of its original 16-bit PCM where the copy's manifest.csv
    gives it (GTZAN's own .wav/.au files then match too), so an uploaded training clip is recognised."""
    import hashlib

    files = {hashlib.sha256(c.path.read_bytes()).hexdigest(): c.clip_id for c in index.clips}
    pcm: dict[str, str] = {}
    manifest = index.root / "manifest.csv"
    if manifest.exists():
        table = pd.read_csv(manifest)
        if {"file", "original_pcm_sha256"} <= set(table.columns):
            present = {c.clip_id for c in index.clips}
            for file, digest in zip(table["file"], table["original_pcm_sha256"]):
                if Path(file).stem in present:
                    pcm[str(digest)] = Path(file).stem
    return {"file_sha256": files, "pcm_sha256": pcm}


def write_dataset_summary(index: DatasetIndex, cache: FeatureCache, models_dir: Path, progress: bool = True) -> Path:
    """Average mel (n_mels, T) and MFCC (n_mfcc, T) image of every genre, aligned at the clip start."""
    from tqdm import tqdm

    sums: dict[str, dict[str, np.ndarray]] = {}
    counts = {g: 0 for g in GENRES}
    n_frames = None
    for clip in tqdm(index.clips, desc="genre averages", unit="clip", disable=not progress):
        mel, mfcc = cache.get(clip, "mel"), cache.get(clip, "mfcc")
        # GTZAN clips differ by a few frames; 30 s = 1292 frames at 22050 Hz / hop 512
        n_frames = min(n_frames or mel.shape[1], mel.shape[1], 1292)
        entry = sums.setdefault(clip.genre, {"mel": np.zeros((mel.shape[0], 1292)), "mfcc": np.zeros((mfcc.shape[0], 1292))})
        entry["mel"][:, : mel.shape[1]] += mel[:, :1292]
        entry["mfcc"][:, : mfcc.shape[1]] += mfcc[:, :1292]
        counts[clip.genre] += 1
    genres = [g for g in GENRES if counts[g]]
    folder = models_dir / SUMMARY_DIR
    folder.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        folder / "genre_averages.npz",
        genres=np.array(genres),
        mel=np.stack([sums[g]["mel"][:, :n_frames] / counts[g] for g in genres]).astype(np.float16),
        mfcc=np.stack([sums[g]["mfcc"][:, :n_frames] / counts[g] for g in genres]).astype(np.float16),
    )
    art.write_json(folder / "summary.json", {
        "feature_config": cache.cfg.to_dict(), "seconds_per_frame": cache.cfg.seconds_per_frame,
        "clips_per_genre": counts, "n_frames": n_frames, "data": provenance(index, "all clips of the copy"),
        "training_clip_hashes": training_clip_hashes(index),
    })
    return folder
