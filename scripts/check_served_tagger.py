"""The issue-25 shipping rule for a faster tagger graph, on the GTZAN clips: does the headline answer stay?

    GTZAN_DIR=/work/shared/gtzan .venv/bin/python scripts/check_served_tagger.py [--graph FILE] [--cache DIR]

Embeds every clip with the reference float graph (``musicnn.onnx``) and with the candidate (default: the
served graph of config.json; ``--graph`` any other ONNX file, e.g. an INT8 one), refits the headline's
transfer head per fold on the reference embeddings exactly as training does (same folds, seed and
grid; the artist-filtered train+valid / test split too) and applies each fold's head to both. A graph
that is not exact ships only if the top-1 answers agree on >= 99 % of the out-of-fold clips and the
balanced accuracy moves by <= 0.005 on both protocols; an exact rewrite must agree on every clip.
Prints the figures the model card quotes.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from genre_core.audio.decode import load_audio  # noqa: E402
from genre_core.features.dataset import (  # noqa: E402
    artist_filtered_split,
    default_data_dir,
    index_dataset,
    stratified_folds,
)
from genre_core.models.embeddings import HeadInput, TaggerOutput, clip_probabilities, embed  # noqa: E402
from genre_core.models.musicnn import OnnxNetwork, Tagger, load_tagger  # noqa: E402
from genre_core.training.transfer import fit_patch_logreg  # noqa: E402

MIN_AGREEMENT, MAX_BALANCED_ACCURACY_SHIFT = 0.99, 0.005
FOLDS, SEED = 5, 0  # as the stored transfer head was evaluated (its config's protocol)


def _embeddings(taggers: dict[str, Tagger], paths: list[Path], cache: Path | None) -> dict[str, list[TaggerOutput]]:
    """Every clip through every tagger; each clip decoded once. Cached per tagger name under ``cache``."""
    from tqdm import tqdm

    out: dict[str, list[TaggerOutput]] = {name: [] for name in taggers}
    for i, path in enumerate(tqdm(paths, desc="clips", unit="clip")):
        samples = None
        for name, tagger in taggers.items():
            stored = cache / name / f"{i:04d}-{path.stem}.npz" if cache else None
            if stored is not None and stored.exists():
                with np.load(stored) as data:
                    out[name].append(TaggerOutput(data["tags"], data["penultimate"], data["times"]))
                continue
            if samples is None:
                samples = load_audio(path, tagger.front_end.sample_rate).samples
            result = embed(tagger, samples)
            if stored is not None:
                stored.parent.mkdir(parents=True, exist_ok=True)
                np.savez(stored, tags=result.tags, penultimate=result.penultimate, times=result.times)
            out[name].append(result)
    return out


def _balanced_accuracy(truth: np.ndarray, predicted: np.ndarray) -> float:
    from sklearn.metrics import balanced_accuracy_score

    return float(balanced_accuracy_score(truth, predicted))


def _stored_answers(path: Path, labels: list[str]) -> dict[str, int]:
    """clip id -> the class index the stored head's evaluation recorded (its ``vote`` column)."""
    import pandas as pd

    if not path.exists():
        return {}
    frame = pd.read_csv(path)
    return {row.clip_id: labels.index(row.vote) for row in frame.itertuples()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="GTZAN folder (default: GTZAN_DIR)")
    parser.add_argument("--models", default=str(ROOT / "models"))
    parser.add_argument("--graph", default=None, help="candidate ONNX graph (default: the served one)")
    parser.add_argument("--cache", default=None, help="folder keeping each graph's embeddings between runs")
    args = parser.parse_args()
    models = Path(args.models)
    data = Path(args.data) if args.data else default_data_dir()
    if data is None:
        print("No GTZAN folder: set GTZAN_DIR or pass --data.")
        return 2
    headline = json.loads((models / "headline" / "config.json").read_text())
    if len(headline["members"]) != 1:
        print(f"The headline is a rule over {headline['members']}; this check covers a single transfer head.")
        return 2
    head = json.loads((models / headline["members"][0] / "config.json").read_text())
    head_input = HeadInput.from_config(head)
    reference = load_tagger(models / "musicnn_msd", backend="reference")
    candidate = load_tagger(models / "musicnn_msd")
    if args.graph:
        candidate.onnx = OnnxNetwork(Path(args.graph))
    name = Path(args.graph).name if args.graph else candidate.graph
    print(f"reference graph {reference.graph}; candidate {name}; head {head['name']} on {head_input.layers}")
    index = index_dataset(data)
    labels = index.labels()
    outputs = _embeddings({"reference": reference, name: candidate}, [c.path for c in index.clips],
                          Path(args.cache) if args.cache else None)
    x = {k: [head_input.stack(o) for o in v] for k, v in outputs.items()}
    gaps = {layer: max(float(np.abs(getattr(a, layer) - getattr(b, layer)).max())
                       for a, b in zip(outputs["reference"], outputs[name])) for layer in ("tags", "penultimate")}
    print(f"max |candidate - reference| over every patch of the {len(labels)} clips: "
          + ", ".join(f"{k} {v:.2e}" for k, v in gaps.items()))
    parts = artist_filtered_split(index)
    protocols = {f"{FOLDS}-fold out-of-fold": stratified_folds(labels, FOLDS, SEED)}
    stored = {f"{FOLDS}-fold out-of-fold": "oof_predictions.csv"}
    if parts is not None:
        protocols["artist-filtered test"] = [(np.concatenate([parts["train"], parts["valid"]]), parts["test"])]
        stored["artist-filtered test"] = "artist_predictions.csv"
    n_classes = len(head["labels"])
    ships = True
    for protocol, folds in protocols.items():
        top1: dict[str, np.ndarray] = {"reference": np.zeros(len(labels), int), name: np.zeros(len(labels), int)}
        tested = np.concatenate([test for _, test in folds])
        for train, test in folds:
            pipeline, _ = fit_patch_logreg([x["reference"][i] for i in train], labels[train], SEED)
            for graph in top1:
                top1[graph][test] = [np.argmax(clip_probabilities(pipeline, x[graph][i], n_classes)[0]) for i in test]
        same = float(np.mean(top1["reference"][tested] == top1[name][tested]))
        recorded = _stored_answers(models / head["name"] / stored[protocol], head["labels"])
        ids = [index.clips[i].clip_id for i in tested]
        print(f"{protocol}: the refitted heads give the stored model's recorded answer on "
              f"{sum(recorded.get(i) == top1['reference'][t] for i, t in zip(ids, tested))}/{len(ids)} clips")
        accuracy = {g: _balanced_accuracy(labels[tested], top1[g][tested]) for g in top1}
        shift = accuracy[name] - accuracy["reference"]
        ok = same >= MIN_AGREEMENT and abs(shift) <= MAX_BALANCED_ACCURACY_SHIFT
        ships &= ok
        print(f"{protocol}: {len(tested)} clips, same top-1 {int(round(same * len(tested)))}/{len(tested)} "
              f"({same:.2%}); balanced accuracy reference {accuracy['reference']:.4f}, {name} {accuracy[name]:.4f} "
              f"(shift {shift:+.4f}) -> {'passes' if ok else 'FAILS'}")
    print(f"shipping rule (>= {MIN_AGREEMENT:.0%} same top-1, |shift| <= {MAX_BALANCED_ACCURACY_SHIFT}): "
          f"{'passes' if ships else 'FAILS'}")
    return 0 if ships else 1


if __name__ == "__main__":
    raise SystemExit(main())
