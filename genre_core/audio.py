"""Decoding any common audio file into mono float32 at the model's sample rate."""
from __future__ import annotations

import io
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Union

import librosa
import numpy as np
import soundfile as sf

from .errors import (
    AudioTooLongError,
    AudioTooShortError,
    CorruptAudioError,
    EmptyAudioError,
    NotAudioError,
    SilentAudioError,
)

AudioSource = Union[str, os.PathLike, bytes, BinaryIO]

MAX_SECONDS = 10 * 60  # longer input is refused: a song, not a DJ set or an album
SILENCE_PEAK = 1e-4  # about -80 dBFS: nothing audible to classify below this
LOW_SAMPLE_RATE = 16000  # below this the upper spectrum the models use is missing
SUPPORTED_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".mp3", ".au", ".snd", ".aiff", ".aif")


@dataclass(frozen=True)
class AudioClip:
    """Decoded audio. ``samples`` has shape (n_samples,), float32, mono, at ``sample_rate``."""

    samples: np.ndarray
    sample_rate: int
    original_sample_rate: int
    original_channels: int
    warnings: tuple[str, ...] = field(default=())

    @property
    def duration(self) -> float:
        return len(self.samples) / self.sample_rate


def _describe(source: AudioSource) -> str:
    if isinstance(source, (str, os.PathLike)):
        return f"'{Path(source).name}'"
    return "the uploaded file"


def _open(source: AudioSource) -> tuple[BinaryIO | str, int]:
    """Return something soundfile can read and its size in bytes."""
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.exists():
            raise FileNotFoundError(f"No such file: {path}")
        if path.is_dir():
            raise NotAudioError(f"'{path}' is a folder, not an audio file.")
        return str(path), path.stat().st_size
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        return io.BytesIO(data), len(data)
    data = source.read()
    return io.BytesIO(data), len(data)


def _announced_data_bytes(extra_info: str) -> tuple[int, int] | None:
    """(declared, present) data sizes when libsndfile reports a header larger than the file."""
    match = re.search(r"data\s*:\s*(\d+)\s*\(should be (\d+)\)", extra_info)
    if match and int(match[1]) > int(match[2]):
        return int(match[1]), int(match[2])
    return None


def load_audio(
    source: AudioSource,
    target_sr: int = 22050,
    min_seconds: float = 0.0,
    max_seconds: float = MAX_SECONDS,
) -> AudioClip:
    """Decode ``source`` (path, bytes or file object), mix to mono and resample to ``target_sr``.

    Raises an :class:`~genre_core.errors.AudioError` subclass with a message meant for a
    person when the file is empty, not audio, broken, too short, too long or silent.
    """
    name = _describe(source)
    handle, size = _open(source)
    if size == 0:
        raise EmptyAudioError(f"{name} is empty (0 bytes).")
    try:
        info = sf.info(handle)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        raise NotAudioError(
            f"{name} is not an audio file we can read. Supported formats: WAV, FLAC, OGG, MP3, AU."
        ) from exc
    if info.frames <= 0 or info.samplerate <= 0:
        raise EmptyAudioError(f"{name} contains no audio samples.")
    declared_seconds = info.frames / info.samplerate
    if declared_seconds > max_seconds:
        raise AudioTooLongError(
            f"{name} is {declared_seconds / 60:.1f} minutes long; the limit is "
            f"{max_seconds / 60:.0f} minutes. Trim it to the part you want classified."
        )
    if hasattr(handle, "seek"):
        handle.seek(0)
    try:
        data, sr = sf.read(handle, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, ValueError) as exc:
        raise CorruptAudioError(f"{name} is damaged and could not be decoded ({exc}).") from exc

    warnings: list[str] = []
    if data.shape[0] == 0:
        raise CorruptAudioError(f"{name} has a header but no audio data (the file is truncated).")
    announced = _announced_data_bytes(info.extra_info)
    if announced is not None:
        declared, present = announced
        warnings.append(
            f"{name} is truncated: its header announces {declared / max(present, 1) * data.shape[0] / sr:.1f} s "
            f"but only {data.shape[0] / sr:.1f} s are present. The available part was used."
        )
    if not np.all(np.isfinite(data)):
        raise CorruptAudioError(f"{name} contains invalid sample values (NaN or infinity).")

    samples = data.mean(axis=1, dtype=np.float32)
    if sr < LOW_SAMPLE_RATE:
        warnings.append(
            f"{name} is recorded at {sr} Hz, so everything above {sr // 2} Hz is missing; "
            "the models were trained on 22 kHz audio and may be less reliable."
        )
    if sr != target_sr:
        samples = librosa.resample(samples, orig_sr=sr, target_sr=target_sr, res_type="soxr_hq")
    samples = np.ascontiguousarray(samples, dtype=np.float32)

    duration = len(samples) / target_sr
    if duration < min_seconds:
        raise AudioTooShortError(
            f"{name} is only {duration:.2f} s long; at least {min_seconds:g} s are needed "
            "to hear a genre (one analysis window)."
        )
    if float(np.max(np.abs(samples))) < SILENCE_PEAK:
        raise SilentAudioError(f"{name} is silent: there is nothing audible to classify.")
    return AudioClip(samples, target_sr, int(sr), int(info.channels), tuple(warnings))
