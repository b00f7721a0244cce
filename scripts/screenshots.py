"""Screenshots of the app for docs/ (and for looking at what we build), in headless Debian Chromium.

    .venv/bin/python scripts/screenshots.py --data ../shared/gtzan [--out docs]

Starts the app on a free port, drives each page like a listener and saves full-page PNGs, plus the
exported HTML report and the dark theme (the viewer's preference, emulated).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from app_bench import IDLE, served_app_in_chromium  # noqa: E402


def settle(page, timeout: float = 180_000) -> None:
    page.locator(IDLE).wait_for(state="attached", timeout=timeout)
    page.wait_for_function("""() => [...document.querySelectorAll('[data-testid="stPlotlyChart"]')]
        .every(c => c.querySelector('.main-svg'))""", timeout=timeout)
    time.sleep(1.0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--out", default=str(ROOT / "docs"))
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    data, out = Path(args.data), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with served_app_in_chromium(args.chromium) as (url, browser):
        for scheme in ("light", "dark"):
            page = browser.new_context(viewport={"width": 1400, "height": 1000}, color_scheme=scheme).new_page()
            page.goto(url)
            page.get_by_text("Upload or record a song").wait_for(timeout=180_000)
            page.locator('input[type="file"]').first.set_input_files(str(data / "metal" / "metal.00002.ogg"))
            page.get_by_text("How every model voted").wait_for(timeout=180_000)
            settle(page)
            if scheme == "dark":
                page.screenshot(path=str(out / "classify-dark.png"))
                page.context.close()
                continue
            page.screenshot(path=str(out / "classify.png"), full_page=True)
            page.get_by_role("button", name="Show which moments and frequencies decided it").click()
            page.get_by_text("Turning the").first.wait_for(timeout=180_000)
            settle(page)
            page.get_by_text("Why this genre").first.scroll_into_view_if_needed()
            page.screenshot(path=str(out / "classify-why.png"))
            with page.expect_download(timeout=180_000) as download:
                page.get_by_role("button", name="Download the report (HTML)").click()
            report = Path(tempfile.mkdtemp()) / "report.html"
            download.value.save_as(report)
            page.context.close()
            view = browser.new_context(viewport={"width": 1100, "height": 1400}).new_page()
            view.goto(report.as_uri())
            view.screenshot(path=str(out / "report.png"), full_page=False)
            view.context.close()
        page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        page.goto(f"{url}/two_songs")
        page.get_by_text("Upload song A").wait_for(timeout=180_000)
        inputs = page.locator('input[type="file"]')
        inputs.nth(0).set_input_files(str(data / "classical" / "classical.00005.ogg"))
        page.get_by_text("Upload song B").wait_for(timeout=180_000)  # A is drawn
        settle(page)
        inputs.nth(1).set_input_files(str(data / "jazz" / "jazz.00005.ogg"))
        page.get_by_text("Together").wait_for(timeout=180_000)
        settle(page)
        page.screenshot(path=str(out / "two-songs.png"), full_page=True)
        page.context.close()
        page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
        page.goto(f"{url}/batch")
        page.get_by_text("Choose or drop several audio files").wait_for(timeout=180_000)
        broken = Path(tempfile.mkdtemp()) / "not-a-song.mp3"
        broken.write_text("this is not audio\n" * 200)
        files = [data / g / f"{g}.0000{i}.ogg" for g in ("blues", "pop", "reggae") for i in (1, 2)]
        page.locator('input[type="file"]').first.set_input_files([str(f) for f in files] + [str(broken)])
        page.get_by_text("Download the table (CSV)").wait_for(timeout=300_000)
        settle(page)
        page.screenshot(path=str(out / "batch.png"), full_page=True)
        page.context.close()
        for name, path, marker in (("explore", "explore", "All genres"), ("compare", "compare", "Learning curves"),
                                   ("about", "about", "Honest limits")):
            page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            page.goto(f"{url}/{path}")
            page.get_by_text(marker).first.wait_for(timeout=180_000)
            settle(page)
            page.screenshot(path=str(out / f"{name}.png"), full_page=name != "about")
            page.context.close()
    print("wrote", ", ".join(sorted(p.name for p in out.glob("*.png"))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
