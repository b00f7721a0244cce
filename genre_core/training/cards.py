"""MODEL_CARD.md of a model folder: what it is, what it was trained on, both protocols' figures and its limits."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from genre_core.features.config import GENRES
from genre_core.features.dataset import balance_in_words
from genre_core.models import artifacts as art
from genre_core.models.artifacts import BAR_FILE
from genre_core.training.evaluation import coverage_in_words, recall_from_confusion


def _fmt(summary: dict, key: str) -> str:
    return f"{summary[key]['mean']:.3f} ± {summary[key]['std']:.3f}"


def _recalls_with_counts(confusion: list[list[int]]) -> str:
    """'blues 0.87 (87/100), …' from a confusion matrix (rows true genres); genres without clips left out."""
    matrix = np.asarray(confusion)
    per_genre = recall_from_confusion(matrix)
    return ", ".join(f"{g} {r:.2f} ({matrix[i, i]}/{matrix[i].sum()})"
                     for i, (g, r) in enumerate(zip(GENRES, per_genre)) if not np.isnan(r))


def write_model_card(folder: Path, config: dict, metrics: dict, models_dir: Path) -> None:
    """A short human-readable card, with the SVM bar beside this model's numbers."""
    smallest = min((n for n in config["data"]["clips_per_genre"].values() if n), default=0)
    lines = [f"# {config['name']}", "", config.get("title", ""), "",
             f"- Kind: {config['kind']}; architecture: {config.get('architecture')}; "
             f"input: {config.get('representation')}; parameters: {config.get('n_parameters')}",
             f"- Features: {json.dumps(config['feature_config'])}",
             f"- Data: {config['data']['n_clips']} clips ({json.dumps(config['data']['clips_per_genre'])})",
             f"- Protocol: {metrics['protocol']}", "",
             "## Cross-validated clip-level results (mean ± std over folds)", "",
             "| model | rule | accuracy | balanced accuracy | macro-F1 |", "|---|---|---|---|---|"]
    rows = [(config["name"], metrics)]
    svm_metrics = models_dir / "svm_handcrafted" / art.METRICS_FILE
    if config["name"] != "svm_handcrafted" and svm_metrics.exists():
        rows.append(("svm_handcrafted (the bar)", json.loads(svm_metrics.read_text())))
    for name, m in rows:
        for rule in ("vote", "mean"):
            s = m[rule]["summary"]
            lines.append(f"| {name} | {rule} | {_fmt(s, 'accuracy')} | {_fmt(s, 'balanced_accuracy')} | {_fmt(s, 'macro_f1')} |")
    bar_path = models_dir / BAR_FILE
    if bar_path.exists():
        s = json.loads(bar_path.read_text())["summary"]
        lines.append(f"| plain SVM bar (MFCC mean/std, centroid, ZCR) | clip | {_fmt(s, 'accuracy')} | "
                     f"{_fmt(s, 'balanced_accuracy')} | {_fmt(s, 'macro_f1')} |")
    recall = metrics["vote"]["summary"]["confusion_matrix"]

    lines += ["", "Per-genre recall (vote, all folds pooled; right / clips): " + _recalls_with_counts(recall)]
    if "artist_filtered" in metrics:
        a = metrics["artist_filtered"]
        v = a["vote"]
        fmt = lambda x: "–" if x is None else f"{x:.3f}"  # noqa: E731
        lines += ["", "## Artist-filtered test (trained once on its train part, scored once on its test part)", "",
                  f"- {v['n_clips']} test clips ({', '.join(f'{g} {n}' for g, n in a['test_clips_per_genre'].items() if n)})",
                  f"- All test clips: accuracy {fmt(v['accuracy'])}, balanced accuracy {fmt(v['balanced_accuracy'])}, "
                  f"macro-F1 {fmt(v['macro_f1'])}",
                  f"- The {len(a['covered_genres'])} genres with at least {a['min_test_clips_per_genre']} test clips "
                  f"({', '.join(a['covered_genres'])}): accuracy {fmt(v['covered']['accuracy'])}, "
                  f"balanced accuracy {fmt(v['covered']['balanced_accuracy'])}",
                  f"- {coverage_in_words(a)}",
                  "- Per-genre recall on the test (mean rule; right / test clips): "
                  + _recalls_with_counts(a["mean"]["confusion_matrix"])]
    if "train_config" in config:
        t = config["train_config"]
        lines += ["", "## Training", "",
                  f"Adam (lr {t['learning_rate']}, weight decay {t['weight_decay']}), batch {t['batch_size']}, "
                  f"ReduceLROnPlateau, early stopping on validation loss (patience {t['patience']}); "
                  f"{t['sampling']} sampling of {t['crops_per_clip']} random 3 s crops per clip and epoch; "
                  f"time/frequency masking up to {t['time_mask']:.0%}/{t['freq_mask']:.0%}, cutout p={t['cutout']}, "
                  f"flip p={t['flip']}. Best epochs per fold: {config.get('cv_best_epochs')}; final fit "
                  f"{t['epochs']} epochs on all clips; seed {t['seed']}."]
    if config["kind"] == "svm":
        lines += ["", "## Training", "", "StandardScaler + RBF SVC (class_weight balanced); C and gamma chosen by "
                  f"inner 3-fold grid search on each training part: final {config['hyperparameters']}."]
    if config["kind"] == "transfer":
        lines += ["", "## Training", "",
                  f"Input: the frozen pretrained tagger `{config['embedding_model']}` (see its MODEL_CARD.md), "
                  f"{config['aggregation']} ({config.get('n_inputs', 200)} values per patch). StandardScaler + logistic regression "
                  f"(class_weight balanced); C chosen by inner 3-fold grid search (patches of a clip kept together) "
                  f"on each training part: final {config['hyperparameters']}. Nothing of the tagger is trained here. "
                  "The timeline shows the same classifier's answer for each 3 s patch."]
    lines += ["", "'vote' is the majority vote over 3 s windows (50 % overlap); 'mean' averages window probabilities "
              "(clip classifiers: both are their own clip-level decision).",
              "", "## Limits", "",
              f"- Trained on {config['data']['n_clips']} GTZAN clips. {balance_in_words(config['data']['clips_per_genre'])}",
              f"  A genre's recall rests on its clips alone: for the smallest, {smallest} songs, and it varies a lot "
              "between folds.",
              "- GTZAN has repeated clips and artist overlap between k-fold folds, which flatters the k-fold numbers;",
              "  the artist-filtered test above is the harder, more honest figure for the genres it covers.",
              "- 30 s excerpts of Western popular music from around 2000; other music is outside what it has seen.", ""]
    (folder / art.CARD_FILE).write_text("\n".join(lines))
