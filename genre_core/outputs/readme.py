"""The README's results section, written from the stored models: tables, the data they rest on, and
the figures of the previous zoo beside them. Nothing in it is typed by hand (``genre-core readme``).

The section sits between two markers in README.md; ``tests/test_readme.py`` fails when it no longer
matches the stored models, so the README cannot drift from ``models/``.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from genre_core.features.config import GENRES
from genre_core.features.dataset import balance_in_words
from genre_core.outputs.catalog import metrics_table, stored_models
from genre_core.outputs.text import genre_name
from genre_core.training.decision import candidate_cells, trust_note
from genre_core.training.evaluation import coverage_in_words

START, END = "<!-- results:start (genre-core readme) -->", "<!-- results:end -->"
SNAPSHOT_VERSION = 1


def markdown_table(header: list[str], cells: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(c) + " |" for c in cells])


def _figure(x: float | None) -> str:
    return "–" if x is None or x != x else f"{x:.3f}"


def _parameters(row: dict, by_model: dict[str, int]) -> str:
    """A model's trainable parameters; a rule that answers as another model has none of its own."""
    borrowed = str(row["representation"]).removeprefix("as ")
    if not row["parameters"] and borrowed != row["representation"] and borrowed in by_model:
        return f"none of its own (uses {borrowed}'s {by_model[borrowed]:,})"
    return f"{row['parameters']:,}"


def metrics_cells(models_dir: str | Path, protocol: str) -> tuple[list[str], list[list[str]], list[dict]]:
    """Header, cells and raw rows of the model table for ``protocol`` ("kfold" or "artist"), best first."""
    table = metrics_table(models_dir, protocol)
    if table.empty:
        return [], [], []
    lead = "balanced_accuracy_mean" if protocol == "kfold" else "covered_balanced_accuracy_mean"
    rows = sorted(table.to_dict("records"), key=lambda r: -(r[lead] if r[lead] == r[lead] else -1.0))
    if protocol == "kfold":
        f = lambda r, k: f"{r[k]:.3f} ± {r[k + '_std']:.3f}"  # noqa: E731
        header = ["model", "input", "parameters", "balanced acc.", "macro-F1", "accuracy", "balanced acc. (vote)"]
        own = {r["model"]: r["parameters"] for r in rows}
        cells = [[r["model"], str(r["representation"]), _parameters(r, own), f(r, "balanced_accuracy_mean"),
                  f(r, "macro_f1_mean"), f(r, "accuracy_mean"), f(r, "balanced_accuracy_vote")] for r in rows]
    else:
        header = ["model", "input", "test clips", "balanced acc. (covered genres)", "accuracy (covered genres)",
                  "balanced acc. (all)", "accuracy (all)", "macro-F1 (all)"]
        cells = [[r["model"], str(r["representation"]), str(r["test_clips"]), _figure(r["covered_balanced_accuracy_mean"]),
                  _figure(r["covered_accuracy_mean"]), _figure(r["balanced_accuracy_mean"]), _figure(r["accuracy_mean"]),
                  _figure(r["macro_f1_mean"])] for r in rows]
    return header, cells, rows


def snapshot(models_dir: str | Path) -> dict:
    """The headline figures of every stored model, to keep beside the next zoo's (reports/zoo_*.json)."""
    models = {}
    kfold = {r["model"]: r for r in metrics_table(models_dir, "kfold").to_dict("records")}
    artist = {r["model"]: r for r in metrics_table(models_dir, "artist").to_dict("records")}
    n_clips = None
    for name, entry in stored_models(models_dir).items():
        if name not in kfold:
            continue
        data = entry["config"].get("data", {})
        n_clips = n_clips or data.get("n_clips")
        a = artist.get(name, {})
        models[name] = {"kfold_balanced": kfold[name]["balanced_accuracy_mean"],
                        "kfold_balanced_std": kfold[name]["balanced_accuracy_mean_std"],
                        "artist_covered_balanced": a.get("covered_balanced_accuracy_mean"),
                        "artist_test_clips": a.get("test_clips"), "artist_covered_genres": a.get("covered_genres")}
    return {"version": SNAPSHOT_VERSION, "n_clips": n_clips, "models": models}


def _data_block(models_dir: Path) -> dict:
    """The data and the artist-filtered block every trained model shares (the transfer model's, else any)."""
    entries = stored_models(models_dir)
    for name in ["musicnn_logreg", *entries]:
        entry = entries.get(name)
        if entry and entry["metrics"].get("artist_filtered") and entry["config"].get("data"):
            return {"data": entry["config"]["data"], "artist": entry["metrics"]["artist_filtered"],
                    "config": entry["config"]}
    raise FileNotFoundError(f"no trained model with data provenance under {models_dir}")


def _comparison(models_dir: Path, previous: dict) -> str:
    now = snapshot(models_dir)
    names = sorted(now["models"], key=lambda n: -now["models"][n]["kfold_balanced"])
    names += [n for n in previous["models"] if n not in now["models"]]
    old_n, new_n = previous["n_clips"], now["n_clips"]
    header = ["model", f"5-fold, {old_n} clips", f"5-fold, {new_n} clips",
              f"artist-filtered (covered), {old_n} clips", f"artist-filtered (covered), {new_n} clips"]
    cells = []
    for name in names:
        o, n = previous["models"].get(name, {}), now["models"].get(name, {})
        kf = lambda m: "not stored" if not m else f"{m['kfold_balanced']:.3f} ± {m['kfold_balanced_std']:.3f}"  # noqa: E731
        ar = lambda m: "not stored" if not m else _figure(m.get("artist_covered_balanced"))  # noqa: E731
        cells.append([name, kf(o), kf(n), ar(o), ar(n)])
    covered_old = next((m["artist_covered_genres"] for m in previous["models"].values() if m.get("artist_covered_genres")), "")
    covered_new = next((m["artist_covered_genres"] for m in now["models"].values() if m.get("artist_covered_genres")), "")
    in_words = lambda covered: ", ".join(genre_name(g) for g in covered.split(", ")) if covered else ""  # noqa: E731
    return (markdown_table(header, cells) + "\n\nBalanced accuracy, mean rule. The artist-filtered columns judge "
            f"different genres: {in_words(covered_old)} on the {old_n}-clip copy; {in_words(covered_new)} on the "
            f"{new_n}-clip copy.")


def results_section(models_dir: str | Path, previous: dict | None = None, previous_name: str = "") -> str:
    """The README's results section (Markdown) from the stored models; ``previous`` a snapshot() of the last
    zoo, read from the file ``previous_name`` (named in the text, so the section can be rebuilt from it)."""
    models_dir = Path(models_dir)
    block = _data_block(models_dir)
    data, artist = block["data"], block["artist"]
    counts = {g: int(data["clips_per_genre"].get(g, 0)) for g in GENRES}
    test_counts = artist["test_clips_per_genre"]
    parts = [
        f"Two protocols, both on the {data['n_clips']}-clip copy the stored models were trained on. "
        f"{balance_in_words(counts, genre_name)}",
        "",
        "- **Clip-level stratified 5-fold** (seed 0, the same folds for every model): every clip is tested once by "
        "models trained on the other 80 % (15 % of those held out for early stopping). GTZAN repeats artists "
        "within a genre, so songs by the same artist sit on both sides of a split: this flatters every model.",
        "- **Artist-filtered test**: the published fault-filtered, artist-disjoint split of Kereliuk, Sturm & Larsen "
        "(`splits/*_filtered.txt`), restricted to the clips present: trained once on its train part (its valid "
        "part for early stopping), scored once on its test part, nothing tuned on it. On this copy its test part "
        f"has {sum(test_counts.values())} clips. "
        f"{coverage_in_words(artist, genre_name)} With the full dataset present it is the published split, unchanged.",
        "",
    ]
    for protocol, title in (("kfold", "5-fold cross-validation, mean ± std over folds "
                                      "(`genre-core evaluate --markdown`):"),
                            ("artist", "Artist-filtered test (`genre-core evaluate --protocol artist --markdown`):")):
        header, cells, _ = metrics_cells(models_dir, protocol)
        parts += [title, "", markdown_table(header, cells), ""]
    headline = stored_models(models_dir).get("headline")
    if headline and headline["metrics"].get("candidates_balanced_accuracy_all_folds"):
        m, c = headline["metrics"], headline["config"]
        parts += [f"The app's answer is the headline rule, chosen by nested k-fold among every single model and a "
                  f"stacked logistic regression: **{c.get('chosen', c['title'])}**. A combination is only shown when "
                  "it beats its best member out of fold. Every candidate, balanced accuracy; the mean over folds is the "
                  "figure of the tables above, the pooled one (every out-of-fold answer scored at once) is what the "
                  "rule ranks by:", "", markdown_table(*candidate_cells(m)), "",
                  trust_note(m, c.get("chosen", "")), ""]
    if previous:
        kept = f"`{previous_name}`" if previous_name else "a snapshot"
        parts += [f"Against the previous zoo ({previous['n_clips']} clips; its figures from {kept}), "
                  "balanced accuracy:", "", _comparison(models_dir, previous), ""]
    return "\n".join(parts).rstrip() + "\n"


def replace_section(readme: str, section: str) -> str:
    """``readme`` with the text between the markers replaced by ``section``; ValueError without markers."""
    if START not in readme or END not in readme:
        raise ValueError(f"README has no '{START}' … '{END}' markers")
    head, rest = readme.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{section}{END}{tail}"


def snapshot_named_in(section: str) -> str | None:
    """The snapshot file a generated section compared against, if any."""
    match = re.search(r"its figures from `([^`]+)`", section)
    return match.group(1) if match else None


def read_snapshot(path: str | Path) -> dict | None:
    path = Path(path)
    return json.loads(path.read_text()) if path.exists() else None


__all__ = ["results_section", "replace_section", "snapshot", "metrics_cells", "markdown_table", "read_snapshot",
           "snapshot_named_in", "START", "END"]
