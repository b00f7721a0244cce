"""A classified music library as a table: which files to classify (a folder, a list of paths, a manifest CSV),
one row per file, the parts written while a run goes on (so an interrupted run resumes), the summary, and
one M3U8 playlist per genre.

The table's columns are ``COLUMNS``; ``file_key`` (path, size, modification time) decides whether a file
already in the results is done or changed since.
"""
from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from genre_core.audio.decode import SUPPORTED_EXTENSIONS
from genre_core.features.config import GENRES
from genre_core.outputs.text import csv_text, genre_name
from genre_core.serving.zoo import Classification, ModelZoo

COLUMNS = ["path", "size_bytes", "mtime", "duration_s", "genre", "probability", "second_genre",
           "second_probability", "state", "agreement", "models_run", "top_tags", "warnings", "error", "node"]
PARTS = "parts"  # folder of the results folder holding one Parquet file per finished batch
TABLE = "library.parquet"
CSV = "library.csv"
PLAYLIST = ".m3u8"
# The answers in doubt as people read them ("not sure"; stored as Verdict.state spells them): the page's words,
# and the names of their playlists (such songs get a list of their own, not a place in a genre's)
STATE_WORDS = {"unsure": "not sure", "not_music": "not music"}
NO_SUCH_FILE = "no such file"


@dataclass(frozen=True)
class FileEntry:
    path: str
    size_bytes: int
    mtime: float

    @property
    def key(self) -> tuple[str, int, float]:
        return self.path, self.size_bytes, round(self.mtime, 3)


def _entry(path: Path) -> FileEntry:
    stat = path.stat()
    return FileEntry(str(path.resolve()), int(stat.st_size), float(stat.st_mtime))


def list_sources(source: str | os.PathLike) -> tuple[list[FileEntry], list[tuple[str, str]]]:
    """The audio files named by ``source`` and the ones that cannot be read at all, as (path, reason).

    ``source`` is a folder (walked recursively, by extension), a text file with one path per line, or a CSV
    with a ``path`` column; relative paths in a list are taken from the list's folder.
    """
    source = Path(source)
    missing: list[tuple[str, str]] = []
    if source.is_dir():
        paths = sorted(p for p in source.rglob("*") if p.is_file() and p.suffix.lower() in SUPPORTED_EXTENSIONS)
    elif source.is_file():
        if source.suffix.lower() == ".csv":
            frame = pd.read_csv(source)
            if "path" not in frame.columns:
                raise ValueError(f"{source} has no 'path' column")
            names = [str(p) for p in frame["path"].dropna()]
        else:
            names = [line.strip() for line in source.read_text(encoding="utf-8").splitlines() if line.strip()]
        paths = []
        for name in names:
            path = Path(name) if Path(name).is_absolute() else source.parent / name
            (paths.append(path) if path.is_file() else missing.append((os.path.abspath(path), NO_SUCH_FILE)))
    else:
        raise FileNotFoundError(f"{source} is neither a folder nor a list of files")
    return [_entry(p) for p in paths], missing


def result_row(entry: FileEntry, result: Classification | None, zoo: ModelZoo | None, error: str | None,
               node: str = "") -> dict:
    """One row of the library table for ``entry``: the headline answer, or the reason it has none.

    ``agreement`` (the share of the models that ran giving the answer's genre) is kept only when every stored
    model ran (``--all-models``): with the answer's models alone it says nothing (1 of 1, always).
    ``models_run`` is how many models gave an answer."""
    row = {"path": entry.path, "size_bytes": entry.size_bytes, "mtime": entry.mtime, "duration_s": None,
           "genre": None, "probability": None, "second_genre": None, "second_probability": None, "state": None,
           "agreement": None, "models_run": None, "top_tags": None, "warnings": None, "error": error, "node": node}
    if result is None:
        return row
    final = result.final
    order = np.argsort(final.probabilities)[::-1]
    tagged = result.tags(zoo.tagger) if zoo is not None else None
    every_model_ran = zoo is not None and not zoo.missing(result)
    row.update(duration_s=round(result.clip.duration, 2), genre=final.labels[order[0]],
               probability=round(float(final.probabilities[order[0]]), 6), second_genre=final.labels[order[1]],
               second_probability=round(float(final.probabilities[order[1]]), 6),
               state=result.verdict.state if result.verdict is not None else None,
               agreement=round(result.agreeing / len(result.predictions), 4) if every_model_ran else None,
               models_run=len(result.predictions),
               warnings=" ".join(result.warnings) or None)
    if tagged is not None:
        mean = tagged.mean_tags()
        row["top_tags"] = ", ".join(zoo.tagger.tags[i] for i in np.argsort(mean)[::-1][:5])
    return row


def read_done(out: str | os.PathLike) -> pd.DataFrame:
    """Every row written so far under ``out`` (parts of an unfinished run, or the finished table)."""
    out = Path(out)
    frames = [pd.read_parquet(p) for p in sorted((out / PARTS).glob("*.parquet"))] if (out / PARTS).is_dir() else []
    if not frames and (out / TABLE).exists():
        frames = [pd.read_parquet(out / TABLE)]
    if not frames:
        return pd.DataFrame(columns=COLUMNS)
    # a file classified again after it changed: its newest row wins; parts of an older version lack new columns
    rows = pd.concat(frames, ignore_index=True).drop_duplicates("path", keep="last").reset_index(drop=True)
    return with_every_column(rows)


def still_to_do(entries: list[FileEntry], done: pd.DataFrame) -> list[FileEntry]:
    """``entries`` not in ``done`` with the same size and modification time (new or changed files)."""
    done = done[done["size_bytes"].notna()]  # a listed file that was missing has a row but no key
    known = {(p, int(s), round(float(m), 3)) for p, s, m in zip(done["path"], done["size_bytes"], done["mtime"])}
    return [e for e in entries if e.key not in known]


def write_part(out: str | os.PathLike, rows: list[dict], number: int) -> Path:
    """One finished batch, written atomically (a run killed mid-write leaves no half part)."""
    folder = Path(out) / PARTS
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"part-{number:06d}.parquet"
    tmp = path.with_suffix(".tmp")
    pd.DataFrame(rows, columns=COLUMNS).to_parquet(tmp, index=False)
    tmp.replace(path)
    return path


def next_part_number(out: str | os.PathLike) -> int:
    folder = Path(out) / PARTS
    numbers = [int(p.stem.split("-")[1]) for p in folder.glob("part-*.parquet")] if folder.is_dir() else []
    return max(numbers, default=-1) + 1


def finish_table(out: str | os.PathLike, entries: list[FileEntry], missing: list[tuple[str, str]] = ()) -> pd.DataFrame:
    """The results of ``entries`` (in their order), then one row per ``missing`` (path, reason) file, as
    ``library.parquet`` and a spreadsheet-safe ``library.csv``."""
    out = Path(out)
    done = read_done(out).set_index("path")
    table = done.reindex([e.path for e in entries if e.path in done.index]).reset_index()[COLUMNS]
    if missing:
        absent = pd.DataFrame([{**dict.fromkeys(COLUMNS), "path": path, "error": reason} for path, reason in missing],
                              columns=COLUMNS)
        table = pd.concat([table.astype(object), absent], ignore_index=True)
        table = table.astype({"size_bytes": "Int64", "mtime": float, "duration_s": float, "probability": float,
                              "second_probability": float, "agreement": float})
    tmp = out / (TABLE + ".tmp")
    table.to_parquet(tmp, index=False)
    tmp.replace(out / TABLE)
    (out / CSV).write_text(csv_text(table), encoding="utf-8")
    return table


def _playlist_entry(path: str, folder: Path) -> str:
    """How a playlist in ``folder`` names the song at absolute ``path``: relative to the folder when both lie
    under one top folder (they can move together), else absolute; a file URI when the name would break the
    one-entry-a-line format (a line break, spaces at an end, bytes that are not UTF-8)."""
    try:
        shared = os.path.commonpath([path, str(folder)])
        line = os.path.relpath(path, folder) if Path(shared) != Path(shared).parent else path
    except ValueError:  # another drive
        line = path
    line = "./" + line if line.startswith("#") else line  # a line starting with '#' is a comment
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:
        return Path(path).as_uri()
    return Path(path).as_uri() if re.search(r"[\r\n]", line) or line != line.strip() else line


def write_playlists(out: str | os.PathLike, table: pd.DataFrame) -> list[Path]:
    """One M3U8 playlist per genre in ``out`` (``hip-hop.m3u8``: named as the app spells the genre, since a
    music player shows the file name), holding the songs classified with no doubt about their kind (confident
    or mixed genres), and one per answer in doubt (``not sure.m3u8``, ``not music.m3u8``). Rewritten from the
    whole table, so a resumed run's lists hold the earlier songs; a list that is now empty is removed.
    Returns the playlists written."""
    out = Path(out)
    folder = out.resolve()
    lists: dict[str, list[str]] = {}
    for row in table[table["error"].isna() & table["genre"].notna()].itertuples():
        name = STATE_WORDS.get(row.state) or genre_name(row.genre)
        seconds = -1 if pd.isna(row.duration_s) else round(float(row.duration_s))
        title = re.sub(r"\s+", " ", Path(row.path).name).strip()
        lists.setdefault(name, []).append(f"#EXTINF:{seconds},{title}\n{_playlist_entry(row.path, folder)}\n")
    for name in ({genre_name(g) for g in GENRES} | set(STATE_WORDS.values())) - set(lists):
        (out / (name + PLAYLIST)).unlink(missing_ok=True)
    written = []
    for name, entries in sorted(lists.items()):
        path = out / (name + PLAYLIST)
        tmp = path.with_suffix(".tmp")
        tmp.write_text("#EXTM3U\n" + "".join(entries), encoding="utf-8", errors="replace")
        tmp.replace(path)
        written.append(path)
    return written


def summary_lines(table: pd.DataFrame, missing: list[tuple[str, str]] = ()) -> list[str]:
    """Genres counted (hip-hop spelled for people) and files failed by reason, for the end of a run."""
    good = table[table["error"].isna()]
    lines = [f"{len(good)} of {counted(len(table) + len(missing), 'file')} classified"]
    lines += [f"  {genre_name(genre):<10} {n}" for genre, n in good["genre"].value_counts().items()]
    failed = table[table["error"].notna()]
    reasons = Counter(_reason(error, path) for path, error in zip(failed["path"], failed["error"]))
    reasons.update(reason for _, reason in missing)
    if reasons:
        lines.append(f"{sum(reasons.values())} failed:")
        lines += [f"  {n:>5}  {reason}" for reason, n in reasons.most_common()]
    unsure = int((good["state"] == "unsure").sum()) if "state" in good else 0
    if unsure:
        lines.append(f"{counted(unsure, 'answer')} {'is' if unsure == 1 else 'are'} 'not sure' (state column)")
    return lines


def _reason(error: str, path: str) -> str:
    """An error message without the file's own name, so the same failure counts once."""
    return error.replace(f"'{Path(path).name}'", "the file").replace(path, "the file")


def read_table(path: str | os.PathLike) -> pd.DataFrame:
    """A finished results table (library.parquet or library.csv, or the folder holding them); raises
    ValueError in words when it is not one."""
    path = Path(path)
    if path.is_dir():
        path = path / TABLE if (path / TABLE).exists() else path / CSV
    if not path.is_file():
        raise ValueError(f"{path} is not a results file: run `genre-core library SOURCE --out FOLDER` first.")
    try:
        table = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    except Exception as exc:  # pyarrow and pandas raise many types for a file that is not a table
        raise ValueError(f"{path} could not be read as a table ({exc}).") from exc
    absent = [c for c in ("path", "genre", "probability", "error") if c not in table.columns]
    if absent:
        raise ValueError(f"{path} is not a library results table (no {', '.join(absent)} column).")
    return with_every_column(table)


def with_every_column(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with the columns an older version did not write (``models_run``) added, empty: unknown."""
    return table.reindex(columns=[*COLUMNS, *(c for c in table.columns if c not in COLUMNS)])


def counted(n: int, noun: str) -> str:
    """'1 song', '3 songs' (``noun`` takes an s)."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def library_root(paths: pd.Series) -> str:
    """The folder holding every file of the table (their deepest common folder)."""
    folders = [os.path.dirname(str(p)) for p in paths]
    try:
        return os.path.commonpath(folders) if folders else ""
    except ValueError:  # relative and absolute paths mixed, or several drives: no common folder
        return ""


def song_name(path: str, root: str) -> str:
    """``path`` relative to the library's ``root`` ('album/01 Intro.mp3'), or as stored if outside it."""
    try:
        return os.path.relpath(path, root) if root else str(path)
    except ValueError:  # another drive on Windows
        return str(path)


def agreement_words(table: pd.DataFrame) -> pd.Series:
    """'4 of 8' (models giving the answer's genre, of the models that ran) where agreement was measured, else
    empty: a default run, or a table that does not say how many models ran."""
    measured = table["agreement"].notna() & table["models_run"].notna()
    words = pd.Series(None, index=table.index, dtype=object)
    runs = table.loc[measured, "models_run"].astype(int)
    agreeing = (table.loc[measured, "agreement"].astype(float) * runs).round().astype(int)
    words[measured] = [f"{a} of {n}" for a, n in zip(agreeing, runs)]
    return words


def for_people(table: pd.DataFrame, root: str | None = None) -> pd.DataFrame:
    """The library table as the page shows it: headers in words, each song's file name and its folder relative
    to ``root`` (default: the library's folder), genres spelled for people, probabilities in % (0-100),
    agreement only where measured. Same index as ``table``."""
    table = with_every_column(table)
    root = library_root(table["path"]) if root is None else root
    shown = pd.DataFrame(index=table.index)
    shown["path in the library"] = [song_name(p, root) for p in table["path"]]
    shown["song"] = [os.path.basename(str(p)) for p in table["path"]]
    shown["folder"] = [os.path.dirname(name) for name in shown["path in the library"]]
    shown["genre"] = table["genre"].map(genre_name, na_action="ignore")
    shown["probability"] = table["probability"].astype(float) * 100
    shown["second genre"] = table["second_genre"].map(genre_name, na_action="ignore")
    shown["second genre's probability"] = table["second_probability"].astype(float) * 100
    shown["state"] = table["state"].map(lambda s: STATE_WORDS.get(s, s), na_action="ignore")
    shown["models agreeing"] = agreement_words(table)
    shown["seconds"] = table["duration_s"].astype(float)
    shown["tags"] = table["top_tags"]
    shown["warnings"] = table["warnings"]
    shown["why"] = table["error"]
    return shown
