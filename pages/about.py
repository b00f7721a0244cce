"""About this app: the data, the two evaluation protocols, the models and the honest limits, all read from
what training stored, so the page never goes stale."""
from __future__ import annotations

import json

import streamlit as st

from app_support import MODELS_DIR
from genre_core.features.dataset import balance_in_words, balanced_accuracy_in_words
from genre_core.outputs.catalog import artist_coverage, best_first, dataset_summary, metrics_table
from genre_core.outputs.text import genre_name

st.title("About this app")
st.markdown("**Classify a song** gives the genre of a song you upload or record, why, and a report to take away; "
            "**Two songs side by side** compares two; **Many files at once** makes a table (and CSV) of many; "
            "**Your music library** reads the results of a whole collection classified with `genre-core library`; "
            "**Explore the dataset** shows what each genre sounds like on average; **Compare models** puts every "
            "trained model's scores side by side, with a presentation view and slides to take away. Below: where the numbers come from.")

summary = dataset_summary(MODELS_DIR)
kfold = metrics_table(MODELS_DIR, "kfold")
artist = metrics_table(MODELS_DIR, "artist")
headline_dir = MODELS_DIR / "headline"
headline = json.loads((headline_dir / "config.json").read_text()) if (headline_dir / "config.json").exists() else None
states_path = headline_dir / "states.json"
states = json.loads(states_path.read_text()) if states_path.exists() else None

st.header("The data")
if summary is None:
    st.warning("No dataset summary is stored; run `python -m genre_core train all`.")
else:
    counts = summary.clips_per_genre
    total = sum(counts.values())
    smallest = min(n for n in counts.values() if n) if total else 0
    st.markdown(
        f"The models learned from **{total} clips** of GTZAN (Tzanetakis & Cook, 2002): 30 s excerpts at 22 050 Hz. "
        f"{balance_in_words(counts, genre_name)} The figures of the smallest genres rest on as few as {smallest} songs. GTZAN "
        "also repeats some clips and artists, which flatters scores measured by splitting clips at random.")

st.header("How the models are scored")
st.markdown(
    "- **5-fold cross-validation**: every clip is tested once, by models trained on the other 80 %. Songs by the "
    "same artist can sit on both sides, so this is optimistic.\n"
    "- **Artist-filtered test**: the published artist-disjoint split of Kereliuk, Sturm & Larsen; the models are "
    "trained once on its train part and scored once on its test part, where no training artist appears.")
if not artist.empty:
    block = artist.iloc[0]
    st.markdown(f"On this copy the artist-filtered test has **{int(block['test_clips'])} clips**. "
                f"{artist_coverage(MODELS_DIR)} It cannot speak for the genres it cannot judge.")
st.markdown("Balanced accuracy (the mean of the per-genre recalls) leads, "
            f"{balanced_accuracy_in_words(summary.clips_per_genre if summary else {})}.")

st.header("The models")
if not kfold.empty:
    rows = kfold[["title", "model", "balanced_accuracy_mean", "balanced_accuracy_mean_std"]].rename(columns={
        "title": "model", "model": "folder", "balanced_accuracy_mean": "balanced accuracy (5-fold)",
        "balanced_accuracy_mean_std": "±"})
    if not artist.empty:
        covered = dict(zip(artist["model"], artist["covered_balanced_accuracy_mean"]))
        rows["balanced accuracy (artist test, covered genres)"] = rows["folder"].map(covered)
    st.dataframe(best_first(rows, "balanced accuracy (5-fold)", "folder"), hide_index=True, width="stretch",
                 column_config={"model": st.column_config.TextColumn(width=300),  # px: the figures fit 1280 px
                                **{c: st.column_config.NumberColumn(format="%.3f") for c in rows.columns[2:]}})
st.markdown(
    "The ear of the app is **musicnn**, a network trained by its authors on about 200,000 songs of the Million "
    "Song Dataset to tag music (rock, female vocalists, 80s, …). Its view of every 3 s of a song feeds a small "
    "classifier trained on GTZAN. The networks trained from scratch on these {total} clips are kept for "
    "comparison: they know GTZAN, not music in general.".format(total=sum(summary.clips_per_genre.values()) if summary else "GTZAN"))
if headline is not None:
    st.markdown(f"The answer you see comes from **{', '.join(headline['members'])}** "
                f"({'a stacked combination' if headline['rule'] == 'stack' else 'one model'}), the rule that scored "
                "best on clips it never saw, chosen by nested cross-validation among every single model and a "
                "stacked combination.")

st.header("Honest limits")
limits = [
    "Ten genres only, from 30 s excerpts of mostly late-1990s Western recordings: anything else is mapped to the "
    "nearest of the ten.",
    "The same song encoded differently (WAV or MP3) can get slightly different probabilities: MP3's encoder delay "
    "shifts the 3 s patches.",
]
if summary is not None:
    small = {g: n for g, n in summary.clips_per_genre.items() if 0 < n < max(summary.clips_per_genre.values()) / 2}
    if small:
        limits.append(f"{', '.join(genre_name(g) for g in small)} rest on {min(small.values())}–{max(small.values())} training clips each; "
                      "their figures vary a lot between folds.")
if states is not None:
    t = states
    limits.append(
        f"The app says **not sure** below {t['unsure_below']:.0%} probability: under that level fewer than half of "
        f"the out-of-fold answers were right ({t['evidence']['unsure']['clips_below']} training clips fell there). "
        "It says **not music?** for sound far quieter than, or unlike, every training clip, and **mixed genres** when "
        f"fewer than {t['mixed_share_below']:.0%} of a song's 3 s patches agree with its answer.")
for limit in limits:
    st.markdown(f"- {limit}")
