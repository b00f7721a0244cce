"""Streamlit glue shared by the pages: cached model loading and paths. Logic lives in genre_core."""
from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from genre_core.inference import DEFAULT_MODELS_DIR, ModelZoo

MODELS_DIR = Path(os.environ.get("GENRE_MODELS_DIR", DEFAULT_MODELS_DIR))


@st.cache_resource(show_spinner="Loading the trained models…")
def load_zoo(models_dir: str = str(MODELS_DIR)) -> ModelZoo:
    """All stored models, loaded once per server and shared read-only by every session (warmed up)."""
    zoo = ModelZoo.load(models_dir)
    if zoo.models:
        zoo.warm_up()
    return zoo


def show_chart(fig, key: str | None = None, alt: str | None = None, clickable: bool = False):
    """Plotly chart with the PNG download button sized for slides; ``alt`` is its text alternative,
    shown under it. With ``clickable``, a click on a point reruns the page (the event is returned)."""
    from genre_core.plots import EXPORT_CONFIG

    if clickable:
        event = st.plotly_chart(fig, width="stretch", config=EXPORT_CONFIG, key=key, on_select="rerun",
                                selection_mode="points")
    else:
        event = st.plotly_chart(fig, width="stretch", config=EXPORT_CONFIG, key=key)
    if alt:
        st.caption(alt)
    return event


def clicked_time(state) -> float | None:
    """Seconds of the point last clicked on a clickable chart (its x value), from its widget state."""
    try:
        points = state["selection"]["points"]
        return max(0.0, float(points[0]["x"])) if points else None
    except (KeyError, TypeError, IndexError, ValueError):
        return None


def describe_probabilities(labels, probabilities, k: int = 3) -> str:
    """Text alternative of a probability chart: the ``k`` most probable genres."""
    order = sorted(range(len(labels)), key=lambda i: -probabilities[i])[:k]
    return "In words: " + ", ".join(f"{labels[i]} {probabilities[i]:.0%}" for i in order) + "."
