"""App-level speed figures in headless Debian Chromium (issue: speed a listener feels). Prints medians.

The browser runs on the same 2 cores as the server here, so browser-measured times include Chromium's
own work (decoding the audio for the player, drawing the charts in software); the classify page also
logs its server-side time from an upload's arrival to the answer and to the page's end, printed too.

    .venv/bin/python bench/app_bench.py --data ../shared/gtzan              # everything (~15 min)
    .venv/bin/python bench/app_bench.py --data ../shared/gtzan --only pages upload

Parts (``--only``):
- cold:     `streamlit run` -> the classify page shows the genre of the first upload.
- pages:    a new browser session opens Classify / Explore / Compare: until the script has finished
            and every chart on the page is drawn; also the bytes the server sent over the websocket.
- upload:   warm server, new session: upload a 30 s clip -> the genre shown, -> every chart drawn;
            the same for a 4-minute song.
- sessions: N sessions upload different clips at the same moment; every answer must equal the
            CLI's for that clip (so no session sees another's upload); p50/p95 upload -> answer.
- soak:     M classifications in a row (a new session each), the server's resident memory sampled
            after each; growth after the warm-up must stay under 10 %. Streamlit keeps a closed tab's
            session for server.disconnectedSessionTTL seconds (120) so a dropped connection can resume,
            so memory rises until the first sessions expire: the warm-up lasts that long (or --warmup
            runs). After the soak the server idles until every session has expired, and is sampled again.
- floor:    the same "new session shows the page" for a bare Streamlit page (title, uploader, one
            line; same config): what Streamlit and the browser cost before any of our code runs.
Loopback only; the server is started fresh for each run.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-quic", "--no-first-run", "--disable-component-update", "--disable-sync"]
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
PAGES = {"Classify": ("", "Upload or record a song"), "Explore": ("explore", "Explore the dataset"),
         "Compare": ("compare", "Compare models")}
# every plotly chart in the DOM has drawn its SVG
CHARTS_DRAWN = """() => { const charts = document.querySelectorAll('[data-testid="stPlotlyChart"]');
  return [...charts].every(c => c.querySelector('.main-svg')); }"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int, log: Path | None = None) -> subprocess.Popen:
    """The app on ``port``; its stderr (with the server-side timing lines) goes to ``log``."""
    err = open(log, "w") if log else subprocess.DEVNULL  # noqa: SIM115 (lives as long as the server)
    return subprocess.Popen([sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.headless", "true",
                             "--server.port", str(port), "--server.address", "127.0.0.1"],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=err)


@contextmanager
def served_app_in_chromium(chromium: str = "/usr/bin/chromium") -> Iterator[tuple[str, object]]:
    """A fresh app server on a free loopback port and headless Chromium: yields (url, browser); stops both."""
    from playwright.sync_api import sync_playwright

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = start_server(port)
    try:
        wait_healthy(url)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            try:
                yield url, browser
            finally:
                browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)


class ServerTimes:
    """The classify page's own timing lines ('answer 0.612 s after ...', 'page ...') from the server log."""

    def __init__(self, log: Path) -> None:
        self.log, self.seen = log, 0

    def new(self) -> dict[str, list[float]]:
        """Seconds logged since the last call, by kind ('answer', 'others', 'page') and, from the answer's
        line, by step ('queued', 'decode', 'models': 'answer 0.612 s after … (queued 0.1 s, decode …)')."""
        lines = self.log.read_text().splitlines()
        fresh, self.seen = lines[self.seen:], len(lines)
        out: dict[str, list[float]] = {k: [] for k in ("answer", "others", "page", "queued", "decode", "models",
                                                         "arrived")}
        for line in fresh:
            parts = line.split("genre_app.timing ")
            if len(parts) == 2 and parts[1].split()[0] in ("answer", "others", "page"):  # 'page 1.2 s after…'
                kind, seconds = parts[1].split()[:2]
                out[kind].append(float(seconds))
                if kind == "answer":  # the clock time the upload reached the script
                    logged = datetime.strptime(parts[0].strip(), "%Y-%m-%d %H:%M:%S,%f").timestamp()
                    out["arrived"].append(logged - float(seconds))
                steps = parts[1].partition("(")[2].rstrip(")")
                for step in steps.split(", ") if kind == "answer" else []:
                    name, _, value = step.rpartition(" ")[0].rpartition(" ")
                    if name in out:
                        out[name].append(float(value))
        return out

    def summary(self, t: dict[str, list[float]] | None = None) -> str:
        t = t or self.new()
        steps = ", ".join(f"{k} {median(t[k]):.2f}/{p95(t[k]):.2f}" for k in ("queued", "decode", "models") if t[k])
        return (f"server side: answer p50 {median(t['answer']):.2f} s, p95 {p95(t['answer']):.2f} s"
                + (f" (p50/p95 s: {steps})" if steps else "")
                + (f"; every model p50 {median(t['others']):.2f} s" if t["others"] else "")
                + f"; page done p50 {median(t['page']):.2f} s")


def wait_healthy(url: str, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("server never became healthy")


def rss_mb(pid: int, field: str = "VmRSS:") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1]) / 1024
    return float("nan")


def session_ttl() -> float:
    """Seconds Streamlit keeps a closed tab's session (server.disconnectedSessionTTL; the app's config or 120)."""
    import tomllib

    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    return float(config.get("server", {}).get("disconnectedSessionTTL", 120))


def cpu_seconds(pids) -> float:
    """CPU seconds (user + system) the processes ``pids`` have used so far (those still running)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:  # it has exited
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def descendants(pid: int) -> set[int]:
    """Every process started, directly or not, by ``pid``."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def cpu_by_side(server_pid: int) -> dict[str, float]:
    """CPU seconds so far of the app server and of the browser (every other process this bench started)."""
    server = {server_pid, *descendants(server_pid)}
    return {"server": cpu_seconds(server), "browser": cpu_seconds(descendants(os.getpid()) - server)}


def timed(work) -> float:
    """Seconds ``work()`` takes."""
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def p95(values: list[float]) -> float:
    return float(np.percentile(values, 95)) if values else float("nan")


async def wait_drawn(page, timeout: float = 180_000) -> None:
    """The script has finished this run and every chart is drawn."""
    await page.locator(IDLE).wait_for(state="attached", timeout=timeout)
    await page.wait_for_function(CHARTS_DRAWN, timeout=timeout)


async def open_page(browser, url: str, name: str) -> tuple[float, int]:
    """A new session opens page ``name``: (seconds until drawn, bytes received over the websocket)."""
    path, marker = PAGES[name]
    context = await browser.new_context(viewport={"width": 1400, "height": 900})
    page = await context.new_page()
    received = [0]
    page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: received.__setitem__(
        0, received[0] + len(payload))))
    start = time.perf_counter()
    await page.goto(f"{url}/{path}")
    await page.get_by_text(marker).first.wait_for(timeout=180_000)
    await wait_drawn(page)
    elapsed = time.perf_counter() - start
    await context.close()
    return elapsed, received[0]


BARE_APP = """import streamlit as st
st.title("Which genre is this song?")
st.file_uploader("Song file")
st.info("Upload or record a song to classify it.")
"""


async def bare_page_floor(browser, repeats: int, folder: Path) -> float:
    """Median seconds for a new session to show a bare Streamlit page served with our config."""
    app = folder / "bare"
    (app / ".streamlit").mkdir(parents=True, exist_ok=True)
    (app / ".streamlit" / "config.toml").write_text((ROOT / ".streamlit" / "config.toml").read_text())
    (app / "streamlit_app.py").write_text(BARE_APP)
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.port", str(port),
                               "--server.address", "127.0.0.1"], cwd=app, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url)
        runs = [(await open_page(browser, url, "Classify"))[0] for _ in range(repeats + 1)]
        return median(runs[1:])  # the first load also warms the server's static file cache
    finally:
        server.terminate()
        server.wait(timeout=30)


async def upload(browser, url: str, clip: Path, answered_at: list | None = None,
                 together: asyncio.Barrier | None = None) -> tuple[str, float, float]:
    """A new session uploads ``clip``: (genre shown, seconds to the answer, seconds to every chart drawn).
    The clock reading when the answer showed is appended to ``answered_at`` if given; with ``together``, the
    upload starts once every session of the barrier has its page ready."""
    context = await browser.new_context(viewport={"width": 1400, "height": 900})
    page = await context.new_page()
    await page.goto(url)
    await page.get_by_text("Upload or record a song").wait_for(timeout=180_000)
    await page.locator(IDLE).wait_for(state="attached", timeout=180_000)
    if together is not None:
        await together.wait()
    start = time.perf_counter()
    await page.locator('input[type="file"]').first.set_input_files(str(clip))
    metric = page.locator('[data-testid="stMetric"]').filter(has_text="Predicted genre")
    await metric.wait_for(timeout=180_000)
    answer = time.perf_counter() - start
    if answered_at is not None:
        answered_at.append(time.perf_counter())
    text = (await metric.inner_text()).split("\n")[-1].strip().lower()
    await page.get_by_text("How every model voted").wait_for(timeout=180_000)
    await wait_drawn(page)
    charts = time.perf_counter() - start
    await context.close()
    return text, answer, charts


def long_song(clips: list[Path], seconds: float, folder: Path) -> Path:
    pieces, total = [], 0
    for clip in clips:
        y, sr = sf.read(clip, dtype="float32")
        pieces.append(y)
        total += len(y)
        if total >= seconds * sr:
            break
    path = folder / f"song_{int(seconds)}s.wav"
    sf.write(path, np.concatenate(pieces)[: int(seconds * sr)], sr, subtype="PCM_16")
    return path


async def main(args: argparse.Namespace) -> None:
    from playwright.async_api import async_playwright

    from genre_core.features.dataset import index_dataset
    from genre_core.outputs.text import genre_name
    from genre_core.serving.zoo import ModelZoo

    only = set(args.only or ["cold", "pages", "upload", "sessions", "soak", "floor"])
    clips = index_dataset(args.data).clips
    by_genre: dict[str, list[Path]] = {}
    for c in clips:
        by_genre.setdefault(c.genre, []).append(c.path)
    # one clip of each genre first, then more: sessions and the soak expect different answers
    order = [paths[i] for i in range(max(map(len, by_genre.values()))) for paths in by_genre.values() if i < len(paths)]
    zoo = ModelZoo.load()
    expected: dict[Path, str] = {}

    def cli_answer(path: Path) -> str:
        """The CLI's genre for ``path``, spelled as the page shows it (lower case: 'hip-hop')."""
        if path not in expected:
            expected[path] = genre_name(zoo.classify(path).final.vote_label).lower()
        return expected[path]

    tmp = Path(tempfile.mkdtemp())
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
        t0 = time.perf_counter()
        server = start_server(port, tmp / "server.log")
        times = ServerTimes(tmp / "server.log")
        try:
            wait_healthy(url)
            healthy = time.perf_counter() - t0
            answered_at: list[float] = []
            genre, answer, charts = await upload(browser, url, order[0], answered_at)
            first = times.summary()
            if "cold" in only:
                print(f"cold start: healthy {healthy:.1f} s; first upload answered {answered_at[0] - t0:.1f} s after "
                      f"`streamlit run`, every chart {time.perf_counter() - t0:.1f} s (upload -> answer {answer:.1f} s, "
                      f"-> every chart {charts:.1f} s; {genre}, CLI {cli_answer(order[0])}); first upload's {first}")
            if "pages" in only:
                for name in PAGES:
                    runs = [await open_page(browser, url, name) for _ in range(args.repeats)]
                    print(f"new session opens {name:<8}: median {median([r[0] for r in runs]):.2f} s "
                          f"(of {len(runs)}), {runs[0][1] / 1e6:.2f} MB over the websocket")
            if "upload" in only:
                song = long_song(order, 240, tmp)
                for label, clip in (("30 s clip", order[1]), ("4-minute song", song)):
                    times.new()
                    runs = [await upload(browser, url, clip) for _ in range(args.repeats)]
                    print(f"warm upload of a {label}: answer median {median([r[1] for r in runs]):.2f} s, every chart "
                          f"{median([r[2] for r in runs]):.2f} s (of {len(runs)}; {runs[0][0]}, CLI {cli_answer(clip)}); "
                          + times.summary())
            if "sessions" in only:
                batch = order[: args.sessions]
                # the floor at this moment's load: one answer alone (decode + the answer's models), in this process
                alone = median([timed(lambda c=c: zoo.classify(c, models=zoo.answer_models)) for c in batch[:3]])
                print(f"one answer alone just before (decode + the answer's models, median of 3): {alone:.2f} s, "
                      f"so {len(batch)} one after another take {len(batch) * alone:.1f} s")
                times.new()
                answered: list[float] = []
                upload_clock: list[float] = []
                cpu: list[dict[str, float]] = []
                together = asyncio.Barrier(len(batch) + 1)  # every page ready, then all upload at once

                async def cpu_until_the_last_answer() -> float:
                    await together.wait()
                    cpu.append(cpu_by_side(server.pid))
                    uploaded = time.perf_counter()
                    upload_clock.append(time.time())
                    while len(answered) < len(batch):
                        await asyncio.sleep(0.05)
                    cpu.append(cpu_by_side(server.pid))
                    return max(answered) - uploaded

                start = time.perf_counter()
                *results, until = await asyncio.gather(*(upload(browser, url, c, answered, together) for c in batch),
                                                       cpu_until_the_last_answer())
                wall = time.perf_counter() - start
                correct = sum(r[0] == cli_answer(c) for r, c in zip(results, batch))
                answers = [r[1] for r in results]
                logged = times.new()
                print(f"{len(batch)} concurrent sessions, different clips: {correct}/{len(batch)} answers equal the CLI's; "
                      f"upload -> answer p50 {median(answers):.1f} s, p95 {p95(answers):.1f} s (each: "
                      f"{', '.join(f'{a:.1f}' for a in sorted(answers))}); wall {wall:.1f} s; " + times.summary(logged))
                reached = sorted(a - upload_clock[0] for a in logged["arrived"])
                if reached:
                    print(f"the uploads reached the page's script {reached[0]:.1f}–{reached[-1]:.1f} s after they began "
                          f"(browser upload, websocket, the script's first lines)")
                used = {side: cpu[1][side] - cpu[0][side] for side in cpu[0]}
                cores = os.cpu_count()
                print(f"CPU from the uploads to the last answer ({until:.1f} s, {cores * until:.1f} core-s on {cores} "
                      f"cores): app server {used['server']:.1f} core-s, browser (Chromium, Playwright) "
                      f"{used['browser']:.1f} core-s, the rest other processes or idle; load average then "
                      f"{os.getloadavg()[0]:.1f}")
            if "soak" in only:
                times.new()
                samples, correct, answer_times, finished = [], 0, [], []
                soak_start = time.perf_counter()
                for i in range(args.soak):
                    clip = order[i % len(order)]
                    genre, answer, _ = await upload(browser, url, clip)
                    correct += genre == cli_answer(clip)
                    answer_times.append(answer)
                    samples.append(rss_mb(server.pid))
                    finished.append(time.perf_counter() - soak_start)
                ttl = session_ttl()
                # warm-up: until the first closed sessions expire (memory has reached its plateau)
                warmup = args.warmup or next((i + 1 for i, t in enumerate(finished) if t > ttl), len(samples))
                if args.trace:  # the memory trace, to tell a slow climb from a plateau's jitter
                    Path(args.trace).write_text("run,rss_mb,upload_to_answer_s,seconds\n" + "".join(
                        f"{i + 1},{m:.1f},{a:.3f},{t:.1f}\n"
                        for i, (m, a, t) in enumerate(zip(samples, answer_times, finished))))
                warm = samples[min(warmup, len(samples)) - 1]
                growth = max(samples[warmup:] or [warm]) / warm - 1
                print(f"{args.soak} classifications in a row (a new session each): {correct}/{args.soak} equal the CLI's; "
                      f"server memory after the warm-up ({warmup} runs, {finished[warmup - 1]:.0f} s; closed sessions "
                      f"are kept {ttl:.0f} s) {warm:.0f} MB, max after {max(samples[warmup:] or [warm]):.0f} MB, "
                      f"last {samples[-1]:.0f} MB: growth after warm-up {growth:+.1%} (limit +10 %); "
                      f"upload -> answer p50 {median(answer_times):.2f} s, p95 {p95(answer_times):.2f} s; "
                      + times.summary())
                await asyncio.sleep(ttl + 20)  # every closed session expires; what stays is the server's own
                # Streamlit drops expired sessions when its session store next changes: one more visit does it
                await open_page(browser, url, "Compare")
                await asyncio.sleep(2)  # the disconnect reaches the server
                print(f"after {ttl + 20:.0f} s idle and one more visit (every session of the soak expired): "
                      f"{rss_mb(server.pid):.0f} MB (after the first classification: {samples[0]:.0f} MB)")
            if "floor" in only:
                print(f"floor: a new session shows a bare Streamlit page in "
                      f"{await bare_page_floor(browser, args.repeats, tmp):.2f} s (median of {args.repeats})")
            alive = server.poll() is None and urllib.request.urlopen(f"{url}/_stcore/health").read() == b"ok"
            print(f"server still healthy: {alive}; peak server memory {rss_mb(server.pid, 'VmHWM:'):.0f} MB; "
                  f"its log: {tmp / 'server.log'}")
        finally:
            server.terminate()
            server.wait(timeout=30)
            await browser.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="GTZAN-layout folder")
    parser.add_argument("--only", nargs="*", help="cold, pages, upload, sessions, soak, floor")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--soak", type=int, default=200)
    parser.add_argument("--warmup", type=int, help="runs of warm-up (default: until closed sessions expire)")
    parser.add_argument("--trace", help="CSV file for the soak's per-run server memory")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    asyncio.run(main(parser.parse_args()))
