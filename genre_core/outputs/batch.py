"""Many files at once: one row per file (genre, confidence, agreement, state), bad files with their reason."""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable

import pandas as pd

from genre_core.audio.decode import SUPPORTED_EXTENSIONS, AudioSource
from genre_core.audio.errors import GenreCoreError
from genre_core.serving.zoo import Classification, ModelZoo

COLUMNS = ["file", "genre", "confidence", "agreement", "state", "duration_s", "warnings", "problem"]


def audio_files(folder: str | Path) -> list[Path]:
    """Audio files under ``folder`` (recursively, by extension), sorted by path."""
    return sorted(p for p in Path(folder).rglob("*") if p.is_file() and p.suffix.lower() in SUPPORTED_EXTENSIONS)


def result_row(name: str, result: Classification) -> dict:
    """One table row: ``confidence`` is the headline probability of the genre, ``agreement`` the share
    of the models that ran whose top genre it is; ``warnings`` what decoding noticed (cut short, damaged, low rate)."""
    final = result.final
    genre = final.vote_label
    return {"file": name, "genre": genre,
            "confidence": round(float(final.probabilities[final.labels.index(genre)]), 4),
            "agreement": round(result.agreeing / len(result.predictions), 4),
            "state": result.verdict.state if result.verdict is not None else None,
            "duration_s": round(result.clip.duration, 2), "warnings": " ".join(result.warnings) or None, "problem": None}


def table(rows: list[dict]) -> pd.DataFrame:
    """Rows of :func:`result_row` (or ``{"file", "problem"}`` for a file that failed) as the ``COLUMNS`` table."""
    return pd.DataFrame(rows, columns=COLUMNS)


def classify_many(zoo: ModelZoo, items: Iterable[tuple[str, AudioSource]],
                  progress: Callable[[int, str], None] | None = None) -> pd.DataFrame:
    """Classify every (name, source) with every model; a file that fails gets its reason, the rest go on.

    ``progress(i, name)`` is called before the i-th file (0-based). Columns: ``COLUMNS`` (see :func:`result_row`).
    """
    rows = []
    for i, (name, source) in enumerate(items):
        if progress:
            progress(i, name)
        try:
            result = zoo.classify(source)
        except (GenreCoreError, FileNotFoundError) as exc:
            rows.append({"file": name, "problem": str(exc)})
            continue
        except Exception as exc:  # one odd file must not stop the others; its reason is listed
            rows.append({"file": name, "problem": f"unexpected error: {exc}"})
            continue
        rows.append(result_row(name, result))
    return table(rows)


__all__ = ["COLUMNS", "audio_files", "classify_many", "result_row", "table"]
