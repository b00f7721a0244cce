"""Two songs side by side: answer, probabilities, tags, timeline and mel spectrogram of each."""
from __future__ import annotations

import hashlib

import numpy as np
import streamlit as st

from app_support import MODELS_DIR, classify_upload, clicked_time, describe_probabilities, load_zoo, show_chart
from genre_core.audio.decode import SUPPORTED_EXTENSIONS
from genre_core.features.config import DEFAULT_FEATURES
from genre_core.outputs.catalog import out_of_fold_answer, training_clip_of
from genre_core.outputs.plots import feature_heatmap, probability_bars, shared_timeline_legend, tag_bars, timeline
from genre_core.outputs.text import genre_name, markdown_name

st.title("Two songs side by side")
st.caption("Upload two songs to see how the models hear each: the genre, its probabilities, the tags, the genre "
           "along the song and the mel spectrogram, next to each other.")
zoo = load_zoo()
if not zoo.models:
    st.error("No trained model is available. Train them with `python -m genre_core train all`.")
    st.stop()

results = st.session_state.setdefault("two_songs", {})  # side -> (digest, result)
columns = dict(zip(("A", "B"), st.columns(2, gap="large")))
uploads = {}
for side, column in columns.items():
    with column:
        st.subheader(f"Song {side}")
        upload = st.file_uploader(f"Song {side}", type=[e.lstrip(".") for e in SUPPORTED_EXTENSIONS], key=f"song_{side}",
                                  label_visibility="collapsed")
        if upload is None:
            results.pop(side, None)
            st.info(f"Upload song {side}.")
            continue
        data = upload.getvalue()
        digest = hashlib.sha256(data).hexdigest()
        if results.get(side, (None,))[0] != digest:
            with st.spinner(f"Analysing {markdown_name(upload.name)}…"):
                result, problem = classify_upload(zoo, data, zoo.answer_models)
            if problem:
                results.pop(side, None)
                st.error(problem)
                continue
            results[side] = (digest, result)
        uploads[side] = (upload.name, data, digest)

# one colour range for both spectrograms, so the same colour is the same level in both
mels = {side: results[side][1].analysis.image(DEFAULT_FEATURES, "mel") for side in uploads}
if mels:
    zmin = min(float(np.percentile(m, 2)) for m in mels.values())
    zmax = max(float(m.max()) for m in mels.values())
# both timelines name the same genres in as many legend rows: their plots are the same height and line up
finals = [results[side][1].final for side in uploads]
drawn = [(f.labels, f.window_probabilities) for f in finals
         if f.window_probabilities is not None and len(f.window_probabilities) > 1]
shown, rows = shared_timeline_legend(drawn) if drawn else ([], None)
for side, (name, data, digest) in uploads.items():
    with columns[side]:
        result = results[side][1]
        final = result.final
        genre = final.vote_label
        start = clicked_time(st.session_state.get(f"timeline_{side}"))
        st.audio(data, start_time=int(start or 0), autoplay=start is not None)
        if start is not None:
            st.caption(f"Playing from {int(start) // 60}:{int(start) % 60:02d}, the moment clicked on the timeline.")
        st.metric(markdown_name(name), genre_name(genre).capitalize(),
                  f"{final.probabilities[final.labels.index(genre)]:.0%} probability", delta_color="off",
                  delta_arrow="off")
        training_clip = training_clip_of(MODELS_DIR, data, digest)
        if training_clip:
            oof = out_of_fold_answer(MODELS_DIR, training_clip)
            held_out = (f" Held out, it was answered **{genre_name(oof['vote'])}**." if oof else "")
            st.info(f"GTZAN clip **{training_clip}**: the models were trained on it.{held_out}")
        if result.verdict is not None and result.verdict.state != "confident":
            st.warning(result.verdict.headline)
        for warning in result.warnings:
            st.warning(warning)
        show_chart(probability_bars(final.labels, final.probabilities), f"probs_{side}",
                   alt=describe_probabilities(final.labels, final.probabilities))
        tagged = result.tags(zoo.tagger)
        if tagged is not None:
            show_chart(tag_bars(zoo.tagger.tags, tagged.mean_tags(), k=8), f"tags_{side}",
                       alt=describe_probabilities(zoo.tagger.tags, tagged.mean_tags(), 5))
        if final.window_probabilities is not None and len(final.window_probabilities) > 1:
            show_chart(timeline(final.labels, final.window_probabilities, final.window_times, "Genre along the song",
                                answer=genre, shown=shown, rows=rows), f"timeline_{side}", clickable=True,
                       alt=f"▼ marks the moments whose top genre is {genre_name(genre)}. Click a point to play "
                           "the song from there.")
        show_chart(feature_heatmap(mels[side], DEFAULT_FEATURES.seconds_per_frame, "mel", "Mel spectrogram",
                                   zmin=zmin, zmax=zmax, max_columns=500), f"mel_{side}")
        result.analysis.release_intermediates()  # the mel image is kept; its power spectrogram is not needed

if len(results) == 2:
    (_, a), (_, b) = results["A"], results["B"]
    pa, pb = a.final.probabilities, b.final.probabilities
    # total variation distance between the two genre distributions: 0 = the same, 1 = nothing in common
    distance = 0.5 * float(np.abs(pa - pb).sum())
    same = a.final.vote_label == b.final.vote_label
    st.subheader("Together")
    st.markdown(f"{'Both are' if same else 'Song A is'} **{genre_name(a.final.vote_label)}**"
                f"{'' if same else f', song B **{genre_name(b.final.vote_label)}**'}. Their genre probabilities differ by "
                f"{distance:.0%} (0 % = the same mix of genres, 100 % = nothing in common).")
