"""The Library page on a 390 px phone (a phone's User-Agent), light and dark: each song's genre, probability and
state are on screen without sideways scrolling. Screenshots go to $E2E_ARTIFACTS like test_browser's."""
from __future__ import annotations

import pytest
from library_table import INTROS, write_library
from test_browser import PHONE_USER_AGENT, SHOTS, _wait_idle, browser, server  # noqa: F401 (fixtures by name)

PHONE_WIDTH = 390


@pytest.fixture(scope="module")
def library_results(tmp_path_factory, gtzan_dir):
    folder = tmp_path_factory.mktemp("library")
    write_library(gtzan_dir, folder / "songs", folder / "results")
    return folder / "results"


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_library_table_fits_a_phone(server, browser, library_results, scheme):  # noqa: F811
    context = browser.new_context(viewport={"width": PHONE_WIDTH, "height": 844}, user_agent=PHONE_USER_AGENT,
                                  is_mobile=True, has_touch=True, color_scheme=scheme)
    page = context.new_page()
    try:
        page.goto(f"{server}/library")
        where = page.get_by_label("Results folder or file on this machine")
        where.wait_for(timeout=120_000)
        where.fill(str(library_results))
        where.press("Enter")
        page.get_by_text("The songs it was least sure about").wait_for(timeout=120_000)
        _wait_idle(page)
        grid = page.locator('[data-testid="stDataFrame"]').first
        grid.scroll_into_view_if_needed()
        box = grid.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE_WIDTH, box
        # the grid draws on a canvas inside its scroller: a scroller no wider than its box shows every column
        scroller = grid.locator(".dvn-scroller")
        assert scroller.evaluate("s => s.scrollWidth <= s.clientWidth"), scroller.evaluate(
            "s => [s.scrollWidth, s.clientWidth]")
        page.screenshot(path=str(SHOTS / f"library-phone-{scheme}.png"))
        grid.hover()
        grid.get_by_role("button", name="Show/hide columns").click()
        shown = page.evaluate("() => [...document.querySelectorAll('input[type=checkbox]')].filter(c => c.checked)"
                              ".map(c => c.closest('label').innerText.trim())")
        assert shown == ["song", "genre", "probability", "state"], shown
        page.keyboard.press("Escape")
        # the picker names each song by its folder too: both '01 Intro.mp3' can be told apart
        page.get_by_text("Open a song in Classify").scroll_into_view_if_needed()
        page.locator('[data-testid="stSelectbox"]').first.click()
        for intro in INTROS:
            page.get_by_role("option", name=intro).wait_for(timeout=30_000)
        page.screenshot(path=str(SHOTS / f"library-phone-picker-{scheme}.png"))
    finally:
        context.close()
