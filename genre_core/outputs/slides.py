"""The model comparison as a slide deck to take away (PPTX or PDF): real text, charts as images at projector
resolution, every figure read from the stored metrics and dataset summary.

``build_deck`` collects the slides; ``write_pptx`` / ``write_pdf`` write them (16:9). The charts are drawn with
matplotlib (no browser needed), in the app's genre colours.
"""
from __future__ import annotations

import io
import textwrap
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from genre_core.features.config import GENRES
from genre_core.features.dataset import balance_in_words
from genre_core.outputs.catalog import (
    artist_coverage,
    best_first,
    confusion,
    dataset_summary,
    default_pair,
    history,
    metrics_table,
)
from genre_core.outputs.palette import GENRE_COLORS, PETROFF_10
from genre_core.outputs.text import genre_name
from genre_core.training.evaluation import recall_from_confusion

WIDTH_IN, HEIGHT_IN = 13.333, 7.5  # 16:9
CHART_DPI = 150  # a 12 x 5.6 in chart is 1800 x 840 px: sharp on a 1920 x 1080 projector


@dataclass
class Slide:
    title: str
    lines: list[str] = field(default_factory=list)  # short paragraphs, real text
    image: bytes | None = None  # PNG
    table: tuple[list[str], list[list[str]]] | None = None  # header, rows


def _png(fig) -> bytes:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=CHART_DPI, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def _figure(width: float = 12.0, height: float = 5.4):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 16, "axes.titlesize": 20, "axes.labelsize": 18, "legend.fontsize": 15})
    return plt.subplots(figsize=(width, height))


def _scores_chart(kfold: pd.DataFrame, artist: pd.DataFrame, rule: str) -> bytes:
    frame = kfold.sort_values(f"balanced_accuracy_{rule}")
    names = list(frame["model"])
    fig, ax = _figure(12, max(3.5, 0.5 * len(names) + 1.2))
    y = np.arange(len(names))
    ax.barh(y + 0.2, frame[f"balanced_accuracy_{rule}"] * 100, 0.4, xerr=frame[f"balanced_accuracy_{rule}_std"] * 100,
            color="#3f90da", label="5-fold cross-validation")
    if not artist.empty:
        covered = dict(zip(artist["model"], artist[f"covered_balanced_accuracy_{rule}"]))
        ax.barh(y - 0.2, [covered.get(n, np.nan) * 100 for n in names], 0.4, color="#e76300",
                label="artist-filtered test (covered genres)")
    ax.set_yticks(y, names)
    ax.set_xlim(0, 100)
    ax.set_xlabel("balanced accuracy (%)")
    ax.legend(loc="lower right")
    return _png(fig)


def _confusion_chart(cm: np.ndarray, title: str) -> bytes:
    cm = np.asarray(cm, dtype=float)
    values = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1) * 100
    fig, ax = _figure(9, 7.2)
    ax.imshow(values, cmap="Blues", vmin=0, vmax=100)
    names = [genre_name(g) for g in GENRES]
    ax.set_xticks(range(len(GENRES)), names, rotation=45, ha="right")
    ax.set_yticks(range(len(GENRES)), [f"{n} ({int(c)})" for n, c in zip(names, cm.sum(axis=1))])
    for i in range(len(GENRES)):
        for j in range(len(GENRES)):
            if cm[i, j]:
                ax.text(j, i, f"{values[i, j]:.0f}", ha="center", va="center", fontsize=14,
                        color="white" if values[i, j] > 55 else "#1c1e21")
    ax.set_xlabel("predicted genre")
    ax.set_ylabel("true genre (clips)")
    ax.set_title(title)
    return _png(fig)


def _recall_chart(confusions: dict[str, np.ndarray]) -> bytes:
    fig, ax = _figure()
    support = np.asarray(next(iter(confusions.values()))).sum(axis=1)
    x = np.arange(len(GENRES))
    width = 0.8 / len(confusions)
    for i, (name, cm) in enumerate(confusions.items()):
        ax.bar(x + (i - (len(confusions) - 1) / 2) * width, recall_from_confusion(cm) * 100, width, label=name,
               color=PETROFF_10[i % len(PETROFF_10)])
    ax.set_xticks(x, [f"{genre_name(g)}\nn={int(n)}" for g, n in zip(GENRES, support)])
    ax.set_ylim(0, 105)
    ax.set_ylabel("recall (%)")
    ax.legend(loc="upper left", bbox_to_anchor=(0, -0.18), ncol=len(confusions))
    return _png(fig)


def _learning_chart(histories: dict[str, pd.DataFrame]) -> bytes:
    fig, ax = _figure()
    for i, (name, frame) in enumerate(histories.items()):
        folds = frame[~frame["fold"].isin(["final", "artist"])]
        mean = folds.groupby("epoch")[["train_loss", "val_loss"]].mean()
        color = PETROFF_10[i % len(PETROFF_10)]
        ax.plot(mean.index, mean["train_loss"], ":", color=color, lw=2)
        ax.plot(mean.index, mean["val_loss"], "-", color=color, lw=2.5, label=name)
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss (mean over folds)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1))
    ax.set_title("Validation (solid) and training (dotted) loss")
    return _png(fig)


def _counts_chart(counts: dict[str, int]) -> bytes:
    fig, ax = _figure()
    genres = [g for g in counts]
    bars = ax.bar([genre_name(g) for g in genres], [counts[g] for g in genres],
                  color=[GENRE_COLORS.get(g, "#777") for g in genres])
    ax.bar_label(bars, fontsize=15)
    ax.set_ylabel("clips")
    return _png(fig)


def _averages_chart(mel: np.ndarray, genres: tuple[str, ...], seconds_per_frame: float) -> bytes:
    import matplotlib
    import matplotlib.pyplot as plt

    matplotlib.use("Agg")
    rows = int(np.ceil(len(genres) / 5))
    fig, axes = plt.subplots(rows, 5, figsize=(12.5, 2.9 * rows), sharex=True, sharey=True, squeeze=False)
    low, high = float(np.percentile(mel, 1)), float(np.percentile(mel, 99))
    for ax, genre, image in zip(axes.flat, genres, mel):
        ax.imshow(image, origin="lower", aspect="auto", cmap="magma", vmin=low, vmax=high,
                  extent=(0, image.shape[1] * seconds_per_frame, 0, image.shape[0]))
        ax.set_title(genre_name(genre), fontsize=18)
        ax.set_yticks([])
    for ax in axes.flat[len(genres):]:
        ax.axis("off")
    fig.supxlabel("time (s)", fontsize=16)
    fig.supylabel("mel bands, low to high", fontsize=16)
    return _png(fig)


def _metrics_rows(table: pd.DataFrame, protocol: str, rule: str) -> tuple[list[str], list[list[str]]]:
    if protocol == "kfold":
        header = ["model", "balanced accuracy", "macro-F1", "accuracy"]
        ordered = best_first(table, f"balanced_accuracy_{rule}")
        rows = [[r["model"], f"{r[f'balanced_accuracy_{rule}']:.3f} ± {r[f'balanced_accuracy_{rule}_std']:.3f}",
                 f"{r[f'macro_f1_{rule}']:.3f}", f"{r[f'accuracy_{rule}']:.3f}"] for _, r in ordered.iterrows()]
    else:
        header = ["model", "balanced acc. (covered)", "accuracy (covered)", "balanced acc. (all)"]
        ordered = best_first(table, f"covered_balanced_accuracy_{rule}")
        rows = [[r["model"], f"{r[f'covered_balanced_accuracy_{rule}']:.3f}", f"{r[f'covered_accuracy_{rule}']:.3f}",
                 f"{r[f'balanced_accuracy_{rule}']:.3f}"] for _, r in ordered.iterrows()]
    return header, rows


def build_deck(models_dir: str | Path, models: tuple[str, ...] | None = None, rule: str = "mean") -> list[Slide]:
    """The comparison as slides. ``models``: whose confusion matrices and recalls to show (default: the
    headline against the best model trained from scratch)."""
    kfold, artist = metrics_table(models_dir, "kfold"), metrics_table(models_dir, "artist")
    if kfold.empty:
        raise FileNotFoundError(f"no stored model metrics under {models_dir}; train the models first")
    chosen = tuple(models) if models else default_pair(kfold)
    unknown = [m for m in chosen if m not in set(kfold["model"])]
    if unknown:
        raise KeyError(unknown[0])
    summary = dataset_summary(models_dir)
    counts = summary.clips_per_genre if summary else {}
    slides = [Slide("Music genre classification on GTZAN",
                    [f"{sum(counts.values())} clips of GTZAN (Tzanetakis & Cook, 2002). {balance_in_words(counts, genre_name)}",
                     "Two protocols: clip-level stratified 5-fold cross-validation (artists repeat across folds), "
                     "and the artist-filtered split of Kereliuk, Sturm & Larsen (no artist on both sides).",
                     f"Made {date.today().isoformat()} from the stored models."])]
    slides.append(Slide("Every model, both protocols", [f"Balanced accuracy, decision: the top genre of the clip's "
                                                        f"{'mean probability' if rule == 'mean' else 'window vote'}."],
                        image=_scores_chart(kfold, artist, rule)))
    slides.append(Slide("5-fold cross-validation", ["Mean ± standard deviation over the folds."],
                        table=_metrics_rows(kfold, "kfold", rule)))
    if not artist.empty:
        slides.append(Slide("Artist-filtered test", [artist_coverage(models_dir) or ""],
                            table=_metrics_rows(artist, "artist", rule)))
    for name in chosen:
        slides.append(Slide(f"Confusion matrix: {name}", ["5-fold, all folds pooled; row percentages; each true "
                                                          "genre's clips in brackets."],
                            image=_confusion_chart(confusion(models_dir, name, rule, "kfold"), name)))
    slides.append(Slide("Per-genre recall", ["Each genre's label gives the number of clips its recall rests on."],
                        image=_recall_chart({n: confusion(models_dir, n, rule, "kfold") for n in chosen})))
    histories = {n: h for n in kfold["model"] if not (h := history(models_dir, n)).empty and "val_loss" in h}
    if histories:
        slides.append(Slide("Learning curves", ["The networks trained from scratch, mean over the 5 folds."],
                            image=_learning_chart(histories)))
    if summary is not None:
        slides.append(Slide("The data", [balance_in_words(counts, genre_name)], image=_counts_chart(counts)))
        slides.append(Slide("What each genre sounds like on average", [
            "Average mel spectrogram of every genre's clips, aligned at the start: timbre, not melody."],
            image=_averages_chart(summary.mel, summary.genres, summary.seconds_per_frame)))
    return slides


def write_pptx(slides: list[Slide], path: str | Path) -> Path:
    from pptx import Presentation
    from pptx.util import Inches, Pt

    deck = Presentation()
    deck.slide_width, deck.slide_height = Inches(WIDTH_IN), Inches(HEIGHT_IN)
    blank = deck.slide_layouts[5]  # title only
    for spec in slides:
        slide = deck.slides.add_slide(blank)
        title = slide.shapes.title
        title.left, title.top, title.width, title.height = Inches(0.5), Inches(0.3), Inches(12.3), Inches(0.9)
        title.text = spec.title
        title.text_frame.paragraphs[0].runs[0].font.size = Pt(36)
        top = 1.25
        if spec.lines:
            box = slide.shapes.add_textbox(Inches(0.6), Inches(top), Inches(12.1), Inches(0.5))
            box.text_frame.word_wrap = True
            for i, line in enumerate(spec.lines):
                paragraph = box.text_frame.paragraphs[0] if i == 0 else box.text_frame.add_paragraph()
                paragraph.text = line
                paragraph.font.size = Pt(20 if spec.image or spec.table else 26)
            top += 0.45 * len(spec.lines) + (0.3 if spec.image or spec.table else 0)
        if spec.image is not None:
            from PIL import Image

            width, height = Image.open(io.BytesIO(spec.image)).size
            room_w, room_h = 12.3, HEIGHT_IN - top - 0.25
            scale = min(room_w / width, room_h / height)
            w, h = width * scale, height * scale
            slide.shapes.add_picture(io.BytesIO(spec.image), Inches((WIDTH_IN - w) / 2), Inches(top), Inches(w), Inches(h))
        if spec.table is not None:
            header, rows = spec.table
            shape = slide.shapes.add_table(len(rows) + 1, len(header), Inches(0.6), Inches(top), Inches(12.1),
                                           Inches(0.42 * (len(rows) + 1)))
            for j, text in enumerate(header):
                shape.table.cell(0, j).text = text
            for i, row in enumerate(rows, start=1):
                for j, text in enumerate(row):
                    shape.table.cell(i, j).text = text
            size = Pt(18 if len(rows) <= 10 else 14)
            for cell in (shape.table.cell(i, j) for i in range(len(rows) + 1) for j in range(len(header))):
                for paragraph in cell.text_frame.paragraphs:
                    paragraph.font.size = size
    path = Path(path)
    deck.save(path)
    return path


def write_pdf(slides: list[Slide], path: str | Path) -> Path:
    """The same slides as PDF pages (text stays text: matplotlib embeds it as PDF text)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.backends.backend_pdf import PdfPages
    from PIL import Image

    path = Path(path)
    with PdfPages(path) as pdf:
        for spec in slides:
            fig = plt.figure(figsize=(WIDTH_IN, HEIGHT_IN))
            fig.text(0.04, 0.93, spec.title, fontsize=30, weight="bold", va="top")
            y = 0.84
            size = 15 if spec.image or spec.table else 20
            for line in spec.lines:  # wrapped here: matplotlib's own wrapping does not move the next line down
                wrapped = textwrap.wrap(line, width=int(1450 / size)) or [""]
                fig.text(0.045, y, "\n".join(wrapped), fontsize=size, va="top", linespacing=1.4)
                y -= 0.035 * size / 15 * len(wrapped) + 0.02
            if spec.image is not None:
                image = np.asarray(Image.open(io.BytesIO(spec.image)).convert("RGB"))
                ax = fig.add_axes((0.04, 0.03, 0.92, max(0.1, y - 0.05)))
                ax.imshow(image)
                ax.axis("off")
            if spec.table is not None:
                header, rows = spec.table
                ax = fig.add_axes((0.04, 0.03, 0.92, max(0.1, y - 0.05)))
                ax.axis("off")
                table = ax.table(cellText=rows, colLabels=header, loc="upper center", cellLoc="left")
                table.auto_set_font_size(False)
                table.set_fontsize(15 if len(rows) <= 10 else 12)
                table.scale(1, 1.6)
            pdf.savefig(fig)
            plt.close(fig)
    return path


def write_deck(models_dir: str | Path, path: str | Path, models: tuple[str, ...] | None = None,
               rule: str = "mean") -> Path:
    """``path`` ending in .pptx or .pdf."""
    suffix = Path(path).suffix.lower()
    if suffix not in (".pptx", ".pdf"):
        raise ValueError(f"{path}: the deck is written as .pptx or .pdf")
    slides = build_deck(models_dir, models, rule)
    return write_pptx(slides, path) if suffix == ".pptx" else write_pdf(slides, path)
