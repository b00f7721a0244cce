"""GTZAN-layout folders: indexing, the on-disk feature cache and clip-level splits."""
from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from genre_core.audio.decode import SUPPORTED_EXTENSIONS, load_audio
from genre_core.audio.errors import AudioError, DatasetError
from genre_core.features.config import GENRES, FeatureConfig
from genre_core.features.spectral import FEATURE_VERSIONS, compute_clip_features, handcrafted_features

CLIP_NAME = re.compile(r"^(?P<genre>[a-z]+)\.(?P<number>\d{5})$")
DATA_ENV = "GTZAN_DIR"


@dataclass(frozen=True)
class Clip:
    """One labelled clip. ``clip_id`` is GTZAN's name without extension, e.g. 'rock.00003'."""

    path: Path
    genre: str
    clip_id: str

    @property
    def label(self) -> int:
        return GENRES.index(self.genre)

    @property
    def relative_path(self) -> str:
        """'<genre>/<file>' as written in the split lists and stored reference predictions."""
        return f"{self.genre}/{self.path.name}"


@dataclass
class DatasetIndex:
    root: Path
    clips: list[Clip]
    skipped: list[tuple[str, str]]  # (file, reason) for files that could not be used

    def counts(self) -> dict[str, int]:
        return {g: sum(c.genre == g for c in self.clips) for g in GENRES}

    def labels(self) -> np.ndarray:
        return np.array([c.label for c in self.clips], dtype=np.int64)

    def report(self) -> str:
        lines = [f"{len(self.clips)} clips in {self.root}"]
        lines += [f"  {g:<10} {n}" for g, n in self.counts().items()]
        for name, reason in self.skipped:
            lines.append(f"  skipped {name}: {reason}")
        return "\n".join(lines)


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def counts_in_words(counts: dict[str, int], name=str) -> str:
    """Clip counts per genre as a phrase, largest first, genres with the same count together:
    'blues, classical, country, pop and rock 100 clips each; jazz 99; disco 24; hiphop 23; metal and reggae 20 each'."""
    groups: dict[int, list[str]] = {}
    for genre, n in counts.items():
        if n:
            groups.setdefault(n, []).append(name(genre))
    parts = []
    for i, (n, genres) in enumerate(sorted(groups.items(), key=lambda kv: -kv[0])):
        unit = (" clips each" if len(genres) > 1 else " clips") if i == 0 else (" each" if len(genres) > 1 else "")
        parts.append(f"{_join(genres)} {n}{unit}")
    return "; ".join(parts) if parts else "no clips"


def balance_in_words(counts: dict[str, int], name=str) -> str:
    """One sentence on how balanced the clips are, from the counts alone; ``name`` spells a genre label."""
    present = {g: n for g, n in counts.items() if n}
    if not present:
        return "There are no clips."
    missing = [g for g, n in counts.items() if not n]
    low, high = min(present.values()), max(present.values())
    sentence = (f"Every genre has {high} clips." if low == high
                else f"The clips are unbalanced ({high / low:.0f}:1): {counts_in_words(present, name)}.")
    if missing:
        sentence += f" No clips of {_join([name(g) for g in missing])}."
    return sentence


def balanced_accuracy_in_words(counts: dict[str, int]) -> str:
    """Why balanced accuracy leads, in terms of these clip counts (ends without a full stop)."""
    present = [n for n in counts.values() if n]
    if not present or min(present) == max(present):
        return "with the same number of clips in every genre it equals accuracy"
    return f"so the {max(present)}-clip genres cannot hide the {min(present)}-clip ones"


def default_data_dir() -> Path | None:
    """The GTZAN folder named by $GTZAN_DIR, if set and present."""
    value = os.environ.get(DATA_ENV)
    return Path(value) if value and Path(value).is_dir() else None


def index_dataset(root: str | os.PathLike, check_audio: bool = False) -> DatasetIndex:
    """List ``<genre>/<genre>.NNNNN.<ext>`` clips under ``root``, sorted by name.

    With ``check_audio`` every file is decoded once and unreadable ones are skipped with a reason
    (GTZAN's jazz.00054 is corrupt in most copies).
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"Dataset folder not found: {root}")
    clips: list[Clip] = []
    skipped: list[tuple[str, str]] = []
    for genre in GENRES:
        folder = root / genre
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            if path.suffix.lower() not in SUPPORTED_EXTENSIONS:
                continue
            match = CLIP_NAME.match(path.stem)
            if not match or match["genre"] != genre:
                skipped.append((f"{genre}/{path.name}", "name does not follow <genre>.NNNNN"))
                continue
            if check_audio:
                try:
                    load_audio(path)
                except AudioError as exc:
                    skipped.append((f"{genre}/{path.name}", str(exc)))
                    continue
            clips.append(Clip(path, genre, path.stem))
    if not clips:
        raise DatasetError(f"No GTZAN clips (<genre>/<genre>.NNNNN.wav|au|ogg|...) found under {root}")
    return DatasetIndex(root, clips, skipped)


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:20]


class FeatureCache:
    """Per-clip features on disk, keyed by file content hash and feature config.

    Image features are stored as float16 (n_bins, n_frames) arrays; a second run reads them back
    instead of decoding and transforming the audio again.
    """

    def __init__(self, directory: str | os.PathLike | None, cfg: FeatureConfig) -> None:
        self.directory = Path(directory) / cfg.key() if directory else None
        self.cfg = cfg
        self.hits = 0
        self.misses = 0
        self._digests: dict[Path, str] = {}  # one read of each file, whatever number of kinds is asked
        if self.directory:
            self.directory.mkdir(parents=True, exist_ok=True)

    def _path(self, clip: Clip, kind: str) -> Path | None:
        if self.directory is None:
            return None
        if clip.path not in self._digests:
            self._digests[clip.path] = file_digest(clip.path)
        return self.directory / f"{clip.clip_id}-{self._digests[clip.path]}-{kind}-v{FEATURE_VERSIONS[kind]}.npy"

    def get(self, clip: Clip, kind: str) -> np.ndarray:
        """``kind`` is a representation name or 'handcrafted'; float32 result."""
        path = self._path(clip, kind)
        if path is not None and path.exists():
            self.hits += 1
            return np.load(path).astype(np.float32)
        self.misses += 1
        samples = load_audio(clip.path, self.cfg.sample_rate).samples
        if kind == "handcrafted":
            value = handcrafted_features(samples, self.cfg)
        else:
            value = compute_clip_features(samples, self.cfg, (kind,))[kind]
        if path is not None:
            tmp = path.with_suffix(".tmp.npy")
            np.save(tmp, value.astype(np.float16 if kind != "handcrafted" else np.float32))
            tmp.replace(path)  # atomic: an interrupted run never leaves a half-written entry
        return value.astype(np.float32)


def default_cache_dir() -> Path:
    return Path(os.environ.get("GENRE_CACHE_DIR", Path.home() / ".cache" / "genre_core"))


# ---- splits: always by clip, never by window ----

def stratified_folds(labels: np.ndarray, k: int = 5, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Clip indices (train, test) for each of ``k`` stratified folds."""
    counts = np.bincount(labels) if len(labels) else np.zeros(1, dtype=int)
    smallest = int(counts[counts > 0].min()) if counts.any() else 0
    if k < 2 or smallest < k:
        raise DatasetError(f"{k}-fold needs at least {k} clips of every genre (smallest has {smallest}).")
    from sklearn.model_selection import StratifiedKFold  # seconds to import; not needed to classify

    splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    return [(tr, te) for tr, te in splitter.split(np.zeros(len(labels)), labels)]


def inner_validation_split(labels: np.ndarray, fraction: float = 0.15, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Positions (train, validation) inside a training set, stratified, at least one per genre."""
    rng = np.random.default_rng(seed)
    val: list[int] = []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        n_val = max(1, int(round(fraction * len(members))))
        val.extend(members[:n_val].tolist())
    val_arr = np.array(sorted(val), dtype=np.int64)
    return np.setdiff1d(np.arange(len(labels)), val_arr), val_arr


def read_split_list(path: Path) -> list[str]:
    """Clip ids ('rock.00003') from a published split file of 'genre/genre.NNNNN.wav' lines."""
    ids = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if line:
            ids.append(Path(line).stem)
    return ids


def artist_filtered_split(index: DatasetIndex, min_coverage: float = 0.0) -> dict[str, np.ndarray] | None:
    """The Kereliuk/Sturm/Larsen artist-disjoint split as clip indices, restricted to the clips present.

    Returns None when ``splits/`` is missing, when the train or test part has no clip here, or when
    fewer than ``min_coverage`` of the listed clips exist. On the full dataset it is the published split.
    """
    folder = index.root / "splits"
    names = {part: folder / f"{part}_filtered.txt" for part in ("train", "valid", "test")}
    if not all(p.exists() for p in names.values()):
        return None
    position = {c.clip_id: i for i, c in enumerate(index.clips)}
    out: dict[str, np.ndarray] = {}
    wanted = found = 0
    for part, path in names.items():
        ids = read_split_list(path)
        present = [position[i] for i in ids if i in position]
        wanted += len(ids)
        found += len(present)
        out[part] = np.array(present, dtype=np.int64)
    if wanted == 0 or found / wanted < min_coverage or not len(out["train"]) or not len(out["test"]):
        return None
    return out


def iter_clip_features(
    index: DatasetIndex, cache: FeatureCache, kind: str, progress: bool = True
) -> Iterator[np.ndarray]:
    from tqdm import tqdm

    for clip in tqdm(index.clips, desc=f"{kind} features", unit="clip", disable=not progress):
        yield cache.get(clip, kind)
