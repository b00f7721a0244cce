"""User-supplied strings stay text: Markdown escaping and spreadsheet-safe CSV cells."""
from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest

from genre_core.outputs.text import csv_text, markdown_name, markdown_text, spreadsheet_safe

HOSTILE = [
    "![t](http://example.invalid/p.png)bad.mp3",
    "[home](http://example.invalid).wav",
    "<img src=http://example.invalid/x.png>.ogg",
    "**bold** _it_ `code` :smile: $x^2$ # heading.flac",
    "line one\n# line two.wav",
]


@pytest.mark.parametrize("name", HOSTILE)
def test_markdown_text_escapes_every_markup_character(name):
    escaped = markdown_text(name)
    assert "\n" not in escaped
    # every punctuation character is preceded by a backslash, so no Markdown construct can start
    for i, ch in enumerate(escaped):
        if ch in "!()[]<>*_`:$#":
            assert escaped[i - 1] == "\\", (escaped, i)
    assert escaped.replace("\\", "") == " ".join(name.splitlines()).replace("\\", "")


@pytest.mark.parametrize("cell, expected", [
    ("=HYPERLINK(\"http://x\")-song.mp3", "'=HYPERLINK(\"http://x\")-song.mp3"),
    ("+1-song.mp3", "'+1-song.mp3"), ("-song.mp3", "'-song.mp3"), ("@SUM(A1).wav", "'@SUM(A1).wav"),
    ("\tsong.wav", "'\tsong.wav"), ("\rsong.wav", "'\rsong.wav"), ("song.wav", "song.wav"), (-0.5, -0.5), (None, None),
])
def test_spreadsheet_safe_follows_owasp(cell, expected):
    assert spreadsheet_safe(cell) == expected


def test_csv_read_back_has_no_formula_cell():
    table = pd.DataFrame({"file": ["=HYPERLINK(\"http://x\")-song.mp3", "ok.mp3", "@x.wav"],
                          "confidence": [0.5, -0.25, None], "problem": [None, "-bad", None]})
    back = pd.read_csv(io.StringIO(csv_text(table)))
    text_cells = [v for col in ("file", "problem") for v in back[col].dropna()]
    assert not [v for v in text_cells if v.startswith(("=", "+", "-", "@", "\t", "\r"))]
    assert back.loc[0, "file"] == "'=HYPERLINK(\"http://x\")-song.mp3"
    assert back["confidence"].tolist()[:2] == [0.5, -0.25]  # numbers stay numbers


@pytest.mark.parametrize("name", [*HOSTILE, "a`b``c.wav", "`edge`.mp3"])
def test_markdown_name_is_one_code_span_holding_the_name(name):
    span = markdown_name(name)
    fence = span.split(" ", 1)[0]
    assert set(fence) == {"`"} and span.endswith(" " + fence)
    inner = span[len(fence) + 1: -len(fence) - 1]
    assert inner == " ".join(name.splitlines()) and fence not in inner


def test_tables_offer_no_download_that_would_run_a_file_name_as_a_formula():
    """st.dataframe's own 'Download as CSV' writes '=1+1.mp3' as it is; the app's buttons write safe CSVs."""
    import tomllib

    config = tomllib.loads((Path(__file__).resolve().parent.parent / ".streamlit" / "config.toml").read_text())
    assert config["client"]["disableDataExport"] is True
