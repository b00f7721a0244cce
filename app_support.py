"""Streamlit glue shared by the pages: cached model loading and paths. Logic lives in genre_core."""
from __future__ import annotations

import ctypes
import functools
import gc
import logging
import os
import sys
import time
from typing import Callable
from pathlib import Path

import streamlit as st

from genre_core.audio.errors import AudioError, GenreCoreError
from genre_core.outputs.text import genre_name
from genre_core.serving.zoo import DEFAULT_MODELS_DIR, Classification, ModelZoo

MODELS_DIR = Path(os.environ.get("GENRE_MODELS_DIR", DEFAULT_MODELS_DIR))


def _use_the_apps_navigation() -> None:
    """Leave Streamlit's pages-folder mode if a page was started in it.

    Next to a ``pages/`` folder, Streamlit serves pages from the folder (listing its files as the menu,
    without streamlit_app.py's titles and page config) until the first run of streamlit_app.py calls
    st.navigation. A fresh server's first visitor on a deep link (/explore) never runs it, and every visitor
    after would get that menu too. Clearing the flag and rerunning runs streamlit_app.py, whose navigation
    finds the same page (its hash comes from the URL path, the same in both modes).
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


_use_the_apps_navigation()  # every page imports this module first


def _timing_logger() -> logging.Logger:
    """'genre_app.timing' on stderr: server-side seconds from an upload's arrival to the answer and to the
    page's end (bench/app_bench.py reads them; in the browser they also include the page's rendering)."""
    logger = logging.getLogger("genre_app.timing")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    return logger


timing = _timing_logger()


# glibc's mallopt parameter: allocations above this many bytes get their own mapping, returned on free.
_M_MMAP_THRESHOLD = -3
LARGE_ALLOCATION_BYTES = 256 * 1024


@functools.cache
def _libc():
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc (macOS, musl): the system allocator is left as it is
        return None


def return_large_arrays_to_system() -> None:
    """Map every allocation above 256 KB on its own, so freeing it gives it back to the system.

    By default glibc raises that threshold each time a large block is freed, after which the audio and
    spectrogram arrays of finished classifications stay in the heap, spread over the per-thread arenas of
    Streamlit's sessions. Measured over 100 classifications (bench/app_bench.py --only soak): the server
    held 975 MB instead of 903 MB, and 922 MB instead of 762 MB once the sessions had expired.
    """
    libc = _libc()
    if libc is not None and hasattr(libc, "mallopt"):
        libc.mallopt(_M_MMAP_THRESHOLD, LARGE_ALLOCATION_BYTES)


return_large_arrays_to_system()


def release_memory() -> None:
    """Give freed memory back to the system after a classification (smaller blocks stay in the heap
    until trimmed)."""
    gc.collect()
    libc = _libc()
    if libc is not None and hasattr(libc, "malloc_trim"):
        libc.malloc_trim(0)


def classify_upload(zoo: ModelZoo, data: bytes, models: list[str] | None = None,
                    progress=None) -> tuple[Classification | None, str | None]:
    """``zoo.classify`` for a page: (result, None), or (None, what to tell the listener) — never a traceback."""
    try:
        return zoo.classify(data, progress=progress, models=models), None
    except AudioError as exc:
        return None, f"**This file can't be classified.** {exc}"
    except GenreCoreError as exc:
        return None, str(exc)
    except Exception:  # keep the details in the server log
        logging.getLogger(__name__).exception("classification failed")
        return None, "Something went wrong while analysing this file. Please try another file."


@st.cache_resource(show_spinner="Loading the trained models…")
def load_zoo(models_dir: str = str(MODELS_DIR)) -> ModelZoo:
    """The stored models, loaded once per server and shared by every session (warmed up). Only the answer's
    models load now; the comparison models (torch, scikit-learn: seconds to import) load with the first
    song that needs them, after its answer is on screen."""
    started = time.perf_counter()
    zoo = ModelZoo.load(models_dir, defer=True)
    if zoo.models:
        zoo.warm_up()
    timing.info("models behind the answer loaded and warmed up in %.2f s", time.perf_counter() - started)
    return zoo


def show_chart(fig, key: str | None = None, alt: str | None = None, clickable: bool = False):
    """Plotly chart with the PNG download button sized for slides; ``alt`` is its text alternative,
    shown under it. With ``clickable``, a click on a point reruns the page (the event is returned)."""
    from genre_core.outputs.plots import EXPORT_CONFIG

    if clickable:
        event = st.plotly_chart(fig, width="stretch", config=EXPORT_CONFIG, key=key, on_select="rerun",
                                selection_mode="points")
    else:
        event = st.plotly_chart(fig, width="stretch", config=EXPORT_CONFIG, key=key)
    if alt:
        st.caption(alt)
    return event


def is_dark() -> bool:
    """Whether the viewer's page is in the dark theme (for colour scales that start at the background)."""
    try:
        return st.context.theme.type == "dark"
    except AttributeError:  # no browser context (tests, bare mode)
        return False


def on_phone() -> bool:
    """Whether the browser says it is a phone ("Mobile" in its User-Agent, as iOS and Android browsers send):
    the server cannot see the screen's width, and a few wide charts need another layout there."""
    try:
        return "Mobile" in (st.context.headers.get("User-Agent") or "")
    except (AttributeError, RuntimeError):  # no browser context (tests, bare mode)
        return False


def clicked_time(state) -> float | None:
    """Seconds of the point last clicked on a clickable chart (its x value), from its widget state."""
    try:
        points = state["selection"]["points"]
        return max(0.0, float(points[0]["x"])) if points else None
    except (KeyError, TypeError, IndexError, ValueError):
        return None


def describe_probabilities(labels, probabilities, k: int = 3) -> str:
    """Text alternative of a probability chart: the ``k`` most probable genres (or tags), genres spelled as
    everywhere else ('hip-hop')."""
    order = sorted(range(len(labels)), key=lambda i: -probabilities[i])[:k]
    return "In words: " + ", ".join(f"{genre_name(labels[i])} {probabilities[i]:.0%}" for i in order) + "."


# Presentation view: the step controls and "Chart N of M" in text a room can read (Streamlit draws them at 14 px),
# and less blank space above the title so the chart fits the first screen at 1920x1080. Only while presenting.
_PRESENTING_CSS = """<style>
.st-key-{key}_steps button p, .st-key-{key}_steps input,
.st-key-{key}_steps [data-testid="stMarkdownContainer"] p {{ font-size: 20px; line-height: 1.4; }}
[data-testid="stMainBlockContainer"] {{ padding-top: 3rem; }}
</style>"""


def _step_chart(state: str, by: int, count: int) -> None:
    """Previous/Next: runs before the page, so the buttons drawn next already know the new chart."""
    st.session_state[state] = min(max(st.session_state.get(state, 0) + by, 0), count - 1)


def presentation(charts: dict[str, Callable[[], object]], key: str) -> None:
    """One chart at a time at projector size: a select and previous/next buttons step through ``charts``
    (title -> a function drawing the plotly figure; only the one shown is drawn). The chart's number is the
    select's state, so a chart stays on screen while other controls change its title (another model)."""
    from genre_core.outputs.plots import for_projector

    titles = list(charts)
    state = f"{key}_chart"
    if not 0 <= st.session_state.get(state, 0) < len(titles):  # fewer charts than before
        st.session_state[state] = len(titles) - 1
    index = st.session_state.get(state, 0)
    st.html(_PRESENTING_CSS.format(key=key))
    with st.container(key=f"{key}_steps", horizontal=True, vertical_alignment="center"):
        st.button("◀ Previous", key=f"{key}_back", disabled=index == 0, on_click=_step_chart,
                  args=(state, -1, len(titles)))
        st.selectbox("Chart", range(len(titles)), format_func=titles.__getitem__, key=state,
                     label_visibility="collapsed")
        st.markdown(f"Chart {index + 1} of {len(titles)}", width="content")
        st.button("Next ▶", key=f"{key}_next", disabled=index == len(titles) - 1, on_click=_step_chart,
                  args=(state, 1, len(titles)))
    show_chart(for_projector(charts[titles[index]]()), f"{key}_projected")


@st.cache_data(max_entries=4, show_spinner="Writing the slides…")
def deck_bytes(models: tuple[str, ...], rule: str, suffix: str) -> bytes:
    """The comparison deck (``suffix`` .pptx or .pdf) of the stored models, as bytes for a download."""
    import tempfile

    from genre_core.outputs.slides import write_deck

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"deck{suffix}"
        write_deck(MODELS_DIR, path, models, rule)
        return path.read_bytes()

