"""Streamlit glue shared by the pages: cached model loading and paths. Logic lives in genre_core."""
from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from genre_core.inference import DEFAULT_MODELS_DIR, ModelZoo

MODELS_DIR = Path(os.environ.get("GENRE_MODELS_DIR", DEFAULT_MODELS_DIR))


@st.cache_resource(show_spinner="Loading the trained models…")
def load_zoo(models_dir: str = str(MODELS_DIR)) -> ModelZoo:
    """All stored models, loaded once per server and shared read-only by every session."""
    return ModelZoo.load(models_dir)


def show_chart(fig, key: str | None = None) -> None:
    """Plotly chart with the PNG download button sized for slides."""
    from genre_core.plots import EXPORT_CONFIG

    st.plotly_chart(fig, width="stretch", config=EXPORT_CONFIG, key=key)
