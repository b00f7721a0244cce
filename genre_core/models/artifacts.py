"""Model folders: writing them after training and the one loader that turns a folder into a model.

A folder holds ``config.json`` (architecture, feature config, label order, normalisation,
provenance), the weights (``weights.safetensors`` or ``model.skops``), ``metrics.json``,
``history.csv``, ``reference_predictions.json`` and ``MODEL_CARD.md``.
"""
from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from safetensors import SafetensorError

from genre_core.audio.errors import ModelLoadError
from genre_core.features.config import FeatureConfig
from genre_core.models import artifacts as art
from genre_core.models.embeddings import HeadInput
from genre_core.models.head import load_head
from genre_core.models.musicnn import Tagger, load_tagger

if TYPE_CHECKING:  # torch and skops take seconds to import: only models that need them import them
    import torch

# The stored models ship beside the package, in the repository's models/ folder.
PACKAGE_MODELS_DIR = Path(__file__).resolve().parents[2] / "models"

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "weights.safetensors"
SVM_FILE = "model.skops"
METRICS_FILE = "metrics.json"
HISTORY_FILE = "history.csv"
REFERENCE_FILE = "reference_predictions.json"
TRAINED_KINDS = ("torch", "svm", "transfer")  # trained on clips; the ensemble and headline are built from them
OOF_FILE = "oof_predictions.csv"
ARTIST_FILE = "artist_predictions.csv"  # predictions on the artist-filtered test part
CARD_FILE = "MODEL_CARD.md"


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_json(path: Path, data: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    tmp.replace(path)


def write_history(path: Path, rows: list[dict]) -> None:
    columns = ["fold", "epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds"]
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def save_torch_weights(folder: Path, network: "torch.nn.Module") -> str:
    from safetensors.torch import save_file

    path = folder / WEIGHTS_FILE
    save_file({k: v.contiguous() for k, v in network.state_dict().items()}, str(path))
    return sha256_of(path)


@dataclass
class StoredModel:
    """A ready model and its metadata. Torch models take normalised window batches."""

    name: str
    folder: Path
    config: dict
    feature_config: FeatureConfig
    labels: tuple[str, ...]
    network: "torch.nn.Module | None" = None
    svm: Any = None  # a scikit-learn pipeline (the SVM), or a transfer model's head (a LinearHead or pipeline)
    tagger: Tagger | None = None  # transfer models: the pretrained network giving the embedding
    norm_mean: np.ndarray | None = None  # (n_bins,)
    norm_std: np.ndarray | None = None

    @property
    def kind(self) -> str:
        return self.config["kind"]

    @property
    def representation(self) -> str:
        return self.config.get("representation", "handcrafted")

    @property
    def head_input(self) -> HeadInput:
        """Transfer models: the tagger outputs their head reads."""
        return HeadInput.from_config(self.config)

    def metrics(self) -> dict:
        path = self.folder / METRICS_FILE
        return json.loads(path.read_text()) if path.exists() else {}

    def normalize(self, image: np.ndarray) -> np.ndarray:
        """(n_bins, n_frames) -> standardised with the training statistics."""
        return (image - self.norm_mean[:, None]) / self.norm_std[:, None]


def _read_config(folder: Path) -> dict:
    path = folder / CONFIG_FILE
    if not folder.is_dir():
        raise ModelLoadError(f"Model folder {folder} does not exist.")
    if not path.exists():
        raise ModelLoadError(f"Model folder {folder} has no {CONFIG_FILE}.")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ModelLoadError(f"{path} is not valid JSON ({exc}).") from exc


def load_model(folder: str | Path) -> StoredModel:
    """Build a ready-to-predict model from its folder, or raise ModelLoadError naming the folder."""
    folder = Path(folder)
    config = _read_config(folder)
    try:
        feature_cfg = FeatureConfig.from_dict(config["feature_config"])
        labels = tuple(config["labels"])
        kind = config["kind"]
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelLoadError(f"{folder}/{CONFIG_FILE} is incomplete or invalid ({exc}).") from exc
    model = StoredModel(config.get("name", folder.name), folder, config, feature_cfg, labels)
    if kind in ("svm", "transfer"):
        path = folder / SVM_FILE
        if not path.exists():
            raise ModelLoadError(f"Model folder {folder} has no {SVM_FILE}.")
        model.svm = load_head(folder, config) if kind == "transfer" else None
        if model.svm is None:
            from genre_core.models.sklearn_io import load_svm

            model.svm = load_svm(path, config.get("weights_sha256"))
        if kind == "transfer":
            try:
                model.head_input  # noqa: B018 - fails here, naming the folder, rather than on the first song
            except (ValueError, TypeError, AttributeError) as exc:
                raise ModelLoadError(f"{folder}/{CONFIG_FILE}: head_input is invalid ({exc}).") from exc
            model.tagger = shared_tagger(folder.parent, config.get("embedding_model", ""))
        return model
    if kind != "torch":
        raise ModelLoadError(f"{folder}: unknown model kind '{kind}'.")
    path = folder / WEIGHTS_FILE
    if not path.exists():
        raise ModelLoadError(f"Model folder {folder} has no {WEIGHTS_FILE}.")
    from safetensors.torch import load_file

    from genre_core.models.networks import build_network, optimize_for_inference

    try:
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelLoadError(f"{folder}: {WEIGHTS_FILE} is corrupt ({exc}).") from exc
    try:
        n_bins = feature_cfg.n_bins(config["representation"])
        network = build_network(config["architecture"], len(labels), n_bins)
        network.load_state_dict(state, strict=True)
    except (KeyError, ValueError, RuntimeError) as exc:
        raise ModelLoadError(
            f"{folder}: the weights do not match the architecture in {CONFIG_FILE} ({str(exc).splitlines()[0]})."
        ) from exc
    model.network = optimize_for_inference(network)
    model.norm_mean = np.asarray(config["normalization"]["mean"], dtype=np.float32)
    model.norm_std = np.asarray(config["normalization"]["std"], dtype=np.float32)
    if model.norm_mean.shape != (n_bins,) or model.norm_std.shape != (n_bins,):
        raise ModelLoadError(f"{folder}: normalisation statistics do not have {n_bins} bins.")
    return model


_TAGGERS: dict[Path, Tagger] = {}


def shared_tagger(models_dir: Path, name: str) -> Tagger:
    """The pretrained tagger ``name`` from ``models_dir`` (else the shipped models/), loaded once per process."""
    folder = models_dir / name if (models_dir / name / CONFIG_FILE).exists() else PACKAGE_MODELS_DIR / name
    folder = folder.resolve()
    if folder not in _TAGGERS:
        _TAGGERS[folder] = load_tagger(folder)
    return _TAGGERS[folder]


def list_model_folders(models_dir: str | Path) -> list[Path]:
    """Folders under ``models_dir`` that hold a config.json, sorted by name."""
    root = Path(models_dir)
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if (p / CONFIG_FILE).exists())


def read_predictions(models_dir: Path, names: list[str], file: str = art.OOF_FILE) -> dict[str, pd.DataFrame]:
    """Stored per-clip predictions of each model, indexed by clip_id and sorted."""
    out = {}
    for name in names:
        path = models_dir / name / file
        if path.exists():
            out[name] = pd.read_csv(path).set_index("clip_id").sort_index()
    return out


SUMMARY_DIR = "dataset_summary"


BAR_FILE = "plain_svm_bar.json"
