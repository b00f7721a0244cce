"""Presentation view at a projector's 1920x1080 and Compare on a phone, in headless Debian Chromium.

Screenshots go to $E2E_ARTIFACTS (default: artifacts/screenshots in the project), as in test_browser.py.
"""
from __future__ import annotations

import pytest
from test_browser import PHONE_USER_AGENT, SHOTS, _wait_idle, browser, server  # noqa: F401 (fixtures)

from genre_core.features.config import GENRES
from genre_core.outputs.text import genre_name

SCREEN = {"width": 1920, "height": 1080}
MIN_ROOM_PX = 18  # readable from the back of a room at this size

# Per chart drawn: where it is, its traces, and how its legend shows each of them.
CHART_FACTS = """chart => {
  const plot = chart.querySelector('.js-plotly-plot');
  const box = chart.getBoundingClientRect();
  const legend = chart.querySelector('.legend');
  const entries = legend ? [...legend.querySelectorAll('.traces')] : [];
  const style = e => [...e.querySelectorAll('.legendpoints path, .legendlines path')].map(p => {
    const s = getComputedStyle(p);
    return [s.fill, s.stroke, s.strokeDasharray].join(' ');
  }).join('|');
  const lb = legend && legend.getBoundingClientRect();
  return {
    title: plot.layout.title.text, traces: plot.data.filter(t => t.showlegend !== false).length,
    top: box.top, bottom: box.bottom, left: box.left, right: box.right,
    legend: lb && {top: lb.top, bottom: lb.bottom, left: lb.left, right: lb.right},
    entries: entries.length, styles: entries.map(style),
    legendFont: Math.min(...entries.map(e => parseFloat(getComputedStyle(e.querySelector('text.legendtext')).fontSize))),
  };
}"""


@pytest.mark.parametrize("path, heading", [("compare", "Compare models"), ("explore", "Explore the dataset")])
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_presentation_view_shows_each_chart_whole_on_the_first_screen_with_its_legend(server, browser, path,  # noqa: F811
                                                                                        heading, scheme):
    """At 1920x1080, after turning presentation view on: every chart lies wholly on the first screen; one with
    several series shows a legend inside the chart, in text of 18 px or more, with one entry per series and no
    two entries drawn alike; the step controls are 18 px or more."""
    context = browser.new_context(viewport=SCREEN, color_scheme=scheme)
    page = context.new_page()
    try:
        page.goto(f"{server}/{path}")
        page.get_by_role("heading", name=heading).wait_for(timeout=120_000)
        _wait_idle(page)
        page.get_by_text("Presentation view").first.click()
        page.get_by_text("Chart 1 of").wait_for(timeout=120_000)
        count = int(page.get_by_text("Chart 1 of").first.inner_text().split()[-1])
        assert count >= 5
        multi = 0
        for index in range(count):
            page.get_by_text(f"Chart {index + 1} of {count}").wait_for(timeout=120_000)
            _wait_idle(page)
            chart = page.locator('[data-testid="stPlotlyChart"]')
            chart.locator(".main-svg").first.wait_for(timeout=60_000)
            assert chart.count() == 1
            facts = chart.evaluate(CHART_FACTS)
            page.screenshot(path=str(SHOTS / f"{path}-presentation-{index + 1}-{scheme}.png"))
            where = f"chart {index + 1} ({facts['title']})"
            if facts["traces"] > 1:
                multi += 1
                legend = facts["legend"]
                assert legend, where
                assert facts["top"] <= legend["top"] and legend["bottom"] <= facts["bottom"], (where, facts)
                assert facts["left"] <= legend["left"] and legend["right"] <= facts["right"], (where, facts)
                assert facts["entries"] == facts["traces"], (where, facts)
                assert len(set(facts["styles"])) == facts["traces"], (where, facts["styles"])
                assert facts["legendFont"] >= MIN_ROOM_PX, (where, facts)
            assert 0 <= facts["top"] and facts["bottom"] <= SCREEN["height"], (where, facts)
            sizes = page.locator(".st-key-" + path + "_steps").evaluate(
                """steps => [...steps.querySelectorAll('button p, input, p')].map(
                       e => [e.textContent || e.value, parseFloat(getComputedStyle(e).fontSize)])""")
            assert any(text.startswith("Chart ") for text, _ in sizes), sizes
            assert all(size >= MIN_ROOM_PX for _, size in sizes), sizes
            forward = page.get_by_role("button", name="Next ▶")
            assert forward.is_disabled() == (index == count - 1)
            assert page.get_by_role("button", name="◀ Previous").is_disabled() == (index == 0)
            if index < count - 1:
                forward.click()
        if path == "compare":  # both protocols, per-genre recall, both learning curves
            assert multi == 4
    finally:
        context.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_compare_on_a_phone_lists_the_largest_confusions_and_names_every_genre(server, browser, scheme):  # noqa: F811
    """At 390x844 with a phone's User-Agent: no matrix or grouped bars to squint at; the largest confusions of
    both models as sentences (what genre_core computes) and per-genre recall as a table naming every genre,
    each table within the screen's width."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, user_agent=PHONE_USER_AGENT,
                                  is_mobile=True, has_touch=True, color_scheme=scheme)
    page = context.new_page()
    try:
        page.goto(f"{server}/compare")
        page.get_by_role("heading", name="Compare models").wait_for(timeout=120_000)
        page.get_by_text("Learning curves").first.wait_for(timeout=120_000)
        _wait_idle(page)  # the dark theme reaches the server after the first run and reruns the page
        charts = page.locator('[data-testid="stPlotlyChart"]')
        charts.locator(".main-svg").nth(1).wait_for(timeout=60_000)  # the learning curves stay
        axes = [charts.nth(i).evaluate("""c => { const layout = c.querySelector('.js-plotly-plot').layout;
                                                 return [layout.title.text, layout.yaxis.title.text]; }""")
                for i in range(charts.count())]
        assert not [a for a in axes if "recall" in " ".join(a) or "true genre" in a[1]], axes
        for i in range(charts.count()):  # what stays (the learning curves): titles whole, apart, inside the chart
            boxes = charts.nth(i).evaluate("""c => ['.main-svg', '.gtitle', '.g-ytitle'].map(e => {
                const r = c.querySelector(e).getBoundingClientRect();
                return [r.left, r.top, r.right, r.bottom]; })""")
            chart, title, ytitle = boxes
            for box in (title, ytitle):
                assert chart[0] <= box[0] and chart[1] <= box[1] and box[2] <= chart[2] and box[3] <= chart[3], \
                    (axes[i], boxes)
            apart = title[2] <= ytitle[0] or ytitle[2] <= title[0] or title[3] <= ytitle[1] or ytitle[3] <= title[1]
            assert apart, (axes[i], "the y title runs into the title", boxes)
        tables = page.locator('[data-testid="stTable"]')
        tables.nth(3).wait_for(timeout=120_000)
        assert tables.count() == 4  # the models, two lists of confusions, the recalls
        for i in range(tables.count()):
            table = tables.nth(i)
            box = table.bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= 390, (i, box)
            assert table.evaluate("t => t.scrollWidth <= t.clientWidth + 1"), i
        from genre_core.outputs.catalog import confusion, default_pair, largest_confusions, metrics_table
        from genre_core.serving.zoo import DEFAULT_MODELS_DIR

        pair = default_pair(metrics_table(DEFAULT_MODELS_DIR), "balanced_accuracy_mean")
        for table, model in zip((tables.nth(1), tables.nth(2)), pair):
            expected = largest_confusions(confusion(DEFAULT_MODELS_DIR, model, "mean", "kfold"), GENRES)["confusion"]
            rows = [r.strip() for r in table.locator("tbody tr").all_inner_texts()]
            assert rows == list(expected), (model, rows)
        recall = tables.nth(3)
        header = recall.locator("thead").inner_text()
        assert all(model in header for model in pair), header
        genres = [r.split("\t")[0].strip() for r in recall.locator("tbody tr").all_inner_texts()]
        assert genres == [genre_name(g) for g in GENRES]  # all ten, 'hip-hop' as the app spells it
        tables.nth(1).scroll_into_view_if_needed()
        page.screenshot(path=str(SHOTS / f"compare-phone-confusions-{scheme}.png"))
        recall.scroll_into_view_if_needed()
        page.screenshot(path=str(SHOTS / f"compare-phone-recall-{scheme}.png"))
    finally:
        context.close()
