"""Fingerprint every model input of every dataset clip, to prove two versions of the code compute the same.

For each clip: the sha256 of its spectrogram, mel and MFCC images, its handcrafted summary and its loudness, as
the app computes them (``ClipAnalysis`` with the app's patch limit). Run it on two checkouts and compare:

    PYTHONPATH=/tmp/before .venv/bin/python scripts/feature_fingerprints.py --data ../shared/gtzan > before.txt
    .venv/bin/python scripts/feature_fingerprints.py --data ../shared/gtzan > after.txt
    cmp before.txt after.txt && echo identical

Identical fingerprints mean every window model and the SVM give the same answers on those clips (same inputs,
same weights); `genre-core evaluate` checks the stored reference predictions as well.
"""
from __future__ import annotations

import argparse
import hashlib

import numpy as np

from genre_core.audio.decode import load_audio
from genre_core.features.config import DEFAULT_FEATURES
from genre_core.features.dataset import index_dataset
from genre_core.models.predict import ClipAnalysis

MAX_PATCHES = 32  # the app's limit (serving.zoo.DEFAULT_MAX_PATCHES; written out so older checkouts run this too)


def fingerprint(path: str) -> str:
    cfg = DEFAULT_FEATURES
    analysis = ClipAnalysis(load_audio(path, cfg.sample_rate), MAX_PATCHES)
    digest = hashlib.sha256()
    for representation in ("spectrogram", "mel", "mfcc"):
        digest.update(np.ascontiguousarray(analysis.image(cfg, representation)).tobytes())
    digest.update(analysis.handcrafted(cfg).tobytes())
    digest.update(np.float64(analysis.loudness_db(cfg)).tobytes())
    return digest.hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="a GTZAN-layout folder")
    for clip in index_dataset(parser.parse_args().data).clips:
        print(clip.clip_id, fingerprint(str(clip.path)), flush=True)


if __name__ == "__main__":
    main()
