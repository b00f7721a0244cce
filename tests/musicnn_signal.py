"""The generated signal of the musicnn port check, rebuilt identically by the test and by
scripts/musicnn_reference.py (which runs in a TensorFlow virtualenv with NumPy 1)."""
from __future__ import annotations

import numpy as np

SIGNAL_RATE = 22050
SIGNAL_SECONDS = 9.5  # three full 3 s patches and a dropped tail


def reference_signal() -> np.ndarray:
    """(n_samples,) float32 in [-1, 1]: a sweep, a bass line, clicks on a beat and a little noise."""
    t = np.arange(int(SIGNAL_SECONDS * SIGNAL_RATE)) / SIGNAL_RATE
    sweep = 0.3 * np.sin(2 * np.pi * 200 * (np.exp(0.3 * t) - 1) / 0.3)
    bass = 0.25 * np.sin(2 * np.pi * 55 * t) * (1 + np.sin(2 * np.pi * 0.5 * t)) / 2
    beat = 0.4 * np.exp(-40 * (t % 0.5)) * np.sin(2 * np.pi * 1500 * t)
    noise = 0.02 * np.random.default_rng(0).standard_normal(len(t))
    return np.clip(sweep + bass + beat + noise, -1, 1).astype(np.float32)
