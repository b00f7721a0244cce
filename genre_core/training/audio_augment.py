"""Audio augmentation before embedding: GTZAN is old radio audio, while the songs people upload are loud,
bright, compressed and lossy. Each function maps mono float32 samples (n_samples,) at ``sample_rate`` to a
version of the same music as a modern production or a lossy file might present it.

Used by the transfer model's training (extra embeddings of each training clip, never of a test clip);
``scripts/transfer_levers.py`` measured what they change on both protocols.
"""
from __future__ import annotations

import io

import numpy as np


def eq_tilt(samples: np.ndarray, sample_rate: int, db: float, corner_hz: float = 1500.0) -> np.ndarray:
    """A spectral tilt: frequencies above ``corner_hz`` raised (``db`` > 0, brighter) or lowered by up to ``db``."""
    spectrum = np.fft.rfft(samples)
    freqs = np.fft.rfftfreq(len(samples), 1.0 / sample_rate)
    # a smooth first-order shelf: 0 dB far below the corner, ``db`` far above it
    gain_db = db * (freqs**2 / (freqs**2 + corner_hz**2))
    return np.fft.irfft(spectrum * 10 ** (gain_db / 20), n=len(samples)).astype(np.float32)


def loud_compressed(samples: np.ndarray, drive: float) -> np.ndarray:
    """Loudness-war mastering: normalised to full scale, then soft-clipped by tanh with ``drive`` (2-6)."""
    peak = float(np.max(np.abs(samples))) or 1.0
    return (np.tanh(drive * samples / peak) / np.tanh(drive)).astype(np.float32) * 0.98


def lossy(samples: np.ndarray, sample_rate: int, bitrate: int = 96_000) -> np.ndarray:
    """Encode to AAC at ``bitrate`` (FFmpeg's native encoder, via PyAV) and decode again."""
    import av

    buffer = io.BytesIO()
    with av.open(buffer, "w", format="adts") as container:
        stream = container.add_stream("aac", rate=sample_rate)
        stream.bit_rate = bitrate
        stream.layout = "mono"
        frame_size = 1024
        pcm = np.clip(samples, -1.0, 1.0).astype(np.float32)
        for start in range(0, len(pcm), frame_size):
            frame = av.AudioFrame.from_ndarray(pcm[None, start:start + frame_size], format="fltp", layout="mono")
            frame.sample_rate = sample_rate
            frame.pts = start
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    buffer.seek(0)
    decoded = []
    with av.open(buffer, "r") as container:
        for frame in container.decode(audio=0):
            decoded.append(frame.to_ndarray().mean(axis=0))
    out = np.concatenate(decoded).astype(np.float32)
    # the encoder's priming delay shifts the signal by ~1024 samples; keep the original length
    out = out[1024:1024 + len(samples)] if len(out) >= len(samples) + 1024 else out[: len(samples)]
    return np.pad(out, (0, len(samples) - len(out))) if len(out) < len(samples) else out


def pitch_tempo(samples: np.ndarray, sample_rate: int, semitones: float, rate: float) -> np.ndarray:
    """Shift the pitch by ``semitones`` and change the tempo by ``rate`` (1.0: unchanged)."""
    import librosa

    out = librosa.effects.pitch_shift(samples, sr=sample_rate, n_steps=semitones) if semitones else samples
    return librosa.effects.time_stretch(out, rate=rate).astype(np.float32) if rate != 1.0 else out.astype(np.float32)


def modern_production(samples: np.ndarray, sample_rate: int, rng: np.random.Generator,
                      pitch: bool = False) -> np.ndarray:
    """One random production chain: EQ tilt of -3..+6 dB, loud soft-clip mastering, AAC at 64-128 kbit/s,
    and with ``pitch`` a pitch shift of up to one semitone and a tempo change of up to 5 %."""
    out = samples
    if pitch:
        out = pitch_tempo(out, sample_rate, float(rng.uniform(-1.0, 1.0)), float(rng.uniform(0.95, 1.05)))
    out = eq_tilt(out, sample_rate, float(rng.uniform(-3.0, 6.0)))
    out = loud_compressed(out, float(rng.uniform(2.0, 6.0)))
    return lossy(out, sample_rate, int(rng.choice([64_000, 96_000, 128_000])))
