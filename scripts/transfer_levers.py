"""Measure levers for the transfer model on both protocols, with the project's folds and head.

For every clip of the GTZAN copy (and, with --augment, one production-augmented copy of it: EQ tilt, loud
soft-clip mastering, AAC; genre_core/training/audio_augment.py) the pretrained tagger's per-patch outputs are
computed once and cached: the penultimate layer (200), the mid end's max and mean pool (753 each) and the
tags (50); with --vgg-wheel also the pool5 layer (256) of musicnn's MSD_vgg network from the musicnn 0.1.0 wheel
(ported in genre_core/models/musicnn_net.py, weights mapped by scripts/convert_musicnn.py; not shipped).
Then each candidate input is scored exactly as `train musicnn_logreg` scores it: a class-balanced
logistic regression on every patch, C by inner grouped 3-fold CV on the training part only, clip-level
stratified 5-fold (seed 0) and the artist-filtered split (train+valid / test). Augmented copies are added to
the training part only; test clips are always the originals.

    .venv/bin/python scripts/transfer_levers.py --data ../shared/gtzan [--augment] [--inputs penultimate pooled]
    .venv/bin/python scripts/transfer_levers.py --data ../shared/gtzan --vgg-wheel musicnn-0.1.0-py3-none-any.whl \
        --inputs penultimate+tags penultimate+tags+msd_vgg
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from genre_core.audio.decode import load_audio
from genre_core.features.config import GENRES
from genre_core.features.dataset import artist_filtered_split, default_cache_dir, file_digest, index_dataset, stratified_folds
from genre_core.models.artifacts import PACKAGE_MODELS_DIR
from genre_core.models.embeddings import clip_probabilities
from genre_core.models.musicnn import load_tagger
from genre_core.training.audio_augment import modern_production
from genre_core.training.evaluation import artist_metrics, metrics_from_oof
from genre_core.training.transfer import fit_patch_logreg

GRID = {"logreg__C": [0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3]}  # wide: concatenations pick small C


def tagger_outputs(tagger, samples: np.ndarray) -> dict[str, np.ndarray]:
    """Per-patch penultimate (n, 200), pooled (n, 1506) and tags (n, 50) from the torch port."""
    import torch

    patches = tagger.patches(samples)
    outs: dict[str, list] = {"penultimate": [], "pooled": [], "tags": []}
    with torch.inference_mode():
        for start in range(0, len(patches), 2):
            f = tagger.network.features(torch.from_numpy(np.ascontiguousarray(patches[start:start + 2])))
            outs["penultimate"].append(f["penultimate"].numpy())
            outs["pooled"].append(torch.cat([f["max_pool"], f["mean_pool"]], dim=1).numpy())
            outs["tags"].append(torch.sigmoid(f["logits"]).numpy())
    return {k: np.concatenate(v).astype(np.float32) for k, v in outs.items()}


def cached_outputs(tagger, clip, variant: str, cache: Path) -> dict[str, np.ndarray]:
    path = cache / f"{clip.clip_id}-{file_digest(clip.path)}-{variant}.npz"
    if path.exists():
        with np.load(path) as data:
            return dict(data)
    samples = load_audio(clip.path, tagger.front_end.sample_rate).samples
    if variant != "original":
        seed = int(file_digest(clip.path)[:8], 16) + hash(variant) % 1000
        samples = modern_production(samples, tagger.front_end.sample_rate, np.random.default_rng(seed))
    out = tagger_outputs(tagger, samples)
    np.savez(path.with_suffix(".tmp.npz"), **out)
    path.with_suffix(".tmp.npz").replace(path)
    return out


def add_vgg(outputs: dict[str, np.ndarray], clip, tagger, vgg, cache: Path) -> dict[str, np.ndarray]:
    """Add MSD_vgg's per-patch pool5 (n, 256) to a clip's cached outputs (same 3 s patches as musicnn)."""
    import torch

    if "msd_vgg" in outputs:
        return outputs
    samples = load_audio(clip.path, tagger.front_end.sample_rate).samples
    with torch.inference_mode():
        f = vgg.features(torch.from_numpy(np.ascontiguousarray(tagger.patches(samples))))
    outputs = {**outputs, "msd_vgg": f["pool5"].numpy().astype(np.float32),
               "msd_vgg_tags": torch.sigmoid(f["logits"]).numpy().astype(np.float32)}
    path = cache / f"{clip.clip_id}-{file_digest(clip.path)}-original.npz"
    np.savez(path.with_suffix(".tmp.npz"), **outputs)
    path.with_suffix(".tmp.npz").replace(path)
    return outputs


def load_vgg(wheel: str):
    """MusicVGG with MSD_vgg's weights read from the musicnn wheel (no TensorFlow needed)."""
    import sys
    import tempfile
    import zipfile

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from convert_musicnn import vgg_state_dict
    from tf_checkpoint import read_checkpoint

    from genre_core.models.musicnn_net import MusicVGG

    with tempfile.TemporaryDirectory() as tmp:
        with zipfile.ZipFile(wheel) as archive:
            archive.extractall(tmp)
        state = vgg_state_dict(read_checkpoint(f"{tmp}/musicnn/MSD_vgg/"))
    vgg = MusicVGG()
    vgg.load_state_dict(state, strict=True)
    return vgg.eval()


def frame(clips, idx, probs) -> list[dict]:
    rows = []
    for i, p in zip(idx, probs):
        label = GENRES[int(np.argmax(p))]
        rows.append({"clip_id": clips[i].clip_id, "true": clips[i].genre, "vote": label, "mean": label,
                     **{f"p_{g}": float(v) for g, v in zip(GENRES, p)}})
    return rows


def evaluate(inputs: list[dict[str, np.ndarray]], augmented: list[dict[str, np.ndarray]] | None, key: str,
             index, labels: np.ndarray, folds, artist) -> dict:
    def x_of(outputs, i):
        return np.hstack([outputs[i][k] for k in key.split("+")])

    def fit_predict(train, test):
        train_x = [x_of(inputs, i) for i in train]
        train_y = labels[train]
        if augmented is not None:
            train_x += [x_of(augmented, i) for i in train]
            train_y = np.concatenate([train_y, labels[train]])
        pipeline, params = fit_patch_logreg(train_x, train_y, grid=GRID)
        probs = [clip_probabilities(pipeline, x_of(inputs, i), len(GENRES))[0] for i in test]
        return probs, params["logreg__C"]

    oof, chosen = [], []
    for fold, (train, test) in enumerate(folds, start=1):
        probs, c = fit_predict(train, test)
        chosen.append(c)
        oof += [{**r, "fold": fold} for r in frame(index.clips, test, probs)]
    kfold = metrics_from_oof(pd.DataFrame(oof))["mean"]["summary"]
    result = {"kfold_balanced": kfold["balanced_accuracy"]["mean"], "kfold_balanced_std": kfold["balanced_accuracy"]["std"],
              "kfold_accuracy": kfold["accuracy"]["mean"], "C_per_fold": chosen}
    if artist is not None:
        probs, c = fit_predict(np.concatenate([artist["train"], artist["valid"]]), artist["test"])
        a = artist_metrics(pd.DataFrame(frame(index.clips, artist["test"], probs)))["mean"]
        result.update(artist_covered_balanced=a["covered"]["balanced_accuracy"], artist_accuracy=a["accuracy"],
                      artist_C=c, artist_recall={g: r for g, r in a["per_genre_recall"].items() if r is not None})
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True)
    parser.add_argument("--augment", action="store_true", help="also score heads trained with one augmented copy")
    parser.add_argument("--inputs", nargs="+", default=["penultimate", "pooled", "penultimate+tags"])
    parser.add_argument("--out", default="reports/transfer_levers.json")
    parser.add_argument("--vgg-wheel", help="musicnn-0.1.0 wheel: also compute MSD_vgg's pool5 (input name msd_vgg)")
    args = parser.parse_args()
    index = index_dataset(args.data)
    labels = index.labels()
    tagger = load_tagger(PACKAGE_MODELS_DIR / "musicnn_msd", backend="torch")
    cache = default_cache_dir() / "levers"
    cache.mkdir(parents=True, exist_ok=True)
    from tqdm import tqdm

    originals = [cached_outputs(tagger, c, "original", cache) for c in tqdm(index.clips, desc="original")]
    if args.vgg_wheel:
        vgg = load_vgg(args.vgg_wheel)
        originals = [add_vgg(o, c, tagger, vgg, cache) for o, c in zip(originals, tqdm(index.clips, desc="MSD_vgg"))]
    augmented = [cached_outputs(tagger, c, "production1", cache) for c in tqdm(index.clips, desc="augmented")] \
        if args.augment else None
    folds = stratified_folds(labels, 5, 0)
    artist = artist_filtered_split(index)
    results = {}
    for key in args.inputs:
        for aug in ([None, augmented] if augmented is not None else [None]):
            name = key + (" + augmented copy" if aug is not None else "")
            started = time.perf_counter()
            results[name] = evaluate(originals, aug, key, index, labels, folds, artist)
            results[name]["seconds"] = round(time.perf_counter() - started, 1)
            r = results[name]
            print(f"{name:<40} 5-fold balanced {r['kfold_balanced']:.3f} ± {r['kfold_balanced_std']:.3f}  "
                  f"artist covered balanced {r.get('artist_covered_balanced', float('nan')):.3f}  "
                  f"C {r['C_per_fold']} / {r.get('artist_C')}", flush=True)
            previous = json.loads(Path(args.out).read_text())["results"] if Path(args.out).exists() else {}
            Path(args.out).write_text(json.dumps({"data": str(args.data), "n_clips": len(index.clips),
                                                  "results": {**previous, **results}}, indent=2) + "\n")


if __name__ == "__main__":
    main()
