"""Look at every page as its users would: 1280x900, a 390x844 phone and a 1920x1080 projector, light and dark,
in headless Debian Chromium. Screenshots (what the viewport shows) go to artifacts/review/ by default.

    .venv/bin/python scripts/review_pages.py --data ../shared/gtzan [--viewports desktop phone projector]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from app_bench import served_app_in_chromium  # noqa: E402
from screenshots import settle  # noqa: E402

VIEWPORTS = {"desktop": (1280, 900), "phone": (390, 844), "projector": (1920, 1080)}
PHONE_UA = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/124.0 Mobile Safari/537.36")  # what a phone's browser sends: the app reads "Mobile"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--out", default=str(ROOT / "artifacts" / "review"))
    parser.add_argument("--viewports", nargs="+", default=list(VIEWPORTS), choices=list(VIEWPORTS))
    parser.add_argument("--schemes", nargs="+", default=["light", "dark"], choices=["light", "dark"])
    args = parser.parse_args()
    data, out = Path(args.data), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with served_app_in_chromium() as (url, browser):
        for viewport in args.viewports:
            width, height = VIEWPORTS[viewport]
            for scheme in args.schemes:
                phone = {"user_agent": PHONE_UA, "is_mobile": True, "has_touch": True} if viewport == "phone" else {}
                context = browser.new_context(viewport={"width": width, "height": height}, color_scheme=scheme,
                                              **phone)
                page = context.new_page()

                def shot(name: str) -> None:
                    path = out / f"{name}-{viewport}-{scheme}.png"
                    page.screenshot(path=str(path))
                    print(path.name, flush=True)

                page.goto(url)
                page.get_by_text("Upload or record a song").wait_for(timeout=180_000)
                page.locator('input[type="file"]').first.set_input_files(str(data / "metal" / "metal.00002.ogg"))
                page.get_by_text("How every model voted").wait_for(timeout=300_000)
                settle(page)
                shot("classify-top")
                page.get_by_text("Genre along the song").first.scroll_into_view_if_needed()
                shot("classify-timeline")
                page.get_by_text("How every model voted").first.scroll_into_view_if_needed()
                shot("classify-votes")
                page.goto(f"{url}/two_songs")
                page.get_by_text("Upload song A").wait_for(timeout=180_000)
                inputs = page.locator('input[type="file"]')
                inputs.nth(0).set_input_files(str(data / "classical" / "classical.00005.ogg"))
                page.get_by_text("Upload song B").wait_for(timeout=180_000)
                settle(page)
                inputs.nth(1).set_input_files(str(data / "hiphop" / "hiphop.00005.ogg"))
                page.get_by_text("Together").wait_for(timeout=300_000)
                settle(page)
                shot("two-songs")
                page.goto(f"{url}/batch")
                page.get_by_text("Choose or drop several audio files").wait_for(timeout=180_000)
                files = [data / g / f"{g}.00001.ogg" for g in ("blues", "pop", "reggae")]
                page.locator('input[type="file"]').first.set_input_files([str(f) for f in files])
                page.get_by_text("Download the table (CSV)").wait_for(timeout=300_000)
                settle(page)
                shot("batch")
                for path, marker in (("explore", "All genres"), ("compare", "Learning curves")):
                    page.goto(f"{url}/{path}")
                    page.get_by_text(marker).first.wait_for(timeout=180_000)
                    settle(page)
                    shot(path)
                    page.get_by_text("Confusion matrices" if path == "compare" else "All genres").first \
                        .scroll_into_view_if_needed()
                    shot(f"{path}-charts")
                    page.get_by_text("Presentation view").first.click()
                    page.get_by_text("Chart 1 of").wait_for(timeout=180_000)
                    settle(page)
                    shot(f"{path}-presentation")
                    page.get_by_role("button", name="Next ▶").click()
                    page.get_by_text("Chart 2 of").wait_for(timeout=180_000)
                    settle(page)
                    shot(f"{path}-presentation-2")
                context.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
