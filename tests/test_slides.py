"""The slide deck to take away: written from the stored models, opened again and looked at."""
from __future__ import annotations

import io
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from genre_core.models.artifacts import PACKAGE_MODELS_DIR

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def decks(tmp_path_factory):
    from genre_core.outputs.slides import write_deck

    folder = tmp_path_factory.mktemp("deck")
    return write_deck(PACKAGE_MODELS_DIR, folder / "deck.pptx"), write_deck(PACKAGE_MODELS_DIR, folder / "deck.pdf")


def test_pptx_opens_with_titles_text_and_sharp_images(decks):
    from pptx import Presentation

    deck = Presentation(str(decks[0]))
    titles = [s.shapes.title.text for s in deck.slides]
    assert len(titles) >= 9 and titles[0] == "Music genre classification on GTZAN"
    assert {"Every model, both protocols", "5-fold cross-validation", "Artist-filtered test", "Per-genre recall",
            "The data"} <= set(titles)
    assert any(t.startswith("Confusion matrix: headline") for t in titles)
    pictures = [shape for s in deck.slides for shape in s.shapes if shape.shape_type == 13]
    assert len(pictures) >= 6
    for picture in pictures:
        width, height = Image.open(io.BytesIO(picture.image.blob)).size
        assert max(width, height) >= 1000  # projector resolution, not a thumbnail
    tables = [shape.table for s in deck.slides for shape in s.shapes if shape.has_table]
    assert any(t.cell(1, 0).text == "headline" for t in tables)  # real text, read from the stored metrics


@pytest.mark.skipif(not shutil.which("pdftoppm"), reason="poppler-utils is not installed (scripts/test.sh installs it)")
def test_pdf_pages_render_and_carry_real_text(decks, tmp_path):
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(decks[1]), str(tmp_path / "page")], check=True)
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) >= 9
    for page in pages:
        image = Image.open(page).convert("L")
        assert image.size[0] > image.size[1]  # 16:9
        assert image.getextrema()[0] < 100  # something dark was drawn on the white page
    text = subprocess.run(["pdftotext", str(decks[1]), "-"], capture_output=True, text=True, check=True).stdout
    assert "Every model, both protocols" in text and "Artist-filtered test" in text


def test_slides_command_writes_a_deck_and_refuses_other_names(tmp_path):
    run = [sys.executable, "-m", "genre_core", "slides"]
    out = subprocess.run([*run, str(tmp_path / "d.pptx"), "--models", "headline", "svm_handcrafted"],
                         capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "d.pptx").stat().st_size > 50_000
    for bad in (["x.docx"], ["y.pdf", "--models", "no_such_model"]):
        out = subprocess.run([*run, str(tmp_path / bad[0]), *bad[1:]], capture_output=True, text=True, cwd=ROOT,
                             timeout=300)
        assert out.returncode != 0 and "Traceback" not in out.stderr and "error:" in out.stderr
