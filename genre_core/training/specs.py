"""The model zoo's specification: every model's name, kind, architecture, input and training settings,
and the members of the ensemble and of the stacked headline candidate (fixed before any score was seen)."""
from __future__ import annotations

from dataclasses import dataclass, field

from genre_core.models.embeddings import HeadInput
from genre_core.training.loop import TrainConfig


@dataclass(frozen=True)
class ModelSpec:
    name: str
    kind: str  # "torch", "svm" or "transfer" (a classifier on the pretrained tagger's clip embedding)
    title: str
    architecture: str = ""
    representation: str = ""
    train: TrainConfig = field(default_factory=TrainConfig)
    head_input: HeadInput = field(default_factory=HeadInput)  # transfer models: the tagger outputs the head reads


MODEL_SPECS: dict[str, ModelSpec] = {s.name: s for s in [
    ModelSpec("svm_handcrafted", "svm", "SVM (RBF) on handcrafted clip features"),
    ModelSpec("linear_mel", "torch", "Linear baseline on a 64x100 mel image", "linear", "mel",
              TrainConfig(epochs=30, learning_rate=3e-4)),
    ModelSpec("deep_cnn_mel", "torch", "Deep 5-block CNN on mel spectrograms", "deep_cnn", "mel"),
    ModelSpec("deep_cnn_mfcc", "torch", "Deep 5-block CNN on MFCCs", "deep_cnn", "mfcc"),
    ModelSpec("deep_cnn_spectrogram", "torch", "Deep 5-block CNN on the linear spectrogram", "deep_cnn", "spectrogram"),
    ModelSpec("complex_cnn_mel", "torch", "Complex CNN (~60k parameters) on mel spectrograms", "complex_cnn", "mel"),
    ModelSpec("simple_cnn_mel", "torch", "Simple CNN (~15k parameters) on mel spectrograms", "simple_cnn", "mel"),
    # Penultimate layer and tag probabilities side by side: better than the penultimate layer alone on
    # 5-fold (0.897 vs 0.882 balanced, 686 clips; reports/transfer_levers.json), the protocol that chose it.
    ModelSpec("musicnn_logreg", "transfer", "Logistic regression on pretrained musicnn (Million Song Dataset) "
              "embeddings and tags", "logreg", "musicnn", head_input=HeadInput(("penultimate", "tags"))),
]}


CLIP_CLASSIFIERS = ("svm", "transfer")  # kinds decided once per clip by a scikit-learn pipeline


# Fixed before training (not chosen by test scores): the three representation CNNs, the
# larger 3-block CNN and the SVM; five voters so a majority exists.
ENSEMBLE_MEMBERS = ("deep_cnn_mel", "deep_cnn_mfcc", "deep_cnn_spectrogram", "complex_cnn_mel", "svm_handcrafted")


# The stacked headline candidate combines the pretrained transfer model with the strongest from-scratch
# families (fixed before looking at scores): the deep mel CNN, the spectrogram CNN and the SVM.
STACK_MEMBERS = ("musicnn_logreg", "deep_cnn_mel", "deep_cnn_spectrogram", "svm_handcrafted", "deep_cnn_mfcc")
