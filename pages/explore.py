"""Dataset explorer: per-genre average mel spectrograms and MFCCs, side by side and as a grid."""
from __future__ import annotations

import numpy as np
import streamlit as st

from app_support import MODELS_DIR, on_phone, presentation, show_chart
from genre_core.features.dataset import balance_in_words
from genre_core.outputs.catalog import dataset_summary
from genre_core.outputs.plots import clip_counts, feature_heatmap, genre_grid
from genre_core.outputs.text import genre_name

st.title("Explore the dataset")
presenting = st.toggle("Presentation view", help="One chart at a time at projector size; step with Previous/Next. "
                       "The chart comes first; the controls that choose what it shows follow it.")
stage = st.container()  # presentation view: the chart, above everything that follows
summary = dataset_summary(MODELS_DIR)
if summary is None:
    st.error("No dataset summary is stored. Run `python -m genre_core train all` to create it.")
    st.stop()

st.caption("Every image is the average over all training clips of a genre, aligned at the start of the clip "
           "(GTZAN clips are 30 s excerpts). Averages show what a genre has in common: the timbre, not a melody.")

kind = st.radio("Feature", ["mel", "mfcc"], horizontal=True,
                format_func=lambda k: "Mel spectrogram (dB)" if k == "mel" else "MFCC")
images = summary.mel if kind == "mel" else summary.mfcc
genres = list(summary.genres)

left, right = st.columns(2)
genre_a = left.selectbox("Genre A", genres, format_func=genre_name,
                         index=genres.index("classical") if "classical" in genres else 0)
genre_b = right.selectbox("Genre B", genres, format_func=genre_name,
                          index=genres.index("metal") if "metal" in genres else 1)
a, b = images[genres.index(genre_a)], images[genres.index(genre_b)]
# one colour range for both genres; MFCC coefficient 0 (loudness) is left out of the range and the image
scale_images = images if kind == "mel" else images[:, 1:]
zmin, zmax = float(np.percentile(scale_images, 1)), float(np.percentile(scale_images, 99))
if kind == "mfcc":
    zmax = max(abs(zmin), abs(zmax))
    zmin = -zmax


def _genre(image, genre):
    return feature_heatmap(image, summary.seconds_per_frame, kind,
                           f"{genre_name(genre)} ({summary.clips_per_genre.get(genre, 0)} clips)",
                           zmin=zmin, zmax=zmax, zmid=0.0 if kind == "mfcc" else None, max_columns=330)


difference = a - b
limit = float(np.percentile(np.abs(difference if kind == "mel" else difference[1:]), 99)) or 1.0


def _difference():
    return feature_heatmap(difference, summary.seconds_per_frame, kind,
                           f"Difference: {genre_name(genre_a)} − {genre_name(genre_b)}",
                           zmin=-limit, zmax=limit, colorscale="RdBu_r", zmid=0.0, max_columns=450)


if presenting:
    with stage:
        presentation({f"Average of {genre_name(genre_a)}": lambda: _genre(a, genre_a),
                      f"Average of {genre_name(genre_b)}": lambda: _genre(b, genre_b),
                      "Their difference": _difference,
                      "All genres": lambda: genre_grid(images, genres, summary.seconds_per_frame, kind),
                      "Clips per genre": lambda: clip_counts(summary.clips_per_genre)}, "explore")
    st.stop()
with left:
    show_chart(_genre(a, genre_a), "a")
with right:
    show_chart(_genre(b, genre_b), "b")
show_chart(_difference(), "diff")
profile_a, profile_b = a.mean(axis=1), b.mean(axis=1)
st.caption(f"Averaged over time, {genre_name(genre_a)} is {np.mean(profile_a - profile_b):+.1f} "
           f"{'dB' if kind == 'mel' else 'units'} against {genre_name(genre_b)} across "
           f"{'mel bands' if kind == 'mel' else 'coefficients'}.")

st.subheader("All genres")
show_chart(genre_grid(images, genres, summary.seconds_per_frame, kind, per_row=2 if on_phone() else 5), "grid")

st.subheader("Where the data came from")
show_chart(clip_counts(summary.clips_per_genre), "counts")
data = summary.info.get("data", {})
st.markdown(
    f"- **{data.get('n_clips', sum(summary.clips_per_genre.values()))} clips** of GTZAN "
    "(Tzanetakis & Cook, 2002), 30 s excerpts at 22 050 Hz, folder `" + str(data.get("root_name", "?")) + "`.\n"
    f"- {balance_in_words(summary.clips_per_genre, genre_name)} (The full GTZAN has 100 clips of every genre.)\n"
    "- GTZAN's known faults (Sturm 2013): some clips are repeated, and many artists have several clips in one genre."
)
