"""Library: read the results of `genre-core library` (a whole collection classified on Ray) and look through
them: the genre distribution, a sortable table, the songs the model was unsure about; open one in Classify."""
from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from app_support import on_phone, show_chart
from genre_core.audio.decode import SUPPORTED_EXTENSIONS
from genre_core.library.results import counted, for_people, read_table
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

phone = on_phone()
good, failed = table[table["error"].isna()], table[table["error"].notna()]
shown = for_people(table)  # headers in words, songs relative to the library's folder, hip-hop spelled out
songs = shown.loc[good.index]
if phone:  # the file name, then its folder (wrapped onto the next lines): the other columns stay on screen
    songs = songs.assign(song=[f"{name} (in {folder})" if folder else name
                               for name, folder in zip(songs["song"], songs["folder"])])
st.subheader(f"{counted(len(good), 'song')} classified" + (f", {len(failed)} could not be" if len(failed) else ""))
counts = good["genre"].value_counts()
if len(counts):
    show_chart(clip_counts({g: int(n) for g, n in counts.items()}, unit="songs",
                           title="Songs per genre (the answer for each)"), "library_counts",
               alt="In words: " + ", ".join(f"{genre_name(g)} {counted(int(n), 'song')}" for g, n in counts.items()) + ".")

# One probability format in every table: '92.4 %', as the rest of the app writes it.
PROBABILITY = st.column_config.ProgressColumn(format="%.1f %%", min_value=0, max_value=100)
PHONE_PROBABILITY = st.column_config.NumberColumn(format="%.1f %%", width=82)
SONG = st.column_config.TextColumn(width=260)
PHONE_SONG = st.column_config.TextColumn(width=112)  # with the three beside it: 344 px, inside a phone's 356 px table
measured = songs["models agreeing"].notna()
if phone:
    st.dataframe(songs[["song", "genre", "probability", "state"]], hide_index=True, width="stretch", placeholder="",
                 row_height=68, column_config={"song": PHONE_SONG, "genre": st.column_config.TextColumn(width=74),
                                               "probability": PHONE_PROBABILITY,
                                               "state": st.column_config.TextColumn(width=76)})
    wider = ["the second genre", *(["the models agreeing"] if measured.any() else []), "the length", "the tags"]
    st.caption(f"On a wider screen this table also shows each song's folder, {', '.join(wider)} and any warnings.")
else:
    st.dataframe(songs[["song", "genre", "probability", "state", *(["models agreeing"] if measured.any() else []),
                        "folder", "second genre", "seconds", "tags", "warnings"]], hide_index=True, width="stretch",
                 placeholder="", column_config={"song": SONG, "folder": SONG, "probability": PROBABILITY,
                                                "seconds": st.column_config.NumberColumn(format="%.0f")})
if measured.all():
    st.caption("Models agreeing: how many of the models that ran give the answer's genre (measured because every "
               "model ran: `--all-models`).")
elif measured.any():
    st.caption(f"Models agreeing is measured on {counted(int(measured.sum()), 'song')} of {len(songs)}: those "
               "classified with `--all-models`, where every model runs. The others ran only the answer's models.")
else:
    st.caption("How many models agree is measured only with `--all-models` (every model runs); this table ran "
               "only the models behind the answer, so it is not shown.")

st.subheader("The songs it was least sure about")
unsure = good[good["state"] == "unsure"]
least = songs.loc[(unsure if len(unsure) else good).sort_values("probability").head(20).index]
st.caption(f"{counted(len(unsure), 'answer')} {'is' if len(unsure) == 1 else 'are'} 'not sure' (the probability "
           "is below the level under which fewer than half of the answers on held-out clips were right)."
           if len(unsure) else "No answer is 'not sure'; the 20 least probable answers are listed.")
st.dataframe(least[["song", "genre", "probability",
                    *([] if phone else ["second genre", "second genre's probability", "folder"])]],
             hide_index=True, width="stretch", placeholder="", row_height=68 if phone else None,
             column_config={"song": PHONE_SONG if phone else SONG, "folder": SONG,
                            "probability": PHONE_PROBABILITY if phone else PROBABILITY,
                            "second genre's probability": PROBABILITY})

if len(failed):
    with st.expander(f"{counted(len(failed), 'file')} could not be classified"):
        st.dataframe(shown.loc[failed.index, ["path in the library", "why"]], hide_index=True, width="stretch")

st.subheader("Open a song in Classify")
# Only songs listed in this results table can be opened, and only audio files that exist on this machine.
names = dict(zip(good["path"], shown.loc[good.index, "path in the library"]))
openable = [p for p in good["path"] if Path(p).suffix.lower() in SUPPORTED_EXTENSIONS]
song = st.selectbox("Song (its folder in the library, then its name)", openable, index=None,
                    placeholder="Choose a song of the table", format_func=names.get)
if song is not None:
    if not Path(song).is_file():
        st.error(f"{markdown_name(names[song])} is not on this machine any more.")
    elif st.button("Open in Classify", type="primary"):
        st.session_state["library_song"] = song
        st.switch_page("pages/classify.py")
