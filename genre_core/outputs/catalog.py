"""Read-only access to what training stored: metrics tables, histories, dataset summary."""
from __future__ import annotations

import json
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from genre_core.outputs.text import genre_name
from genre_core.models.artifacts import BAR_FILE, CONFIG_FILE, HISTORY_FILE, METRICS_FILE, SUMMARY_DIR, list_model_folders


def stored_models(models_dir: str | Path) -> dict[str, dict]:
    """config and metrics of every stored model folder (the ensemble included), by folder name."""
    out = {}
    for folder in list_model_folders(models_dir):
        try:
            config = json.loads((folder / CONFIG_FILE).read_text())
            metrics_path = folder / METRICS_FILE
            metrics = json.loads(metrics_path.read_text()) if metrics_path.exists() else {}
        except (OSError, json.JSONDecodeError):
            continue  # a broken folder is reported by the model loader, not here
        out[folder.name] = {"config": config, "metrics": metrics, "folder": folder}
    return out


def metrics_table(models_dir: str | Path, protocol: str = "kfold") -> pd.DataFrame:
    """One row per model; ``*_vote`` use the window majority vote, ``*_mean`` the mean probability.

    ``protocol`` "kfold": mean and std over the folds. "artist": the single artist-filtered test
    (std is NaN), with ``covered_*`` figures over the genres that have enough test clips.
    """
    rows = []
    for name, entry in stored_models(models_dir).items():
        m, c = entry["metrics"], entry["config"]
        block = m if protocol == "kfold" else m.get("artist_filtered")
        if not block or "vote" not in block:
            continue
        row = {"model": name, "title": c.get("title", ""), "kind": c.get("kind"),
               "representation": c.get("representation"), "architecture": c.get("architecture"),
               "parameters": c.get("n_parameters"), "training_s": m.get("training_seconds"),
               "protocol": block.get("protocol")}
        for rule in ("vote", "mean"):
            for key in ("accuracy", "balanced_accuracy", "macro_f1"):
                if protocol == "kfold":
                    row[f"{key}_{rule}"] = block[rule]["summary"][key]["mean"]
                    row[f"{key}_{rule}_std"] = block[rule]["summary"][key]["std"]
                else:
                    row[f"{key}_{rule}"] = block[rule][key]
                    row[f"{key}_{rule}_std"] = float("nan")
            if protocol == "artist":
                covered = block[rule]["covered"]
                row[f"covered_accuracy_{rule}"] = covered["accuracy"]
                row[f"covered_balanced_accuracy_{rule}"] = covered["balanced_accuracy"]
        if protocol == "artist":
            row["test_clips"] = block["vote"]["n_clips"]
            row["covered_genres"] = ", ".join(block["covered_genres"])
        rows.append(row)
    return pd.DataFrame(rows)


def best_first(table: pd.DataFrame, column: str, name_column: str = "model") -> pd.DataFrame:
    """Rows by ``column``, best first; on a tie the headline (the app's answer) before the model it equals."""
    return (table.assign(_not_headline=table[name_column] != "headline")
            .sort_values([column, "_not_headline"], ascending=[False, True], kind="stable")
            .drop(columns="_not_headline"))


def confusion(models_dir: str | Path, name: str, rule: str = "vote", protocol: str = "kfold") -> np.ndarray:
    """Confusion counts (n_classes, n_classes), rows are true genres: summed over the k folds, or the
    artist-filtered test."""
    metrics = json.loads((Path(models_dir) / name / METRICS_FILE).read_text())
    if protocol == "artist":
        return np.asarray(metrics["artist_filtered"][rule]["confusion_matrix"], dtype=np.int64)
    return np.asarray(metrics[rule]["summary"]["confusion_matrix"], dtype=np.int64)


def history(models_dir: str | Path, name: str) -> pd.DataFrame:
    """history.csv of a model (empty frame for models without epochs, e.g. the SVM)."""
    path = Path(models_dir) / name / HISTORY_FILE
    if not path.exists():
        return pd.DataFrame()
    frame = pd.read_csv(path)
    return frame.astype({"fold": str}) if not frame.empty else frame


def fold_epochs(frame: pd.DataFrame) -> pd.DataFrame:
    """The epochs of the cross-validation folds in a :func:`history` frame (not the final fit on every clip
    nor the artist-filtered run): what a learning curve averages. Empty when the model has none."""
    if frame.empty or "fold" not in frame:
        return frame.iloc[0:0]
    return frame[~frame["fold"].isin(["final", "artist"])]


def with_learning_curves(models_dir: str | Path, names: list[str]) -> list[str]:
    """Those of ``names`` (order kept) that have cross-validation epochs to draw. A model fitted in one go
    (the SVM, the logistic regression on musicnn embeddings) stores a history.csv with a header and no rows;
    the headline and the ensemble store none."""
    return [name for name in names if not fold_epochs(history(models_dir, name)).empty]


@dataclass(frozen=True)
class DatasetSummary:
    genres: tuple[str, ...]
    mel: np.ndarray  # (n_genres, n_mels, n_frames) mean log-mel in dB
    mfcc: np.ndarray  # (n_genres, n_mfcc, n_frames)
    seconds_per_frame: float
    clips_per_genre: dict[str, int]
    info: dict


def dataset_summary(models_dir: str | Path) -> DatasetSummary | None:
    folder = Path(models_dir) / SUMMARY_DIR
    if not (folder / "genre_averages.npz").exists():
        return None
    arrays = np.load(folder / "genre_averages.npz")
    info = json.loads((folder / "summary.json").read_text())
    return DatasetSummary(tuple(str(g) for g in arrays["genres"]), arrays["mel"].astype(np.float32),
                          arrays["mfcc"].astype(np.float32), info["seconds_per_frame"], info["clips_per_genre"], info)


def plain_svm_bar(models_dir: str | Path) -> dict | None:
    """The plain-SVM reference figures measured under the same folds, if stored."""
    path = Path(models_dir) / BAR_FILE
    return json.loads(path.read_text()) if path.exists() else None


def training_clip_of(models_dir: str | Path, data: bytes, sha256_hex: str | None = None) -> str | None:
    """The GTZAN clip id when ``data`` is one of the files the models were trained on, else None.

    Matches the file's sha256 (``sha256_hex`` when the caller has it already), or for 16-bit PCM WAV/AU
    the sha256 of its samples (the manifest's hash)."""
    import hashlib
    import io

    import soundfile as sf

    path = Path(models_dir) / SUMMARY_DIR / "summary.json"
    if not path.exists():
        return None
    hashes = json.loads(path.read_text()).get("training_clip_hashes", {})
    clip = hashes.get("file_sha256", {}).get(sha256_hex or hashlib.sha256(data).hexdigest())
    if clip or not hashes.get("pcm_sha256"):
        return clip
    try:
        with sf.SoundFile(io.BytesIO(data)) as f:
            if f.subtype != "PCM_16" or f.frames > 31 * f.samplerate:
                return None
            pcm = f.read(dtype="int16")
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError):
        return None
    return hashes["pcm_sha256"].get(hashlib.sha256(pcm.astype("<i2").tobytes()).hexdigest())


def out_of_fold_answer(models_dir: str | Path, clip_id: str, model: str = "headline") -> dict | None:
    """The stored out-of-fold row (true genre, answer, probabilities) of a training clip."""
    path = Path(models_dir) / model / "oof_predictions.csv"
    if not path.exists():
        return None
    frame = pd.read_csv(path).set_index("clip_id")
    return frame.loc[clip_id].to_dict() if clip_id in frame.index else None


def artist_coverage(models_dir: str | Path, model: str = "headline") -> str | None:
    """Which genres the stored artist-filtered test can judge, in words (from ``model``'s metrics, else any
    model's: every model is scored on the same test clips)."""
    from genre_core.training.evaluation import coverage_in_words

    folders = [Path(models_dir) / model, *list_model_folders(models_dir)]
    for folder in folders:
        path = folder / METRICS_FILE
        if path.exists():
            block = json.loads(path.read_text()).get("artist_filtered")
            if block:
                return coverage_in_words(block, genre_name)
    return None


# Models trained on GTZAN alone (no pretrained network): the comparison the headline is shown against.
FROM_SCRATCH_KINDS = ("torch", "svm")


def default_pair(table: pd.DataFrame, metric: str = "balanced_accuracy_mean") -> tuple[str, ...]:
    """The headline (else the best model) against the best model trained from scratch — never one model twice.
    ``table`` is a :func:`metrics_table`."""
    ordered = table.sort_values(metric, ascending=False)
    first = "headline" if "headline" in set(ordered["model"]) else ordered["model"].iloc[0]
    scratch = ordered[ordered["kind"].isin(FROM_SCRATCH_KINDS) & (ordered["model"] != first)]
    others = ordered[ordered["model"] != first]
    second = scratch["model"].iloc[0] if not scratch.empty else (others["model"].iloc[0] if not others.empty else None)
    return (first, second) if second else (first,)


def headline_member(models_dir: str | Path) -> str | None:
    """The single model the stored headline is, when its rule is one model and every outer fold chose that
    model (its predictions, and so every figure, are that model's); None for a stack or a mixed choice."""
    stored = stored_models(models_dir)
    entry = stored.get("headline")
    if entry is None or entry["config"].get("rule") != "single":
        return None
    chosen = entry["config"].get("chosen")
    folds = entry["metrics"].get("outer_folds") or []
    return chosen if chosen in stored and all(f.get("chosen") == chosen for f in folds) else None


def titles_in_words(models_dir: str | Path) -> dict[str, str]:
    """Each stored model's title in words, by folder name: its config title, with no folder names in it (an
    ensemble or a stack says how many models it combines; a headline that is one model takes its title)."""
    stored = stored_models(models_dir)
    titles = {name: entry["config"].get("title") or name for name, entry in stored.items()}
    for name, entry in stored.items():
        config = entry["config"]
        members = config.get("members") or []
        if config.get("kind") == "ensemble":
            scratch = all(stored.get(m, {}).get("config", {}).get("kind") in FROM_SCRATCH_KINDS for m in members)
            titles[name] = f"Ensemble: majority vote of {len(members)} {'from-scratch ' if scratch else ''}models"
        elif config.get("kind") == "headline":
            single = config.get("rule") == "single" and config.get("chosen") in stored
            titles[name] = (f"The app's answer: {titles[config['chosen']]}" if single
                            else f"The app's answer: stacked logistic regression of {len(members)} models")
    return titles


def largest_confusions(cm: np.ndarray, labels: list[str] | tuple[str, ...], k: int = 8) -> pd.DataFrame:
    """The ``k`` largest mistakes of a confusion matrix (n_classes, n_classes; rows true, columns predicted).

    Largest share of the true genre's clips first, as the row-% matrix and balanced accuracy read them (2 of
    20 reggae clips outweigh 6 of 100 pop ones); on a tie, more clips first. Columns 'true genre',
    'predicted genre', 'clips', 'share' (of the true genre's clips, 0..1) and 'confusion', the row in words:
    'blues → jazz: 3 clips (15 %)'. Empty cells are left out; genres are spelled as the app spells them."""
    cm = np.asarray(cm, dtype=np.int64)
    support = cm.sum(axis=1)
    rows = [(genre_name(labels[t]), genre_name(labels[p]), int(cm[t, p]), cm[t, p] / support[t])
            for t in range(len(cm)) for p in range(len(cm)) if t != p and cm[t, p] > 0]
    frame = pd.DataFrame(rows, columns=["true genre", "predicted genre", "clips", "share"])
    frame = frame.sort_values(["share", "clips"], ascending=False, kind="stable").head(k).reset_index(drop=True)
    return frame.assign(confusion=[f"{t} → {p}: {n} clip{'s' if n != 1 else ''} ({s * 100:.0f} %)"
                                   for t, p, n, s in frame.itertuples(index=False)])


def recall_table(confusions: dict[str, np.ndarray], labels: list[str] | tuple[str, ...]) -> pd.DataFrame:
    """Per-genre recall (0..1, NaN for a genre without clips) of each model, one row per genre: 'genre'
    (as the app spells it), 'clips' (how many the recall rests on, from the first matrix) and one column
    per model named as in ``confusions``."""
    from genre_core.training.evaluation import recall_from_confusion

    support = np.asarray(next(iter(confusions.values()))).sum(axis=1)
    return pd.DataFrame({"genre": [genre_name(g) for g in labels], "clips": support.astype(int),
                         **{name: recall_from_confusion(cm) for name, cm in confusions.items()}})


def plain_title(title: str) -> str:
    """A model's title without its bracketed details."""
    return re.sub(r"\s*\([^)]*\)", "", title)


def short_title(title: str, width: int = 30, newline: str = "\n") -> str:
    """A model's title for a chart: without its bracketed details, wrapped to ``width`` characters a line."""
    return newline.join(textwrap.wrap(plain_title(title), width, break_on_hyphens=False))


def scores_once(models_dir: str | Path, kfold: pd.DataFrame, artist: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """The metric tables with the headline's rows left out where it is one stored model (they would repeat that
    model's), and the folder name that is the app's answer ("headline" when it is a combination)."""
    member = headline_member(models_dir)
    if member is None:
        return kfold, artist, "headline"
    return kfold[kfold["model"] != "headline"], artist[artist["model"] != "headline"] if not artist.empty else artist, member
