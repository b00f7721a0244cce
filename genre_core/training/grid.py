"""Grid search over representation x architecture x batch size, scored by clip-level stratified k-fold."""
from __future__ import annotations

import time
from pathlib import Path

import pandas as pd

from genre_core.features.config import DEFAULT_FEATURES, FeatureConfig
from genre_core.features.dataset import DatasetIndex, FeatureCache, stratified_folds
from genre_core.training.evaluation import metrics_from_oof
from genre_core.training.loop import TrainConfig
from genre_core.training.pipeline import run_torch_cv
from genre_core.training.specs import ModelSpec


def grid_search(
    index: DatasetIndex, cache_dir: Path | None, representations: list[str], architectures: list[str],
    batch_sizes: list[int], k: int, epochs: int, seed: int, out_csv: Path, progress: bool = True,
    feature_cfg: FeatureConfig = DEFAULT_FEATURES,
) -> pd.DataFrame:
    """Representation x architecture x batch size, each scored by clip-level stratified k-fold."""
    results = []
    for rep in representations:
        cache = FeatureCache(cache_dir, feature_cfg)
        images = [cache.get(c, rep) for c in index.clips]
        folds = stratified_folds(index.labels(), k, seed)
        for arch in architectures:
            for batch in batch_sizes:
                spec = ModelSpec(f"grid-{arch}-{rep}-b{batch}", "torch", "", arch, rep,
                                 TrainConfig(epochs=epochs, batch_size=batch, seed=seed))
                started = time.perf_counter()
                oof, _, _ = run_torch_cv(spec, index, images, folds, feature_cfg, None, False, progress)
                m = metrics_from_oof(pd.DataFrame(oof))["vote"]["summary"]
                results.append({"representation": rep, "architecture": arch, "batch_size": batch, "epochs": epochs,
                                "folds": k, "accuracy_mean": m["accuracy"]["mean"], "accuracy_std": m["accuracy"]["std"],
                                "balanced_accuracy_mean": m["balanced_accuracy"]["mean"],
                                "balanced_accuracy_std": m["balanced_accuracy"]["std"],
                                "macro_f1_mean": m["macro_f1"]["mean"], "seconds": round(time.perf_counter() - started, 1)})
                pd.DataFrame(results).to_csv(out_csv, index=False, float_format="%.4f")
    return pd.DataFrame(results)
