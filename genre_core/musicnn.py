"""musicnn (Pons & Serra 2019), pretrained on the Million Song Dataset, as a PyTorch module.

A port of ``MSD_musicnn`` from the ``musicnn`` 0.1.0 wheel (ISC licence): the same front end
(16 kHz, 96 mel bands, n_fft 512, hop 256, log10(1 + 10000 x), 187-frame 3 s patches) and the same
layers, so the converted weights (``scripts/convert_musicnn.py``) give musicnn's own taggram and
penultimate features (``tests/test_musicnn_port.py`` checks against a stored TensorFlow run).
It is the frozen embedding under the transfer models and the tagger shown on the classify page.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import librosa
import numpy as np
import torch
import torch.nn.functional as F
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn

from .errors import ModelLoadError

TF_BATCH_NORM_EPSILON = 1e-3  # tf.compat.v1.layers.batch_normalization's default
ONNX_FILE = "musicnn.onnx"
# Largest |ONNX Runtime - torch| allowed (export script and tests); both are float32 of the same weights.
ONNX_TOLERANCE = {"tags": 1e-4, "penultimate": 1e-3}
BACKEND_ENV = "GENRE_CORE_TAGGER_BACKEND"  # "torch" forces the PyTorch module; default: ONNX Runtime if usable


@dataclass(frozen=True)
class TaggerFrontEnd:
    """musicnn's fixed input: log-compressed mel patches. Stored in the tagger's config.json."""

    sample_rate: int = 16000
    n_fft: int = 512
    hop_length: int = 256
    n_mels: int = 96
    patch_frames: int = 187  # librosa.time_to_frames(3 s) + 1, as musicnn's extractor
    log_scale: float = 10000.0

    @property
    def patch_seconds(self) -> float:
        return self.patch_frames * self.hop_length / self.sample_rate

    def to_dict(self) -> dict:
        return asdict(self)


@lru_cache(maxsize=4)
def _mel_basis(front: TaggerFrontEnd) -> np.ndarray:
    """(n_mels, 1 + n_fft // 2) Slaney mel filters, librosa's defaults as musicnn used them."""
    return librosa.filters.mel(sr=front.sample_rate, n_fft=front.n_fft, n_mels=front.n_mels)


def _log_compress(power_frames: np.ndarray, front: TaggerFrontEnd) -> np.ndarray:
    """(1 + n_fft // 2, n_frames) power -> (n_frames, n_mels) float32 log-mel.

    musicnn stores the mel power as float16 before the log; we keep that rounding but compute the
    log in float32 (under NumPy 2, ``10000 * float16`` overflows to inf).
    """
    mel = (_mel_basis(front) @ power_frames).T
    mel = mel.astype(np.float16).astype(np.float32)
    return np.log10(front.log_scale * mel + 1.0).astype(np.float32)


def _power(samples: np.ndarray, front: TaggerFrontEnd, center: bool) -> np.ndarray:
    return np.abs(librosa.stft(samples, n_fft=front.n_fft, hop_length=front.hop_length, center=center)) ** 2


def log_mel(samples: np.ndarray, front: TaggerFrontEnd) -> np.ndarray:
    """(n_samples,) at ``front.sample_rate`` -> (n_frames, n_mels) float32, as musicnn's ``batch_data``
    (librosa's melspectrogram: centred STFT, power 2, Slaney mel filters)."""
    return _log_compress(_power(samples, front, center=True), front)


def patch_count(n_samples: int, front: TaggerFrontEnd) -> int:
    """Patches :func:`cut_patches` makes of ``n_samples`` (frames of a centred STFT: 1 + n // hop)."""
    return max(1, (1 + n_samples // front.hop_length) // front.patch_frames)


def selected_patches(samples: np.ndarray, front: TaggerFrontEnd, indices: np.ndarray) -> np.ndarray:
    """(n_samples,) -> (len(indices), patch_frames, n_mels): the log-mel of those patches only.

    The same frames as ``cut_patches(log_mel(samples))[indices]``: frame t of a centred STFT covers
    samples [t * hop - n_fft / 2, t * hop + n_fft / 2) of the zero-padded signal, so each patch is an
    uncentred STFT of its own stretch of samples (a long song pays only for the patches heard).
    """
    hop, n = front.hop_length, front.patch_frames
    padded = np.pad(samples, front.n_fft // 2)
    power = np.concatenate([_power(padded[i * n * hop: (i * n + n - 1) * hop + front.n_fft], front, center=False)
                            for i in indices], axis=1)  # (1 + n_fft // 2, len(indices) * n)
    return _log_compress(power, front).reshape(len(indices), n, front.n_mels)


def cut_patches(log_mel_frames: np.ndarray, front: TaggerFrontEnd) -> np.ndarray:
    """(n_frames, n_mels) -> (n_patches, patch_frames, n_mels): consecutive, non-overlapping patches.

    A trailing part shorter than one patch is dropped, as in musicnn; input shorter than one patch is
    padded by repeating it (musicnn's "repeat-pad" for short training clips) so it still yields one patch.
    """
    n = front.patch_frames
    if len(log_mel_frames) < n:
        reps = int(np.ceil(n / max(1, len(log_mel_frames))))
        log_mel_frames = np.tile(log_mel_frames, (reps, 1))[:n]
    count = len(log_mel_frames) // n
    return np.ascontiguousarray(log_mel_frames[: count * n].reshape(count, n, -1))


def patch_times(n_patches: int | np.ndarray, front: TaggerFrontEnd) -> np.ndarray:
    """(n, 2) start and end in seconds of the first ``n_patches`` patches, or of the patch indices given."""
    index = np.arange(n_patches) if np.ndim(n_patches) == 0 else np.asarray(n_patches)
    starts = index * front.patch_seconds
    return np.stack([starts, starts + front.patch_seconds], axis=1)


def spread_patches(n_patches: int, max_patches: int | None) -> np.ndarray:
    """Indices of at most ``max_patches`` patches spread evenly over ``n_patches`` (all of them if fewer).

    A long song is heard at evenly spaced 3 s moments, from its first patch to its last.
    """
    if max_patches is None or n_patches <= max_patches:
        return np.arange(n_patches)
    return np.unique(np.linspace(0, n_patches - 1, max_patches).round().astype(int))


def _tf_same_pad(kernel: int) -> tuple[int, int]:
    """TensorFlow 'same' padding for stride 1: the extra row goes after."""
    before = (kernel - 1) // 2
    return before, kernel - 1 - before


class MusiCNN(nn.Module):
    """musicnn: musically motivated front end, dense mid end, temporal pooling back end.

    Input (batch, time, n_mels) log-mel patches; ``forward`` returns the tag logits (batch, n_tags),
    ``features`` also the penultimate layer (batch, backend_units) and the pooled mid-end features.
    """

    def __init__(self, n_mels: int = 96, n_tags: int = 50, midend_filters: int = 64, backend_units: int = 200,
                 frontend_scale: float = 1.6) -> None:
        super().__init__()
        timbral, temporal = int(frontend_scale * 128), int(frontend_scale * 32)
        eps = TF_BATCH_NORM_EPSILON
        self.input_bn = nn.BatchNorm2d(1, eps=eps)
        # timbral filters span 40 % and 70 % of the mel bands, 7 frames; temporal ones 1 band, 128/64/32 frames
        self.timbral_widths = (int(0.4 * n_mels), int(0.7 * n_mels))
        self.timbral = nn.ModuleList(nn.Conv2d(1, timbral, (7, w)) for w in self.timbral_widths)
        self.timbral_bn = nn.ModuleList(nn.BatchNorm2d(timbral, eps=eps) for _ in self.timbral_widths)
        self.temporal_lengths = (128, 64, 32)
        self.temporal = nn.ModuleList(nn.Conv2d(1, temporal, (k, 1)) for k in self.temporal_lengths)
        self.temporal_bn = nn.ModuleList(nn.BatchNorm2d(temporal, eps=eps) for _ in self.temporal_lengths)
        frontend_channels = 2 * timbral + 3 * temporal
        self.midend = nn.ModuleList([nn.Conv1d(frontend_channels, midend_filters, 7, padding=3),
                                     nn.Conv1d(midend_filters, midend_filters, 7, padding=3),
                                     nn.Conv1d(midend_filters, midend_filters, 7, padding=3)])
        self.midend_bn = nn.ModuleList(nn.BatchNorm1d(midend_filters, eps=eps) for _ in range(3))
        pooled = frontend_channels + 3 * midend_filters
        self.pool_bn = nn.BatchNorm1d(2 * pooled, eps=eps)
        self.dense = nn.Linear(2 * pooled, backend_units)
        self.dense_bn = nn.BatchNorm1d(backend_units, eps=eps)
        self.tags = nn.Linear(backend_units, n_tags)

    def features(self, patches: torch.Tensor) -> dict[str, torch.Tensor]:
        """(batch, time, n_mels) -> logits (batch, n_tags), penultimate (batch, units), mean/max pool."""
        x = self.input_bn(patches.unsqueeze(1))  # (B, 1, T, F)
        front = []
        padded = F.pad(x, (0, 0, 3, 3))  # time only: the max over all bands follows
        for conv, bn in zip(self.timbral, self.timbral_bn):
            front.append(bn(F.relu(conv(padded))).amax(dim=3))  # (B, C, T)
        for conv, bn, k in zip(self.temporal, self.temporal_bn, self.temporal_lengths):
            front.append(bn(F.relu(conv(F.pad(x, (0, 0, *_tf_same_pad(k)))))).amax(dim=3))
        frontend = torch.cat(front, dim=1)  # (B, 561, T)
        c1 = self.midend_bn[0](F.relu(self.midend[0](frontend)))
        c2 = self.midend_bn[1](F.relu(self.midend[1](c1))) + c1
        c3 = self.midend_bn[2](F.relu(self.midend[2](c2))) + c2
        midend = torch.cat([frontend, c1, c2, c3], dim=1)  # (B, 753, T)
        max_pool, mean_pool = midend.amax(dim=2), midend.mean(dim=2)
        # TensorFlow concatenated (B, 753, 1) max and mean on the last axis, then flattened: interleaved
        pooled = torch.stack([max_pool, mean_pool], dim=2).flatten(1)
        penultimate = self.dense_bn(F.relu(self.dense(self.pool_bn(pooled))))
        return {"logits": self.tags(penultimate), "penultimate": penultimate,
                "mean_pool": mean_pool, "max_pool": max_pool}

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        return self.features(patches)["logits"]


class OnnxNetwork:
    """The tagger's network exported to ONNX (``scripts/export_musicnn_onnx.py``), run by ONNX Runtime.

    Same weights and float32 arithmetic as :class:`MusiCNN`; on 2 CPU cores about 1.3x faster
    (30 s clip: 290 ms against 390 ms). Thread-safe: sessions of the app share one instance.
    """

    def __init__(self, path: Path, threads: int) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # Spinning threads would keep burning the cores that torch and librosa need right after.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def __call__(self, patches: np.ndarray) -> dict[str, np.ndarray]:
        """(batch, time, n_mels) -> tags (batch, n_tags) probabilities, penultimate (batch, units)."""
        tags, penultimate = self.session.run(None, {"patches": np.ascontiguousarray(patches, dtype=np.float32)})
        return {"tags": tags, "penultimate": penultimate}


@dataclass
class Tagger:
    """The stored pretrained tagger: network, front end, tag names and provenance.

    ``onnx`` is the same network under ONNX Runtime when its export matches the stored weights;
    :meth:`run` uses it, else the PyTorch module.
    """

    network: MusiCNN
    front_end: TaggerFrontEnd
    tags: tuple[str, ...]
    config: dict
    folder: Path
    onnx: OnnxNetwork | None = None

    @property
    def backend(self) -> str:
        return "onnxruntime" if self.onnx is not None else "torch"

    @property
    def name(self) -> str:
        return self.config.get("name", self.folder.name)

    def patches(self, samples: np.ndarray) -> np.ndarray:
        """(n_samples,) at the front end's rate -> (n_patches, patch_frames, n_mels)."""
        return cut_patches(log_mel(samples, self.front_end), self.front_end)

    def heard_patches(self, samples: np.ndarray, max_patches: int | None) -> tuple[np.ndarray, np.ndarray, int]:
        """At most ``max_patches`` patches spread over ``samples``: (patches, their indices, patches in all)."""
        total = patch_count(len(samples), self.front_end)
        chosen = spread_patches(total, max_patches)
        if len(chosen) == total:  # short input is repeat-padded by cut_patches; the whole clip is heard
            return self.patches(samples), chosen, total
        return selected_patches(samples, self.front_end, chosen), chosen, total

    @torch.inference_mode()
    def run(self, patches: np.ndarray, per_call: int = 2) -> dict[str, np.ndarray]:
        """Tag probabilities (n_patches, n_tags) and penultimate features (n_patches, units).

        ``per_call`` patches go through the network at once: on 2 CPU cores two at a time was fastest
        under torch (30 s clip: 1 per call 426 ms, 2: 369 ms, 5: 565 ms, 10: 887 ms); ONNX Runtime
        is flat (1: 279 ms, 2: 310 ms, 10: 322 ms) and keeps memory bounded the same way.
        """
        outs: dict[str, list[np.ndarray]] = {"tags": [], "penultimate": []}
        for start in range(0, len(patches), per_call):
            chunk = np.ascontiguousarray(patches[start: start + per_call], dtype=np.float32)
            if self.onnx is not None:
                result = self.onnx(chunk)
            else:
                features = self.network.features(torch.from_numpy(chunk))
                result = {"tags": torch.sigmoid(features["logits"]).numpy(),
                          "penultimate": features["penultimate"].numpy()}
            for key in outs:
                outs[key].append(result[key])
        return {k: np.concatenate(v) for k, v in outs.items()}


def build_musicnn(architecture: dict) -> MusiCNN:
    return MusiCNN(**architecture)


def _onnx_network(folder: Path, config: dict) -> OnnxNetwork | None:
    """The ONNX export of this folder's weights, if it is there, matches them, and onnxruntime imports."""
    block = config.get("onnx")
    if not block:
        return None
    path = folder / block.get("file", ONNX_FILE)
    try:
        if hashlib.sha256((folder / "weights.safetensors").read_bytes()).hexdigest() != block.get("weights_sha256"):
            return None  # exported from other weights: re-run scripts/export_musicnn_onnx.py
        if hashlib.sha256(path.read_bytes()).hexdigest() != block.get("sha256"):
            return None
        return OnnxNetwork(path, threads=torch.get_num_threads())
    except Exception:  # missing file, no onnxruntime, a graph it rejects: torch gives the same answer
        return None


def load_tagger(folder: str | Path, backend: str | None = None) -> Tagger:
    """Build the pretrained tagger from its model folder, or raise ModelLoadError naming the folder.

    ``backend``: "torch" or "auto" (ONNX Runtime when the folder's export matches its weights);
    default from the ``GENRE_CORE_TAGGER_BACKEND`` environment variable, else "auto".
    """
    folder = Path(folder)
    backend = backend or os.environ.get(BACKEND_ENV, "auto")
    try:
        config = json.loads((folder / "config.json").read_text())
        front = TaggerFrontEnd(**config["front_end"])
        network = build_musicnn(config["architecture"])
        tags = tuple(config["tags"])
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ModelLoadError(f"{folder}: the pretrained tagger's config.json is missing or invalid ({exc}).") from exc
    try:
        network.load_state_dict(load_file(str(folder / "weights.safetensors")), strict=True)
    except (SafetensorError, OSError, RuntimeError, ValueError) as exc:
        raise ModelLoadError(f"{folder}: the pretrained tagger's weights are missing or do not match "
                             f"({str(exc).splitlines()[0]}).") from exc
    if len(tags) != network.tags.out_features:
        raise ModelLoadError(f"{folder}: {len(tags)} tag names for {network.tags.out_features} outputs.")
    onnx = _onnx_network(folder, config) if backend != "torch" else None
    return Tagger(network.eval(), front, tags, config, folder, onnx)
