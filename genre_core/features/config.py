"""The one frozen feature configuration, written into every model and read back at inference."""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, fields
from typing import Any

GENRES: tuple[str, ...] = (
    "blues", "classical", "country", "disco", "hiphop",
    "jazz", "metal", "pop", "reggae", "rock",
)

# The one spelling of each genre in anything people read (labels inside the models, stored tables and file
# names stay GTZAN's folder names). Here, beside the labels, so every layer can say them; outputs.text
# re-exports it.
GENRE_NAMES = {"hiphop": "hip-hop"}


def genre_name(genre: str) -> str:
    """'hiphop' -> 'hip-hop'; every other GTZAN label is already a word."""
    return GENRE_NAMES.get(genre, genre)


REPRESENTATIONS: tuple[str, ...] = ("spectrogram", "mel", "mfcc")


@dataclass(frozen=True)
class FeatureConfig:
    """How audio becomes model input. Stored in every model's config.json."""

    sample_rate: int = 22050
    n_fft: int = 2048
    hop_length: int = 512
    n_mels: int = 128
    n_mfcc: int = 20
    window_seconds: float = 3.0
    overlap: float = 0.5

    def __post_init__(self) -> None:
        if not 0.0 <= self.overlap < 1.0:
            raise ValueError(f"overlap must be in [0, 1), got {self.overlap}")
        if self.window_seconds <= 0:
            raise ValueError(f"window_seconds must be positive, got {self.window_seconds}")

    @property
    def window_samples(self) -> int:
        return int(round(self.window_seconds * self.sample_rate))

    @property
    def frames_per_window(self) -> int:
        """STFT frames covering one window (frames are hop_length apart)."""
        return 1 + self.window_samples // self.hop_length

    @property
    def window_hop_frames(self) -> int:
        """Frames between the starts of two consecutive windows."""
        return max(1, int(round(self.frames_per_window * (1.0 - self.overlap))))

    @property
    def seconds_per_frame(self) -> float:
        return self.hop_length / self.sample_rate

    def n_bins(self, representation: str) -> int:
        """Rows of the feature image for a representation."""
        return {"spectrogram": 1 + self.n_fft // 2, "mel": self.n_mels, "mfcc": self.n_mfcc}[representation]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "FeatureConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown feature settings: {sorted(unknown)}")
        return cls(**data)

    def key(self) -> str:
        """Short stable hash, used to key the feature cache."""
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:12]


DEFAULT_FEATURES = FeatureConfig()
# The reference write-up with 82 % used 1.5 s windows with 50 % overlap.
SHORT_WINDOW_FEATURES = FeatureConfig(window_seconds=1.5)
