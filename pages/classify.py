"""Classify page: upload or record a song, see the genre, what the tagger hears, the timeline and every model."""
from __future__ import annotations

import hashlib
import json
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from app_support import (
    MODELS_DIR,
    classify_upload,
    clicked_time,
    describe_probabilities,
    is_dark,
    load_zoo,
    release_memory,
    show_chart,
    timing,
)
from genre_core.audio.decode import FORMATS_IN_WORDS, MAX_SECONDS, SUPPORTED_EXTENSIONS
from genre_core.features.config import GENRES
from genre_core.outputs.catalog import metrics_table, out_of_fold_answer, training_clip_of
from genre_core.outputs.plots import feature_heatmap, probability_bars, saliency_map, tag_bars, tag_timeline, timeline
from genre_core.outputs.report import report_html, report_images, summarize
from genre_core.outputs.text import answer_source, genre_name, markdown_name
from genre_core.serving.states import describe_sections

log = logging.getLogger(__name__)

st.title("Which genre is this song?")
st.caption("Upload a song or record a few seconds of it. Ten genres: "
           + ", ".join(genre_name(g) for g in GENRES) + ".")

zoo = load_zoo()
for name, error in list(zoo.errors.items()):  # another session may be loading models right now
    st.warning(f"Model **{name}** could not be loaded and is left out: {error}")
if not zoo.models:
    st.error("No trained model is available. Train them with `python -m genre_core train all`.")
    st.stop()

upload_tab, record_tab = st.tabs(["Upload a file", "Record"])
with upload_tab:
    uploaded = st.file_uploader("Song file", type=[e.lstrip(".") for e in SUPPORTED_EXTENSIONS],
                                help=f"{FORMATS_IN_WORDS}. Any length: of a song longer than "
                                     f"{MAX_SECONDS / 60:.0f} minutes the first {MAX_SECONDS / 60:.0f} are analysed.")
with record_tab:
    recorded = st.audio_input("Record from your microphone (at least a few seconds)", sample_rate=None)

# A song opened from the Library page (a file on this machine, listed in a results table).
library_song = st.session_state.get("library_song")
library_bytes = None
if library_song:
    try:
        library_bytes = Path(library_song).read_bytes()
    except OSError as exc:
        st.error(f"The song opened from the library can't be read any more ({exc.strerror}).")
        st.session_state.pop("library_song", None)

# The latest input wins: a new recording after an upload (or a new upload after a recording) is analysed.
inputs = {"upload": uploaded.getvalue() if uploaded is not None else None,
          "recording": recorded.getvalue() if recorded is not None else None,
          "library": library_bytes}
digests = {k: None if v is None else hashlib.sha256(v).hexdigest() for k, v in inputs.items()}
seen = st.session_state.setdefault("seen_inputs", {"upload": None, "recording": None, "library": None, "current": None})
for kind in ("upload", "recording", "library"):
    if digests[kind] != seen[kind]:
        seen[kind] = digests[kind]
        if digests[kind] is not None:
            seen["current"] = kind
if seen["current"] is None or inputs[seen["current"]] is None:
    seen["current"] = next((k for k in ("upload", "recording", "library") if inputs[k] is not None), None)
if seen["current"] is None:
    st.info("Upload or record a song to classify it.")
    st.stop()

data, digest = inputs[seen["current"]], digests[seen["current"]]
if seen["current"] == "library":
    st.caption(f"From your library: {markdown_name(library_song)}")
elif sum(v is not None for v in inputs.values()) > 1:
    st.caption(f"Showing your latest input: the **{seen['current']}**.")
limit_mb = st.get_option("server.maxUploadSize")
if len(data) > limit_mb * 1024 * 1024:  # Streamlit enforces this too; this says it in words
    st.error(f"**This file is too large** ({len(data) / 2**20:.0f} MB); the limit is {limit_mb} MB. "
             "Trim the song or convert it to MP3 or OGG.")
    st.stop()
# One classification per distinct input in this session; reruns (widget changes) reuse it.
cache = st.session_state.setdefault("classifications", {})
arrived = time.perf_counter() if digest not in cache else None  # a new input: log how long it takes
# until the answer is drawn, other pages hold back their charts (they slowed it: see wait_for_answers below)
with zoo.lock.answer_due():
    if digest not in cache:
        progress_box = st.empty()
        with progress_box.status("Analysing the song…", expanded=False) as status:
            # the models behind the answer first; the others run below, once the answer is on screen
            result, problem = classify_upload(zoo, data, zoo.answer_models, lambda step: status.update(label=step))
            status.update(label="Analysed.", state="complete")
        if problem:  # one message, no player for a file that cannot be played
            progress_box.empty()
            st.error(problem)
            st.stop()
        cache.clear()  # keep only the latest song per session
        cache[digest] = result
    result = cache[digest]
    player = st.container()  # filled once the answer is sent: the browser fetches and decodes the song for it

    for warning in result.warnings:
        st.warning(warning)

    training_clip = training_clip_of(MODELS_DIR, data, digest)
    if training_clip:
        oof = out_of_fold_answer(MODELS_DIR, training_clip)
        held_out = (f" When it was held out (out-of-fold), the answer was **{genre_name(oof['vote'])}** for a "
                    f"**{genre_name(oof['true'])}** clip." if oof else "")
        st.info(f"This is GTZAN clip **{training_clip}**, one the models were trained on, so their answer below says "
                f"little about how they do on new music.{held_out}")

    final = result.final  # one rule: the genre is the top of these probabilities, and so is the chart's top bar
    verdict = result.verdict
    if verdict is not None and verdict.state == "not_music":
        st.warning(f"**Not music?** {verdict.headline}")
    elif verdict is not None and verdict.state == "unsure":
        st.warning(f"**{verdict.headline}**")
    elif verdict is not None and verdict.state == "mixed":
        st.info(f"**{verdict.headline}** Sections: {describe_sections(verdict.sections)}.")
    genre = final.vote_label
    probability = float(final.probabilities[final.labels.index(genre)])
    left, mid, right = st.columns(3)
    left.metric("Predicted genre", genre_name(genre).capitalize())
    mid.metric("Probability", f"{probability:.0%}")
    agreeing = right.empty()  # filled once every model has run (below)
    if arrived is not None:
        timing.info("answer %.3f s after the upload reached the script (%s)", time.perf_counter() - arrived,
                    ", ".join(f"{step} {seconds:.3f} s" for step, seconds in result.seconds.items()))
with player:
    start = clicked_time(st.session_state.get("timeline"))  # a click on the timeline plays the song from there
    st.audio(data, start_time=int(start or 0), autoplay=start is not None)
    if start is not None:
        st.caption(f"Playing from {int(start) // 60}:{int(start) % 60:02d}, the moment clicked on the timeline.")
st.caption(f"{result.clip.duration:.1f} s of audio (originally {result.clip.original_sample_rate} Hz, "
           f"{result.clip.original_channels} channel{'s' if result.clip.original_channels > 1 else ''}).")
with st.expander("Where the answer comes from"):
    st.markdown(answer_source(zoo, final))

tagged = result.tags(zoo.tagger)
if tagged is not None and tagged.sampled:
    st.caption(f"This song is long: the pretrained network heard {len(tagged.tags)} moments of 3 s spread evenly over "
               f"it (of {tagged.total_patches}), which changes the answer little and keeps it quick.")
col_probs, col_tags = st.columns(2)
# The rest of the page, charts included, waits while other listeners' answers are due: building and drawing
# charts (here and in the browsers, on the same cores) slowed every answer queued behind this one. With 8 sessions
# at once, drawing the probability chart alone (each tab loads plotly for it) doubled the browsers' CPU until the
# last answer (bench/app_bench.py --only sessions). With no other listener it is drawn at once.
waited = time.perf_counter()
zoo.lock.wait_for_answers()
waited = time.perf_counter() - waited
with col_probs:
    show_chart(probability_bars(final.labels, final.probabilities, "Genre probabilities"), "probs",
               alt=describe_probabilities(final.labels, final.probabilities))
with col_tags:
    if tagged is not None:
        show_chart(tag_bars(zoo.tagger.tags, tagged.mean_tags()), "tags",
                   alt=describe_probabilities(zoo.tagger.tags, tagged.mean_tags(), 5))
        st.caption("Tags a network trained on about 200,000 songs of the Million Song Dataset gives this song "
                   f"(Last.fm tags, averaged over {'the moments it heard' if tagged.sampled else 'every 3 s of it'}). "
                   "It is the ear under the headline answer.")

if final.window_probabilities is not None and len(final.window_probabilities) > 1:
    carried = int((np.argmax(final.window_probabilities, axis=1) == final.labels.index(genre)).sum())
    starts, lengths = final.window_times[:, 0], final.window_times[:, 1] - final.window_times[:, 0]
    spread = bool((np.diff(starts) > lengths[:-1] + 1e-6).any())  # gaps between the moments: a long song's sample
    show_chart(timeline(final.labels, final.window_probabilities, final.window_times,
                        f"Genre along the song ({f'{len(final.window_probabilities)} moments of 3 s' if spread else 'every 3 s'})",
                        answer=genre), "timeline",
               alt=f"In words: {carried} of {len(final.window_probabilities)} moments have {genre_name(genre)} as their top "
                   "genre (marked ▼ above the chart). Click a point to play the song from there.", clickable=True)
if verdict is not None and verdict.state != "mixed" and len(verdict.sections) > 1:
    st.caption(f"Along the song: {describe_sections(verdict.sections)}.")
if tagged is not None and len(tagged.tags) > 1:
    show_chart(tag_timeline(zoo.tagger.tags, tagged.tags, tagged.times, dark=is_dark()), "tag_timeline")

st.subheader("Why this genre")
if tagged is not None:
    heard = [zoo.tagger.tags[i] for i in np.argsort(tagged.mean_tags())[::-1][:5]]
    st.markdown(f"The pretrained network hears **{', '.join(heard)}**; the {genre_name(genre)} answer is a classifier on what "
                "it hears in each 3 s window, averaged over the song.")
transfer = next((m for m in zoo.models.values() if m.kind == "transfer" and m.name == final.timeline_model), None)
explained = st.session_state.setdefault("explained", {})
if transfer is not None:
    if digest not in explained and st.button("Show which moments and frequencies decided it",
                                             help="Hears the song again with one frequency band turned down at a "
                                                  "time (a few seconds)."):
        with st.spinner("Tracing the answer back to the spectrogram…"):
            explained.clear()
            explained[digest] = zoo.explain(result, transfer, genre)  # waiting answers go between its steps
        st.rerun()  # draw the page again without the button
    if digest in explained:
        saliency = explained[digest]
        st.markdown(saliency.in_words())
        show_chart(saliency_map(saliency.drops, saliency.patch_times,
                                [saliency.band_label(b) for b in range(len(saliency.drops))], genre), "saliency")
        st.caption(f"Each 3 s moment the network heard was heard again with one frequency band turned down by 20 dB "
                   f"at a time, like an equaliser; the colour is how much the probability of {genre_name(genre)} fell "
                   "(red) or rose (blue), in percent. Which moments carried the answer is on the timeline above (▼).")

st.subheader("How every model voted")
# a line between the heading and the table: on a phone the table's toolbar (search, download) stands above
# the table and covered the heading's end
st.caption("Most accurate first: balanced accuracy on songs a model was not trained on.")
if zoo.missing(result):
    asked = time.perf_counter()
    with st.spinner("Asking the other models…"):
        try:
            zoo.complete(result)
        except Exception:  # the answer above stands; keep the details in the server log
            log.exception("the comparison models failed")
            st.warning("The other models could not be run on this file; the answer above is unaffected.")
    result.analysis.release_intermediates()
    if arrived is not None:
        timing.info("others %.3f s after the upload reached the script (asked at %.3f s; charts waited %.3f s "
                    "for other songs' answers)", time.perf_counter() - arrived, asked - arrived, waited)
for name, error in result.failures.items():
    st.warning(f"Model {name} could not classify this clip: {error}")
agreeing.metric("Models agreeing", f"{result.agreeing} of {len(result.predictions)}",
                help="Models whose most probable genre is the same as the answer.")
scores = metrics_table(MODELS_DIR)
score_of = dict(zip(scores["model"], scores["balanced_accuracy_mean"])) if not scores.empty else {}
# four narrow columns: the table fits a phone without sideways scrolling
rows = [{"model": zoo.models[name].config.get("title", name),
         "answer": genre_name(p.mean_label),
         "probability": float(p.probabilities.max()), "balanced accuracy": score_of.get(name)}
        for name, p in result.predictions.items()]
st.dataframe(pd.DataFrame(rows).sort_values("balanced accuracy", ascending=False), hide_index=True,
             width="stretch", column_config={
                 "model": st.column_config.TextColumn(width="medium"),
                 "probability": st.column_config.ProgressColumn("probability", format="percent", min_value=0,
                                                                max_value=1),
                 "balanced accuracy": st.column_config.NumberColumn(
                     format="%.3f", help="Mean recall over the ten genres on clips the model never saw "
                                         "(5-fold cross-validation on the GTZAN copy)."),
             })
window_configs = [m.feature_config for m in zoo.models.values() if m.kind in ("torch", "svm")]
heard_windows = result.analysis.heard_windows(window_configs[0]) if window_configs else None
if heard_windows is not None:
    st.caption(f"This song is long: the models trained from scratch heard {len(heard_windows)} of its 3 s windows, "
               "spread evenly over it (their features were computed there only), which rarely changes their answers.")

cfg = next(m.feature_config for m in zoo.models.values() if m.kind == "torch") if any(
    m.kind == "torch" for m in zoo.models.values()) else next(iter(zoo.models.values())).feature_config
view = st.segmented_control("Spectrogram", ["Mel spectrogram", "MFCC", "Hide"], default="Mel spectrogram",
                            key="spectrogram_view", help="Only the one chosen is drawn (and sent to the browser).")
if view == "Mel spectrogram":
    mel = result.analysis.image(cfg, "mel")
    show_chart(feature_heatmap(mel, cfg.seconds_per_frame, "mel", "Mel spectrogram",
                               zmin=float(np.percentile(mel, 2)), zmax=float(mel.max()),
                               sample_rate=cfg.sample_rate), "mel")
elif view == "MFCC":
    show_chart(feature_heatmap(result.analysis.image(cfg, "mfcc"), cfg.seconds_per_frame, "mfcc",
                               "MFCC (coefficients 1–19; 0, the loudness, is left out)"), "mfcc")

st.subheader("Take the result away")
name = {"upload": uploaded.name if uploaded is not None else "upload",
        "library": Path(library_song).name if library_song else "song"}.get(seen["current"], "recording")
left, right = st.columns(2)
left.download_button("Download the report (HTML)", on_click="ignore", file_name=f"{name}.genre-report.html",
                     mime="text/html", icon=None,
                     data=lambda: report_html(summarize(result, zoo, name), report_images(result, zoo)),
                     help="One self-contained page: the genre, probabilities, every model's vote, tags, the "
                          "timeline and the spectrogram as images, the file and the model versions.")
# The JSON is small and cheap: served with the page, not deferred, so a click right after a new upload is
# never lost (a deferred file can be dropped by the rerun that the upload starts).
right.download_button("Download the result (JSON)", on_click="ignore", file_name=f"{name}.genre.json",
                      mime="application/json", data=json.dumps(summarize(result, zoo, name), indent=2))
if arrived is not None:
    timing.info("page %.3f s after the upload reached the script", time.perf_counter() - arrived)
    release_memory()
