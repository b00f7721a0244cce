"""User-supplied strings (file names, anything read from a file) on their way to a page, a report or a CSV:
they must arrive as text, never as Markdown, HTML or a spreadsheet formula."""
from __future__ import annotations

import io
import re

import pandas as pd

from genre_core.features.config import GENRE_NAMES, genre_name  # noqa: F401  (the one spelling, for outputs)

# CommonMark lets a backslash escape any ASCII punctuation; Streamlit's Markdown also reads ``:`` (emoji and
# icon short codes) and ``$`` (LaTeX), both punctuation too.
_MARKDOWN_SPECIAL = re.compile(r"([!-/:-@\[-`{-~])")
# OWASP's CSV-injection rule: a cell starting with one of these is read as a formula by spreadsheets.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def markdown_name(value: object) -> str:
    """A file name (or any short user string) for a Markdown context, as a code span: inside one nothing is
    Markdown, HTML, an emoji code or a link. Escaping alone is not enough: Streamlit turns any ``http://``
    left in the text into a live link after the escapes are undone."""
    flat = " ".join(str(value).splitlines())
    longest = max((len(run) for run in re.findall(r"`+", flat)), default=0)
    fence = "`" * (longest + 1)
    return f"{fence} {flat} {fence}"


def markdown_text(value: object) -> str:
    """``value`` as Markdown that renders as exactly its characters: punctuation escaped, line breaks as spaces
    (a name must not start a heading or a list on its own line)."""
    flat = " ".join(str(value).splitlines()) if str(value) else ""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", flat)


def spreadsheet_safe(value: object) -> object:
    """A string that a spreadsheet would take for a formula gets a leading apostrophe; other values unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def csv_text(table: pd.DataFrame) -> str:
    """``table`` as CSV with every text cell made spreadsheet-safe (the page's download and the CLI's file)."""
    safe = table.copy()
    for column in safe.columns:
        if safe[column].dtype == object or pd.api.types.is_string_dtype(safe[column]):
            safe[column] = safe[column].map(spreadsheet_safe)
    buffer = io.StringIO()
    safe.to_csv(buffer, index=False)
    return buffer.getvalue()


def percent(probability: float) -> str:
    """The one way a probability is written, in the app's charts and in the report: '49.7 %'."""
    return f"{probability * 100:.1f} %"


def answer_source(zoo, final) -> str:
    """Markdown for people: which model(s) gave the answer and how that rule was chosen, in words."""
    headline = zoo.headline
    if headline is None or final.model != "headline":
        title = zoo.models[final.model].config.get("title", final.model) if final.model in zoo.models else final.model
        return f"The answer comes from {title}."
    titles = [zoo.models[m].config.get("title", m) if m in zoo.models else m for m in headline.members]
    how = ("a combination that weighs " + ", ".join(titles) if headline.rule == "stack" else titles[0])
    return (f"The answer comes from {how}. Among every stored model and a combination of them, it scored best "
            "on songs it had not been trained on (nested cross-validation); the figures are on Compare models.")

