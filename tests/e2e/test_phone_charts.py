"""The Classify and Two songs charts on a 390 px phone (a phone's User-Agent) and at 1280x900, in Chromium:
the timeline's plot keeps its height, every bar label and chart title is whole, the headings are not covered.

Uses a real GTZAN hip-hop clip (skipped without $GTZAN_DIR). Screenshots go to $E2E_ARTIFACTS.
"""
from __future__ import annotations

import contextlib

import pytest
import test_browser
from test_browser import PHONE_USER_AGENT, SHOTS, _wait_idle

server, browser = test_browser.server, test_browser.browser  # the app and Chromium, once for this module

VIEWPORTS = {"phone": dict(viewport={"width": 390, "height": 844}, user_agent=PHONE_USER_AGENT, is_mobile=True,
                           has_touch=True),
             "desktop": dict(viewport={"width": 1280, "height": 900})}
MIN_TIMELINE_PLOT_PX = 220  # the stacked areas of ten genres stay readable
MIN_HEATMAP_PLOT_PX = 200
MIN_HEATMAP_WIDTH_SHARE = 0.5  # of the chart's width: the moments stay apart
HIPHOP_CLIP = "hiphop/hiphop.00000.ogg"  # answered hip-hop (84 %), with disco and pop along the way
OTHER_CLIP = "classical/classical.00005.ogg"


def _chart(page, title: str, nth: int = 0):
    chart = page.locator('[data-testid="stPlotlyChart"]').filter(has_text=title).nth(nth)
    chart.locator(".nsewdrag").first.wait_for(timeout=120_000)
    chart.scroll_into_view_if_needed()
    return chart


def _plot_box(chart) -> dict:
    """The plot area (plotly's main drag rectangle) in page pixels."""
    return chart.locator(".nsewdrag").first.bounding_box()


def _texts_outside(chart, selector: str) -> list[str]:
    """Texts matching ``selector`` in ``chart`` whose box leaves what shows them: the chart's SVG, the legend's
    box (a legend too tall scrolls) or, when plotly clips them to the axes (cliponaxis), the plot area."""
    return chart.evaluate("""(chart, selector) => {
        const svg = chart.querySelector('.main-svg').getBoundingClientRect();
        const plot = chart.querySelector('.nsewdrag').getBoundingClientRect();
        const out = [];
        for (const t of chart.querySelectorAll(selector)) {
            const b = t.getBoundingClientRect();
            if (!b.width) continue;
            const legend = t.closest('.legend');
            // a legend shows what lies inside its box (it scrolls); a clipped text what lies inside the axes
            const box = legend ? legend.querySelector('.bg').getBoundingClientRect()
                : t.closest('[clip-path]') !== null ? plot : svg;
            if (b.left < box.left - 0.5 || b.right > box.right + 0.5 || b.top < box.top - 0.5 || b.bottom > box.bottom + 0.5)
                out.push(t.textContent + ' ' + JSON.stringify([b.left, b.right, box.left, box.right]));
        }
        return out;
    }""", selector)


def _heading_is_uncovered(page, text: str) -> bool:
    """Whether every part of the heading's text is on top (elementFromPoint across it is the heading)."""
    heading = page.get_by_role("heading", name=text)
    heading.scroll_into_view_if_needed()
    page.wait_for_timeout(300)
    return heading.evaluate("""h => {
        const range = document.createRange();
        range.selectNodeContents(h);
        for (const r of range.getClientRects()) {
            for (const f of [0.05, 0.3, 0.5, 0.7, 0.95]) {
                const top = document.elementFromPoint(r.left + f * r.width, r.top + r.height / 2);
                if (top === null || !h.contains(top)) return false;
            }
        }
        return true;
    }""")


@contextlib.contextmanager
def _page(browser, kind: str, scheme: str):
    """A page in a fresh browser context of the ``kind`` of screen, in the light or dark ``scheme``."""
    context = browser.new_context(color_scheme=scheme, **VIEWPORTS[kind])
    try:
        yield context.new_page()
    finally:
        context.close()


def _same_height_everywhere(heights: dict[str, float]) -> None:
    assert min(heights.values()) >= MIN_TIMELINE_PLOT_PX, heights
    assert abs(heights["phone"] - heights["desktop"]) <= 0.1 * heights["desktop"], heights


def _classify(page, server: str, clip) -> None:
    page.goto(server)
    page.get_by_text("Upload or record a song").wait_for(timeout=120_000)
    page.locator('input[type="file"]').first.set_input_files(str(clip))
    page.get_by_text("Take the result away").wait_for(timeout=240_000)
    _wait_idle(page)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_classify_charts_keep_their_plot_and_labels_on_a_phone_and_a_screen(server, browser, gtzan_dir, scheme):
    heights = {}
    for kind in VIEWPORTS:
        with _page(browser, kind, scheme) as page:
            _classify(page, server, gtzan_dir / HIPHOP_CLIP)
            timeline = _chart(page, "Genre along the song")
            heights[kind] = _plot_box(timeline)["height"]
            timeline.screenshot(path=str(SHOTS / f"phone-charts-timeline-{kind}-{scheme}.png"))
            assert not _texts_outside(timeline, ".legendtext, .gtitle"), kind
            bars = _chart(page, "Genre probabilities")
            bars.screenshot(path=str(SHOTS / f"phone-charts-probabilities-{kind}-{scheme}.png"))
            assert bars.locator(".bartext").count() == 10
            assert not _texts_outside(bars, ".bartext, .gtitle"), kind
            tags = _chart(page, "What the pretrained tagger hears")
            assert not _texts_outside(tags, ".bartext, .gtitle"), kind
            assert _heading_is_uncovered(page, "How every model voted"), kind
            page.get_by_role("button", name="Show which moments and frequencies decided it").click()
            why = _chart(page, "Why hip-hop")
            _wait_idle(page)
            why.screenshot(path=str(SHOTS / f"phone-charts-why-{kind}-{scheme}.png"))
            plot = _plot_box(why)
            assert plot["height"] >= MIN_HEATMAP_PLOT_PX, kind
            assert plot["width"] >= MIN_HEATMAP_WIDTH_SHARE * why.bounding_box()["width"], (kind, plot)  # not squeezed
            assert not _texts_outside(why, ".gtitle, .xtitle, .ytitle"), kind
            page.screenshot(path=str(SHOTS / f"phone-charts-classify-{kind}-{scheme}.png"), full_page=True)
    _same_height_everywhere(heights)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_two_songs_timelines_line_up_and_keep_their_labels(server, browser, gtzan_dir, scheme):
    heights = {}
    for kind in VIEWPORTS:
        with _page(browser, kind, scheme) as page:
            page.goto(f"{server}/two_songs")
            page.get_by_role("heading", name="Two songs side by side").wait_for(timeout=120_000)
            for i, clip in enumerate((HIPHOP_CLIP, OTHER_CLIP)):
                page.locator('input[type="file"]').nth(i).set_input_files(str(gtzan_dir / clip))
                page.locator('[data-testid="stMetric"]').nth(i).wait_for(timeout=240_000)
            page.get_by_role("heading", name="Together").wait_for(timeout=240_000)
            _wait_idle(page)
            charts = [_chart(page, "Genre along the song", i) for i in range(2)]
            boxes = [_plot_box(c) for c in charts]
            heights[kind] = boxes[0]["height"]
            # the same chart height, and the plot at the same place in it: the two line up
            tops = [b["y"] - c.bounding_box()["y"] for b, c in zip(boxes, charts)]
            assert abs(boxes[0]["height"] - boxes[1]["height"]) <= 1, (kind, boxes)
            assert abs(tops[0] - tops[1]) <= 1, (kind, tops)
            assert abs(charts[0].bounding_box()["height"] - charts[1].bounding_box()["height"]) <= 1, kind
            for i, chart in enumerate(charts):
                chart.screenshot(path=str(SHOTS / f"phone-charts-two-songs-timeline-{'AB'[i]}-{kind}-{scheme}.png"))
                assert not _texts_outside(chart, ".legendtext, .gtitle"), (kind, i)
                bars = _chart(page, "Genre probabilities", i)
                assert not _texts_outside(bars, ".bartext, .gtitle"), (kind, i)
            page.screenshot(path=str(SHOTS / f"phone-charts-two-songs-{kind}-{scheme}.png"), full_page=True)
    _same_height_everywhere(heights)
