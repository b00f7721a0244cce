"""Training loop for the PyTorch models: augmentation, class weights, early stopping,
checkpoints and exact resume."""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from genre_core.features.config import FeatureConfig
from genre_core.features.spectral import cut_windows
from genre_core.models.predict import predict_windows


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 30
    batch_size: int = 16  # small batches: ~200 clips give few updates per epoch otherwise
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    patience: int = 8  # epochs without a better validation loss before stopping (34 val clips: noisy)
    lr_patience: int = 2  # ReduceLROnPlateau patience
    crops_per_clip: int = 4  # random 3 s crops per training clip per epoch, on average
    # "balanced": every genre gets the same number of crops per epoch (rare genres' clips are
    # cropped more often, each crop a different excerpt) and the loss is unweighted;
    # "uniform": the same number of crops from every clip and an inverse-frequency weighted loss.
    sampling: str = "balanced"
    time_mask: float = 0.08  # largest masked share of frames (SpecAugment)
    freq_mask: float = 0.08  # largest masked share of bins
    cutout: float = 0.0  # probability of the reference's cutout (3 rows, 4 columns)
    flip: float = 0.0  # probability of the reference's time flip (off: it reverses attacks)
    seed: int = 0
    checkpoint_every: int = 1

    @classmethod
    def from_dict(cls, data: dict) -> "TrainConfig":
        return cls(**data)


@dataclass
class TrainResult:
    state_dict: dict[str, torch.Tensor]
    history: list[dict]
    best_epoch: int  # 1-based epoch whose weights were kept
    seconds: float


def class_weights(labels: np.ndarray, n_classes: int) -> torch.Tensor:
    """Inverse-frequency weights, mean 1 over present classes (our copy is 10:1 unbalanced)."""
    counts = np.bincount(labels, minlength=n_classes).astype(np.float64)
    weights = np.where(counts > 0, counts.sum() / np.maximum(counts, 1) / max(1, (counts > 0).sum()), 0.0)
    return torch.tensor(weights, dtype=torch.float32)


def normalization_stats(images: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per-bin mean and std over all frames of the training clips, each (n_bins,)."""
    total = sum(img.shape[1] for img in images)
    mean = sum(img.sum(axis=1, dtype=np.float64) for img in images) / total
    sq = sum(((img - mean[:, None]) ** 2).sum(axis=1, dtype=np.float64) for img in images) / total
    return mean.astype(np.float32), np.sqrt(sq + 1e-8).astype(np.float32)


def augment(batch: np.ndarray, cfg: TrainConfig, rng: np.random.Generator) -> np.ndarray:
    """Masks, cutout and flip on normalised windows (batch, n_bins, n_frames), in place."""
    n, bins, frames = batch.shape
    for i in range(n):
        if cfg.time_mask > 0:
            width = rng.integers(0, int(cfg.time_mask * frames) + 1)
            start = rng.integers(0, frames - width + 1)
            batch[i, :, start : start + width] = 0.0
        if cfg.freq_mask > 0:
            height = rng.integers(0, int(cfg.freq_mask * bins) + 1)
            start = rng.integers(0, bins - height + 1)
            batch[i, start : start + height, :] = 0.0
        if rng.random() < cfg.cutout:
            batch[i, rng.integers(0, bins, size=min(3, bins)), :] = 0.0
            batch[i, :, rng.integers(0, frames, size=4)] = 0.0
        if rng.random() < cfg.flip:
            batch[i] = batch[i, :, ::-1]
    return batch


def crops_per_clip(labels: np.ndarray, per_clip: int, sampling: str, rng: np.random.Generator) -> np.ndarray:
    """How many crops to draw from each clip this epoch, shape (n_clips,); about ``per_clip`` on average."""
    if sampling == "uniform":
        return np.full(len(labels), per_clip, dtype=np.int64)
    if sampling != "balanced":
        raise ValueError(f"unknown sampling '{sampling}'")
    classes, counts = np.unique(labels, return_counts=True)
    per_class = per_clip * len(labels) / len(classes)
    expected = per_class / counts[np.searchsorted(classes, labels)]
    # stochastic rounding keeps the expected count exact for majority clips (< 1 crop each)
    return (np.floor(expected) + (rng.random(len(labels)) < expected % 1)).astype(np.int64)


def random_crops(
    images: list[np.ndarray], labels: np.ndarray, n_crops: np.ndarray, width: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """``n_crops[i]`` random windows of ``width`` frames from clip i: (n, n_bins, width), (n,)."""
    crops, crop_labels = [], []
    for image, label, n in zip(images, labels, n_crops):
        for start in rng.integers(0, image.shape[1] - width + 1, size=int(n)):
            crops.append(image[:, start : start + width])
            crop_labels.append(label)
    return np.stack(crops).astype(np.float32), np.asarray(crop_labels, dtype=np.int64)


def _checkpoint_state(network, optimizer, scheduler, epoch, history, best, rng) -> dict:
    return {
        "epoch": epoch,
        "model": network.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "history": json.dumps(history),
        "best": {k: v for k, v in best.items() if k != "state"},
        "best_state": best["state"],
        "numpy_rng": json.dumps(rng.bit_generator.state),
        "torch_rng": torch.get_rng_state(),
    }


def train_network(
    network: nn.Module,
    train_images: list[np.ndarray],
    train_labels: np.ndarray,
    feature_cfg: FeatureConfig,
    cfg: TrainConfig,
    val_images: list[np.ndarray] | None = None,
    val_labels: np.ndarray | None = None,
    checkpoint_path: str | os.PathLike | None = None,
    resume: bool = False,
    progress: bool = True,
    description: str = "training",
    stop_after: int | None = None,
) -> TrainResult:
    """Train on random crops of normalised clip images (each (n_bins, n_frames)).

    With a validation set: keeps the weights of the lowest validation loss and stops early.
    Without one (the final fit): trains ``cfg.epochs`` epochs and keeps the last weights.
    ``stop_after`` ends the run after that many epochs (used to test interrupt and resume).
    """
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    n_classes = network(torch.zeros(1, 1, train_images[0].shape[0], feature_cfg.frames_per_window)).shape[1]
    # Balanced sampling already evens out the genres; weighting the loss too would count them twice.
    weights = class_weights(train_labels, n_classes) if cfg.sampling == "uniform" else None
    val_weights = class_weights(train_labels, n_classes)  # validation windows are not resampled
    optimizer = torch.optim.Adam(network.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=cfg.lr_patience)
    has_val = val_images is not None and len(val_images) > 0
    val_windows = val_window_labels = None
    if has_val:
        per_clip = [cut_windows(img, feature_cfg) for img in val_images]
        val_windows = np.concatenate(per_clip)
        val_window_labels = np.concatenate([np.full(len(w), y) for w, y in zip(per_clip, val_labels)])

    history: list[dict] = []
    best: dict = {"loss": float("inf"), "epoch": 0, "stale": 0, "state": None}
    start_epoch = 1
    checkpoint_path = Path(checkpoint_path) if checkpoint_path else None
    if resume and checkpoint_path and checkpoint_path.exists():
        state = torch.load(checkpoint_path, weights_only=True)
        network.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        history = json.loads(state["history"])
        best = {**state["best"], "state": state["best_state"]}
        rng.bit_generator.state = json.loads(state["numpy_rng"])
        torch.set_rng_state(state["torch_rng"])
        start_epoch = state["epoch"] + 1

    began = time.perf_counter() - sum(h["seconds"] for h in history)
    bar = tqdm(range(start_epoch, cfg.epochs + 1), desc=description, unit="epoch", disable=not progress,
               initial=start_epoch - 1, total=cfg.epochs)
    for epoch in bar:
        if has_val and best["stale"] >= cfg.patience:
            break
        t0 = time.perf_counter()
        network.train()
        counts = crops_per_clip(train_labels, cfg.crops_per_clip, cfg.sampling, rng)
        x_all, y_all = random_crops(train_images, train_labels, counts, feature_cfg.frames_per_window, rng)
        order = rng.permutation(len(y_all))
        total_loss = correct = 0.0
        for start in range(0, len(order), cfg.batch_size):
            idx = order[start : start + cfg.batch_size]
            x = torch.from_numpy(augment(x_all[idx], cfg, rng)).unsqueeze(1)
            y = torch.from_numpy(y_all[idx])
            optimizer.zero_grad()
            logits = network(x)
            loss = F.cross_entropy(logits, y, weight=weights)
            loss.backward()
            optimizer.step()
            total_loss += float(loss.detach()) * len(idx)
            correct += float((logits.argmax(1) == y).sum())
        row = {"epoch": epoch, "train_loss": total_loss / len(order), "train_acc": correct / len(order),
               "lr": optimizer.param_groups[0]["lr"]}
        if has_val:
            probs = predict_windows(network, val_windows)
            val_loss = float(F.nll_loss(torch.log(torch.from_numpy(probs) + 1e-9),
                                        torch.from_numpy(val_window_labels), weight=val_weights))
            row.update(val_loss=val_loss, val_acc=float((probs.argmax(1) == val_window_labels).mean()))
            scheduler.step(val_loss)
            if val_loss < best["loss"] - 1e-4:
                best = {"loss": val_loss, "epoch": epoch, "stale": 0,
                        "state": {k: v.detach().clone() for k, v in network.state_dict().items()}}
            else:
                best["stale"] += 1
        row["seconds"] = time.perf_counter() - t0
        history.append(row)
        bar.set_postfix({k: f"{v:.3f}" for k, v in row.items() if k in ("train_loss", "val_loss", "val_acc")})
        if checkpoint_path and epoch % cfg.checkpoint_every == 0:
            checkpoint_path.parent.mkdir(parents=True, exist_ok=True)
            tmp = checkpoint_path.with_suffix(".tmp")
            torch.save(_checkpoint_state(network, optimizer, scheduler, epoch, history, best, rng), tmp)
            tmp.replace(checkpoint_path)
        if stop_after is not None and epoch >= stop_after:
            break
    bar.close()
    if has_val and best["state"] is not None:
        state_dict, best_epoch = best["state"], int(best["epoch"])
    else:
        state_dict, best_epoch = network.state_dict(), len(history)
    network.load_state_dict(state_dict)
    return TrainResult(state_dict, history, best_epoch, time.perf_counter() - began)
