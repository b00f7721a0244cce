"""Run the original musicnn (TensorFlow) once and store what the port test compares against.

Not part of the product: it runs in a throwaway virtualenv with TensorFlow, e.g.

    python3 -m venv /tmp/tfenv
    /tmp/tfenv/bin/pip install "tensorflow-cpu==2.15.1" "numpy<2" "librosa==0.10.2" soundfile
    /tmp/tfenv/bin/pip install --no-deps musicnn==0.1.0
    /tmp/tfenv/bin/python scripts/musicnn_reference.py --gtzan ../shared/gtzan

It builds musicnn's own graph (musicnn.models.define_model) and restores MSD_musicnn, computes the
input patches the way musicnn's extractor does (librosa.load at 16 kHz, mel power stored as float16,
log10(1 + 10000 x) computed in float32 because 10000 * float16 overflows), and runs the graph patch
by patch (musicnn's extractor() returns stale penultimate features for patches 2..n). It writes
tests/fixtures/musicnn_reference.npz: for a generated signal (rebuilt by the test from
tests/musicnn_signal.py) and for a few GTZAN clips, the input patches, taggram and penultimate features.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import librosa
import numpy as np
import soundfile as sf
import tensorflow as tf
from musicnn import configuration, models

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from musicnn_signal import SIGNAL_RATE, reference_signal  # noqa: E402

tf.compat.v1.disable_eager_execution()
GTZAN_CLIPS = ("rock/rock.00000.ogg", "classical/classical.00000.ogg", "hiphop/hiphop.00000.ogg")
N_FRAMES = 187


def patches_of(path: str) -> np.ndarray:
    audio, sr = librosa.load(path, sr=configuration.SR)
    mel = librosa.feature.melspectrogram(y=audio, sr=sr, hop_length=configuration.FFT_HOP,
                                         n_fft=configuration.FFT_SIZE, n_mels=configuration.N_MELS).T
    rep = np.log10(10000 * mel.astype(np.float16).astype(np.float32) + 1)
    count = len(rep) // N_FRAMES
    return rep[: count * N_FRAMES].reshape(count, N_FRAMES, -1).astype(np.float32)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--gtzan", help="GTZAN folder; its clips are added when given")
    parser.add_argument("--out", default=str(ROOT / "tests" / "fixtures" / "musicnn_reference.npz"))
    args = parser.parse_args()

    tf.compat.v1.reset_default_graph()
    with tf.name_scope("model"):
        x = tf.compat.v1.placeholder(tf.float32, [None, N_FRAMES, configuration.N_MELS])
        training = tf.compat.v1.placeholder(tf.bool)
        y, *_, penultimate = models.define_model(x, training, "MSD_musicnn", len(configuration.MSD_LABELS))
        tags = tf.nn.sigmoid(y)
    session = tf.compat.v1.Session()
    tf.compat.v1.train.Saver().restore(session, os.path.dirname(models.__file__) + "/MSD_musicnn/")

    inputs = {}
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "signal.wav"
        sf.write(wav, reference_signal(), SIGNAL_RATE, subtype="PCM_16")
        inputs["signal"] = patches_of(str(wav))
    if args.gtzan:
        for rel in GTZAN_CLIPS:
            inputs[Path(rel).stem.replace(".", "_")] = patches_of(str(Path(args.gtzan) / rel))

    out = {}
    for name, patches in inputs.items():
        rows = [session.run([tags, penultimate], feed_dict={x: p[None], training: False}) for p in patches]
        out[f"{name}/taggram"] = np.concatenate([r[0] for r in rows])
        out[f"{name}/penultimate"] = np.concatenate([r[1] for r in rows])
        # keep the fixture small: every patch of the generated signal, the first patch of a GTZAN clip
        out[f"{name}/patches"] = patches if name == "signal" else patches[:1]
        print(name, patches.shape, "top tags:", [configuration.MSD_LABELS[i] for i in
                                                 np.argsort(out[f"{name}/taggram"].mean(0))[::-1][:3]])
    out["clips"] = np.array([c for c in GTZAN_CLIPS] if args.gtzan else [])
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **out)
    print("wrote", args.out, f"(tensorflow {tf.__version__}, librosa {librosa.__version__}, numpy {np.__version__})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
