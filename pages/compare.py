"""Model comparison: metrics table, confusion matrices, per-genre recall and learning curves."""
from __future__ import annotations

import streamlit as st

from app_support import MODELS_DIR, deck_bytes, is_dark, on_phone, presentation, show_chart
from genre_core.features.config import GENRES
from genre_core.features.dataset import balanced_accuracy_in_words
from genre_core.outputs.catalog import (
    artist_coverage, best_first, confusion, dataset_summary, default_pair, history, largest_confusions, metrics_table,
    plain_svm_bar, recall_table, scores_once, short_title, titles_in_words, with_learning_curves,
)
from genre_core.outputs.plots import confusion_heatmap, learning_curves, model_scores, recall_bars

st.title("Compare models")
presenting = st.toggle("Presentation view", help="One chart at a time at projector size; step with Previous/Next. "
                       "The chart comes first; the controls that choose what it shows follow it.")
stage = st.container()  # presentation view: the chart, above everything that follows
phone = on_phone()
coverage = artist_coverage(MODELS_DIR) or "No artist-filtered test is stored."
summary = dataset_summary(MODELS_DIR)
clip_counts = summary.clips_per_genre if summary else {}
protocol = st.radio(
    "Evaluation protocol", ["kfold", "artist"], horizontal=True,
    format_func=lambda p: "5-fold cross-validation (every clip tested once)" if p == "kfold"
    else "Artist-filtered test (no artist on both sides)",
    help="5-fold: every clip is tested by a model trained on the other 80 %; songs by the same artist can sit on "
         "both sides, which flatters every model. Artist-filtered: the published split of Kereliuk, Sturm & Larsen, "
         "trained once on its train part and scored once on its test part. On the stored copy: " + coverage)
table = metrics_table(MODELS_DIR, protocol)
if table.empty:
    st.error("No trained models with metrics for this protocol are stored. Run `python -m genre_core train all`.")
    st.stop()

rule = st.radio("Clip decision", ["mean", "vote"], horizontal=True,
                format_func=lambda r: "top genre of the mean probability (what the app shows)" if r == "mean"
                else "majority vote of 3 s windows")
st.caption(f"Protocol: {table['protocol'].iloc[0]}. Every model is scored on clips it never saw. **Balanced accuracy** "
           f"averages the recall of each genre, {balanced_accuracy_in_words(clip_counts)}; it is the figure to read. "
           "**Headline** is the rule behind the answer on the Classify page, chosen among the single models and a "
           "stacked combination by nested cross-validation; **ensemble** is the majority vote of the from-scratch "
           "models, shown for comparison.")

metric_columns = {"balanced accuracy": f"balanced_accuracy_{rule}", "macro-F1": f"macro_f1_{rule}",
                  "accuracy": f"accuracy_{rule}"}
if protocol == "artist":
    metric_columns = {"balanced acc. (covered genres)": f"covered_balanced_accuracy_{rule}",
                      "accuracy (covered genres)": f"covered_accuracy_{rule}", **metric_columns}
view = table.assign(**{label: table[col] for label, col in metric_columns.items()})
sort_by = next(iter(metric_columns))
if protocol == "kfold":  # the spread over folds of the leading figure; fits a 1280 px screen
    view = view.assign(**{"±": table[f"{metric_columns[sort_by]}_std"]})
view = best_first(view, sort_by)
if phone:  # 390 px: a plain table that wraps the names, with the leading figure and its spread
    figures = [c for c in (sort_by, "±") if c in view.columns]
    st.table(view[["title", *figures]].rename(columns={"title": "model"})
             .style.format("{:.3f}", subset=figures), hide_index=True)
    others = [label for label in metric_columns if label != sort_by]
    st.caption(f"On a wider screen this table also shows {', '.join(others)} and each model's folder.")
else:
    shown = ["title", "model"] + [c for label in metric_columns for c in (label, "±") if c in view.columns
                                  and (c != "±" or label == sort_by)]
    st.dataframe(view[shown], hide_index=True, width="stretch", column_config={
        "title": st.column_config.TextColumn("model", width=300),  # px: with the rest, fits 1280 px; hover shows all
        "model": st.column_config.TextColumn("folder"),
        **{c: st.column_config.NumberColumn(format="%.3f") for c in shown[2:]},
    })
if protocol == "artist":
    st.caption(f"{int(table['test_clips'].iloc[0])} test clips. {coverage} Where a genre has too few, this protocol "
               "cannot speak for them; the 'covered genres' columns leave them out, the all-genre columns include them.")
bar = plain_svm_bar(MODELS_DIR)
svm = table[table["model"] == "svm_handcrafted"]
if protocol == "kfold" and bar is not None and not svm.empty:
    s = bar["summary"]
    st.caption(f"The bar, under the same folds: a plain SVM ({bar['description']}) reaches "
               f"{s['accuracy']['mean']:.3f} accuracy and {s['balanced_accuracy']['mean']:.3f} balanced accuracy.")

models = list(view["model"])
pair = default_pair(table, f"{next(iter(metric_columns.values()))}")
st.subheader("Confusion matrices")
c1, c2, c3 = st.columns([2, 2, 1])
first = c1.selectbox("Model A", models, index=models.index(pair[0]))
others = [m for m in models if m != first]  # never a model against itself
second = c2.selectbox("Model B", others, index=others.index(pair[1]) if len(pair) > 1 and pair[1] in others else 0) \
    if others else None
normalize = True if phone else c3.toggle("Row %", value=True)  # a phone lists the largest confusions instead
chosen = [m for m in (first, second) if m]
trained = with_learning_curves(MODELS_DIR, models)


def _confusion(name: str):
    return confusion_heatmap(confusion(MODELS_DIR, name, rule, protocol), GENRES, name, normalize, is_dark())


def _recall():
    return recall_bars({m: confusion(MODELS_DIR, m, rule, protocol) for m in chosen}, GENRES)


def _scores():
    """Both protocols, each model once by its title (the headline, where it is one model, is that model)."""
    kfold, artist, answer = scores_once(MODELS_DIR, metrics_table(MODELS_DIR, "kfold"), metrics_table(MODELS_DIR, "artist"))
    labels = {name: short_title(title, 34, "<br>") for name, title in titles_in_words(MODELS_DIR).items()}
    return model_scores(kfold, artist, rule, labels, answer)


def _curves(metric: str, picked: list[str]):
    return learning_curves({m: history(MODELS_DIR, m) for m in picked}, metric)


if not presenting and phone:  # 390 px: a matrix's numbers and a grouped bar chart's genre names are unreadable
    for name in chosen:
        st.markdown(f"**{name}**: the largest confusions")
        st.table(largest_confusions(confusion(MODELS_DIR, name, rule, protocol), GENRES)[["confusion"]],
                 hide_index=True)
    st.caption("Each row: true genre → the genre the model said, the clips, and their share of the true genre's clips. "
               "A wider screen shows the whole matrix.")
    st.markdown("**Per-genre recall**")
    st.table(recall_table({m: confusion(MODELS_DIR, m, rule, protocol) for m in chosen}, GENRES)
             .style.format(lambda r: f"{r * 100:.0f} %", subset=chosen, na_rep="–"), hide_index=True)
    st.caption("The share of each genre's clips the model named right; 'clips': how many it rests on.")
elif not presenting:
    left, right = st.columns(2)
    with left:
        show_chart(_confusion(first), "cm_a")
    if second:
        with right:
            show_chart(_confusion(second), "cm_b")
    show_chart(_recall(), "recall")
    st.caption("Each genre's label gives the number of clips its recall rests on.")
st.subheader("Learning curves")
picked = st.multiselect("Models", trained, default=trained[:3])
without = [m for m in models if m not in trained]
if picked and not presenting:
    left, right = st.columns(2)
    with left:
        show_chart(_curves("loss", picked), "loss")
    with right:
        show_chart(_curves("acc", picked), "acc")
    st.caption("Dotted: training (augmented random crops); solid: validation windows of held-out clips.")
if without:
    st.caption(f"No curves for {', '.join(without)}: they are not trained in epochs (fitted in one go, or "
               "combining other models).")
if presenting:
    charts = {"Every model, both protocols": _scores,
              **{f"Confusion matrix: {m}": (lambda m=m: _confusion(m)) for m in chosen},
              "Per-genre recall": _recall}
    if picked:
        charts.update({"Learning curves: loss": lambda: _curves("loss", picked),
                       "Learning curves: accuracy": lambda: _curves("acc", picked)})
    with stage:
        presentation(charts, "compare")

st.subheader("Take the comparison away")
st.caption("A slide deck of this comparison: both protocols' tables, the two models' confusion matrices and "
           "recalls, learning curves, the data and the genre averages; charts at projector resolution, text as text.")
deck_left, deck_right = st.columns(2)
deck_left.download_button("Download slides (PPTX)", on_click="ignore", file_name="genre-models.pptx",
                          mime="application/vnd.openxmlformats-officedocument.presentationml.presentation",
                          data=lambda: deck_bytes(tuple(chosen), rule, ".pptx"))
deck_right.download_button("Download slides (PDF)", on_click="ignore", file_name="genre-models.pdf",
                           mime="application/pdf", data=lambda: deck_bytes(tuple(chosen), rule, ".pdf"))
