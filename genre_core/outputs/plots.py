"""Plotly figures for the dashboard (no Streamlit here): readable on a projector, PNG-exportable."""
from __future__ import annotations

import re
from typing import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from genre_core.features.spectral import mel_band_hz
from genre_core.outputs.catalog import fold_epochs
from genre_core.outputs.palette import GENRE_COLORS, PETROFF_10
from genre_core.outputs.text import genre_name, percent
from genre_core.training.evaluation import recall_from_confusion

FONT = dict(size=16)
# Modebar settings passed to st.plotly_chart(config=...): PNG export at twice the size.
EXPORT_CONFIG = {"displaylogo": False, "toImageButtonOptions": {"format": "png", "scale": 2}}
MAX_COLUMNS = 800  # heatmaps are averaged down to this many time columns (a chart is at most ~1400 px wide)
# Plotly's Magma starts at #000004; Streamlit's plotly theme treats #000001-#000040 as placeholders for its
# own colours and repaints them (pink), so the darkest stop is moved just outside that range.
MAGMA = [[0.0, "#010106"], *[[i / 9, c] for i, c in enumerate(
    ["#000004", "#180f3d", "#440f76", "#721f81", "#9e2f7f", "#cd4071", "#f1605d", "#fd9668", "#feca8d", "#fcfdbf"])
    if i > 0]]


# Readable on a 1920 px projector (plotly's default is 12 px). No colours here: Streamlit's theme gives text
# and background colours that follow the viewer's light or dark preference.
TICK_FONT = dict(size=15)


# Blues for a dark page: from its background (#0e1117, the theme's) to light blue. Not #000001-#000040:
# Streamlit's plotly theme replaces those.
DARK_BLUES = [[0.0, "#0e1117"], [0.25, "#123a63"], [0.6, "#2f7bc4"], [1.0, "#bfe0ff"]]


def _layout(fig: go.Figure, title: str, height: int = 420) -> go.Figure:
    # the title sits just above the plot, the chart's toolbar above it: on a phone they no longer overlap
    fig.update_layout(title=dict(text=title, font=dict(size=19), yref="paper", y=1, yanchor="bottom",
                                 pad=dict(b=12), automargin=True), font=FONT, height=height,
                      margin=dict(l=60, r=20, t=70, b=50),
                      # below the plot, left-aligned: a legend beside it squeezes the plot on a phone
                      legend=dict(font=dict(size=15), orientation="h", yref="container", y=0, yanchor="bottom", x=0,
                                  xanchor="left"))
    fig.update_xaxes(tickfont=TICK_FONT, title_font=dict(size=16))
    fig.update_yaxes(tickfont=TICK_FONT, title_font=dict(size=16), automargin=True)
    return fig


def _ink_on(color: str) -> str:
    """Black or white, whichever reads better on the ``color`` ('#rrggbb') of a bar (WCAG relative luminance)."""
    channels = [int(color[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    r, g, b = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return "#000000" if 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.179 else "#ffffff"


def whole_bar_labels(fractions: np.ndarray, colors: Sequence[str]) -> dict:
    """Bar-trace settings that keep every label whole at any width: a bar past half the axis carries its label
    inside its end (outside, it ran past the axis on a phone: "92.5 9"), in black or white to suit the bar; a
    shorter bar's label follows it, never clipped, never shrunk to fit the bar."""
    inside = np.asarray(fractions) >= 0.5
    return dict(textposition=["inside" if i else "outside" for i in inside], insidetextanchor="end",
                cliponaxis=False, constraintext="none",
                insidetextfont=dict(color=[_ink_on(c) for c in colors]))


def probability_bars(labels: Sequence[str], probabilities: np.ndarray, title: str = "Genre probabilities") -> go.Figure:
    order = np.argsort(probabilities)
    colors = [GENRE_COLORS.get(labels[i], "#444444") for i in order]
    fig = go.Figure(go.Bar(
        x=np.asarray(probabilities)[order] * 100, y=[genre_name(labels[i]) for i in order], orientation="h",
        marker_color=colors, text=[percent(p) for p in np.asarray(probabilities)[order]],
        **whole_bar_labels(np.asarray(probabilities)[order] / 1.1, colors),
    ))
    fig.update_xaxes(title="probability (%)", range=[0, 110])
    return _layout(fig, title)


# The timeline's plot area in px, the same at every width: its legend gets rows of its own below it.
TIMELINE_PLOT_PX = 260
TIMELINE_SHOWN_ABOVE = 0.1  # a genre gets a legend entry once it reaches 10 % in some window (a visible band)
# A horizontal legend below a plot is as wide as the plot area: about 230 px on a phone or in one of Two songs'
# columns. Its rows are reserved for that width, wherever the chart is shown.
NARROW_LEGEND_PX = 230
LEGEND_ROW_PX = 26


def legend_rows(names: Sequence[str], width: float = NARROW_LEGEND_PX, font_px: float = 15) -> int:
    """Rows a horizontal legend of ``names`` takes at ``width`` px, as plotly lays it out: one row if every entry
    fits, else a grid of columns as wide as the widest entry. An entry is estimated on the safe side as its
    symbol (45 px) and half a font size a character (measured: 0.46 in Chromium)."""
    entries = [45 + 0.5 * font_px * len(name) for name in names]
    if sum(entries) <= width:
        return 1
    columns = max(1, int(width // max(entries)))
    return -(-len(names) // columns)


def timeline_genres(labels: Sequence[str], window_probabilities: np.ndarray) -> list[str]:
    """The genres worth a legend entry on the timeline: those reaching 10 % in some window (n_windows, n_classes)."""
    return [labels[i] for i in np.flatnonzero(window_probabilities.max(axis=0) >= TIMELINE_SHOWN_ABOVE)]


def timeline(labels: Sequence[str], window_probabilities: np.ndarray, window_times: np.ndarray,
             title: str = "Genre along the song", answer: str | None = None, shown: Sequence[str] | None = None,
             rows: int | None = None) -> go.Figure:
    """Stacked areas of window probabilities (n_windows, n_classes) at window centres.

    With ``answer``, the windows whose own top genre is the answer (the ones that carried it) are
    marked above the chart. Every point is clickable (the classify page plays the song from there).
    The legend names the ``shown`` genres (default :func:`timeline_genres`; the others are drawn and
    named on hover; the ▼ marks are said in the page's caption: a long entry would set every column's width)
    in ``rows`` rows below the plot (default: what a phone needs), so the plot area is ``TIMELINE_PLOT_PX``
    high at any width, and two timelines given the same ``shown`` and ``rows`` line up.
    """
    shown = timeline_genres(labels, window_probabilities) if shown is None else list(shown)
    answer = answer if answer in labels else None
    rows = rows or legend_rows([genre_name(g) for g in shown])
    centres = window_times.mean(axis=1)
    fig = go.Figure()
    for i, label in enumerate(labels):
        fig.add_trace(go.Scatter(
            x=centres, y=window_probabilities[:, i] * 100, name=genre_name(label), stackgroup="one", mode="lines+markers",
            line=dict(width=0.5, color=GENRE_COLORS.get(label)), marker=dict(size=5), showlegend=label in shown,
            hovertemplate=f"{genre_name(label)}: %{{y:.1f}} %<br>%{{x:.1f}} s<extra></extra>",
        ))
    if answer is not None:
        carried = np.flatnonzero(np.argmax(window_probabilities, axis=1) == list(labels).index(answer))
        fig.add_trace(go.Scatter(
            x=centres[carried], y=np.full(len(carried), 104.0), mode="markers", showlegend=False,
            name=f"windows voting {genre_name(answer)}",
            marker=dict(symbol="triangle-down", size=11, color=GENRE_COLORS.get(answer), line=dict(width=1)),
            hovertemplate=f"%{{x:.1f}} s: this window's top genre is {genre_name(answer)}<extra></extra>",
            cliponaxis=False,
        ))
    fig.update_xaxes(title="time (s) — click to play from there")
    fig.update_yaxes(title="probability (%)", range=[0, 108])
    top, axis_below = 70, 62  # the title; the tick labels and the axis title
    legend_px = rows * LEGEND_ROW_PX
    height = top + TIMELINE_PLOT_PX + axis_below + legend_px
    _layout(fig, title, height)
    # the legend hangs just under the axis title; rows a wider screen does not need stay blank at the bottom
    fig.update_layout(margin=dict(t=top, b=axis_below + legend_px),
                      legend=dict(traceorder="normal", yref="container", y=legend_px / height, yanchor="top",
                                  maxheight=legend_px + 8))
    return fig


def shared_timeline_legend(timelines: Sequence[tuple[Sequence[str], np.ndarray]]) -> tuple[list[str], int]:
    """For timelines drawn side by side, each (labels, window_probabilities (n_windows, n_classes)): the genres
    every legend names and its rows, so that their plot areas line up."""
    labels = list(timelines[0][0])
    wanted = {g for labels_, probabilities in timelines for g in timeline_genres(labels_, probabilities)}
    shown = [g for g in labels if g in wanted]
    return shown, legend_rows([genre_name(g) for g in shown])


def _compact_range(label: str) -> str:
    """'5.4 kHz–8.0 kHz' -> '5.4–8.0 kHz': a frequency band's name with its unit once (narrower axis labels)."""
    return re.sub(r"^(\S+) (k?Hz)–(\S+) \2$", r"\1–\3 \2", label)


def saliency_map(drops: np.ndarray, patch_times: np.ndarray, band_labels: Sequence[str], genre: str) -> go.Figure:
    """Occlusion evidence (n_bands, n_patches): how much turning each band down lowered p(genre) per 3 s patch.

    Narrow enough for a phone: band names with their unit once, the colour bar under the plot, a short title."""
    limit = float(np.abs(drops).max()) * 100 or 1.0
    fig = go.Figure(go.Heatmap(
        z=(drops * 100).astype(np.float32), x=patch_times.mean(axis=1), y=[_compact_range(b) for b in band_labels],
        colorscale="RdBu_r", zmin=-limit, zmax=limit, zmid=0.0,
        # under the plot, not beside it: on a phone a colour bar beside it took a third of the width
        # (no title: plotly draws a horizontal bar's title over it; the page's caption says what the colour is)
        colorbar=dict(orientation="h", thickness=12, ticksuffix=" %", yref="container", y=0.02, yanchor="bottom"),
        hovertemplate="%{x:.0f} s, %{y}: turned down 20 dB, the probability changes by %{z:.0f} %<extra></extra>"))
    fig.update_xaxes(title="time (s), centre of each 3 s moment", nticks=5)
    fig.update_yaxes(title=None)  # the band names say they are frequencies; on a phone the plot needs the room
    # short enough for a phone's width; the page's caption says what turning a band down means
    _layout(fig, f"Why {genre_name(genre)}: red bands carried it", 440)
    return fig.update_layout(margin=dict(b=110))


def _downsample(image: np.ndarray, max_columns: int = MAX_COLUMNS) -> tuple[np.ndarray, int]:
    factor = max(1, int(np.ceil(image.shape[1] / max_columns)))
    if factor == 1:
        return image, 1
    usable = image.shape[1] // factor * factor
    return image[:, :usable].reshape(image.shape[0], -1, factor).mean(axis=2), factor


def mel_band_labels(n_mels: int, sample_rate: int) -> list[str]:
    """Row names of a mel image: each band's centre frequency, e.g. '1,034 Hz'."""
    return [f"{f:,.0f} Hz" for f in mel_band_hz(n_mels, sample_rate)]


def round_hz_rows(n_mels: int, sample_rate: int,
                  candidates: Sequence[int] = (500, 1000, 2000, 4000, 8000, 16000)) -> tuple[list[int], list[str]]:
    """Rows of a mel image nearest to the round ``candidates`` frequencies in its range, and their labels
    ('500', '2 k'); frequencies below 500 Hz crowd the axis and are left out."""
    hz = mel_band_hz(n_mels, sample_rate)
    wanted = [f for f in candidates if hz[0] <= f <= hz[-1]]
    return ([int(np.argmin(np.abs(hz - f))) for f in wanted],
            [f"{f:,}" if f < 1000 else f"{f // 1000} k" for f in wanted])


def mel_hz_ticks(n_mels: int, sample_rate: int) -> dict:
    """y-axis ticks of a mel image whose rows are named by :func:`mel_band_labels`, at round frequencies."""
    labels = mel_band_labels(n_mels, sample_rate)
    rows, texts = round_hz_rows(n_mels, sample_rate)
    return {"type": "category", "tickvals": [labels[r] for r in rows], "ticktext": texts}


def feature_heatmap(image: np.ndarray, seconds_per_frame: float, kind: str, title: str,
                    zmin: float | None = None, zmax: float | None = None, colorscale=None,
                    zmid: float | None = None, height: int = 380, sample_rate: int = 22050,
                    max_columns: int = MAX_COLUMNS) -> go.Figure:
    """(n_bins, n_frames) image; ``kind`` is 'mel' (dB, y axis in Hz) or 'mfcc' (coefficients 1..n: the
    loudness coefficient 0 is left out, it would swamp the colour range). Sent as float32 arrays."""
    if kind == "mfcc" and image.shape[0] > 1:
        image, first = image[1:], 1
    else:
        first = 0
    small, factor = _downsample(image, max_columns)
    small = small.astype(np.float32)
    times = np.arange(small.shape[1]) * seconds_per_frame * factor
    if kind == "mel":  # rows named by their frequency: the hover says it, sent once per row, not per cell
        y = mel_band_labels(small.shape[0], sample_rate)
    else:
        y = np.arange(first, first + small.shape[0])
    if kind == "mfcc" and zmid is None:
        limit = float(np.percentile(np.abs(small), 99)) or 1.0
        zmin, zmax, zmid = -limit, limit, 0.0
    fig = go.Figure(go.Heatmap(
        z=small, x=times.astype(np.float32), y=y, colorscale=colorscale or (MAGMA if kind == "mel" else "RdBu_r"),
        zmin=zmin, zmax=zmax, zmid=zmid,
        colorbar=dict(title="dB" if kind == "mel" else "value"),
        hovertemplate=("%{x:.2f} s, %{y}: %{z:.1f} dB<extra></extra>" if kind == "mel"
                       else "%{x:.2f} s, coefficient %{y}: %{z:.1f}<extra></extra>"),
    ))
    fig.update_xaxes(title="time (s)")
    if kind == "mel":
        fig.update_yaxes(title="frequency (Hz)", **mel_hz_ticks(small.shape[0], sample_rate))
    else:
        fig.update_yaxes(title="MFCC coefficient")
    return _layout(fig, title, height)


def tag_bars(tags: Sequence[str], probabilities: np.ndarray, title: str = "What the pretrained tagger hears",
             k: int = 10) -> go.Figure:
    """The ``k`` most probable of the tagger's tags (probabilities (n_tags,), averaged over the song)."""
    order = np.argsort(probabilities)[::-1][:k][::-1]
    fig = go.Figure(go.Bar(
        x=np.asarray(probabilities)[order] * 100, y=[tags[i] for i in order], orientation="h", marker_color=PETROFF_10[0],
        text=[f"{probabilities[i] * 100:.0f} %" for i in order],
        **whole_bar_labels(np.asarray(probabilities)[order] / 1.1, [PETROFF_10[0]] * len(order)),
    ))
    fig.update_xaxes(title="tag probability (%)", range=[0, 110])
    return _layout(fig, title)


def sequential_scale(dark: bool) -> str | list:
    """Low values in the page's background colour, high ones bright: empty cells never outshine full ones."""
    return DARK_BLUES if dark else "Blues"


def tag_timeline(tags: Sequence[str], patch_tags: np.ndarray, times: np.ndarray, k: int = 8,
                 title: str = "Tags along the song", dark: bool = False) -> go.Figure:
    """Heatmap of the ``k`` tags most probable over the song, per 3 s patch (patch_tags (n_patches, n_tags))."""
    top = np.argsort(patch_tags.mean(axis=0))[::-1][:k]
    fig = go.Figure(go.Heatmap(
        z=patch_tags[:, top].T * 100, x=times.mean(axis=1), y=[tags[i] for i in top], colorscale=sequential_scale(dark),
        zmin=0, zmax=100, colorbar=dict(title="%"),
        hovertemplate="%{y} at %{x:.0f} s: %{z:.0f} %<extra></extra>"))
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(title="time (s)")
    return _layout(fig, title, 80 + 34 * k)


def genre_grid(images: np.ndarray, genres: Sequence[str], seconds_per_frame: float, kind: str,
               sample_rate: int = 22050, columns: int = 160, per_row: int = 5) -> go.Figure:
    """All genres' average images (n_genres, n_bins, n_frames) on one shared colour scale, ``per_row`` a row
    (5 on a screen; 2 on a phone, where five tiles leave no room for the genre names).

    Drawn as ONE heatmap (the images tiled with blank gaps) with the genre names written above each
    tile: ten subplots took the browser several seconds to draw on 2 cores.
    """
    if kind == "mfcc":
        images = images[:, 1:]  # coefficient 0 (loudness) would swamp the shared colour range
    rows = int(np.ceil(len(genres) / per_row))
    smalls = [_downsample(image, columns) for image in images]
    factor = smalls[0][1]
    bins, width = smalls[0][0].shape
    gap_x, gap_y = max(2, width // 16), max(2, bins // 6)
    tiled = np.full((rows * bins + (rows - 1) * gap_y, per_row * width + (per_row - 1) * gap_x), np.nan, np.float32)
    annotations = []
    for i, (small, _) in enumerate(smalls):
        row, col = divmod(i, per_row)
        top = (rows - 1 - row) * (bins + gap_y)  # first genres on the top row
        left = col * (width + gap_x)
        tiled[top:top + bins, left:left + width] = small
        annotations.append(dict(x=left + width / 2, y=top + bins, text=f"<b>{genre_name(genres[i])}</b>", showarrow=False,
                                yanchor="bottom", font=dict(size=15)))
    zmin, zmax = float(np.nanpercentile(tiled, 1)), float(np.nanpercentile(tiled, 99))
    fig = go.Figure(go.Heatmap(z=tiled, colorscale=MAGMA if kind == "mel" else "RdBu_r", zmin=zmin, zmax=zmax,
                               hoverinfo="skip", colorbar=dict(title="dB" if kind == "mel" else "value")))
    seconds = width * factor * seconds_per_frame
    marks = [t for t in (0, 10, 20) if t < seconds]
    fig.update_xaxes(tickvals=[c * (width + gap_x) + t / (factor * seconds_per_frame)
                               for c in range(per_row) for t in marks],
                     ticktext=[str(t) for _ in range(per_row) for t in marks], title="time (s)", showgrid=False,
                     zeroline=False)
    if kind == "mel":
        rows_at, texts = round_hz_rows(bins, sample_rate, (500, 2000, 8000))
        fig.update_yaxes(tickvals=[r * (bins + gap_y) + b for r in range(rows) for b in rows_at],
                         ticktext=texts * rows, title="frequency (Hz)")
    else:
        fig.update_yaxes(showticklabels=False, title="MFCC coefficients 1–19, upwards")
    fig.update_yaxes(showgrid=False, zeroline=False)
    fig.update_layout(annotations=annotations)
    return _layout(fig, f"Average {'mel spectrogram' if kind == 'mel' else 'MFCC'} per genre",
                   (240 if per_row >= 5 else 170) * rows + 120)


def confusion_heatmap(cm: np.ndarray, labels: Sequence[str], title: str, normalize: bool,
                      dark: bool = False) -> go.Figure:
    """Rows: true genre; columns: predicted. Row-normalised to % when ``normalize``."""
    cm = np.asarray(cm, dtype=np.float64)
    values = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1) * 100 if normalize else cm
    # empty cells for zero counts keep the matrix readable on a slide
    text = [["" if c == 0 else (f"{v:.0f}%" if normalize else f"{int(v)}") for v, c in zip(row, counts)]
            for row, counts in zip(values, cm)]
    unit = "%" if normalize else " clips"
    fig = go.Figure(go.Heatmap(z=values, x=[genre_name(g) for g in labels], y=[genre_name(g) for g in labels], colorscale=sequential_scale(dark), text=text,
                               texttemplate="%{text}", colorbar=dict(title="%" if normalize else "clips"),
                               hovertemplate=f"true %{{y}}, predicted %{{x}}: %{{z:.0f}}{unit}<extra></extra>"))
    fig.update_yaxes(autorange="reversed", title="true genre")
    fig.update_xaxes(title="predicted genre", tickangle=-45)
    return _layout(fig, title, 520)


def recall_bars(confusions: dict[str, np.ndarray], labels: Sequence[str]) -> go.Figure:
    """Per-genre recall of each model; the x labels give the number of clips each recall rests on."""
    fig = go.Figure()
    support = np.asarray(next(iter(confusions.values()))).sum(axis=1)
    ticks = [f"{genre_name(g)}<br>n={int(n)}" for g, n in zip(labels, support)]
    for name, cm in confusions.items():
        fig.add_trace(go.Bar(name=name, x=ticks, y=recall_from_confusion(cm) * 100))
    fig.update_yaxes(title="recall (%)", range=[0, 105])
    fig.update_layout(barmode="group")
    return _layout(fig, "Per-genre recall (clips never seen in training)")


def learning_curves(histories: dict[str, pd.DataFrame], metric: str) -> go.Figure:
    """Train and validation ``metric`` ('loss' or 'acc') per epoch, averaged over the CV folds."""
    fig = go.Figure()
    palette = PETROFF_10
    for i, (name, frame) in enumerate(histories.items()):
        folds = fold_epochs(frame)
        if folds.empty:
            continue
        mean = folds.groupby("epoch")[[f"train_{metric}", f"val_{metric}"]].mean()
        color = palette[i % len(palette)]
        fig.add_trace(go.Scatter(x=mean.index, y=mean[f"train_{metric}"], name=f"{name} train",
                                 line=dict(color=color, dash="dot")))
        fig.add_trace(go.Scatter(x=mean.index, y=mean[f"val_{metric}"], name=f"{name} validation", line=dict(color=color)))
    fig.update_xaxes(title="epoch")
    # two lines: in one, the loss title is longer than a phone's plot is high and is cut
    fig.update_yaxes(title="loss<br>(weighted cross-entropy)" if metric == "loss" else "window accuracy")
    return _layout(fig, ("Loss" if metric == "loss" else "Accuracy") + " per epoch (mean over folds)", 450)


def clip_counts(counts: dict[str, int], unit: str = "clips",
                title: str = "Clips per genre used for training") -> go.Figure:
    """One bar per genre: how many ``unit`` (clips of the dataset, songs of a library) it has."""
    fig = go.Figure(go.Bar(x=[genre_name(g) for g in counts], y=list(counts.values()), text=list(counts.values()), textposition="outside",
                           marker_color=[GENRE_COLORS.get(g) for g in counts],
                           hovertemplate=f"%{{x}}: %{{y}} {unit}<extra></extra>"))
    few = max(counts.values(), default=0) <= 10
    fig.update_yaxes(title=unit, **({"dtick": 1} if few else {}))  # no "1.5 songs" tick
    return _layout(fig, title, 360)


def model_scores(kfold: pd.DataFrame, artist: pd.DataFrame, rule: str = "mean", labels: dict[str, str] | None = None,
                 answer: str | None = None) -> go.Figure:
    """Balanced accuracy of every model under both protocols (k-fold with its spread over folds; the
    artist-filtered test over the genres it covers), best k-fold first. ``labels``: each folder's name on the
    chart (default: the folder); the ``answer`` model's in bold."""
    frame = kfold.sort_values(f"balanced_accuracy_{rule}", ascending=True)
    names = list(frame["model"])
    fig = go.Figure(go.Bar(
        y=names, x=frame[f"balanced_accuracy_{rule}"] * 100, orientation="h", name="5-fold cross-validation",
        # mid grey: plotly's default (#444) vanishes on the dark theme's background
        error_x=dict(type="data", array=frame[f"balanced_accuracy_{rule}_std"] * 100, color="#8a8a8a", thickness=2),
        marker_color="#3f90da",
        hovertemplate="%{y}: %{x:.1f} %<extra>5-fold</extra>"))
    if not artist.empty:
        covered = dict(zip(artist["model"], artist[f"covered_balanced_accuracy_{rule}"]))
        fig.add_trace(go.Bar(y=names, x=[covered.get(n, np.nan) * 100 for n in names], orientation="h",
                             name="artist-filtered test (covered genres)", marker_color="#e76300",
                             hovertemplate="%{y}: %{x:.1f} %<extra>artist-filtered</extra>"))
    fig.update_xaxes(title="balanced accuracy (%)", range=[0, 100])
    shown = [(labels or {}).get(n, n) for n in names]
    fig.update_yaxes(tickvals=names, ticktext=[f"<b>{t}</b>" if n == answer else t for n, t in zip(names, shown)])
    fig.update_layout(barmode="group")
    lines = max((t.count("<br>") + 1 for t in shown), default=1)  # a wrapped name needs its bar pair's room
    title = "Every model, both protocols" + (" (in bold: the app's answer)" if answer in names else "")
    return _layout(fig, title, 140 + 46 * len(names) * max(1, (lines + 1) // 2))


def for_projector(fig: go.Figure, height: int = 760) -> go.Figure:
    """The same chart at projector size: every text at least 18 px, the legend below the plot, inside the chart
    (anchored to the chart's bottom edge, not the plot's: below the plot it would sit under the axis title,
    past the chart's edge, where it is never drawn)."""
    fig.update_layout(height=height, font=dict(size=20), title_font=dict(size=30),
                      legend=dict(font=dict(size=20), orientation="h", yref="container", y=0, yanchor="bottom",
                                  x=0, xanchor="left"),
                      margin=dict(l=80, r=30, t=80, b=80))
    fig.update_xaxes(tickfont=dict(size=20), title_font=dict(size=22))
    fig.update_yaxes(tickfont=dict(size=20), title_font=dict(size=22))
    fig.update_traces(textfont_size=22, selector=dict(type="heatmap"))
    fig.update_traces(textfont_size=20, selector=dict(type="bar"))
    fig.update_annotations(font_size=22)
    return fig
