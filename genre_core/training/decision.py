"""The headline answer: the one rule that turns the stored models into the genre a user is shown.

Candidates are every single model (its probabilities; the genre is their argmax) and a logistic
regression stacked on the members' probabilities. The rule is chosen by nested cross-validation on
the stored out-of-fold predictions (same folds for every model): inside each outer fold the
candidates are ranked on the other folds only, so the reported figures of the headline are never
tuned on the clips they are measured on. The winner on all folds becomes the headline, stored in
``models/headline/``. The genre, its probability and the top bar of the chart all come from it.
"""
from __future__ import annotations

import datetime as dt
import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from genre_core.features.config import GENRES
from genre_core.models import artifacts as art
from genre_core.models.artifacts import read_predictions
from genre_core.models.headline import HEADLINE_NAME, STACK_FILE
from genre_core.models.sklearn_io import class_probabilities, save_svm
from genre_core.training.evaluation import artist_metrics, metrics_from_oof

if TYPE_CHECKING:  # scikit-learn is imported where the rule is chosen, not where a single model is applied
    from sklearn.pipeline import Pipeline

PROB_COLUMNS = [f"p_{g}" for g in GENRES]
STACK_C = 0.3  # fixed, not tuned: the stacker sees ~400 clips of 10 x n_members probabilities


@dataclass(frozen=True)
class Candidate:
    """A headline rule: one model alone, or a stacked logistic regression over ``members``."""

    name: str
    members: tuple[str, ...]

    @property
    def stacked(self) -> bool:
        return len(self.members) > 1


def _stack_inputs(frames: dict[str, pd.DataFrame], members: tuple[str, ...], clip_ids: pd.Index) -> np.ndarray:
    """(n_clips, n_members * n_classes) member probabilities side by side."""
    return np.hstack([frames[m].loc[clip_ids, PROB_COLUMNS].to_numpy(dtype=float) for m in members])


def _new_stacker() -> Pipeline:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    return Pipeline([("scale", StandardScaler()),
                     ("logreg", LogisticRegression(C=STACK_C, class_weight="balanced", max_iter=5000))])


def _fit_stacker(x: np.ndarray, y: np.ndarray) -> Pipeline:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning)
        return _new_stacker().fit(x, y)


def _probabilities(candidate: Candidate, frames: dict[str, pd.DataFrame], train_ids: pd.Index,
                   test_ids: pd.Index, labels: pd.Series) -> np.ndarray:
    """(n_test, n_classes) probabilities of ``candidate`` on ``test_ids``, fitted on ``train_ids`` only."""
    if not candidate.stacked:
        return frames[candidate.members[0]].loc[test_ids, PROB_COLUMNS].to_numpy(dtype=float)
    stacker = _fit_stacker(_stack_inputs(frames, candidate.members, train_ids),
                           labels.loc[train_ids].map(GENRES.index).to_numpy())
    return class_probabilities(stacker, _stack_inputs(frames, candidate.members, test_ids), len(GENRES))


def _fold_answers(candidate: Candidate, frames: dict[str, pd.DataFrame], ids: pd.Index, folds: pd.Series,
                  labels: pd.Series) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per stored fold of ``ids``: (true, predicted) genre indices (n_fold_clips,) by leave-one-fold-out."""
    answers = []
    for fold in sorted(folds.loc[ids].unique()):
        test = ids[folds.loc[ids].to_numpy() == fold]
        train = ids[folds.loc[ids].to_numpy() != fold]
        probs = _probabilities(candidate, frames, train, test, labels)
        answers.append((labels.loc[test].map(GENRES.index).to_numpy(), probs.argmax(axis=1)))
    return answers


def _balanced(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    from sklearn.metrics import balanced_accuracy_score

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning)  # a predicted genre absent from these clips
        return float(balanced_accuracy_score(y_true, y_pred))


def _pooled(answers: list[tuple[np.ndarray, np.ndarray]]) -> float:
    """Balanced accuracy of every fold's answers scored together: the figure the rule ranks candidates by."""
    return _balanced(np.concatenate([t for t, _ in answers]), np.concatenate([p for _, p in answers]))


def _fold_mean(answers: list[tuple[np.ndarray, np.ndarray]]) -> dict:
    """Mean ± std over folds of the balanced accuracy: the figure every model table reports."""
    scores = np.array([_balanced(t, p) for t, p in answers])
    return {"mean": float(scores.mean()), "std": float(scores.std(ddof=1)) if len(scores) > 1 else 0.0}


def _score(candidate: Candidate, frames: dict[str, pd.DataFrame], ids: pd.Index, folds: pd.Series,
           labels: pd.Series) -> float:
    """Pooled balanced accuracy of ``candidate`` on ``ids`` by leave-one-stored-fold-out (stackers refitted)."""
    return _pooled(_fold_answers(candidate, frames, ids, folds, labels))


def candidates_for(frames: dict[str, pd.DataFrame], stack_members: tuple[str, ...]) -> list[Candidate]:
    singles = [Candidate(name, (name,)) for name in frames]
    members = tuple(m for m in stack_members if m in frames)
    return singles + ([Candidate("stack", members)] if len(members) > 1 else [])


def nested_selection(frames: dict[str, pd.DataFrame], candidates: list[Candidate]) -> tuple[pd.DataFrame, list[dict]]:
    """Outer loop over the stored folds: pick a candidate on the other folds, predict this one.

    Returns the headline's out-of-fold rows (with the chosen candidate per fold) and the inner scores.
    """
    first = next(iter(frames.values()))
    ids, folds, labels = first.index, first["fold"], first["true"]
    rows, choices = [], []
    for fold in sorted(folds.unique()):
        test, train = ids[folds.to_numpy() == fold], ids[folds.to_numpy() != fold]
        scores = {c.name: _score(c, frames, train, folds, labels) for c in candidates}
        best = max(candidates, key=lambda c: scores[c.name])
        choices.append({"fold": int(fold), "chosen": best.name, "inner_balanced_accuracy": scores})
        probs = _probabilities(best, frames, train, test, labels)
        for clip_id, p in zip(test, probs):
            label = GENRES[int(np.argmax(p))]
            rows.append({"clip_id": clip_id, "fold": int(fold), "true": labels.loc[clip_id], "vote": label,
                         "mean": label, "chosen": best.name, **dict(zip(PROB_COLUMNS, p))})
    return pd.DataFrame(rows).sort_values("clip_id"), choices


def build_headline(models_dir: Path, stack_members: tuple[str, ...], provenance: dict | None = None) -> dict:
    """Choose the headline rule from stored predictions and write ``models_dir/headline``. Returns metrics."""
    frames = read_predictions(models_dir, [p.name for p in art.list_model_folders(models_dir)
                                           if json.loads((p / art.CONFIG_FILE).read_text()).get("kind")
                                           in art.TRAINED_KINDS])
    if not frames:
        raise FileNotFoundError(f"no model with stored out-of-fold predictions under {models_dir}")
    reference = next(iter(frames.values()))
    frames = {n: f for n, f in frames.items() if f.index.equals(reference.index)}  # same clips, same folds
    candidates = candidates_for(frames, stack_members)
    oof, choices = nested_selection(frames, candidates)
    ids, folds, labels = reference.index, reference["fold"], reference["true"]
    # each candidate's leave-one-fold-out answers once (a stack is refitted per fold), scored both ways
    final_answers = {c.name: _fold_answers(c, frames, ids, folds, labels) for c in candidates}
    final_scores = {name: _pooled(answers) for name, answers in final_answers.items()}
    chosen = max(candidates, key=lambda c: final_scores[c.name])

    folder = models_dir / HEADLINE_NAME
    folder.mkdir(parents=True, exist_ok=True)
    metrics = {"protocol": "nested: the rule is chosen on the other stored folds, scored on each outer fold",
               "primary_rule": "mean", **metrics_from_oof(oof), "outer_folds": choices,
               "candidates_balanced_accuracy_all_folds": final_scores,
               "candidates_balanced_accuracy_fold_mean": {name: _fold_mean(answers)
                                                          for name, answers in final_answers.items()}}
    config = {"name": HEADLINE_NAME, "kind": "headline", "labels": list(GENRES),
              "title": f"Headline answer: {'stacked logistic regression' if chosen.stacked else chosen.name}",
              "rule": "stack" if chosen.stacked else "single", "chosen": chosen.name, "members": list(chosen.members),
              "candidates": [{"name": c.name, "members": list(c.members)} for c in candidates],
              "representation": "all" if chosen.stacked else "as " + chosen.name,
              "architecture": "decision rule", "n_parameters": 0,
              "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
              "data": provenance or _members_data(models_dir, chosen.members)}
    stale = folder / STACK_FILE
    if chosen.stacked:  # the stored stacker learns from every out-of-fold row
        stacker = _fit_stacker(_stack_inputs(frames, chosen.members, ids), labels.map(GENRES.index).to_numpy())
        config["weights_sha256"] = save_svm(stacker, folder / STACK_FILE)
        config["n_parameters"] = int(stacker.named_steps["logreg"].coef_.size)
    elif stale.exists():
        stale.unlink()
    artist_frames = {c.name: _artist_frame(models_dir, c, frames, labels) for c in candidates}
    metrics["candidates_artist_covered_balanced"] = {
        name: artist_metrics(frame)["mean"]["covered"]["balanced_accuracy"]
        for name, frame in artist_frames.items() if frame is not None}
    if artist_frames.get(chosen.name) is not None:
        artist_frames[chosen.name].to_csv(folder / art.ARTIST_FILE, index=False)
        metrics["artist_filtered"] = artist_metrics(artist_frames[chosen.name])
    oof.to_csv(folder / art.OOF_FILE, index=False, float_format="%.6f")
    art.write_json(folder / art.CONFIG_FILE, config)
    art.write_json(folder / art.METRICS_FILE, metrics)
    _write_card(folder, config, metrics)
    return metrics


def _members_data(models_dir: Path, members: tuple[str, ...]) -> dict:
    """The data provenance of the chosen members (all trained on the same clips: their predictions line up)."""
    config = json.loads((models_dir / members[0] / art.CONFIG_FILE).read_text())
    return config.get("data", {})


def _artist_frame(models_dir: Path, candidate: Candidate, frames: dict[str, pd.DataFrame],
                  labels: pd.Series) -> pd.DataFrame | None:
    """The candidate's answers on the artist-filtered test, if its members' are stored. A stacked candidate's
    stacker learns from the out-of-fold rows of the other clips only: the test clips' labels stay unseen."""
    artist = read_predictions(models_dir, list(candidate.members), art.ARTIST_FILE)
    if len(artist) != len(candidate.members):
        return None
    test_ids = next(iter(artist.values())).index
    if candidate.stacked:
        learn = labels.index.difference(test_ids)
        stacker = _fit_stacker(_stack_inputs(frames, candidate.members, learn),
                               labels.loc[learn].map(GENRES.index).to_numpy())
        probs = class_probabilities(stacker, _stack_inputs(artist, candidate.members, test_ids), len(GENRES))
    else:
        probs = artist[candidate.members[0]].loc[test_ids, PROB_COLUMNS].to_numpy(dtype=float)
    predicted = [GENRES[int(i)] for i in probs.argmax(axis=1)]
    return pd.DataFrame({"clip_id": test_ids, "true": next(iter(artist.values()))["true"].to_numpy(),
                         "vote": predicted, "mean": predicted})


def candidate_cells(metrics: dict) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the headline's candidates, best first on the figure the rule ranks by. Two k-fold
    figures, both named: the mean ± std over folds (as every model table) and all folds' answers pooled."""
    pooled = metrics["candidates_balanced_accuracy_all_folds"]
    fold_mean = metrics.get("candidates_balanced_accuracy_fold_mean", {})
    artist = metrics.get("candidates_artist_covered_balanced", {})
    header = ["candidate", "k-fold, mean ± std over folds", "k-fold, all folds pooled (ranks the candidates)",
              "artist-filtered (covered genres)"]
    cells = [[name, f"{fold_mean[name]['mean']:.3f} ± {fold_mean[name]['std']:.3f}" if name in fold_mean else "–",
              f"{score:.3f}", "–" if artist.get(name) is None else f"{artist[name]:.3f}"]
             for name, score in sorted(pooled.items(), key=lambda kv: -kv[1])]
    return header, cells


def candidate_table(metrics: dict) -> list[str]:
    """The candidates as Markdown table lines (model card, README)."""
    header, cells = candidate_cells(metrics)
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header), *("| " + " | ".join(c) + " |" for c in cells)]


def trust_note(metrics: dict, chosen: str) -> str:
    """Which protocol the choice followed, and why, when the artist-filtered test would have ranked differently."""
    artist = {k: v for k, v in metrics.get("candidates_artist_covered_balanced", {}).items() if v is not None}
    if not artist:
        return "No artist-filtered predictions are stored: the choice rests on nested k-fold alone."
    best_artist = max(artist, key=artist.get)
    if best_artist == chosen:
        return f"Both protocols rank {chosen} first."
    return (f"The artist-filtered test would rank {best_artist} first ({artist[best_artist]:.3f} against "
            f"{artist.get(chosen, float('nan')):.3f}). Trusted: the nested k-fold choice, because the artist-filtered "
            "test is a test part (choosing on it would tune on it and leave no honest figure) and judges only the "
            "genres with enough test clips.")


def _write_card(folder: Path, config: dict, metrics: dict) -> None:
    s = metrics["mean"]["summary"]
    fmt = lambda k: f"{s[k]['mean']:.3f} ± {s[k]['std']:.3f}"  # noqa: E731
    chosen_per_fold = ", ".join(f"fold {c['fold']}: {c['chosen']}" for c in metrics["outer_folds"])
    lines = [f"# {config['name']}", "", config["title"], "",
             "The rule behind the genre, probability and chart a user is shown. Candidates: every single model, "
             "and a logistic regression stacked on the probabilities of " + ", ".join(
                 next((c["members"] for c in config["candidates"] if c["name"] == "stack"), [])) + ".",
             "", f"- Chosen on all folds: **{config['rule']}** ({', '.join(config['members'])})",
             f"- Nested cross-validation (chosen per outer fold: {chosen_per_fold}):",
             f"  accuracy {fmt('accuracy')}, balanced accuracy {fmt('balanced_accuracy')}, macro-F1 {fmt('macro_f1')}",
             "", "Balanced accuracy of every candidate: over the stored folds (leave-one-fold-out, stackers "
             "refitted), and over the covered genres of the artist-filtered test (stackers fitted on the out-of-fold "
             "rows of the other clips):", "", *candidate_table(metrics)]
    lines += ["", trust_note(metrics, config["chosen"])]
    if "artist_filtered" in metrics:
        a = metrics["artist_filtered"]["mean"]
        lines += ["", f"Artist-filtered test ({a['n_clips']} clips): accuracy {a['accuracy']:.3f}, balanced accuracy "
                  f"over the covered genres {a['covered']['balanced_accuracy']:.3f}."]
    lines += ["", "The stacker's member probabilities are themselves out of fold, but they come from models whose "
              "training folds included the other outer folds' clips; the nested figures are therefore a slightly "
              "optimistic estimate for the stack, and exact for a single model.", ""]
    (folder / art.CARD_FILE).write_text("\n".join(lines))


