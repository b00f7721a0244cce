"""Model comparison: metrics table, confusion matrices, per-genre recall and learning curves."""
from __future__ import annotations

import streamlit as st

from app_support import MODELS_DIR, show_chart
from genre_core.catalog import confusion, history, metrics_table, plain_svm_bar
from genre_core.config import GENRES
from genre_core.plots import confusion_heatmap, learning_curves, recall_bars

st.title("Compare models")
table = metrics_table(MODELS_DIR)
if table.empty:
    st.error("No trained models with metrics are stored. Run `python -m genre_core train all`.")
    st.stop()

st.caption(f"Protocol: {table['protocol'].iloc[0]}. Every model is scored on clips it never saw (out-of-fold). "
           "Balanced accuracy averages the per-genre recall, so the 100-clip genres do not dominate it.")
rule = st.radio("Clip decision", ["vote", "mean"], horizontal=True,
                format_func=lambda r: "majority vote of windows" if r == "vote" else "mean window probability")

view = table.assign(**{
    "accuracy": table[f"accuracy_{rule}"], "± acc": table[f"accuracy_{rule}_std"],
    "balanced accuracy": table[f"balanced_accuracy_{rule}"], "± bal": table[f"balanced_accuracy_{rule}_std"],
    "macro-F1": table[f"macro_f1_{rule}"], "± F1": table[f"macro_f1_{rule}_std"],
}).sort_values("balanced accuracy", ascending=False)
columns = ["model", "representation", "architecture", "parameters", "accuracy", "± acc", "balanced accuracy", "± bal",
           "macro-F1", "± F1", "training_s"]
st.dataframe(view[columns], hide_index=True, width="stretch", column_config={
    **{c: st.column_config.NumberColumn(format="%.3f") for c in columns[4:10]},
    "parameters": st.column_config.NumberColumn(format="%d"),
    "training_s": st.column_config.NumberColumn("training (s)", format="%.0f"),
})
bar = plain_svm_bar(MODELS_DIR)
svm = table[table["model"] == "svm_handcrafted"]
if bar is not None and not svm.empty:
    s = bar["summary"]
    st.caption(f"The bar, under the same folds: a plain SVM ({bar['description']}) reaches "
               f"{s['accuracy']['mean']:.3f} accuracy and {s['balanced_accuracy']['mean']:.3f} balanced accuracy; "
               f"the tuned SVM on all handcrafted features {svm[f'balanced_accuracy_{rule}'].iloc[0]:.3f}.")

models = list(view["model"])
st.subheader("Confusion matrices")
c1, c2, c3 = st.columns([2, 2, 1])
first = c1.selectbox("Model A", models, index=0)
second = c2.selectbox("Model B", models, index=min(1, len(models) - 1))
normalize = c3.toggle("Row %", value=True)
left, right = st.columns(2)
with left:
    show_chart(confusion_heatmap(confusion(MODELS_DIR, first, rule), GENRES, first, normalize), "cm_a")
with right:
    show_chart(confusion_heatmap(confusion(MODELS_DIR, second, rule), GENRES, second, normalize), "cm_b")
chosen = st.multiselect("Per-genre recall of", models, default=[first, second] if first != second else [first])
if chosen:
    show_chart(recall_bars({m: confusion(MODELS_DIR, m, rule) for m in chosen}, GENRES), "recall")

st.subheader("Learning curves")
trained = [m for m in models if not history(MODELS_DIR, m).empty]
picked = st.multiselect("Models", trained, default=trained[:3])
if picked:
    histories = {m: history(MODELS_DIR, m) for m in picked}
    left, right = st.columns(2)
    with left:
        show_chart(learning_curves(histories, "loss"), "loss")
    with right:
        show_chart(learning_curves(histories, "acc"), "acc")
    st.caption("Dotted: training (augmented random crops); solid: validation windows of held-out clips. "
               "The SVM and the ensemble have no epochs.")
