"""Library: read the results of `genre-core library` (a whole collection classified on Ray) and look through
them: the genre distribution, a sortable table, the songs the model was unsure about; open one in Classify."""
from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from app_support import show_chart
from genre_core.audio.decode import SUPPORTED_EXTENSIONS
from genre_core.library.results import read_table
from genre_core.outputs.plots import clip_counts
from genre_core.outputs.text import genre_name, markdown_name

st.title("Your music library")
st.caption("Classify a whole collection from the command line — `genre-core library MUSIC_FOLDER --out RESULTS` "
           "(on Ray: this machine's cores, or a cluster with `--address`) — then read the results here. "
           "The songs stay where they are; only the results table is read.")

default = st.session_state.get("library_results") or os.environ.get("GENRE_LIBRARY_RESULTS", "")
where = st.text_input("Results folder or file on this machine", value=default,
                      placeholder="/path/to/RESULTS (holding library.parquet or library.csv)")
if not where.strip():
    st.info("Type the folder given to `--out` (or its library.parquet / library.csv).")
    st.stop()
try:
    table = read_table(where.strip())
except ValueError as exc:
    st.error(str(exc))
    st.stop()
st.session_state["library_results"] = where.strip()

good, failed = table[table["error"].isna()], table[table["error"].notna()]
st.subheader(f"{len(good)} songs classified" + (f", {len(failed)} could not be" if len(failed) else ""))
counts = good["genre"].value_counts()
if len(counts):
    show_chart(clip_counts({g: int(n) for g, n in counts.items()}).update_layout(
        title_text="Songs per genre (the answer for each)"), "library_counts",
        alt="In words: " + ", ".join(f"{n} {genre_name(g)}" for g, n in counts.items()) + ".")

columns = [c for c in ("path", "genre", "probability", "second_genre", "state", "agreement", "duration_s", "top_tags",
                       "warnings") if c in good.columns]
st.dataframe(good[columns], hide_index=True, width="stretch", column_config={
    "path": st.column_config.TextColumn("file", width="large"),
    "probability": st.column_config.ProgressColumn("probability", format="percent", min_value=0, max_value=1),
    "agreement": st.column_config.ProgressColumn("agreement", format="percent", min_value=0, max_value=1),
    "duration_s": st.column_config.NumberColumn("seconds", format="%.0f"),
    "second_genre": st.column_config.TextColumn("second"),
})

st.subheader("The songs it was least sure about")
unsure = good[good["state"] == "unsure"] if "state" in good.columns else good.iloc[0:0]
least = (unsure if len(unsure) else good).sort_values("probability").head(20)
st.caption(f"{len(unsure)} answers are 'not sure' (the probability is below the level under which fewer than half "
           "of the answers on held-out clips were right)." if len(unsure) else "No answer is 'not sure'; the 20 "
           "least probable answers are listed.")
st.dataframe(least[[c for c in ("path", "genre", "probability", "second_genre", "second_probability")
                    if c in least.columns]], hide_index=True, width="stretch", column_config={
    "path": st.column_config.TextColumn("file", width="large"),
    "probability": st.column_config.NumberColumn(format="%.2f"),
    "second_probability": st.column_config.NumberColumn("second's probability", format="%.2f"),
})

if len(failed):
    with st.expander(f"{len(failed)} files could not be classified"):
        st.dataframe(failed[["path", "error"]], hide_index=True, width="stretch")

st.subheader("Open a song in Classify")
# Only songs listed in this results table can be opened, and only audio files that exist on this machine.
openable = [p for p in good["path"] if Path(p).suffix.lower() in SUPPORTED_EXTENSIONS]
song = st.selectbox("Song", openable, index=None, placeholder="Choose a song of the table",
                    format_func=lambda p: Path(p).name)
if song is not None:
    if not Path(song).is_file():
        st.error(f"{markdown_name(song)} is not on this machine any more.")
    elif st.button("Open in Classify", type="primary"):
        st.session_state["library_song"] = song
        st.switch_page("pages/classify.py")
