"""App-level figures: cold start and concurrent sessions, in headless Debian Chromium.

    .venv/bin/python bench/app_bench.py --data ../shared/gtzan --sessions 4

Cold start: time from `streamlit run` to the classify page showing the genre of the first upload.
Load test: N browser sessions (separate contexts = separate Streamlit sessions) each upload a
different clip at the same moment; every answer must be the genre genre_core gives for that clip
(so no session sees another's upload), and the server must stay healthy. Loopback only.
"""
from __future__ import annotations

import argparse
import asyncio
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-quic", "--no-first-run", "--disable-component-update", "--disable-sync"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.headless", "true",
                             "--server.port", str(port), "--server.address", "127.0.0.1"],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_healthy(url: str, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("server never became healthy")


async def classify_in_browser(browser, url: str, clip: Path) -> tuple[str, float]:
    """Open a fresh session, upload ``clip``; return (shown genre, seconds from upload to answer)."""
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(url)
    await page.get_by_text("Upload or record a song").wait_for(timeout=180_000)
    start = time.perf_counter()
    await page.locator('input[type="file"]').first.set_input_files(str(clip))
    metric = page.locator('[data-testid="stMetric"]').filter(has_text="Predicted genre")
    await metric.wait_for(timeout=180_000)
    elapsed = time.perf_counter() - start
    text = (await metric.inner_text()).split("\n")[-1].strip().lower()
    await context.close()
    return text, elapsed


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def main(args: argparse.Namespace) -> None:
    from playwright.async_api import async_playwright

    from genre_core.dataset import index_dataset
    from genre_core.inference import ModelZoo

    clips = index_dataset(args.data).clips
    # one clip of each of several genres, so sessions expect different answers
    chosen = [next(c for c in clips if c.genre == g) for g in dict.fromkeys(c.genre for c in clips)][: args.sessions]
    zoo = ModelZoo.load()
    expected = {c.path: zoo.classify(c.path).final.vote_label for c in chosen}

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
        t0 = time.perf_counter()
        server = start_server(port)
        try:
            wait_healthy(url)
            healthy = time.perf_counter() - t0
            genre, _ = await classify_in_browser(browser, url, chosen[0].path)
            cold = time.perf_counter() - t0
            print(f"cold start: healthy after {healthy:.1f} s; first upload answered {cold:.1f} s after "
                  f"`streamlit run` ({genre}, expected {expected[chosen[0].path]})")
            for n in sorted({1, args.sessions}):
                batch = chosen[:n]
                start = time.perf_counter()
                results = await asyncio.gather(*(classify_in_browser(browser, url, c.path) for c in batch))
                wall = time.perf_counter() - start
                correct = sum(r[0] == expected[c.path] for r, c in zip(results, batch))
                latencies = sorted(r[1] for r in results)
                print(f"{n} concurrent sessions: {correct}/{n} answers correct, wall {wall:.1f} s, "
                      f"{n / wall:.2f} classifications/s, upload-to-answer median {latencies[len(latencies) // 2]:.1f} s, "
                      f"max {latencies[-1]:.1f} s")
            alive = server.poll() is None and urllib.request.urlopen(f"{url}/_stcore/health").read() == b"ok"
            print(f"server still healthy: {alive}; peak server memory {peak_rss_mb(server.pid):.0f} MB")
        finally:
            server.terminate()
            server.wait(timeout=30)
            await browser.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="GTZAN-layout folder")
    parser.add_argument("--sessions", type=int, default=4)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    asyncio.run(main(parser.parse_args()))
