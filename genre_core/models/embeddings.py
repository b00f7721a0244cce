"""Transfer models: a classifier on musicnn's frozen embedding of every 3 s patch of a clip.

The pretrained tagger (``models/musicnn_msd``, see ``musicnn.py``) turns each non-overlapping 3 s
patch into tag probabilities and a 200-dimensional penultimate embedding. A transfer model is a
logistic regression trained on every patch of the training clips (each patch labelled with its
clip's genre); a clip's probabilities are the mean of its patch probabilities over the whole file,
so the timeline and the answer come from the same classifier. The scikit-learn pipeline is
stored with skops, like the SVM.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from genre_core.audio.decode import load_audio
from genre_core.features.dataset import Clip, DatasetIndex, file_digest
from genre_core.models.musicnn import Tagger, patch_times
from genre_core.models.sklearn_io import class_probabilities

if TYPE_CHECKING:  # scikit-learn only where a head is fitted (it takes seconds to import)
    from sklearn.pipeline import Pipeline

TAGGER_NAME = "musicnn_msd"
EMBEDDING_VERSION = 1  # bump when the way patches are embedded changes


@dataclass(frozen=True)
class TaggerOutput:
    """What the tagger hears in one clip, patch by patch."""

    tags: np.ndarray  # (n_patches, n_tags) probabilities
    penultimate: np.ndarray  # (n_patches, n_units)
    times: np.ndarray  # (n_patches, 2) start/end seconds
    total_patches: int | None = None  # patches in the whole clip, when only some were heard

    @property
    def sampled(self) -> bool:
        """True when a long clip was heard at spread-out patches rather than every 3 s."""
        return self.total_patches is not None and self.total_patches > len(self.tags)

    def mean_tags(self) -> np.ndarray:
        """(n_tags,) tag probabilities averaged over the clip."""
        return self.tags.mean(axis=0)


@dataclass(frozen=True)
class HeadInput:
    """Which of the tagger's per-patch outputs a transfer head reads, side by side.

    Written into every transfer model's config (``head_input``) and read back at inference, so a
    head is always fed what it was trained on. Models stored before it existed read the penultimate layer.
    """

    layers: tuple[str, ...] = ("penultimate",)

    def __post_init__(self) -> None:
        unknown = [layer for layer in self.layers if layer not in HEAD_INPUT_LAYERS]
        if not self.layers or unknown:
            raise ValueError(f"head input layers must be some of {HEAD_INPUT_LAYERS}, got {self.layers}")

    def stack(self, outputs: TaggerOutput | dict[str, np.ndarray]) -> np.ndarray:
        """The tagger's outputs for n patches -> (n_patches, sum of the layers' widths)."""
        arrays = outputs if isinstance(outputs, dict) else {"penultimate": outputs.penultimate, "tags": outputs.tags}
        return np.hstack([arrays[layer] for layer in self.layers])

    def to_dict(self) -> dict:
        return {"layers": list(self.layers)}

    @classmethod
    def from_config(cls, config: dict) -> HeadInput:
        return cls(tuple(config.get("head_input", {}).get("layers", ("penultimate",))))


HEAD_INPUT_LAYERS = ("penultimate", "tags")


def embed(tagger: Tagger, samples: np.ndarray, max_patches: int | None = None) -> TaggerOutput:
    """(n_samples,) mono at the tagger's rate -> its output for every 3 s patch of the whole clip.

    With ``max_patches``, a clip of more patches is heard at that many evenly spread patches (the
    network is ~30 ms per patch on 2 cores: a 4-minute song has 80).
    """
    patches, chosen, total = tagger.heard_patches(samples, max_patches)
    out = tagger.run(patches)
    return TaggerOutput(out["tags"], out["penultimate"], patch_times(chosen, tagger.front_end), total)


class EmbeddingCache:
    """Tagger outputs of dataset clips on disk, keyed by file content and the tagger's weights."""

    def __init__(self, directory: str | os.PathLike | None, tagger: Tagger) -> None:
        weights = hashlib.sha256((tagger.folder / "weights.safetensors").read_bytes()).hexdigest()[:12]
        self.directory = Path(directory) / f"{tagger.name}-{weights}-v{EMBEDDING_VERSION}" if directory else None
        self.tagger = tagger
        if self.directory:
            self.directory.mkdir(parents=True, exist_ok=True)

    def get(self, clip: Clip) -> TaggerOutput:
        path = self.directory / f"{clip.clip_id}-{file_digest(clip.path)}.npz" if self.directory else None
        if path is not None and path.exists():
            with np.load(path) as data:
                return TaggerOutput(data["tags"], data["penultimate"], data["times"])
        samples = load_audio(clip.path, self.tagger.front_end.sample_rate).samples
        out = embed(self.tagger, samples)
        if path is not None:
            tmp = path.with_suffix(".tmp.npz")
            np.savez(tmp, tags=out.tags, penultimate=out.penultimate, times=out.times)
            tmp.replace(path)
        return out

    def patch_embeddings(self, index: DatasetIndex, head_input: HeadInput = HeadInput(),
                         progress: bool = True) -> list[np.ndarray]:
        """One (n_patches, n_inputs) array per clip of ``index``: the layers ``head_input`` names."""
        from tqdm import tqdm

        clips = tqdm(index.clips, desc=f"{self.tagger.name} embeddings", unit="clip", disable=not progress)
        return [head_input.stack(self.get(c)) for c in clips]


def clip_probabilities(pipeline: Pipeline, patches: np.ndarray, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """(n_patches, n_units) embeddings -> clip probabilities (n_classes,) and patch ones (n_patches, n_classes)."""
    patch_probs = class_probabilities(pipeline, patches, n_classes)
    return patch_probs.mean(axis=0), patch_probs


