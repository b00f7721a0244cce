"""A classified library for the Library page's tests: real files, real classifications, written with the
library's own functions (parts, then library.parquet and library.csv)."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf
from conftest import SR, chirp

HOSTILE = "*bold* <b>x</b> =1+1.mp3"  # its "/" makes a folder: the song is this text relative to the library
INTROS = ["Album A/01 Intro.mp3", "Album B/01 Intro.mp3"]
ALL_MODELS = "live/jazz.00001.ogg"  # the one song classified with --all-models
UNSURE = "mixes/rock+disco.wav"  # rock.00003 and disco.00003 mixed: the headline is not sure (p ≈ 0.38)


def write_library(gtzan: Path, songs: Path, out: Path) -> pd.DataFrame:
    """Songs under ``songs`` classified into ``out``: two '01 Intro.mp3' in different folders, a hostile name
    and a hip-hop clip (default run: the answer's models only), one clip run with every model, a mix the
    answer is not sure about, and a file that is not audio. Returns the finished table."""
    from genre_core.library.engine import classify_entries
    from genre_core.library.results import finish_table, list_sources, write_part
    from genre_core.serving.zoo import ModelZoo

    for name in [*INTROS, HOSTILE, ALL_MODELS, UNSURE, "hiphop/hiphop.00005.ogg"]:
        (songs / name).parent.mkdir(parents=True, exist_ok=True)
    for name, f0 in zip(INTROS, (110.0, 300.0)):
        sf.write(songs / name, chirp(6.0, f0=f0), SR, format="MP3")
    sf.write(songs / HOSTILE, chirp(5.0, f0=200.0), SR, format="MP3")
    shutil.copy(gtzan / "hiphop" / "hiphop.00005.ogg", songs / "hiphop" / "hiphop.00005.ogg")
    shutil.copy(gtzan / "jazz" / "jazz.00001.ogg", songs / ALL_MODELS)
    rock, rate = sf.read(gtzan / "rock" / "rock.00003.ogg")
    disco, _ = sf.read(gtzan / "disco" / "disco.00003.ogg")
    n = min(len(rock), len(disco))
    sf.write(songs / UNSURE, ((rock[:n] + disco[:n]) / 2).astype(np.float32), rate, subtype="PCM_16")
    (songs / "notes.wav").write_text("not audio\n" * 100)

    entries, _ = list_sources(songs)
    zoo = ModelZoo.load(defer=True)
    everything = [e for e in entries if e.path.endswith(ALL_MODELS)]
    write_part(out, classify_entries(zoo, [e for e in entries if e not in everything]), 0)
    write_part(out, classify_entries(zoo, everything, all_models=True), 1)  # a later run with --all-models
    return finish_table(out, entries)
