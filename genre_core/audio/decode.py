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

from genre_core.audio.errors import (
    AudioTooShortError,
    CorruptAudioError,
    EmptyAudioError,
    NotAudioError,
    SilentAudioError,
)

AudioSource = Union[str, os.PathLike, bytes, BinaryIO]

MAX_SECONDS = 10 * 60  # of longer input the first 10 minutes are analysed: a song, not a DJ set or an album
SILENCE_PEAK = 1e-4  # about -80 dBFS: nothing audible to classify below this
LOW_SAMPLE_RATE = 16000  # below this the upper spectrum the models use is missing
SUPPORTED_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".m4a", ".aac", ".mp4", ".webm", ".weba",
                        ".au", ".snd", ".aiff", ".aif")
FORMATS_IN_WORDS = "WAV, FLAC, OGG/Opus, MP3, M4A/AAC, WebM, AIFF or AU"
LOST_SECONDS_WORTH_A_WARNING = 1.0
# FFmpeg demuxers of the formats above. FFmpeg probes hundreds of formats and finds one with a low score in
# about 1 of 250 random blobs (EA CDATA audio, LRC subtitles); a file is only read as one of these.
FFMPEG_DEMUXERS = frozenset({"mp3", "mov", "mp4", "m4a", "3gp", "aac", "ogg", "matroska", "webm", "wav", "w64",
                             "flac", "aiff", "au"})


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
    return "The uploaded file"


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


# Container signatures that libsndfile reads well; everything else (MP3, MP4/M4A, WebM, ...) goes to FFmpeg,
# which also keeps libmpg123's resync chatter off the terminal.
SOUNDFILE_MAGIC = (b"RIFF", b"RIFX", b"RF64", b"fLaC", b"OggS", b"FORM", b".snd")


def _soundfile_format(handle) -> bool:
    if isinstance(handle, str):
        with open(handle, "rb") as f:
            head = f.read(4)
    else:
        handle.seek(0)
        head = handle.read(4)
        handle.seek(0)
    return head in SOUNDFILE_MAGIC


def _decode_soundfile(handle, name: str, max_seconds: float) -> tuple[np.ndarray, int, int, list[str]]:
    """(n_samples, n_channels) float32, rate, channels, warnings; raises CorruptAudioError when reading fails."""
    try:
        info = sf.info(handle)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        raise CorruptAudioError(f"{name} could not be opened by libsndfile.") from exc
    if info.frames <= 0 or info.samplerate <= 0:
        raise EmptyAudioError(f"{name} contains no audio samples.")
    warnings: list[str] = []
    max_frames = int(max_seconds * info.samplerate)
    if info.frames > max_frames:
        warnings.append(f"{name} is {info.frames / info.samplerate / 60:.1f} minutes long; the first "
                        f"{max_seconds / 60:.0f} minutes were analysed.")
    if hasattr(handle, "seek"):
        handle.seek(0)
    try:
        data, sr = sf.read(handle, frames=min(info.frames, max_frames), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, ValueError) as exc:
        raise CorruptAudioError(f"{name} is damaged and could not be decoded.") from exc
    if data.shape[0] == 0:
        raise CorruptAudioError(f"{name} has a header but no audio data (the file is truncated).")
    announced = _announced_data_bytes(info.extra_info)
    if announced is not None:
        declared, present = announced
        warnings.append(
            f"{name} is truncated: its header announces {declared / max(present, 1) * data.shape[0] / sr:.1f} s "
            f"but only {data.shape[0] / sr:.1f} s are present. The available part was used."
        )
    return data, int(sr), int(info.channels), warnings


def _not_audio(name: str) -> NotAudioError:
    return NotAudioError(f"{name} is not an audio file we can read. Supported formats: {FORMATS_IN_WORDS}.")


def _decode_ffmpeg(handle, name: str, max_seconds: float) -> tuple[np.ndarray, int, int, list[str]]:
    """Decode with FFmpeg (PyAV): MP3, M4A/AAC, Opus, WebM... Damaged frames are skipped and a file cut
    short is decoded as far as it goes, with a warning saying how much was lost."""
    import av

    if hasattr(handle, "seek"):
        handle.seek(0)
    try:
        container = av.open(handle, mode="r", metadata_errors="ignore")
    except (av.FFmpegError, ValueError, OSError) as exc:
        raise _not_audio(name) from exc
    with container:
        if not FFMPEG_DEMUXERS & set(container.format.name.split(",")):
            raise _not_audio(name)
        if not container.streams.audio:
            raise NotAudioError(f"{name} has no audio track. Supported formats: {FORMATS_IN_WORDS}.")
        stream = container.streams.audio[0]
        stream.thread_type = "AUTO"
        rate, channels = stream.codec_context.sample_rate, stream.codec_context.channels
        if not rate:
            raise _not_audio(name)
        expected = (float(stream.duration * stream.time_base) if stream.duration
                    else container.duration / av.time_base if container.duration else None)
        to_float = av.AudioResampler(format="fltp")  # keeps layout and rate: we mix down as for other formats
        chunks: list[np.ndarray] = []
        decoded = bad = good = 0
        max_samples = int(max_seconds * rate)
        try:
            for packet in container.demux(stream):
                try:
                    frames = packet.decode()
                    good += 1
                except av.FFmpegError:
                    bad += 1  # a damaged frame: skip it, keep going
                    continue
                for frame in frames:
                    for converted in to_float.resample(frame):
                        chunks.append(converted.to_ndarray().T)
                        decoded += converted.samples
                if decoded >= max_samples:
                    break
        except av.FFmpegError:
            pass  # the container itself breaks off here: keep what was decoded
    if decoded == 0 or bad > good:
        if decoded == 0 and bad == 0 and good == 0:
            raise _not_audio(name)
        raise CorruptAudioError(f"{name} is damaged: none of its audio could be decoded.")
    data = np.concatenate(chunks)[:max_samples].astype(np.float32)
    seconds = len(data) / rate
    warnings: list[str] = []
    if decoded >= max_samples and (expected is None or expected > max_seconds):
        total = f"{expected / 60:.1f} minutes long" if expected else "longer than 10 minutes"
        warnings.append(f"{name} is {total}; the first {max_seconds / 60:.0f} minutes were analysed.")
    elif expected and expected - seconds > LOST_SECONDS_WORTH_A_WARNING:
        warnings.append(f"{name} is damaged or cut short: {seconds:.1f} s of its {expected:.1f} s could be decoded, "
                        "and that part was used.")
    elif bad:
        warnings.append(f"{name} has {bad} damaged frame{'s' if bad > 1 else ''}, which {'were' if bad > 1 else 'was'} "
                        "skipped.")
    return data, int(rate), int(channels or data.shape[1]), warnings


def load_audio(
    source: AudioSource,
    target_sr: int = 22050,
    min_seconds: float = 0.0,
    max_seconds: float = MAX_SECONDS,
) -> AudioClip:
    """Decode ``source`` (path, bytes or file object), mix to mono and resample to ``target_sr``.

    WAV/FLAC/OGG/AIFF/AU go through libsndfile (fast); MP3, M4A/AAC, Opus, WebM and anything it
    cannot read through FFmpeg. Of a file longer than ``max_seconds`` the start is used, with a
    warning. Raises an :class:`~genre_core.audio.errors.AudioError` subclass with a message meant for a
    person when the file is empty, not audio, broken, too short or silent.
    """
    name = _describe(source)
    handle, size = _open(source)
    if size == 0:
        raise EmptyAudioError(f"{name} is empty (0 bytes).")
    if _soundfile_format(handle):
        try:
            data, sr, channels, warnings = _decode_soundfile(handle, name, max_seconds)
        except CorruptAudioError:
            data, sr, channels, warnings = _decode_ffmpeg(handle, name, max_seconds)
    else:
        data, sr, channels, warnings = _decode_ffmpeg(handle, name, max_seconds)
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
    return AudioClip(samples, target_sr, int(sr), int(channels), tuple(warnings))
