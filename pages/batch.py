"""Many files at once: upload several songs, get a table of genre, confidence and agreement, as CSV too."""
from __future__ import annotations

import streamlit as st

from app_support import load_zoo
from genre_core.audio.decode import SUPPORTED_EXTENSIONS
from genre_core.outputs.batch import classify_many
from genre_core.outputs.text import csv_text, genre_name, markdown_name, markdown_text

st.title("Many files at once")
st.caption("Upload several songs; each gets the genre, how confident the answer is and how many models agree. "
           "Files that can't be classified are listed with the reason, and the others go on. From the command "
           "line: `python -m genre_core predict FOLDER --csv results.csv`.")

zoo = load_zoo()
if not zoo.models:
    st.error("No trained model is available. Train them with `python -m genre_core train all`.")
    st.stop()
files = st.file_uploader("Song files", type=[e.lstrip(".") for e in SUPPORTED_EXTENSIONS], accept_multiple_files=True)
if not files:
    st.info("Choose or drop several audio files.")
    st.stop()

key = tuple((f.name, f.size, f.file_id) for f in files)
if st.session_state.get("batch_key") != key:
    bar = st.progress(0.0, text="Starting…")

    def progress(i: int, name: str) -> None:
        bar.progress(i / len(files), text=f"{i + 1} of {len(files)}: {markdown_name(name)}")

    table = classify_many(zoo, ((f.name, f.getvalue()) for f in files), progress)
    bar.progress(1.0, text=f"Done: {len(files)} files.")
    st.session_state["batch_key"], st.session_state["batch_table"] = key, table
table = st.session_state["batch_table"]

done, failed = table[table["problem"].isna()], table[table["problem"].notna()]
st.subheader(f"{len(done)} classified" + (f", {len(failed)} could not be" if len(failed) else ""))
# a line between the heading and the table: the table's toolbar (search, download) appears above it and
# would otherwise cover the heading on a phone
st.caption("Click a column's name to sort by it; the table's toolbar searches it.")
# genres as they are written everywhere ('hip-hop'); the CSV keeps the stored labels
shown = done.drop(columns="problem").assign(genre=done["genre"].map(genre_name))
st.dataframe(shown, hide_index=True, width="stretch", column_config={
    "confidence": st.column_config.ProgressColumn("confidence", format="percent", min_value=0, max_value=1,
                                                  help="Probability of the genre under the headline rule."),
    "agreement": st.column_config.ProgressColumn("agreement", format="percent", min_value=0, max_value=1,
                                                 help="Share of the models whose top genre is the same."),
    "duration_s": st.column_config.NumberColumn("seconds", format="%.1f"),
})
if len(done):
    counts = done["genre"].value_counts()
    st.caption("In words: " + ", ".join(f"{n} {genre_name(g)}" for g, n in counts.items()) + ".")
for row in failed.itertuples():
    st.warning(f"{markdown_name(row.file)}: {markdown_text(row.problem)}")
st.download_button("Download the table (CSV)", csv_text(table), file_name="genres.csv", mime="text/csv",
                   on_click="ignore")
