"""The model comparison as a slide deck to take away (PPTX or PDF): real text, charts as images at projector
resolution, every figure read from the stored metrics and dataset summary.

``build_deck`` collects the slides; ``write_pptx`` / ``write_pdf`` write them (16:9) from one layout
(``slide_layout``): text boxes are sized from their text, measured in Arial's metrics (which LibreOffice's
Liberation Sans shares), so the deck lays out the same in PowerPoint, Keynote and LibreOffice. Each chart is
drawn with matplotlib (no browser needed) at the size of its place on the slide, so a point in the chart is a
point on the slide.
"""
from __future__ import annotations

import functools
import io
import textwrap
from collections.abc import Callable
from contextlib import contextmanager
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
    fold_epochs,
    headline_member,
    plain_title,
    scores_once,
    short_title,
    history,
    metrics_table,
    titles_in_words,
)
from genre_core.outputs.palette import GENRE_COLORS, PETROFF_10
from genre_core.outputs.text import genre_name
from genre_core.training.evaluation import recall_from_confusion

WIDTH_IN, HEIGHT_IN = 13.333, 7.5  # 16:9
CHART_DPI = 150  # a 12.3 x 5.5 in chart is 1850 x 825 px: sharp on a 1920 x 1080 projector
FONT = "Arial"  # PowerPoint and Keynote have it; LibreOffice lays it out with the metric-compatible Liberation Sans
MARGIN = 0.5  # inches around the slide's content
LINE_EM = 1.2  # line pitch of Arial in all three office suites, in font sizes
PARAGRAPH_GAP_EM = 0.5  # space before each paragraph after a box's first
PAD_X, PAD_Y = 0.1, 0.05  # inner margins of every text box and table cell, inches
WRAP_SLACK = 0.94  # lines are measured against 94 % of the room, so no renderer wraps one word more than counted
TITLE_PT, TITLE_MIN_PT = 32, 26
FOLDER_PT_RATIO = 0.72  # the folder name under a model's title, smaller
NUMBER_PT = 18  # the confusion matrix's numbers
HEADER_FILL, BAND_FILLS = "#4f81bd", ("#d0d8e8", "#e9edf4")  # python-pptx's default table style, for the PDF

Table = tuple[list[str], list[list[str]]]  # header, rows; a cell's text after "\n" is its small print


@dataclass
class Slide:
    title: str
    lines: list[str] = field(default_factory=list)  # short paragraphs, real text
    chart: Callable[[float, float], object] | None = None  # (width, height) inches -> matplotlib Figure
    table: Table | None = None


# --- measuring text -------------------------------------------------------------------------------------------

@functools.cache
def _font_file(bold: bool = False) -> str:
    """Arial, else Liberation Sans (same metrics), else matplotlib's DejaVu Sans (wider: boxes err large)."""
    from matplotlib import font_manager

    for family in ("Arial", "Liberation Sans"):
        for font in font_manager.fontManager.ttflist:
            if font.name == family and font.style == "normal" and (font.weight >= 600) == bold:
                return font.fname
    return font_manager.findfont(font_manager.FontProperties(family="DejaVu Sans", weight="bold" if bold else "normal"))


@functools.cache
def _measuring_font(bold: bool):
    from PIL import ImageFont

    return ImageFont.truetype(_font_file(bold), 200)


def text_width(text: str, pt: float, bold: bool = False) -> float:
    """Width in inches of one line of ``text`` at ``pt`` points."""
    return _measuring_font(bold).getlength(text) / 200 * pt / 72


def wrap(text: str, pt: float, width_in: float, bold: bool = False) -> list[str]:
    """``text`` broken at spaces into lines that fit ``width_in`` inches (with slack for other renderers)."""
    lines: list[str] = []
    line = ""
    for word in text.split():
        trial = f"{line} {word}" if line else word
        if line and text_width(trial, pt, bold) > width_in * WRAP_SLACK:
            lines.append(line)
            line = word
        else:
            line = trial
    return [*lines, line] if line else lines or [""]


def _lines_height(n_lines: int, pt: float) -> float:
    return n_lines * LINE_EM * pt / 72


# --- layout ---------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Box:
    """A rectangle on the slide, inches from the top left corner."""
    left: float
    top: float
    width: float
    height: float

    @property
    def bottom(self) -> float:
        return self.top + self.height


@dataclass(frozen=True)
class TextBlock:
    box: Box
    paragraphs: list[str]
    lines: list[list[str]]  # each paragraph as the lines it was measured to take
    pt: float
    bold: bool = False


@dataclass(frozen=True)
class TableLayout:
    box: Box
    header: list[str]
    rows: list[list[str]]
    column_widths: list[float]
    row_heights: list[float]
    pt: float


@dataclass(frozen=True)
class SlideLayout:
    title: TextBlock
    text: TextBlock | None
    content: Box | None  # the room left for the chart or table


def _text_block(paragraphs: list[str], pt: float, top: float, bold: bool = False) -> TextBlock:
    width = WIDTH_IN - 2 * MARGIN
    lines = [wrap(p, pt, width - 2 * PAD_X, bold) for p in paragraphs]
    gaps = (len(paragraphs) - 1) * PARAGRAPH_GAP_EM * pt / 72
    height = _lines_height(sum(len(x) for x in lines), pt) + gaps + 2 * PAD_Y + 0.05
    return TextBlock(Box(MARGIN, top, width, height), paragraphs, lines, pt, bold)


def slide_layout(spec: Slide) -> SlideLayout:
    """Where the title, the text and the chart or table go: each text box as tall as its measured text."""
    room = WIDTH_IN - 2 * MARGIN - 2 * PAD_X
    title_pt = next((pt for pt in range(TITLE_PT, TITLE_MIN_PT - 1, -1)
                     if text_width(spec.title, pt, True) <= room * WRAP_SLACK), TITLE_MIN_PT)
    title = _text_block([spec.title], title_pt, 0.25, bold=True)
    top, text = title.box.bottom + 0.05, None
    has_content = spec.chart is not None or spec.table is not None
    if spec.lines:
        text = _text_block(spec.lines, 18 if has_content else 24, top)
        top = text.box.bottom + 0.1
    content = Box(MARGIN, top, WIDTH_IN - 2 * MARGIN, HEIGHT_IN - MARGIN * 0.6 - top) if has_content else None
    return SlideLayout(title, text, content)


def cell_lines(cell: str, pt: float, width: float, bold: bool = False) -> tuple[list[str], str, bool]:
    """A table cell's text as lines at ``pt`` in a column ``width`` inches wide: (lines, small print, whether
    the small print follows on the last line rather than a line of its own)."""
    text, _, small = cell.partition("\n")
    lines = wrap(text, pt, width - 2 * PAD_X, bold)
    follows = not small or (text_width(f"{lines[-1]}  ", pt, bold) + text_width(small, pt * FOLDER_PT_RATIO)
                            <= (width - 2 * PAD_X) * WRAP_SLACK)
    return lines, small, follows


def _cell_height(cell: str, pt: float, width: float, bold: bool = False) -> float:
    lines, _, follows = cell_lines(cell, pt, width, bold)
    return _lines_height(len(lines) + (0 if follows else 1), pt) + 2 * PAD_Y + 0.04


def table_layout(table: Table, room: Box) -> TableLayout:
    """Column widths and row heights that hold every cell's wrapped text; the largest font (18 down to 11 pt)
    at which the whole table fits ``room``. The first column (the model) takes what the figures leave."""
    header, rows = table
    for pt in (18, 17, 16, 15, 14, 13, 12, 11):
        figures = [max(text_width(r[j], pt) for r in rows) + 2 * PAD_X + 0.15 for j in range(1, len(header))]
        figures = [max(w, 1.8) for w in figures]
        widths = [room.width - sum(figures), *figures]
        heights = [max(_cell_height(c, pt, w, bold=i == 0) for c, w in zip(row, widths))
                   for i, row in enumerate([header, *rows])]
        if sum(heights) <= room.height:
            break
    return TableLayout(Box(room.left, room.top, room.width, sum(heights)), header, rows, widths, heights, pt)


# --- charts ---------------------------------------------------------------------------------------------------

@contextmanager
def _chart_style():
    import matplotlib

    matplotlib.use("Agg")
    with matplotlib.rc_context({"font.size": 14, "axes.titlesize": 16, "axes.labelsize": 15, "xtick.labelsize": 14,
                                "ytick.labelsize": 14, "legend.fontsize": 14, "figure.dpi": CHART_DPI}):
        yield


def draw_chart(chart: Callable[[float, float], object], width: float, height: float):
    """The chart drawn at ``width`` x ``height`` inches and laid out (every artist placed), as a Figure."""
    with _chart_style():
        fig = chart(width, height)
        fig.canvas.draw()
    return fig


def _png(fig) -> bytes:
    """The figure as PNG at its own size (no cropping: the picture on the slide is the figure's size)."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    with _chart_style():
        fig.savefig(buffer, format="png", dpi=CHART_DPI)
    plt.close(fig)
    return buffer.getvalue()


def _figure(width: float, height: float, **kwargs):
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(width, height), layout="constrained", **kwargs)


def _overlap(a, b, pad: float = 2.0) -> bool:
    return a.x0 < b.x1 + pad and b.x0 < a.x1 + pad and a.y0 < b.y1 + pad and b.y0 < a.y1 + pad


def _x_labels_apart(fig, ax) -> None:
    """Turn the x tick labels (0, 30, 45, then 90 degrees) until no two touch."""
    for rotation in (0, 30, 45, 90):
        slanted = rotation in (30, 45)
        ax.tick_params(axis="x", labelrotation=rotation)
        for label in ax.get_xticklabels():
            label.set_horizontalalignment("right" if slanted else "center")
            label.set_rotation_mode("anchor" if slanted else "default")
        fig.canvas.draw()
        boxes = [t.get_window_extent() for t in ax.get_xticklabels() if t.get_visible() and t.get_text()]
        if not any(_overlap(a, b) for a, b in zip(boxes, boxes[1:])):
            return


def _y_labels_apart(fig, ax, smallest: float = 11) -> None:
    """Shrink the y tick labels a point at a time (down to ``smallest``) until no two touch."""
    size = ax.get_yticklabels()[0].get_fontsize() if ax.get_yticklabels() else smallest
    while True:
        fig.canvas.draw()
        boxes = sorted((t.get_window_extent() for t in ax.get_yticklabels() if t.get_visible() and t.get_text()),
                       key=lambda b: b.y0)
        if size <= smallest or not any(_overlap(a, b) for a, b in zip(boxes, boxes[1:])):
            return
        size -= 1
        ax.tick_params(axis="y", labelsize=size)


def _scores_chart(kfold: pd.DataFrame, artist: pd.DataFrame, rule: str, labels: dict[str, str], answer: str | None,
                  width: float, height: float):
    frame = kfold.sort_values(f"balanced_accuracy_{rule}")
    names = list(frame["model"])
    fig, ax = _figure(width, height)
    y = np.arange(len(names))
    ax.barh(y + 0.2, frame[f"balanced_accuracy_{rule}"] * 100, 0.4, xerr=frame[f"balanced_accuracy_{rule}_std"] * 100,
            color="#3f90da", label="5-fold cross-validation (± std over folds)", error_kw={"capsize": 3})
    if not artist.empty:
        covered = dict(zip(artist["model"], artist[f"covered_balanced_accuracy_{rule}"]))
        ax.barh(y - 0.2, [covered.get(n, np.nan) * 100 for n in names], 0.4, color="#e76300",
                label="artist-filtered test (covered genres)")
    ax.set_yticks(y, [labels[n] for n in names])
    for tick, name in zip(ax.get_yticklabels(), names):
        tick.set_fontweight("bold" if name == answer else "normal")
    ax.set_ylim(-0.6, len(names) - 0.4)
    ax.set_xlim(0, 100)
    ax.set_xlabel("balanced accuracy (%)")
    ax.grid(axis="x", alpha=0.3)
    fig.legend(loc="outside upper center", ncol=2, frameon=False)
    _y_labels_apart(fig, ax)
    return fig


def _confusion_chart(cm: np.ndarray, width: float, height: float):
    cm = np.asarray(cm, dtype=float)
    values = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1) * 100
    fig, ax = _figure(width, height)
    ax.imshow(values, cmap="Blues", vmin=0, vmax=100, aspect="auto")
    names = [genre_name(g) for g in GENRES]
    ax.set_xticks(range(len(GENRES)), names)
    ax.set_yticks(range(len(GENRES)), [f"{n} ({int(c)})" for n, c in zip(names, cm.sum(axis=1))])
    for i in range(len(GENRES)):
        for j in range(len(GENRES)):
            if cm[i, j]:
                ax.text(j, i, f"{values[i, j]:.0f}", ha="center", va="center", fontsize=NUMBER_PT,
                        color="white" if values[i, j] > 55 else "#1c1e21")
    ax.set_xlabel("predicted genre")
    ax.set_ylabel("true genre (clips)")
    _x_labels_apart(fig, ax)
    return fig


def _recall_chart(confusions: dict[str, np.ndarray], width: float, height: float):
    fig, ax = _figure(width, height)
    support = np.asarray(next(iter(confusions.values()))).sum(axis=1)
    x = np.arange(len(GENRES))
    bar = 0.8 / len(confusions)
    for i, (name, cm) in enumerate(confusions.items()):
        ax.bar(x + (i - (len(confusions) - 1) / 2) * bar, recall_from_confusion(cm) * 100, bar,
               label=textwrap.fill(name, 64), color=PETROFF_10[i % len(PETROFF_10)])
    ax.set_xticks(x, [f"{genre_name(g)}\nn={int(n)}" for g, n in zip(GENRES, support)])
    ax.set_ylim(0, 100)
    ax.set_ylabel("recall (%)")
    fig.legend(loc="outside upper center", ncol=len(confusions), frameon=False)
    _x_labels_apart(fig, ax)
    return fig


def _learning_chart(histories: dict[str, pd.DataFrame], width: float, height: float):
    fig, ax = _figure(width, height)
    for i, (name, frame) in enumerate(histories.items()):
        mean = fold_epochs(frame).groupby("epoch")[["train_loss", "val_loss"]].mean()
        color = PETROFF_10[i % len(PETROFF_10)]
        ax.plot(mean.index, mean["train_loss"], ":", color=color, lw=2)
        ax.plot(mean.index, mean["val_loss"], "-", color=color, lw=2.5, label=short_title(name, 28))
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss (mean over folds)")
    fig.legend(loc="outside right upper", frameon=False, fontsize=13)
    return fig


def _counts_chart(counts: dict[str, int], width: float, height: float):
    fig, ax = _figure(width, height)
    genres = list(counts)
    bars = ax.bar([genre_name(g) for g in genres], [counts[g] for g in genres],
                  color=[GENRE_COLORS.get(g, "#777") for g in genres])
    ax.bar_label(bars, fontsize=15)
    ax.set_ylim(0, max(counts.values()) * 1.12)
    ax.set_ylabel("clips")
    _x_labels_apart(fig, ax)
    return fig


def _averages_chart(mel: np.ndarray, genres: tuple[str, ...], seconds_per_frame: float, width: float, height: float):
    rows = int(np.ceil(len(genres) / 5))
    fig, axes = _figure(width, height, nrows=rows, ncols=5, sharex=True, sharey=True, squeeze=False)
    low, high = float(np.percentile(mel, 1)), float(np.percentile(mel, 99))
    for ax, genre, image in zip(axes.flat, genres, mel):
        ax.imshow(image, origin="lower", aspect="auto", cmap="magma", vmin=low, vmax=high,
                  extent=(0, image.shape[1] * seconds_per_frame, 0, image.shape[0]))
        ax.set_title(genre_name(genre), fontsize=17)
        ax.set_yticks([])
    for ax in axes.flat[len(genres):]:
        ax.axis("off")
    fig.supxlabel("time (s)", fontsize=15)
    fig.supylabel("mel bands, low to high", fontsize=15)
    return fig


# --- the deck -------------------------------------------------------------------------------------------------

def _model_cell(name: str, titles: dict[str, str], member: str | None) -> str:
    """A table's model cell: the title in words (for the model the headline is, that it is the app's answer),
    then in small print the folder."""
    if name == member:
        return f"{titles[name]}: the app's answer\n{name}, also stored as headline"
    return f"{titles[name]}\n{name}"


def _metrics_rows(table: pd.DataFrame, protocol: str, rule: str, titles: dict[str, str],
                  member: str | None) -> Table:
    if protocol == "kfold":
        header = ["model", "balanced accuracy", "macro-F1", "accuracy"]
        ordered = best_first(table, f"balanced_accuracy_{rule}")
        rows = [[_model_cell(r["model"], titles, member),
                 f"{r[f'balanced_accuracy_{rule}']:.3f} ± {r[f'balanced_accuracy_{rule}_std']:.3f}",
                 f"{r[f'macro_f1_{rule}']:.3f}", f"{r[f'accuracy_{rule}']:.3f}"] for _, r in ordered.iterrows()]
    else:
        header = ["model", "balanced acc. (covered)", "accuracy (covered)", "balanced acc. (all)"]
        ordered = best_first(table, f"covered_balanced_accuracy_{rule}")
        rows = [[_model_cell(r["model"], titles, member), f"{r[f'covered_balanced_accuracy_{rule}']:.3f}",
                 f"{r[f'covered_accuracy_{rule}']:.3f}", f"{r[f'balanced_accuracy_{rule}']:.3f}"]
                for _, r in ordered.iterrows()]
    return header, rows


def build_deck(models_dir: str | Path, models: tuple[str, ...] | None = None, rule: str = "mean") -> list[Slide]:
    """The comparison as slides. ``models``: whose confusion matrices and recalls to show (default: the
    headline against the best model trained from scratch). Where the headline is one model (every outer fold
    chose it), it is shown once, as that model, marked as the app's answer."""
    kfold, artist = metrics_table(models_dir, "kfold"), metrics_table(models_dir, "artist")
    if kfold.empty:
        raise FileNotFoundError(f"no stored model metrics under {models_dir}; train the models first")
    chosen = tuple(models) if models else default_pair(kfold)
    unknown = [m for m in chosen if m not in set(kfold["model"])]
    if unknown:
        raise KeyError(unknown[0])
    titles, member = titles_in_words(models_dir), headline_member(models_dir)
    kfold, artist, answer = scores_once(models_dir, kfold, artist)
    if member is not None:  # the headline's rows would repeat the member's: show the member once, marked
        chosen = tuple(dict.fromkeys(member if m == "headline" else m for m in chosen))
    chart_titles = {n: short_title(t, 34) for n, t in titles.items()}
    answer_words = f"the app's answer ({titles[answer]})" if member else "the app's answer"
    summary = dataset_summary(models_dir)
    counts = summary.clips_per_genre if summary else {}
    slides = [Slide("Music genre classification on GTZAN",
                    [f"{sum(counts.values())} clips of GTZAN (Tzanetakis & Cook, 2002). {balance_in_words(counts, genre_name)}",
                     "Two protocols: clip-level stratified 5-fold cross-validation (artists repeat across folds), "
                     "and the artist-filtered split of Kereliuk, Sturm & Larsen (no artist on both sides).",
                     f"Made {date.today().isoformat()} from the stored models."])]
    slides.append(Slide("Every model, both protocols", [
        f"Balanced accuracy; a clip's answer is the top genre of its "
        f"{'mean probability' if rule == 'mean' else 'window vote'}. In bold: {answer_words}."],
        chart=functools.partial(_scores_chart, kfold, artist, rule, chart_titles, answer)))
    slides.append(Slide("5-fold cross-validation", ["Mean ± standard deviation over the folds."],
                        table=_metrics_rows(kfold, "kfold", rule, titles, member)))
    if not artist.empty:
        slides.append(Slide("Artist-filtered test", [artist_coverage(models_dir) or ""],
                            table=_metrics_rows(artist, "artist", rule, titles, member)))
    for name in chosen:
        heading = "the app's answer" if name in (member, "headline") else plain_title(titles[name])
        slides.append(Slide(f"Confusion matrix: {heading}", [
            f"{titles[name]} (folder {name}). 5-fold, all folds pooled; row percentages; each true genre's clips "
            "in brackets."], chart=functools.partial(_confusion_chart, confusion(models_dir, name, rule, "kfold"))))
    recall_series = {plain_title(titles[n]) + (": the app's answer" if n == member else ""):
                     confusion(models_dir, n, rule, "kfold") for n in chosen}
    slides.append(Slide("Per-genre recall", ["Each genre's label gives the number of clips its recall rests on."],
                        chart=functools.partial(_recall_chart, recall_series)))
    histories = {titles[n]: h for n in kfold["model"] if not (h := history(models_dir, n)).empty and "val_loss" in h}
    if histories:
        slides.append(Slide("Learning curves", ["The networks trained from scratch, mean over the 5 folds. "
                                                "Solid: validation loss; dotted: training loss."],
                            chart=functools.partial(_learning_chart, histories)))
    if summary is not None:
        slides.append(Slide("The data", [balance_in_words(counts, genre_name)],
                            chart=functools.partial(_counts_chart, counts)))
        slides.append(Slide("What each genre sounds like on average", [
            "Average mel spectrogram of every genre's clips, aligned at the start: timbre, not melody."],
            chart=functools.partial(_averages_chart, summary.mel, summary.genres, summary.seconds_per_frame)))
    return slides


# --- PPTX -----------------------------------------------------------------------------------------------------

def _use_font_everywhere(deck) -> None:
    """The template's theme names Calibri, which LibreOffice lacks and replaces with other metrics: name
    ``FONT`` there too, so text typed later into the deck also lays out alike everywhere."""
    from pptx.opc.constants import RELATIONSHIP_TYPE

    theme = deck.slide_master.part.part_related_by(RELATIONSHIP_TYPE.THEME)
    theme._blob = theme.blob.replace(b'typeface="Calibri"', f'typeface="{FONT}"'.encode())


def _style_run(run, pt: float, bold: bool = False, color: str | None = None) -> None:
    from pptx.dml.color import RGBColor
    from pptx.util import Pt

    run.font.name, run.font.size, run.font.bold = FONT, Pt(pt), bold
    if color:
        run.font.color.rgb = RGBColor.from_string(color.lstrip("#"))


def _frame_margins(frame) -> None:
    from pptx.util import Inches

    frame.margin_left = frame.margin_right = Inches(PAD_X)
    frame.margin_top = frame.margin_bottom = Inches(PAD_Y)


def _fill_text(shape, block: TextBlock) -> None:
    """``block``'s paragraphs into ``shape`` at its measured box; the box never grows or shrinks the text."""
    from pptx.enum.text import MSO_ANCHOR, MSO_AUTO_SIZE, PP_ALIGN
    from pptx.util import Inches, Pt

    shape.left, shape.top = Inches(block.box.left), Inches(block.box.top)
    shape.width, shape.height = Inches(block.box.width), Inches(block.box.height)
    frame = shape.text_frame
    frame.clear()
    frame.word_wrap, frame.auto_size, frame.vertical_anchor = True, MSO_AUTO_SIZE.NONE, MSO_ANCHOR.TOP
    _frame_margins(frame)
    for i, text in enumerate(block.paragraphs):
        paragraph = frame.paragraphs[0] if i == 0 else frame.add_paragraph()
        paragraph.alignment = PP_ALIGN.LEFT
        if i:
            paragraph.space_before = Pt(PARAGRAPH_GAP_EM * block.pt)
        _style_run(paragraph.add_run(), block.pt, block.bold)
        paragraph.runs[0].text = text


def _add_table(slide, layout: TableLayout) -> None:
    from pptx.util import Inches

    box = layout.box
    shape = slide.shapes.add_table(len(layout.rows) + 1, len(layout.header), Inches(box.left), Inches(box.top),
                                   Inches(box.width), Inches(box.height))
    table = shape.table
    for j, width in enumerate(layout.column_widths):
        table.columns[j].width = Inches(width)
    for i, height in enumerate(layout.row_heights):
        table.rows[i].height = Inches(height)
    for i, row in enumerate([layout.header, *layout.rows]):
        for j, text in enumerate(row):
            frame = table.cell(i, j).text_frame
            _frame_margins(frame)
            frame.word_wrap = True
            main, _, small = text.partition("\n")
            paragraph = frame.paragraphs[0]
            _style_run(paragraph.add_run(), layout.pt, bold=i == 0)
            paragraph.runs[0].text = main
            if small:
                _style_run(paragraph.add_run(), layout.pt * FOLDER_PT_RATIO, color="#44546a")
                paragraph.runs[1].text = f"  {small}"


def write_pptx(slides: list[Slide], path: str | Path) -> Path:
    from pptx import Presentation
    from pptx.util import Inches

    deck = Presentation()
    deck.slide_width, deck.slide_height = Inches(WIDTH_IN), Inches(HEIGHT_IN)
    _use_font_everywhere(deck)
    title_only = deck.slide_layouts[5]
    for spec in slides:
        layout = slide_layout(spec)
        slide = deck.slides.add_slide(title_only)
        _fill_text(slide.shapes.title, layout.title)
        if layout.text is not None:
            box = layout.text.box
            _fill_text(slide.shapes.add_textbox(Inches(box.left), Inches(box.top), Inches(box.width),
                                                Inches(box.height)), layout.text)
        room = layout.content
        if spec.chart is not None and room is not None:
            png = _png(draw_chart(spec.chart, room.width, room.height))
            slide.shapes.add_picture(io.BytesIO(png), Inches(room.left), Inches(room.top), Inches(room.width),
                                     Inches(room.height))
        if spec.table is not None and room is not None:
            _add_table(slide, table_layout(spec.table, room))
    path = Path(path)
    deck.save(path)
    return path


# --- PDF ------------------------------------------------------------------------------------------------------

def _pdf_text(fig, left: float, top: float, text: str, pt: float, bold: bool = False, color: str = "black") -> None:
    """One line of text with its top left corner at (left, top) inches from the page's top left."""
    from matplotlib.font_manager import FontProperties

    fig.text(left / WIDTH_IN, 1 - top / HEIGHT_IN, text, fontproperties=FontProperties(fname=_font_file(bold), size=pt),
             va="top", ha="left", color=color)


def _pdf_block(fig, block: TextBlock) -> None:
    y = block.box.top + PAD_Y
    for i, lines in enumerate(block.lines):
        y += PARAGRAPH_GAP_EM * block.pt / 72 if i else 0
        for line in lines:
            _pdf_text(fig, block.box.left + PAD_X, y, line, block.pt, block.bold)
            y += _lines_height(1, block.pt)


def _pdf_table(fig, layout: TableLayout) -> None:
    from matplotlib.patches import Rectangle

    top = layout.box.top
    for i, (row, height) in enumerate(zip([layout.header, *layout.rows], layout.row_heights)):
        left = layout.box.left
        fill = HEADER_FILL if i == 0 else BAND_FILLS[(i - 1) % 2]
        for text, width in zip(row, layout.column_widths):
            fig.add_artist(Rectangle((left / WIDTH_IN, 1 - (top + height) / HEIGHT_IN), width / WIDTH_IN,
                                     height / HEIGHT_IN, facecolor=fill, edgecolor="white", lw=1))
            lines, small, follows = cell_lines(text, layout.pt, width, i == 0)
            y = top + PAD_Y
            for line in lines:
                _pdf_text(fig, left + PAD_X, y, line, layout.pt, i == 0, "white" if i == 0 else "black")
                y += _lines_height(1, layout.pt)
            if small:  # small print on the last line's baseline, or on a line of its own
                x = left + PAD_X + (text_width(f"{lines[-1]}  ", layout.pt, i == 0) if follows else 0)
                y_small = y - _lines_height(1, layout.pt) if follows else y
                _pdf_text(fig, x, y_small + (1 - FOLDER_PT_RATIO) * 0.9 * layout.pt / 72, small,
                          layout.pt * FOLDER_PT_RATIO, color="#44546a")
            left += width
        top += height


def write_pdf(slides: list[Slide], path: str | Path) -> Path:
    """The same slides, laid out as in the PPTX, as PDF pages (text stays text: matplotlib embeds the font)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.backends.backend_pdf import PdfPages
    from PIL import Image

    path = Path(path)
    with matplotlib.rc_context({"pdf.fonttype": 42}), PdfPages(path) as pdf:  # TrueType: crisp text, not Type 3
        for spec in slides:
            layout = slide_layout(spec)
            fig = plt.figure(figsize=(WIDTH_IN, HEIGHT_IN))
            _pdf_block(fig, layout.title)
            if layout.text is not None:
                _pdf_block(fig, layout.text)
            room = layout.content
            if spec.chart is not None and room is not None:
                image = Image.open(io.BytesIO(_png(draw_chart(spec.chart, room.width, room.height)))).convert("RGB")
                ax = fig.add_axes((room.left / WIDTH_IN, 1 - room.bottom / HEIGHT_IN, room.width / WIDTH_IN,
                                   room.height / HEIGHT_IN))
                ax.imshow(np.asarray(image), aspect="auto", interpolation="none")
                ax.axis("off")
            if spec.table is not None and room is not None:
                _pdf_table(fig, table_layout(spec.table, room))
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
