"""The slide deck to take away: written from the stored models, opened again and looked at (in LibreOffice
too, where it is available)."""
from __future__ import annotations

import html
import io
import itertools
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from genre_core.models.artifacts import PACKAGE_MODELS_DIR

ROOT = Path(__file__).resolve().parent.parent
EMU_PER_PT = 12700
PICTURE = 13  # python-pptx's MSO_SHAPE_TYPE.PICTURE


@pytest.fixture(scope="module")
def slides():
    from genre_core.outputs.slides import build_deck

    return build_deck(PACKAGE_MODELS_DIR)


@pytest.fixture(scope="module")
def decks(slides, tmp_path_factory):
    from genre_core.outputs.slides import write_pdf, write_pptx

    folder = tmp_path_factory.mktemp("deck")
    return write_pptx(slides, folder / "deck.pptx"), write_pdf(slides, folder / "deck.pdf")


@pytest.fixture(scope="module")
def charts(slides):
    """(slide number, title, figure) of every chart, drawn at the size of its place on the slide."""
    import matplotlib.pyplot as plt

    from genre_core.outputs.slides import draw_chart, slide_layout

    drawn = []
    for number, spec in enumerate(slides, start=1):
        if spec.chart is not None:
            room = slide_layout(spec).content
            drawn.append((number, spec.title, draw_chart(spec.chart, room.width, room.height)))
    yield drawn
    for *_, fig in drawn:
        plt.close(fig)


def _stored(name: str, file: str) -> dict:
    return json.loads((PACKAGE_MODELS_DIR / name / file).read_text())


def _model_folders() -> list[str]:
    return sorted(p.parent.name for p in PACKAGE_MODELS_DIR.glob("*/metrics.json"))


def _headline_is_one_model() -> str | None:
    """Read straight from the stored headline: the model it is, when every outer fold chose the same one."""
    config, metrics = _stored("headline", "config.json"), _stored("headline", "metrics.json")
    folds = {f["chosen"] for f in metrics["outer_folds"]}
    return config["chosen"] if config["rule"] == "single" and folds == {config["chosen"]} else None


def test_pptx_opens_with_titles_text_and_sharp_images(decks):
    from pptx import Presentation

    deck = Presentation(str(decks[0]))
    titles = [s.shapes.title.text for s in deck.slides]
    assert len(titles) >= 9 and titles[0] == "Music genre classification on GTZAN"
    assert {"Every model, both protocols", "5-fold cross-validation", "Artist-filtered test", "Per-genre recall",
            "The data"} <= set(titles)
    assert any(t.startswith("Confusion matrix: the app's answer") for t in titles)
    pictures = [shape for s in deck.slides for shape in s.shapes if shape.shape_type == PICTURE]
    assert len(pictures) >= 6
    for picture in pictures:
        width, height = Image.open(io.BytesIO(picture.image.blob)).size
        assert max(width, height) >= 1000  # projector resolution, not a thumbnail
    tables = [shape.table for s in deck.slides for shape in s.shapes if shape.has_table]
    best = _stored(_headline_is_one_model() or "headline", "config.json")["title"]
    assert any(best in t.cell(1, 0).text for t in tables)  # real text, read from the stored metrics


def _boxes_touch(a, b, gap: float = 0.0) -> bool:
    return a.x0 < b.x1 + gap and b.x0 < a.x1 + gap and a.y0 < b.y1 + gap and b.y0 < a.y1 + gap


def _data_boxes(ax, renderer) -> list:
    """Window boxes of what an axes shows as data: bars, lines and markers, each error bar."""
    from matplotlib.collections import LineCollection
    from matplotlib.transforms import Bbox

    boxes = [p.get_window_extent(renderer) for p in ax.patches if p.get_width() and p.get_height()]
    boxes += [line.get_window_extent(renderer) for line in ax.lines if len(line.get_xdata())]
    for collection in ax.collections:
        if isinstance(collection, LineCollection):
            transform = collection.get_transform()
            boxes += [Bbox.from_extents(*transform.transform(s).min(axis=0), *transform.transform(s).max(axis=0))
                      for s in collection.get_segments() if len(s)]
    return boxes


def test_legends_never_cover_bars_lines_or_error_bars(charts):
    """Slide 2's legend sat on the last two models' bars and error bars: every legend now keeps off the data,
    and stays inside its figure."""
    legends = 0
    for number, title, fig in charts:
        renderer = fig.canvas.get_renderer()
        found = [*fig.legends, *(ax.get_legend() for ax in fig.axes if ax.get_legend() is not None)]
        legends += len(found)
        data = [box for ax in fig.axes for box in _data_boxes(ax, renderer)]
        for legend in found:
            box = legend.get_window_extent(renderer)
            assert fig.bbox.x0 <= box.x0 and box.x1 <= fig.bbox.x1 and fig.bbox.y0 <= box.y0 and box.y1 <= fig.bbox.y1
            covered = [d for d in data if _boxes_touch(box, d)]
            assert not covered, f"slide {number} ({title}): the legend covers {len(covered)} data marks"
    assert legends >= 3  # both protocols, recall, learning curves


def test_tick_labels_never_run_together(charts):
    """Slides 7 and 9 printed 'classicalcountry': no two tick labels on an axis touch (2 px apart at least)."""
    checked = 0
    for number, title, fig in charts:
        renderer = fig.canvas.get_renderer()
        for ax in fig.axes:
            for labels in (ax.get_xticklabels(), ax.get_yticklabels()):
                shown = [t for t in labels if t.get_visible() and t.get_text()]
                for a, b in itertools.combinations(shown, 2):
                    assert not _boxes_touch(a.get_window_extent(renderer), b.get_window_extent(renderer), 2), \
                        f"slide {number} ({title}): '{a.get_text()}' and '{b.get_text()}' touch"
                checked += len(shown)
    assert checked > 50


def test_models_are_named_in_words_and_the_headline_shown_once(decks):
    from pptx import Presentation

    deck = Presentation(str(decks[0]))
    folders = _model_folders()
    titles = {name: _stored(name, "config.json")["title"] for name in folders}
    member = _headline_is_one_model()
    tables = [shape.table for s in deck.slides for shape in s.shapes if shape.has_table]
    assert len(tables) == 2
    for table in tables:
        cells = [table.cell(i, 0).text_frame.paragraphs[0].runs for i in range(1, len(table.rows))]
        words = [runs[0].text for runs in cells]  # the title in words; the folder follows in a smaller run
        assert not set(words) & set(folders) and all(" " in w for w in words)
        assert all(runs[1].font.size < runs[0].font.size and runs[1].text.split()[0].strip(",") in folders
                   for runs in cells)
        if member is not None:
            assert len(cells) == len(folders) - 1  # the headline is not a row of its own
            (row,) = [w for w in words if titles[member] in w]
            assert "the app's answer" in row
            assert sum("headline" in "".join(r.text for r in runs) for runs in cells) == 1
        else:
            assert len(cells) == len(folders)
    slide_titles = [s.shapes.title.text for s in deck.slides]
    assert not any(folder in title for folder in folders for title in slide_titles)
    confusion_slides = [s for s in deck.slides if s.shapes.title.text.startswith("Confusion matrix")]
    answer = [s for s in confusion_slides if s.shapes.title.text == "Confusion matrix: the app's answer"]
    assert len(answer) == 1
    if member is not None:  # says which model the answer is
        assert titles[member] in " ".join(shape.text_frame.text for shape in answer[0].shapes if shape.has_text_frame)


def test_confusion_matrices_fill_the_slide_with_numbers_of_14_pt(decks, charts):
    from pptx import Presentation

    from genre_core.outputs.slides import CHART_DPI

    deck = Presentation(str(decks[0]))
    figures = {number: fig for number, _, fig in charts}
    matrices = 0
    for number, slide in enumerate(deck.slides, start=1):
        if not slide.shapes.title.text.startswith("Confusion matrix"):
            continue
        matrices += 1
        (picture,) = [s for s in slide.shapes if s.shape_type == PICTURE]
        assert picture.width >= 0.85 * deck.slide_width
        png_width_in = Image.open(io.BytesIO(picture.image.blob)).size[0] / CHART_DPI
        scale = picture.width.inches / png_width_in  # figure inches to slide inches
        fig = figures[number]
        assert fig.get_figwidth() == pytest.approx(png_width_in, rel=0.01)
        numbers = [t for ax in fig.axes for t in ax.texts if t.get_text().isdigit()]
        assert len(numbers) >= 10
        assert min(t.get_fontsize() for t in numbers) * scale >= 14
    assert matrices == 2


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


def _pdf_words(pdf: Path) -> list[list[tuple[str, float, float, float, float]]]:
    """Each page's words in the order they were drawn: (text, x0, y0, x1, y1) in points from the top left."""
    xml = subprocess.run(["pdftotext", "-raw", "-bbox", str(pdf), "-"], capture_output=True, text=True,
                         check=True, timeout=60).stdout
    pages = []
    for page in xml.split("<page ")[1:]:
        pages.append([(html.unescape(m[5]), *map(float, m.groups()[:4])) for m in re.finditer(
            r'<word xMin="([-\d.]+)" yMin="([-\d.]+)" xMax="([-\d.]+)" yMax="([-\d.]+)">([^<]*)</word>', page)])
    return pages


def _shape_text(shape) -> list[str]:
    """The words of a shape as an office suite draws them: a table cell after cell, row by row."""
    if shape.has_table:
        return [w for row in shape.table.rows for cell in row.cells for w in cell.text.split()]
    return shape.text_frame.text.split() if shape.has_text_frame else []


def _take_words(drawn, text: str) -> list:
    """The next drawn words that spell ``text`` (spaces aside)."""
    taken, spelled = [], ""
    while len(spelled) < len(text) and (word := next(drawn, None)) is not None:
        taken.append(word)
        spelled += word[0]
    return taken


def _rejoin_hyphens(words: list[str]) -> list[str]:
    """Words as written: 'hip-' at a line's end and 'hop' on the next are 'hip-hop' (a break at a hyphen)."""
    out: list[str] = []
    for word in words:
        if out and out[-1].endswith("-") and len(out[-1]) > 1:
            out[-1] += word
        else:
            out.append(word)
    return out


@pytest.fixture(scope="module")
def libreoffice_pdf(decks, tmp_path_factory) -> Path:
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        pytest.skip("LibreOffice (soffice) is not installed; scripts/test.sh installs libreoffice-impress")
    if not shutil.which("pdftotext"):
        pytest.skip("poppler-utils is not installed (scripts/test.sh installs it)")
    out = tmp_path_factory.mktemp("libreoffice")
    profile = out / "profile"  # a private profile: parallel runs never share LibreOffice's lock
    subprocess.run([soffice, f"-env:UserInstallation={profile.as_uri()}", "--headless", "--convert-to", "pdf",
                    "--outdir", str(out), str(decks[0])], check=True, capture_output=True, timeout=180)
    return out / "deck.pdf"


def test_libreoffice_lays_out_every_slide_inside_its_boxes(decks, libreoffice_pdf):
    """Opened in LibreOffice Impress, the deck keeps its fonts (Arial, drawn as the metric-compatible
    Liberation Sans, not a fallback), every word inside its own box and on the slide, and no text box
    running into a table or a chart (slide 4's third line hid behind the table)."""
    from pptx import Presentation

    fonts = subprocess.run(["pdffonts", str(libreoffice_pdf)], capture_output=True, text=True, check=True,
                           timeout=60).stdout.splitlines()[2:]
    names = {line.split()[0].split("+")[-1] for line in fonts if line.strip()}
    assert names and all(re.match(r"(LiberationSans|Arial)", n) for n in names), names

    deck = Presentation(str(decks[0]))
    width, height = deck.slide_width / EMU_PER_PT, deck.slide_height / EMU_PER_PT
    pages = _pdf_words(libreoffice_pdf)
    assert len(pages) == len(deck.slides)
    for number, (slide, words) in enumerate(zip(deck.slides, pages), start=1):
        rects = [(s, (s.left / EMU_PER_PT, s.top / EMU_PER_PT, (s.left + s.width) / EMU_PER_PT,
                      (s.top + s.height) / EMU_PER_PT)) for s in slide.shapes]
        for (a, ra), (b, rb) in itertools.combinations(rects, 2):
            assert not (ra[0] < rb[2] and rb[0] < ra[2] and ra[1] < rb[3] and rb[1] < ra[3]), \
                f"slide {number}: {a.name} overlaps {b.name}"
        for shape, (x0, y0, x1, y1) in rects:
            assert 0 <= x0 and 0 <= y0 and x1 <= width and y1 <= height, f"slide {number}: {shape.name} leaves"
        drawn = iter(words)
        for shape, rect in rects:
            expected = _shape_text(shape)
            got = _take_words(drawn, "".join(expected))
            assert _rejoin_hyphens([w[0] for w in got]) == expected, \
                f"slide {number}, {shape.name}: a word broken (other than at a hyphen) or missing"
            others = [r for s, r in rects if s is not shape]
            for text, wx0, wy0, wx1, wy1 in got:
                assert 0 <= wx0 and 0 <= wy0 and wx1 <= width and wy1 <= height, f"slide {number}: '{text}' leaves"
                assert rect[0] - 1 <= wx0 and rect[1] - 1 <= wy0 and wx1 <= rect[2] + 1 and wy1 <= rect[3] + 1, \
                    f"slide {number}: '{text}' runs out of {shape.name}"
                assert not any(wx0 < r[2] and r[0] < wx1 and wy0 < r[3] and r[1] < wy1 for r in others), \
                    f"slide {number}: '{text}' of {shape.name} lies on another shape"
        assert next(drawn, None) is None, f"slide {number}: words LibreOffice drew that the deck does not hold"


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
