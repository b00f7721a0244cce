"""Real-browser end-to-end tests: streamlit run + headless Debian Chromium driven by Playwright.

Screenshots go to $E2E_ARTIFACTS (default: artifacts/screenshots in the project).
"""
from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = Path(os.environ.get("E2E_ARTIFACTS", ROOT / "artifacts" / "screenshots"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-quic", "--no-first-run", "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed (.ci/run installs it)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def _streamlit(log_name: str):
    """A fresh `streamlit run` of the app on a free port; yields its URL once healthy."""
    port = _free_port()
    SHOTS.mkdir(parents=True, exist_ok=True)
    log = open(SHOTS / log_name, "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("streamlit did not become healthy within 120 s")
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


@pytest.fixture(scope="module")
def server():
    with _streamlit("streamlit-e2e.log") as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture()
def page(browser):
    # tall viewport: Streamlit scrolls inside its own container, so full_page alone shows one screen
    context = browser.new_context(viewport={"width": 1500, "height": 2600})
    page = context.new_page()
    yield page
    context.close()


def _wait_idle(page) -> None:
    """Until Streamlit's 'running' indicator is gone."""
    page.wait_for_timeout(500)
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=120_000)


def _upload_shows_the_clis_genre(page, server: str, song: Path) -> None:
    """Upload ``song`` and check the page's genre is the one genre_core gives for the same file."""
    from genre_core.serving.zoo import ModelZoo

    expected = ModelZoo.load().classify(song).final.vote_label
    page.goto(server)
    page.get_by_text("Upload or record a song").wait_for(timeout=120_000)
    page.locator('input[type="file"]').first.set_input_files(str(song))
    metric = page.locator('[data-testid="stMetric"]').filter(has_text="Predicted genre")
    metric.wait_for(timeout=120_000)
    assert expected.capitalize() in metric.inner_text()


def test_upload_a_gtzan_clip_shows_the_genre(server, page, gtzan_dir):
    _upload_shows_the_clis_genre(page, server, gtzan_dir / "classical" / "classical.00000.ogg")
    page.locator(".js-plotly-plot").first.wait_for(timeout=60_000)
    _wait_idle(page)
    assert page.locator(".js-plotly-plot").count() >= 3  # probabilities, timeline, spectrogram
    page.screenshot(path=str(SHOTS / "classify.png"), full_page=True)


def test_bad_file_shows_an_error_not_a_traceback(server, page, tmp_path):
    bad = tmp_path / "not_audio.wav"
    bad.write_bytes(np.random.default_rng(1053).bytes(30_000))  # a blob FFmpeg's probe once took for audio
    page.goto(server)
    page.get_by_text("Upload or record a song").wait_for(timeout=120_000)
    page.locator('input[type="file"]').first.set_input_files(str(bad))
    error = page.locator('[data-testid="stAlertContentError"]')
    error.wait_for(timeout=120_000)
    assert "is not an audio file" in error.inner_text(), error.inner_text()
    assert page.locator('[data-testid="stException"]').count() == 0
    page.screenshot(path=str(SHOTS / "classify-error.png"), full_page=True)


@pytest.mark.parametrize("path, title, min_charts", [("explore", "Explore the dataset", 4),
                                                      ("compare", "Compare models", 4)])
def test_other_pages_draw_their_charts(server, page, path, title, min_charts):
    page.goto(f"{server}/{path}")
    page.get_by_role("heading", name=title).wait_for(timeout=120_000)
    page.locator(".js-plotly-plot").nth(min_charts - 1).wait_for(timeout=120_000)
    _wait_idle(page)
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.locator(".js-plotly-plot .main-svg").count() >= min_charts
    page.screenshot(path=str(SHOTS / f"{path}.png"), full_page=True)


def test_an_m4a_upload_is_classified(server, page, gtzan_dir, tmp_path):
    """What phones and stores produce: AAC in an MP4 container, encoded here from a GTZAN clip."""
    import soundfile as sf
    from conftest import encode_with_ffmpeg

    samples, rate = sf.read(gtzan_dir / "rock" / "rock.00003.ogg", dtype="float32")
    song = tmp_path / "rock.m4a"
    song.write_bytes(encode_with_ffmpeg(samples, rate, "ipod", "aac"))
    _upload_shows_the_clis_genre(page, server, song)
    assert page.locator('[data-testid="stException"]').count() == 0


def test_a_recording_after_an_upload_replaces_it(server, browser, gtzan_dir, tmp_path):
    """Chromium's fake microphone plays a GTZAN clip; recording after an upload analyses the recording."""
    import soundfile as sf

    samples, rate = sf.read(gtzan_dir / "classical" / "classical.00001.ogg", dtype="float32")
    microphone = tmp_path / "microphone.wav"
    sf.write(microphone, samples[: rate * 12], rate, subtype="PCM_16")
    upload = tmp_path / "upload.wav"
    sf.write(upload, sf.read(gtzan_dir / "pop" / "pop.00001.ogg", dtype="float32")[0][: rate * 10], rate)
    args = CHROMIUM_ARGS + ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                            f"--use-file-for-fake-audio-capture={microphone}"]
    with_microphone = browser.browser_type.launch(executable_path=CHROMIUM, args=args)
    try:
        context = with_microphone.new_context(viewport={"width": 1500, "height": 2600}, permissions=["microphone"])
        page = context.new_page()
        page.goto(server)
        page.get_by_text("Upload or record a song").wait_for(timeout=120_000)
        page.locator('input[type="file"]').first.set_input_files(str(upload))
        page.locator('[data-testid="stMetric"]').filter(has_text="Predicted genre").wait_for(timeout=120_000)
        _wait_idle(page)
        page.get_by_role("tab", name="Record").click()
        page.get_by_role("button", name="Record").click()
        page.wait_for_timeout(6000)
        page.get_by_role("button", name="Stop recording").click()
        page.get_by_text("latest input: the recording").wait_for(timeout=120_000)
        _wait_idle(page)
        assert page.locator('[data-testid="stException"]').count() == 0
        page.screenshot(path=str(SHOTS / "classify-recording.png"), full_page=True)
    finally:
        with_microphone.close()


def test_timeline_click_plays_from_there_and_the_report_opens(server, page, gtzan_dir, tmp_path):
    """A real click on a point of the timeline moves the player; the downloaded report opens offline."""
    _upload_shows_the_clis_genre(page, server, gtzan_dir / "jazz" / "jazz.00005.ogg")
    page.get_by_text("Take the result away").wait_for(timeout=120_000)
    _wait_idle(page)
    chart = page.locator('[data-testid="stPlotlyChart"]').filter(has_text="Genre along the song")
    point = chart.locator(".scatterlayer .trace .points path").nth(6)  # a marker of the first genre's area
    point.scroll_into_view_if_needed()
    box = point.bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.get_by_text("Playing from 0:19").wait_for(timeout=60_000)  # the 7th 3 s window's centre, 19.5 s
    # the player itself moved there (Streamlit sets currentTime once the audio's metadata is loaded)
    page.wait_for_function("() => document.querySelector('audio').currentTime >= 19", timeout=30_000)
    _wait_idle(page)  # a download button from a run still being replaced points at a file Streamlit dropped
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        with page.expect_download(timeout=120_000) as download:  # the first report imports matplotlib
            page.get_by_role("button", name="Download the report (HTML)").click()
    except PlaywrightTimeout:  # a deferred file dropped by a rerun (Streamlit's own; noted): click again, as a user would
        _wait_idle(page)
        with page.expect_download(timeout=180_000) as download:
            page.get_by_role("button", name="Download the report (HTML)").click()
    report = tmp_path / "report.html"
    download.value.save_as(report)
    offline = page.context.browser.new_context(offline=True).new_page()
    offline.goto(report.as_uri())
    assert offline.get_by_role("heading", name="Genre report: jazz.00005.ogg").is_visible()
    sizes = offline.eval_on_selector_all("img", "imgs => imgs.map(i => i.complete && i.naturalWidth)")
    assert len(sizes) == 4 and all(w > 100 for w in sizes)  # every chart image decodes
    offline.screenshot(path=str(SHOTS / "report.png"))
    offline.context.close()


# What a phone's browser sends; the app reads "Mobile" (the server cannot see the screen's width).
PHONE_USER_AGENT = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
                    "Chrome/124.0 Mobile Safari/537.36")


@pytest.mark.parametrize("protocol", ["5-fold", "Artist-filtered"])
def test_the_model_table_fits_a_phone(server, browser, protocol):
    """On a 390 px phone the Compare table wraps the model names and keeps the leading figure on screen."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, user_agent=PHONE_USER_AGENT,
                                  is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        page.goto(f"{server}/compare")
        page.get_by_role("heading", name="Compare models").wait_for(timeout=120_000)
        page.get_by_text(protocol, exact=False).first.click()
        _wait_idle(page)
        table = page.locator('[data-testid="stTable"]').first
        table.wait_for(timeout=60_000)
        box = table.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390, box
        assert table.evaluate("t => t.scrollWidth <= t.clientWidth + 1")  # nothing hidden to the side
        text = table.inner_text()
        assert "Headline answer" in text and "balanced acc" in text
        assert page.get_by_text("On a wider screen this table also shows").count() == 1
        page.screenshot(path=str(SHOTS / f"compare-phone-{protocol.lower()}.png"))
    finally:
        context.close()


def test_a_deep_link_to_a_fresh_server_gets_the_apps_navigation(page):
    """Next to pages/, Streamlit starts in its pages-folder mode (file names as the menu, no page config) until
    streamlit_app.py first runs; a first visitor arriving on /explore must still get the app's own menu."""
    with _streamlit("streamlit-e2e-deep-link.log") as url:
        page.goto(f"{url}/explore")
        page.get_by_role("heading", name="Explore the dataset").wait_for(timeout=120_000)
        _wait_idle(page)
        menu = page.locator('[data-testid="stSidebarNav"]').inner_text()
        assert "Classify a song" in menu and "Compare models" in menu
        assert "streamlit app" not in menu and "two songs" not in menu
        page.get_by_role("link", name="Compare models").click()
        page.get_by_role("heading", name="Compare models").first.wait_for(timeout=120_000)


def test_hostile_file_names_stay_text_and_nothing_leaves_localhost(server, page, gtzan_dir):
    """File names written as Markdown image/link/HTML reach the page as text: no request to another host,
    no link or image pointing out, on Many files and on Two songs."""
    from urllib.parse import urlparse

    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    clip = (gtzan_dir / "jazz" / "jazz.00001.ogg").read_bytes()
    names = ["![t](http://example.invalid/p.png)bad.ogg", "[home](http://example.invalid)=a.ogg",
             "<img src=http://example.invalid/x.png>.ogg"]
    # payloads, not files on disk: a browser upload can carry a name with "/" that no file system allows
    files = [{"name": name, "mimeType": "audio/ogg", "buffer": clip if i else b"not audio at all" * 100}
             for i, name in enumerate(names)]
    page.goto(f"{server}/batch")
    page.get_by_role("heading", name="Many files at once").wait_for(timeout=120_000)
    page.locator('input[type="file"]').first.set_input_files(files)
    page.get_by_text("2 classified").wait_for(timeout=180_000)
    _wait_idle(page)
    page.screenshot(path=str(SHOTS / "batch-hostile-names.png"), full_page=True)
    page.goto(f"{server}/two_songs")
    page.get_by_role("heading", name="Two songs side by side").wait_for(timeout=120_000)
    for i, payload in enumerate(files[1:]):
        page.locator('input[type="file"]').nth(i).set_input_files(payload)
        page.locator('[data-testid="stMetric"]').nth(i).wait_for(timeout=180_000)
    _wait_idle(page)
    page.screenshot(path=str(SHOTS / "two-songs-hostile-names.png"), full_page=True)
    assert page.get_by_text("[home](http://example.invalid)=a.ogg").count() >= 1  # shown as the characters typed
    outside = [u for u in requests if urlparse(u).hostname not in ("127.0.0.1", "localhost", None)
               and not u.startswith(("data:", "blob:"))]
    assert not outside, outside
    leaked = page.locator('a[href*="example.invalid"], img[src*="example.invalid"]')
    assert leaked.count() == 0, [leaked.nth(i).evaluate("e => e.parentElement.outerHTML") for i in range(leaked.count())]
