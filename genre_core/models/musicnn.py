"""musicnn (Pons & Serra 2019), pretrained on the Million Song Dataset: front end and tagger.

A port of ``MSD_musicnn`` from the ``musicnn`` 0.1.0 wheel (ISC licence): the same front end
(16 kHz, 96 mel bands, n_fft 512, hop 256, log10(1 + 10000 x), 187-frame 3 s patches) and the same
layers (``musicnn_net.py``), so the converted weights (``scripts/convert_musicnn.py``) give musicnn's
own taggram and penultimate features (``tests/test_musicnn_port.py`` checks against a stored
TensorFlow run). It is the frozen embedding under the transfer models and the tagger shown on the
classify page. The network runs under ONNX Runtime when an export matches the weights: the served graph
(``onnx_served`` in config.json, the same function rewritten to run faster), else the reference export
(``onnx``); the PyTorch module is built only when it is needed (no export, or
``GENRE_CORE_TAGGER_BACKEND=torch``).
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import librosa
import numpy as np
from safetensors import SafetensorError, safe_open

from genre_core.audio.errors import ModelLoadError

if TYPE_CHECKING:
    from genre_core.models.musicnn_net import MusiCNN

ONNX_FILE = "musicnn.onnx"
# Largest |ONNX Runtime - torch| allowed (export script and tests); both are float32 of the same weights.
ONNX_TOLERANCE = {"tags": 1e-4, "penultimate": 1e-3}
BACKEND_ENV = "GENRE_CORE_TAGGER_BACKEND"  # "torch": the PyTorch module; "reference": the reference export only
# config.json blocks of the ONNX graphs, in the order they are tried: the served graph, then the reference export
GRAPH_BLOCKS = {"auto": ("onnx_served", "onnx"), "reference": ("onnx",), "torch": ()}


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


class OnnxNetwork:
    """The tagger's network exported to ONNX, run by ONNX Runtime: the reference export
    (``scripts/export_musicnn_onnx.py``, same layers as :class:`MusiCNN`, about 1.3x faster than torch on
    2 cores) or the served rewrite of it (``scripts/optimize_musicnn_onnx.py``, the same outputs within
    ``ONNX_TOLERANCE``, ~5x faster than the reference: ``genre-core bench --only tagger``).
    Thread-safe: sessions of the app share one instance.
    """

    def __init__(self, path: Path, threads: int = 0) -> None:
        """``threads`` 0: ONNX Runtime's default, one per physical core (as torch's default)."""
        import onnxruntime as ort

        self.path = Path(path)
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

    front_end: TaggerFrontEnd
    tags: tuple[str, ...]
    config: dict
    folder: Path
    onnx: OnnxNetwork | None = None
    _network: MusiCNN | None = None

    @property
    def network(self) -> MusiCNN:
        """The PyTorch module with the stored weights (built on first use: importing torch takes seconds)."""
        if self._network is None:
            self._network = _torch_network(self.folder, self.config)
        return self._network

    @property
    def backend(self) -> str:
        return "onnxruntime" if self.onnx is not None else "torch"

    @property
    def graph(self) -> str | None:
        """File name of the ONNX graph that runs the network (None under torch)."""
        return self.onnx.path.name if self.onnx is not None else None

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

    def run(self, patches: np.ndarray, per_call: int = 2) -> dict[str, np.ndarray]:
        """Tag probabilities (n_patches, n_tags) and penultimate features (n_patches, units).

        ``per_call`` patches go through the network at once: on 2 CPU cores two at a time was fastest
        under torch (30 s clip: 1 per call 426 ms, 2: 369 ms, 5: 565 ms, 10: 887 ms); ONNX Runtime
        is flat (1: 279 ms, 2: 310 ms, 10: 322 ms), the served graph too (1, 2, 5 and 10 per call within
        the noise of a shared machine), and keeps memory bounded the same way.
        """
        outs: dict[str, list[np.ndarray]] = {"tags": [], "penultimate": []}
        for start in range(0, len(patches), per_call):
            chunk = np.ascontiguousarray(patches[start: start + per_call], dtype=np.float32)
            result = self.onnx(chunk) if self.onnx is not None else _run_torch(self.network, chunk)
            for key in outs:
                outs[key].append(result[key])
        return {k: np.concatenate(v) for k, v in outs.items()}


def _onnx_network(folder: Path, config: dict, blocks: tuple[str, ...] = GRAPH_BLOCKS["auto"]) -> OnnxNetwork | None:
    """The first ONNX graph of ``blocks`` (config.json keys) that is there, was made from this folder's
    weights and loads in ONNX Runtime; None when none does (torch gives the same answer)."""
    try:
        weights = hashlib.sha256((folder / "weights.safetensors").read_bytes()).hexdigest()
    except OSError:
        return None
    for name in blocks:
        block = config.get(name)
        if not block or block.get("weights_sha256") != weights:
            continue  # exported from other weights: re-run scripts/export_musicnn_onnx.py
        path = folder / block.get("file", ONNX_FILE)
        try:
            if hashlib.sha256(path.read_bytes()).hexdigest() != block.get("sha256"):
                continue
            # GENRE_CORE_THREADS: a worker that owns one core (library runs) says so; 0 is ONNX Runtime's default
            return OnnxNetwork(path, int(os.environ.get("GENRE_CORE_THREADS", "0")))
        except Exception:  # missing file, no onnxruntime, a graph it rejects: try the next one
            continue
    return None


def _torch_network(folder: Path, config: dict) -> MusiCNN:
    """The PyTorch module of a tagger folder, weights loaded strictly; raises ModelLoadError."""
    from safetensors.torch import load_file

    from genre_core.models.musicnn_net import build_musicnn

    network = build_musicnn(config["architecture"])
    try:
        network.load_state_dict(load_file(str(folder / "weights.safetensors")), strict=True)
    except (SafetensorError, OSError, RuntimeError, ValueError) as exc:
        raise ModelLoadError(f"{folder}: the pretrained tagger's weights are missing or do not match "
                             f"({str(exc).splitlines()[0]}).") from exc
    return network.eval()


def _run_torch(network: MusiCNN, chunk: np.ndarray) -> dict[str, np.ndarray]:
    """(batch, time, n_mels) -> tag probabilities and penultimate features under PyTorch."""
    import torch

    with torch.inference_mode():
        features = network.features(torch.from_numpy(chunk))
        return {"tags": torch.sigmoid(features["logits"]).numpy(), "penultimate": features["penultimate"].numpy()}


def load_tagger(folder: str | Path, backend: str | None = None) -> Tagger:
    """Build the pretrained tagger from its model folder, or raise ModelLoadError naming the folder.

    ``backend``: "auto" (ONNX Runtime: the served graph, else the reference export, when it matches the
    folder's weights), "reference" (the reference export only) or "torch"; default from the
    ``GENRE_CORE_TAGGER_BACKEND`` environment variable, else "auto".
    """
    folder = Path(folder)
    backend = backend or os.environ.get(BACKEND_ENV, "auto")
    try:
        config = json.loads((folder / "config.json").read_text())
        front = TaggerFrontEnd(**config["front_end"])
        tags = tuple(config["tags"])
        if not isinstance(config["architecture"], dict):  # read when the PyTorch module is built
            raise TypeError("architecture is not an object")
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ModelLoadError(f"{folder}: the pretrained tagger's config.json is missing or invalid ({exc}).") from exc
    try:
        with safe_open(str(folder / "weights.safetensors"), framework="numpy") as weights:
            n_outputs = weights.get_slice("tags.bias").get_shape()[0]
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelLoadError(f"{folder}: the pretrained tagger's weights are missing or unreadable "
                             f"({str(exc).splitlines()[0]}).") from exc
    if len(tags) != n_outputs:
        raise ModelLoadError(f"{folder}: {len(tags)} tag names for {n_outputs} outputs.")
    onnx = _onnx_network(folder, config, GRAPH_BLOCKS.get(backend, GRAPH_BLOCKS["auto"]))
    tagger = Tagger(front, tags, config, folder, onnx)
    if onnx is None:
        tagger.network  # noqa: B018 (build it now: a mismatch is reported at load, not at the first song)
    return tagger
