"""One stored model applied to one clip: the clip's features computed once and shared, each model's
prediction, the majority vote over windows and the ensemble of several models' answers.

torch is imported only when a network runs (the answer path's transfer model does not need it)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import librosa
import numpy as np

from genre_core.audio.decode import AudioClip, load_audio
from genre_core.features.config import FeatureConfig
from genre_core.features.spectral import (
    Excerpts,
    compute_clip_features,
    cut_windows,
    excerpt_frames,
    excerpt_handcrafted_features,
    excerpt_pieces,
    excerpt_rms,
    handcrafted_features,
    loudness_db,
    mean_rms_db,
    mel_power,
    power_spectrogram,
    rms_db,
    times_of_windows,
    window_starts,
    window_times,
)
from genre_core.models.artifacts import StoredModel
from genre_core.models.embeddings import TaggerOutput, clip_probabilities, embed
from genre_core.models.musicnn import Tagger, spread_patches
from genre_core.models.sklearn_io import class_probabilities

if TYPE_CHECKING:
    from torch import nn


@dataclass(frozen=True)
class ClipDecision:
    """How the windows of one clip add up. Probabilities have shape (n_classes,)."""

    mean_probabilities: np.ndarray  # average of window probabilities
    vote_fractions: np.ndarray  # share of windows whose top genre is each class
    mean_label: int
    vote_label: int


def combine_windows(window_probabilities: np.ndarray) -> ClipDecision:
    """(n_windows, n_classes) -> majority vote and mean probability.

    Vote ties are broken by the mean probability, so the result never depends on class order.
    """
    if window_probabilities.ndim != 2 or len(window_probabilities) == 0:
        raise ValueError("need a non-empty (n_windows, n_classes) array")
    n_classes = window_probabilities.shape[1]
    mean = window_probabilities.mean(axis=0)
    votes = np.bincount(window_probabilities.argmax(axis=1), minlength=n_classes).astype(np.float64)
    fractions = votes / votes.sum()
    tied = np.flatnonzero(votes == votes.max())
    vote_label = int(tied[np.argmax(mean[tied])])
    return ClipDecision(mean, fractions, int(mean.argmax()), vote_label)


def predict_windows(network: nn.Module, windows: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """(n_windows, n_bins, n_frames) normalised -> (n_windows, n_classes) probabilities."""
    import torch

    network.eval()
    out = []
    with torch.inference_mode():
        for start in range(0, len(windows), batch_size):
            x = torch.from_numpy(np.ascontiguousarray(windows[start : start + batch_size])).unsqueeze(1)
            x = x.contiguous(memory_format=torch.channels_last)  # the layout optimize_for_inference uses
            out.append(torch.softmax(network(x), dim=1).numpy())
    return np.concatenate(out) if out else np.zeros((0, 0), dtype=np.float32)


ENSEMBLE_NAME = "ensemble"


@dataclass
class ModelPrediction:
    """One model's answer for one clip. Probabilities are over ``labels``, shape (n_classes,)."""

    model: str
    labels: tuple[str, ...]
    probabilities: np.ndarray  # mean of window probabilities (SVM: its clip probability)
    vote_label: str  # majority vote over windows (SVM and ensemble: their own decision)
    window_probabilities: np.ndarray | None = None  # (n_windows, n_classes)
    window_times: np.ndarray | None = None  # (n_windows, 2) seconds
    timeline_model: str | None = None  # whose windows these are, when not this model's own

    @property
    def mean_label(self) -> str:
        return self.labels[int(np.argmax(self.probabilities))]

    def top(self, k: int = 3) -> list[tuple[str, float]]:
        order = np.argsort(self.probabilities)[::-1][:k]
        return [(self.labels[i], float(self.probabilities[i])) for i in order]


def _computed_with(representation: str) -> tuple[str, ...]:
    """The images computed together with ``representation``'s (the MFCC is the mel image's DCT)."""
    return ("spectrogram",) if representation == "spectrogram" else ("mel", "mfcc")


class ClipAnalysis:
    """Features of one decoded clip, computed once per feature config and shared by models.

    A long song is heard at spread moments: the tagger at most ``max_patches`` 3 s patches, the
    window models at most as many of their windows, spread evenly from the first to the last, and the
    features are computed only for the frames of those windows (:meth:`heard_windows`). A clip of that
    many windows or fewer is heard whole, from its whole-clip feature images.
    """

    def __init__(self, clip: AudioClip, max_patches: int | None = None) -> None:
        self.clip = clip
        self.max_patches = max_patches  # every model hears at most this many 3 s moments (None: all)
        self._samples: dict[int, np.ndarray] = {clip.sample_rate: clip.samples}
        self._power: dict[FeatureConfig, np.ndarray] = {}
        self._mel: dict[FeatureConfig, np.ndarray] = {}
        self._images: dict[tuple[FeatureConfig, str], np.ndarray] = {}
        self._excerpts: dict[FeatureConfig, Excerpts] = {}
        self._excerpt_images: dict[tuple[FeatureConfig, str], np.ndarray] = {}
        self._handcrafted: dict[FeatureConfig, np.ndarray] = {}
        self._tagged: dict[str, TaggerOutput] = {}

    def samples(self, sample_rate: int) -> np.ndarray:
        if sample_rate not in self._samples:
            self._samples[sample_rate] = librosa.resample(
                self.clip.samples, orig_sr=self.clip.sample_rate, target_sr=sample_rate, res_type="soxr_hq"
            )
        return self._samples[sample_rate]

    def power(self, cfg: FeatureConfig) -> np.ndarray:
        """(1 + n_fft // 2, n_frames) power spectrogram, shared by every feature of this config."""
        if cfg not in self._power:
            self._power[cfg] = power_spectrogram(self.samples(cfg.sample_rate), cfg)
        return self._power[cfg]

    def mel_power(self, cfg: FeatureConfig) -> np.ndarray:
        """(n_mels, n_frames) mel power of the whole clip, shared by the mel images and the handcrafted features."""
        if cfg not in self._mel:
            self._mel[cfg] = mel_power(self.power(cfg), cfg)
        return self._mel[cfg]

    def image(self, cfg: FeatureConfig, representation: str) -> np.ndarray:
        """(n_bins, n_frames) feature image of the whole clip (what the pages draw)."""
        key = (cfg, representation)
        if key not in self._images:
            wanted = _computed_with(representation)
            mel = None if representation == "spectrogram" else self.mel_power(cfg)
            features = compute_clip_features(self.samples(cfg.sample_rate), cfg, wanted, self.power(cfg), mel)
            for rep, value in features.items():
                self._images[(cfg, rep)] = value
        return self._images[key]

    def heard_windows(self, cfg: FeatureConfig) -> np.ndarray | None:
        """First frames of the windows the models hear, (n_heard,); None when every window is heard."""
        n_frames = 1 + len(self.samples(cfg.sample_rate)) // cfg.hop_length  # frames of a centred STFT
        starts = window_starts(n_frames, cfg)
        chosen = spread_patches(len(starts), self.max_patches)
        return None if len(chosen) == len(starts) else starts[chosen]

    def windows(self, cfg: FeatureConfig, representation: str) -> tuple[np.ndarray, np.ndarray]:
        """The heard windows' images (n_windows, n_bins, frames_per_window) and their (n_windows, 2) times in s."""
        starts = self.heard_windows(cfg)
        if starts is None:
            image = self.image(cfg, representation)
            return cut_windows(image, cfg), window_times(image.shape[1], cfg)
        key = (cfg, representation)
        if key not in self._excerpt_images:
            excerpts = self._excerpts_of(cfg, starts)
            features = compute_clip_features(None, cfg, _computed_with(representation), excerpts.power, excerpts.mel)
            for rep, value in features.items():
                self._excerpt_images[(cfg, rep)] = value
        image = self._excerpt_images[key]  # (n_bins, n_heard * frames_per_window), the windows side by side
        windows = image.reshape(image.shape[0], len(starts), cfg.frames_per_window).transpose(1, 0, 2)
        return np.ascontiguousarray(windows), times_of_windows(starts, cfg)

    def _excerpts_of(self, cfg: FeatureConfig, starts: np.ndarray) -> Excerpts:
        if cfg not in self._excerpts:
            self._excerpts[cfg] = excerpt_frames(self.samples(cfg.sample_rate), cfg, starts, cfg.frames_per_window)
        return self._excerpts[cfg]

    def handcrafted(self, cfg: FeatureConfig) -> np.ndarray:
        """(len(HANDCRAFTED_NAMES),) clip summary over the heard frames (the whole clip when all are heard)."""
        if cfg not in self._handcrafted:
            starts = self.heard_windows(cfg)
            self._handcrafted[cfg] = (
                handcrafted_features(self.samples(cfg.sample_rate), cfg, self.power(cfg), self.mel_power(cfg))
                if starts is None
                else excerpt_handcrafted_features(self._excerpts_of(cfg, starts), cfg))
        return self._handcrafted[cfg]

    def tagger_output(self, tagger: Tagger) -> TaggerOutput:
        """What the pretrained tagger hears in every 3 s patch, computed once per clip."""
        if tagger.name not in self._tagged:
            self._tagged[tagger.name] = embed(tagger, self.samples(tagger.front_end.sample_rate), self.max_patches)
        return self._tagged[tagger.name]

    def release_intermediates(self) -> None:
        """Drop the power spectrograms (the largest arrays: 5 MB per 30 s), once every model has run;
        the samples, feature images and tagger output stay for drawing, explaining and reports."""
        self._power.clear()
        self._mel.clear()
        self._excerpts.clear()

    def loudness_db(self, cfg: FeatureConfig) -> float:
        """Mean frame RMS in dBFS over the frames heard, the same figure as the handcrafted ``rms_mean``
        (read from it when computed, else computed alone)."""
        if cfg in self._handcrafted:
            return loudness_db(self._handcrafted[cfg])
        starts = self.heard_windows(cfg)
        if starts is None:
            return mean_rms_db(self.samples(cfg.sample_rate), cfg)
        pieces = excerpt_pieces(self.samples(cfg.sample_rate), cfg, starts, cfg.frames_per_window)
        return rms_db(excerpt_rms(pieces, cfg).mean())


def predict_with(model: StoredModel, analysis: ClipAnalysis) -> ModelPrediction:
    """Run one stored model on a clip."""
    cfg = model.feature_config
    if model.kind == "transfer":
        tagged = analysis.tagger_output(model.tagger)
        clip_probs, patch_probs = clip_probabilities(model.svm, model.head_input.stack(tagged), len(model.labels))
        return ModelPrediction(model.name, model.labels, clip_probs, model.labels[int(np.argmax(clip_probs))],
                               patch_probs, tagged.times)
    if model.kind == "svm":
        features = analysis.handcrafted(cfg)[None, :]
        full = class_probabilities(model.svm, features, len(model.labels))[0]
        # The vote is the SVM's own decision; its Platt probabilities can disagree with it.
        return ModelPrediction(model.name, model.labels, full, model.labels[int(model.svm.predict(features)[0])])

    windows, times = analysis.windows(cfg, model.representation)
    window_probs = predict_windows(model.network, model.normalize(windows)).astype(np.float64)
    decision = combine_windows(window_probs)
    return ModelPrediction(
        model.name, model.labels, decision.mean_probabilities, model.labels[decision.vote_label], window_probs, times,
    )


def predict_file(model: StoredModel, path: str | Path) -> ModelPrediction:
    """Decode a file at the model's rate and run the model on it (used for reference predictions)."""
    return predict_with(model, ClipAnalysis(load_audio(path, model.feature_config.sample_rate)))


def ensemble_prediction(members: list[ModelPrediction], name: str = ENSEMBLE_NAME) -> ModelPrediction:
    """Majority vote of the members' decisions (ties broken by mean probability) and their mean probability."""
    labels = members[0].labels
    probs = np.mean([m.probabilities for m in members], axis=0)
    votes = np.bincount([labels.index(m.vote_label) for m in members], minlength=len(labels))
    tied = np.flatnonzero(votes == votes.max())
    vote_label = labels[int(tied[np.argmax(probs[tied])])]
    with_windows = [m for m in members if m.window_probabilities is not None]
    window_probs = times = None
    if with_windows and all(len(m.window_probabilities) == len(with_windows[0].window_probabilities) for m in with_windows):
        window_probs = np.mean([m.window_probabilities for m in with_windows], axis=0)
        times = with_windows[0].window_times
    return ModelPrediction(name, labels, probs, vote_label, window_probs, times)
