"""A classification to take away: a JSON summary and a self-contained HTML report (charts as PNG images).

The same summary feeds `predict --json`, `predict --report` and the classify page's download buttons,
so the three never disagree. Charts are drawn with matplotlib (no browser needed) in the app's
colour-blind-safe genre palette; the HTML has no scripts and no external requests.
"""
from __future__ import annotations

import base64
import html
import io
import json
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from genre_core import __version__
from genre_core.features.config import DEFAULT_FEATURES
from genre_core.outputs.palette import GENRE_COLORS
from genre_core.outputs.plots import round_hz_rows
from genre_core.outputs.text import answer_source, genre_name, percent
from genre_core.serving.zoo import Classification, ModelZoo


def model_versions(zoo: ModelZoo) -> dict[str, dict]:
    """Every model behind a result: its title, when it was trained and the start of its weights' sha256."""
    versions = {name: {"title": m.config.get("title", name), "created": m.config.get("created"),
                       "weights_sha256": (m.config.get("weights_sha256") or "")[:12] or None}
                for name, m in zoo.models.items()}
    if zoo.tagger is not None:
        provenance = zoo.tagger.config.get("provenance", {})
        versions[zoo.tagger.name] = {"title": zoo.tagger.config.get("title"), "created": None,
                                     "weights_sha256": (provenance.get("weights_sha256") or "")[:12] or None,
                                     "backend": zoo.tagger.backend, "graph": zoo.tagger.graph}
    if zoo.headline is not None:
        versions["headline"] = {"title": f"headline rule: {zoo.headline.rule} of {', '.join(zoo.headline.members)}"}
    return versions


def summarize(result: Classification, zoo: ModelZoo, file_name: str) -> dict:
    """JSON-ready description of one classification: answer, probabilities, votes, tags, timeline, versions."""
    final = result.final
    genre = final.vote_label
    clip = result.clip
    summary: dict = {
        "file": file_name,
        "duration_s": round(clip.duration, 2),
        "original_sample_rate": clip.original_sample_rate,
        "original_channels": clip.original_channels,
        "genre": genre,
        "probability": round(float(final.probabilities[final.labels.index(genre)]), 6),
        "answer_from": final.model,
        "answer_source": answer_source(zoo, final),
        "probabilities": {g: round(float(p), 6) for g, p in zip(final.labels, final.probabilities)},
        "top3": [[g, round(p, 6)] for g, p in final.top(3)],
        "warnings": list(result.warnings),
        "models": {n: {"genre": p.mean_label, "vote": p.vote_label, "probability": round(float(p.probabilities.max()), 4)}
                   for n, p in result.predictions.items()},
        "failures": dict(result.failures),
        "agreeing_models": result.agreeing,
        "timeline": [{"start_s": round(float(t[0]), 2), "end_s": round(float(t[1]), 2),
                      "genre": final.labels[int(np.argmax(p))], "probability": round(float(np.max(p)), 4)}
                     for t, p in zip(final.window_times if final.window_times is not None else [],
                                     final.window_probabilities if final.window_probabilities is not None else [])],
    }
    if result.ensemble is not None:
        summary["ensemble"] = {"genre": result.ensemble.vote_label, "members": list(zoo.ensemble_members)}
    if result.verdict is not None:
        v = result.verdict
        summary["state"] = {"state": v.state, "summary": v.headline,
                            "sections": [{"start_s": s.start, "end_s": s.end, "genre": s.genre} for s in v.sections]}
    tagged = result.tags(zoo.tagger)
    if tagged is not None:
        mean = tagged.mean_tags()
        summary["tags"] = [[zoo.tagger.tags[i], round(float(mean[i]), 4)] for i in np.argsort(mean)[::-1][:10]]
        summary["patches_heard"] = {"heard": len(tagged.tags), "in_song": tagged.total_patches or len(tagged.tags)}
    summary["model_versions"] = model_versions(zoo)
    summary["genre_core_version"] = __version__
    summary["created"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return summary


def _png(fig) -> str:
    """A matplotlib figure as a base64 PNG (closed afterwards)."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def report_images(result: Classification, zoo: ModelZoo) -> dict[str, str]:
    """Base64 PNGs of the result's charts: probabilities, tags, timeline, mel spectrogram."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    images: dict[str, str] = {}
    final = result.final
    order = np.argsort(final.probabilities)
    fig, ax = plt.subplots(figsize=(6, 3.6))
    ax.barh([genre_name(final.labels[i]) for i in order], final.probabilities[order] * 100,
            color=[GENRE_COLORS.get(final.labels[i], "#777") for i in order])
    for y, i in enumerate(order):
        ax.text(final.probabilities[i] * 100 + 1, y, percent(final.probabilities[i]), va="center", fontsize=9)
    ax.set_xlim(0, 110)
    ax.set_xlabel("probability (%)")
    ax.set_title("Genre probabilities")
    images["probabilities"] = _png(fig)
    tagged = result.tags(zoo.tagger)
    if tagged is not None:
        mean = tagged.mean_tags()
        top = np.argsort(mean)[::-1][:10][::-1]
        fig, ax = plt.subplots(figsize=(6, 3.6))
        ax.barh([zoo.tagger.tags[i] for i in top], mean[top] * 100, color="#3f90da")
        ax.set_xlim(0, 100)
        ax.set_xlabel("tag probability (%)")
        ax.set_title("What the pretrained tagger hears")
        images["tags"] = _png(fig)
    if final.window_probabilities is not None and len(final.window_probabilities) > 1:
        centres = final.window_times.mean(axis=1)
        fig, ax = plt.subplots(figsize=(10, 3.2))
        ax.stackplot(centres, (final.window_probabilities * 100).T, labels=[genre_name(g) for g in final.labels],
                     colors=[GENRE_COLORS.get(g, "#777") for g in final.labels])
        ax.set_ylim(0, 100)
        ax.set_xlabel("time (s)")
        ax.set_ylabel("probability (%)")
        ax.set_title("Genre along the song")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
        images["timeline"] = _png(fig)
    mel = result.analysis.image(DEFAULT_FEATURES, "mel")
    fig, ax = plt.subplots(figsize=(10, 3.2))
    ax.imshow(mel, origin="lower", aspect="auto", cmap="magma",
              extent=(0, mel.shape[1] * DEFAULT_FEATURES.seconds_per_frame, 0, mel.shape[0]),
              vmin=float(np.percentile(mel, 2)), vmax=float(mel.max()))
    rows, texts = round_hz_rows(mel.shape[0], DEFAULT_FEATURES.sample_rate)
    ax.set_yticks([r + 0.5 for r in rows], texts)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("frequency (Hz)")
    ax.set_title("Mel spectrogram (dB)")
    images["mel"] = _png(fig)
    return images


def _table(rows: list[list], header: list[str]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def report_html(summary: dict, images: dict[str, str]) -> str:
    """Self-contained HTML: inline CSS, charts as data-URI PNGs with text alternatives, no scripts."""
    s = summary
    e = html.escape
    state = s.get("state", {})
    probs = sorted(s["probabilities"].items(), key=lambda kv: -kv[1])
    alt = {
        "probabilities": "Bar chart of genre probabilities: " + ", ".join(f"{genre_name(g)} {percent(p)}" for g, p in probs[:5]) + ".",
        "tags": "Bar chart of the tagger's top tags: " + ", ".join(f"{t} {p:.0%}" for t, p in s.get("tags", [])[:5]) + ".",
        "timeline": f"Stacked area chart of genre probabilities along the song ({len(s['timeline'])} windows).",
        "mel": "Mel spectrogram of the song: time across, frequency up, loudness as colour.",
    }
    figures = "".join(f'<figure><img src="data:image/png;base64,{images[k]}" alt="{e(alt[k])}">'
                      f"<figcaption>{e(alt[k])}</figcaption></figure>" for k in ("probabilities", "tags", "timeline", "mel")
                      if k in images)
    votes = [[n, genre_name(v["genre"]), percent(v["probability"]), s["model_versions"].get(n, {}).get("title", "")]
             for n, v in s["models"].items()]
    timeline = [[f"{w['start_s']:.1f}–{w['end_s']:.1f} s", genre_name(w["genre"]), f"{w['probability']:.0%}"]
                for w in s["timeline"]]
    versions = [[n, v.get("title") or "", v.get("created") or "", v.get("weights_sha256") or ""]
                for n, v in s["model_versions"].items()]
    warnings = "".join(f"<p class='warn'>{e(w)}</p>" for w in s["warnings"])
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Genre report: {e(s['file'])}</title>
<style>
body{{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#1c1e21}}
h1{{font-size:1.6em}} .answer{{font-size:2.2em;font-weight:700}} .warn{{background:#fff4d6;padding:.5em}}
table{{border-collapse:collapse;margin:.5em 0 1.5em}} td,th{{border:1px solid #ccc;padding:.25em .6em;text-align:left}}
figure{{margin:1em 0}} img{{max-width:100%}} figcaption{{font-size:.85em;color:#555}}
@media (prefers-color-scheme: dark){{body{{background:#0e1117;color:#fafafa}} figcaption{{color:#aaa}}
.warn{{background:#3a3000}} img{{background:#fff}}}}
</style></head><body>
<h1>Genre report: {e(s['file'])}</h1>
<p class="answer">{e(genre_name(s['genre']).capitalize())}: {e(percent(s['probability']))}</p>
<p>{e(state.get('summary', '')) if state.get('state', 'confident') != 'confident' else ''}
{s['agreeing_models']} of {len(s['models'])} models agree. {e(s.get('answer_source', ''))} {s['duration_s']:.1f} s of audio (originally {s['original_sample_rate']} Hz,
{s['original_channels']} channel(s)). Created {e(s['created'])} with genre_core {e(s['genre_core_version'])}.</p>
{warnings}
<h2>Genre probabilities</h2>{_table([[genre_name(g), percent(p)] for g, p in probs], ['genre', 'probability'])}
<h2>Tags the pretrained network hears</h2>{_table([[t, f'{p:.0%}'] for t, p in s.get('tags', [])], ['tag', 'probability'])}
<h2>Charts</h2>{figures}
<h2>How every model voted</h2>{_table(votes, ['model', 'answer', 'probability', 'title'])}
<h2>Timeline</h2>{_table(timeline, ['time', 'genre', 'probability'])}
<h2>Model versions</h2>{_table(versions, ['model', 'title', 'trained', 'weights sha256'])}
</body></html>
"""


def write_report(result: Classification, zoo: ModelZoo, file_name: str, path: str | Path) -> tuple[Path, Path]:
    """Write ``path`` (HTML) and the same name with ``.json``; returns both paths."""
    path = Path(path)
    summary = summarize(result, zoo, file_name)
    path.write_text(report_html(summary, report_images(result, zoo)), encoding="utf-8")
    json_path = path.with_suffix(".json")
    json_path.write_text(json.dumps(summary, indent=2), encoding="utf-8")
    return path, json_path


__all__ = ["summarize", "report_html", "report_images", "write_report", "model_versions"]
