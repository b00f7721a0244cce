"""Classify page: upload or record a song, see the genre, the timeline and every model's vote."""
from __future__ import annotations

import hashlib
import logging

import numpy as np
import pandas as pd
import streamlit as st

from app_support import MODELS_DIR, load_zoo, show_chart
from genre_core.audio import SUPPORTED_EXTENSIONS
from genre_core.catalog import metrics_table
from genre_core.errors import AudioError, GenreCoreError
from genre_core.plots import feature_heatmap, probability_bars, timeline

log = logging.getLogger(__name__)

st.title("Which genre is this song?")
st.caption("Upload a song or record a few seconds of it. Ten GTZAN genres: blues, classical, country, disco, "
           "hip-hop, jazz, metal, pop, reggae, rock.")

zoo = load_zoo()
for name, error in zoo.errors.items():
    st.warning(f"Model **{name}** could not be loaded and is left out: {error}")
if not zoo.models:
    st.error("No trained model is available. Train them with `python -m genre_core train all`.")
    st.stop()

upload_tab, record_tab = st.tabs(["Upload a file", "Record"])
with upload_tab:
    uploaded = st.file_uploader("Song file", type=[e.lstrip(".") for e in SUPPORTED_EXTENSIONS],
                                help="WAV, MP3, OGG, FLAC, AU or AIFF, up to 10 minutes.")
with record_tab:
    recorded = st.audio_input("Record from your microphone (at least a few seconds)", sample_rate=None)

source = uploaded or recorded
if source is None:
    st.info("Upload or record a song to classify it.")
    st.stop()

data = source.getvalue()
limit_mb = st.get_option("server.maxUploadSize")
if len(data) > limit_mb * 1024 * 1024:  # Streamlit enforces this too; this says it in words
    st.error(f"**This file is too large** ({len(data) / 2**20:.0f} MB); the limit is {limit_mb} MB. "
             "Trim the song or convert it to MP3 or OGG.")
    st.stop()
st.audio(data)
digest = hashlib.sha256(data).hexdigest()

# One classification per distinct file in this session; reruns (widget changes) reuse it.
cache = st.session_state.setdefault("classifications", {})
if digest not in cache:
    try:
        with st.status("Classifying…", expanded=False) as status:
            status.update(label="Decoding the audio and computing features…")
            result = zoo.classify(data)
            status.update(label=f"Classified with {len(result.predictions)} models.", state="complete")
        cache.clear()  # keep only the latest song per session
        cache[digest] = result
    except AudioError as exc:
        st.error(f"**This file can't be classified.** {exc}")
        st.stop()
    except GenreCoreError as exc:
        st.error(str(exc))
        st.stop()
    except Exception:  # never show a traceback to a listener; keep the details in the server log
        log.exception("classification failed")
        st.error("Something went wrong while analysing this file. Please try another file.")
        st.stop()
result = cache[digest]

for warning in result.warnings:
    st.warning(warning)
for name, error in result.failures.items():
    st.warning(f"Model {name} could not classify this clip: {error}")

final = result.final
top_label, top_prob = final.top(1)[0]
left, mid, right = st.columns(3)
left.metric("Predicted genre", final.vote_label.capitalize())
mid.metric("Probability (ensemble mean)", f"{final.probabilities[final.labels.index(final.vote_label)]:.0%}")
agree = sum(p.vote_label == final.vote_label for p in result.predictions.values())
right.metric("Models agreeing", f"{agree} of {len(result.predictions)}")
st.caption(f"{result.clip.duration:.1f} s of audio (originally {result.clip.original_sample_rate} Hz, "
           f"{result.clip.original_channels} channel{'s' if result.clip.original_channels > 1 else ''}). "
           f"Decision: {final.model} — " + ("majority vote of its members." if final.model == "ensemble"
                                            else "majority vote over 3 s windows."))

col_probs, col_votes = st.columns([1, 1])
with col_probs:
    show_chart(probability_bars(final.labels, final.probabilities, f"Genre probabilities ({final.model})"), "probs")
with col_votes:
    st.subheader("How every model voted")
    scores = metrics_table(MODELS_DIR)
    score_of = dict(zip(scores["model"], scores["balanced_accuracy_vote"])) if not scores.empty else {}
    rows = [{"model": name, "in ensemble": name in zoo.ensemble_members, "vote": p.vote_label,
             "probability": float(p.probabilities[p.labels.index(p.vote_label)]),
             "runner-up": p.top(2)[1][0], "CV balanced accuracy": score_of.get(name)}
            for name, p in result.predictions.items()]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", column_config={
        "probability": st.column_config.ProgressColumn("probability", format="percent", min_value=0, max_value=1),
        "CV balanced accuracy": st.column_config.NumberColumn(format="%.3f"),
    })

if final.window_probabilities is not None and len(final.window_probabilities) > 1:
    show_chart(timeline(final.labels, final.window_probabilities, final.window_times,
                        f"Genre along the song ({final.model}, 3 s windows)"), "timeline")

cfg = next(iter(zoo.models.values())).feature_config
mel_tab, mfcc_tab = st.tabs(["Mel spectrogram", "MFCC"])
with mel_tab:
    mel = result.analysis.image(cfg, "mel")
    show_chart(feature_heatmap(mel, cfg.seconds_per_frame, "mel", "Mel spectrogram",
                               zmin=float(np.percentile(mel, 2)), zmax=float(mel.max())), "mel")
with mfcc_tab:
    show_chart(feature_heatmap(result.analysis.image(cfg, "mfcc"), cfg.seconds_per_frame, "mfcc", "MFCC",
                               colorscale="RdBu_r", zmid=0.0), "mfcc")
