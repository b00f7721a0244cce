"""Shared fixtures: small generated audio files and the optional GTZAN copy."""
from __future__ import annotations

import io
import os
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
SR = 22050
# Ray clusters made by the tests live on loopback only: with this, Ray takes 127.0.0.1 as this machine's
# address instead of its network interface's (read when ray is first imported, so set before any test does).
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")


# what Ray prints itself: its Python loggers ("2026-01-01 10:00:00,123\tWARNING x.py:1 -- ..."), its C++
# core ("[2026-01-01 10:00:00,123 E 123 123] core_worker.cc:..."), its token notice
RAY_LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+\s+(DEBUG|INFO|WARNING|ERROR)\b"
                      r"|\[\d{4}-\d\d-\d\d [\d:,]+ [DIWEF] \d+ \d+\]"
                      r"|Token authentication)")


def ray_lines(text: str) -> list[str]:
    """The lines of ``text`` (a console's output, progress bars included) that Ray printed."""
    return [line for line in re.split(r"[\r\n]", text) if RAY_LINE.match(line.strip())]


def chirp(seconds: float, sr: int = SR, f0: float = 110.0, f1: float = 4000.0) -> np.ndarray:
    """Exponential sine sweep, float32, amplitude 0.5."""
    t = np.arange(int(seconds * sr)) / sr
    k = np.log(f1 / f0) / seconds
    return (0.5 * np.sin(2 * np.pi * f0 * (np.exp(k * t) - 1) / k)).astype(np.float32)


def write_wav(path: Path, samples: np.ndarray, sr: int = SR, subtype: str = "PCM_16") -> Path:
    sf.write(path, samples, sr, subtype=subtype)
    return path


def _mp3_bytes(samples: np.ndarray, sr: int = SR) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, samples, sr, format="MP3")
    return buffer.getvalue()


def rng_bytes(n: int, seed: int = 3) -> bytes:
    return np.random.default_rng(seed).bytes(n)


def encode_with_ffmpeg(samples: np.ndarray, rate: int, container: str, codec: str) -> bytes:
    """Stereo file of ``samples`` (mono float32 at ``rate``) in ``container`` with ``codec``, via PyAV."""
    import av

    buffer = io.BytesIO()
    with av.open(buffer, "w", format=container) as out:
        stream = out.add_stream(codec, rate=rate)
        stream.layout = "stereo"
        frame = av.AudioFrame.from_ndarray(np.stack([samples, samples]), format="fltp", layout="stereo")
        frame.sample_rate = rate
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(packet)
    return buffer.getvalue()


def id3_with_cover_art(picture_bytes: int) -> bytes:
    """An ID3v2.3 tag holding one APIC (cover picture) frame of ``picture_bytes`` bytes."""
    body = b"\x00image/jpeg\x00\x03\x00" + b"\xff\xd8\xff\xe0" + rng_bytes(picture_bytes)
    frame = b"APIC" + len(body).to_bytes(4, "big") + b"\x00\x00" + body
    size = len(frame)
    syncsafe = bytes([(size >> 21) & 0x7F, (size >> 14) & 0x7F, (size >> 7) & 0x7F, size & 0x7F])
    return b"ID3\x03\x00\x00" + syncsafe + frame


@pytest.fixture(scope="session")
def audio_dir(tmp_path_factory) -> Path:
    """A folder of good and hostile audio files, generated once per test session."""
    d = tmp_path_factory.mktemp("audio")
    write_wav(d / "chirp.wav", chirp(6.0))
    write_wav(d / "silence.wav", np.zeros(6 * SR, dtype=np.float32))
    write_wav(d / "short.wav", chirp(0.5))
    write_wav(d / "tiny.wav", chirp(0.2))
    (d / "empty.wav").write_bytes(b"")
    (d / "random.wav").write_bytes(np.random.default_rng(0).bytes(50_000))
    (d / "random.mp3").write_bytes(np.random.default_rng(1).bytes(50_000))
    (d / "text.wav").write_text("this is not audio\n" * 100)
    stereo = np.stack([chirp(5.0, 48000), 0.5 * chirp(5.0, 48000, 220, 2000)], axis=1)
    write_wav(d / "stereo48k.wav", stereo, 48000)
    write_wav(d / "rate8k.wav", chirp(5.0, 8000, 100, 3500), 8000)
    write_wav(d / "rate96k.wav", chirp(5.0, 96000), 96000)
    write_wav(d / "six_channels.wav", np.tile(chirp(5.0)[:, None], (1, 6)) * 0.3)
    sf.write(d / "chirp.flac", chirp(5.0), SR)
    sf.write(d / "chirp.ogg", chirp(5.0), SR)
    sf.write(d / "chirp.mp3", chirp(5.0), SR, format="MP3")
    sf.write(d / "chirp.au", chirp(5.0), SR, format="AU", subtype="PCM_16")
    # 20 minutes at a low rate keeps the file small; the length limit still applies
    write_wav(d / "twenty_minutes.wav", np.tile(chirp(1.0, 2000, 50, 900), 20 * 60), 2000)
    # what phones, stores and browsers produce, encoded here with FFmpeg (PyAV)
    for name, container, codec, rate in [("chirp.m4a", "ipod", "aac", 44100), ("chirp.opus", "ogg", "libopus", 48000),
                                         ("chirp.webm", "webm", "libopus", 48000)]:
        (d / name).write_bytes(encode_with_ffmpeg(chirp(6.0, rate), rate, container, codec))
    mp3 = (d / "chirp.mp3").read_bytes()
    (d / "cover_art.mp3").write_bytes(id3_with_cover_art(300_000) + mp3)
    long_mp3 = _mp3_bytes(np.tile(chirp(5.0), 4))  # 20 s
    (d / "cut_short.mp3").write_bytes(long_mp3[: len(long_mp3) * 6 // 10])
    (d / "zero_tail.mp3").write_bytes(long_mp3[: len(long_mp3) * 6 // 10] + bytes(len(long_mp3) * 4 // 10))
    (d / "garbage_middle.mp3").write_bytes(long_mp3[: len(long_mp3) // 3] + rng_bytes(len(long_mp3) // 6)
                                           + long_mp3[len(long_mp3) // 2:])
    nan = chirp(5.0)
    nan[1000:1100] = np.nan
    write_wav(d / "nan_float.wav", nan, subtype="FLOAT")
    inf = chirp(5.0)
    inf[5] = np.inf
    write_wav(d / "inf_float.wav", inf, subtype="FLOAT")
    # a valid header announcing 10 s, followed by 4 s of data
    full = write_wav(d / "_ten_seconds.wav", chirp(10.0)).read_bytes()
    (d / "truncated.wav").write_bytes(full[: 44 + 4 * SR * 2])
    (d / "header_only.wav").write_bytes(full[:44])
    return d


@pytest.fixture(scope="session")
def gtzan_dir() -> Path:
    """The GTZAN copy named by $GTZAN_DIR (.ci/run points it at ../shared/gtzan)."""
    value = os.environ.get("GTZAN_DIR")
    if not value:
        pytest.skip("GTZAN_DIR is not set: tests on the real dataset are skipped")
    path = Path(value)
    if not path.is_dir():
        pytest.skip(f"GTZAN_DIR={value} does not exist: tests on the real dataset are skipped")
    return path


@pytest.fixture(scope="session")
def models_dir() -> Path:
    return ROOT / "models"


@pytest.fixture(scope="session")
def tiny_gtzan(tmp_path_factory) -> Path:
    """A GTZAN-layout folder of generated clips: 10 genres x 3 clips x 4 s, one tone per genre."""
    from genre_core.features.config import GENRES

    root = tmp_path_factory.mktemp("tiny_gtzan")
    rng = np.random.default_rng(0)
    t = np.arange(4 * SR) / SR
    for g, genre in enumerate(GENRES):
        (root / genre).mkdir()
        for n in range(3):
            tone = np.sin(2 * np.pi * 110 * (g + 1) * t) * (0.3 + 0.1 * n)
            noise = 0.02 * rng.standard_normal(len(t))
            write_wav(root / genre / f"{genre}.{n:05d}.wav", (tone + noise).astype(np.float32))
    (root / "jazz" / "jazz.00054.wav").write_bytes(b"RIFF....WAVEcorrupt")  # like GTZAN's broken clip
    return root
