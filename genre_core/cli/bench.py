"""Speed figures printed by `python -m genre_core bench` (see BENCHMARKS.md).

Latency is measured from the file on disk to every model's answer plus the ensemble, with models
already loaded; the baseline does the same work the way the reference write-ups do (librosa
features per window, one model call per window), in the same run.
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Hashable
from pathlib import Path

import librosa
import numpy as np
import soundfile as sf
import torch

from genre_core.audio.decode import AudioClip
from genre_core.features.config import DEFAULT_FEATURES, GENRES, FeatureConfig
from genre_core.features.dataset import FeatureCache, default_data_dir, index_dataset
from genre_core.features.spectral import (
    compute_clip_features,
    frame_rms,
    spectral_shape,
    window_starts,
    zero_crossing_rate,
)
from genre_core.models.musicnn import OnnxNetwork, load_tagger, spread_patches
from genre_core.models.predict import ClipAnalysis, ensemble_prediction, predict_with
from genre_core.serving.zoo import ModelZoo, headline_prediction


def _median_ms(fn, repeats: int) -> tuple[float, list[float]]:
    fn()  # warm-up: first calls pay for lazy imports and allocator growth
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), times


def _interleaved_ms(fns: dict[Hashable, Callable[[], object]], repeats: int, warm_up: bool = True) -> list[float]:
    """Median ms of each function, run in turn within each repeat (so a drifting machine weighs on all alike);
    ``warm_up``: run each once first, untimed (off when the caller already did)."""
    times: dict[Hashable, list[float]] = {name: [] for name in fns}
    for fn in fns.values() if warm_up else ():
        fn()
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append((time.perf_counter() - start) * 1000)
    return [statistics.median(t) for t in times.values()]


def features_before(samples: np.ndarray, cfg: FeatureConfig) -> None:
    """The features of every model as computed before issue 25 (commit 1d5015d), kept as the baseline:
    librosa's STFT of the whole song, all three images over every frame, and the handcrafted summary
    with its own mel power and dB conversions (its roll-off is today's, a little faster than then)."""
    power = (np.abs(librosa.stft(samples, n_fft=cfg.n_fft, hop_length=cfg.hop_length, center=True)) ** 2
             ).astype(np.float32)
    compute_clip_features(samples, cfg, ("spectrogram", "mel", "mfcc"), power)
    sr = cfg.sample_rate
    mel = librosa.filters.mel(sr=sr, n_fft=cfg.n_fft, n_mels=cfg.n_mels).astype(np.float32) @ power
    per_frame = [librosa.feature.chroma_stft(S=power, sr=sr, tuning=0.0), frame_rms(samples, cfg),
                 *spectral_shape(np.sqrt(power), sr, cfg.n_fft), zero_crossing_rate(samples, cfg.n_fft, cfg.hop_length)]
    [(float(m.mean()), float(m.var())) for m in per_frame]
    onset_env = librosa.onset.onset_strength(S=librosa.power_to_db(mel), sr=sr)
    librosa.feature.tempo(onset_envelope=onset_env, sr=sr, hop_length=cfg.hop_length)
    librosa.feature.mfcc(S=librosa.power_to_db(mel), n_mfcc=20)


def reference_style(path: Path, zoo: ModelZoo) -> str:
    """The write-ups' way: librosa.load, then per window and per model its own librosa features
    and a model call with a batch of one. Returns the ensemble's genre."""
    predictions = []
    for model in zoo.models.values():
        cfg = model.feature_config
        y, _ = librosa.load(path, sr=cfg.sample_rate)
        if model.kind in ("svm", "transfer"):  # clip-level decisions: nothing per window to do differently
            pred = predict_with(model, ClipAnalysis(AudioClip(y, cfg.sample_rate, cfg.sample_rate, 1)))
            predictions.append((pred.probabilities, GENRES.index(pred.vote_label)))
            continue
        step = int(cfg.window_samples * (1 - cfg.overlap))
        window_probs = []
        for start in range(0, len(y) - cfg.window_samples + 1, step):
            segment = y[start : start + cfg.window_samples]
            mel = librosa.feature.melspectrogram(y=segment, sr=cfg.sample_rate, n_fft=cfg.n_fft,
                                                 hop_length=cfg.hop_length, n_mels=cfg.n_mels)
            if model.representation == "spectrogram":
                image = librosa.power_to_db(np.abs(librosa.stft(segment, n_fft=cfg.n_fft, hop_length=cfg.hop_length)) ** 2,
                                            top_db=None, amin=1e-10)
            elif model.representation == "mfcc":
                image = librosa.feature.mfcc(S=librosa.power_to_db(mel, top_db=None, amin=1e-10), n_mfcc=cfg.n_mfcc)
            else:
                image = librosa.power_to_db(mel, top_db=None, amin=1e-10)
            x = torch.from_numpy(model.normalize(image.astype(np.float32))[None, None])
            with torch.inference_mode():
                window_probs.append(torch.softmax(model.network(x), 1)[0].numpy())
        probs = np.mean(window_probs, axis=0)
        predictions.append((probs, int(np.bincount(np.argmax(window_probs, 1), minlength=len(GENRES)).argmax())))
    votes = np.bincount([label for _, label in predictions], minlength=len(GENRES))
    return GENRES[int(votes.argmax())]


def _song(data_dir: Path | None, seconds: float, folder: Path) -> Path:
    """A WAV of ``seconds`` made of GTZAN clips back to back (a chirp mix if no data)."""
    path = folder / f"song_{int(seconds)}s.wav"
    if data_dir is not None:
        clips = index_dataset(data_dir).clips
        pieces, total = [], 0
        for clip in clips[:: max(1, len(clips) // 12)]:
            y, _ = sf.read(clip.path, dtype="float32")
            pieces.append(y)
            total += len(y)
            if total >= seconds * 22050:
                break
        audio = np.concatenate(pieces)[: int(seconds * 22050)]
    else:
        t = np.arange(int(seconds * 22050)) / 22050
        audio = (0.3 * np.sin(2 * np.pi * (220 + 40 * np.sin(t)) * t)).astype(np.float32)
    sf.write(path, audio, 22050, subtype="PCM_16")
    return path


def bench_latency(zoo: ModelZoo, data_dir: Path | None, repeats: int, baseline: bool = True) -> None:
    tagger = zoo.tagger
    print(f"\n## Latency (models loaded; {len(zoo.models)} models + ensemble; torch threads {torch.get_num_threads()}; "
          f"tagger on {tagger.backend if tagger else '-'}, at most {zoo.max_patches} patches per song)")
    with tempfile.TemporaryDirectory() as tmp:
        for seconds in (30, 240):
            path = _song(data_dir, seconds, Path(tmp))
            ours, _ = _median_ms(lambda: zoo.classify(path), repeats)
            result = zoo.classify(path)
            print(f"{seconds:>4} s file: ours {ours:8.1f} ms (median of {repeats})  -> {result.final.vote_label}")
            answer, _ = _median_ms(lambda: zoo.classify(path, models=zoo.answer_models), repeats)
            print(f"{'':>11} the answer alone ({', '.join(zoo.answer_models)}; headline + state): {answer:8.1f} ms")
            stages = _stages(zoo, path, repeats)
            print("        stages: " + ", ".join(f"{k} {v:.3f}" if k.endswith("/ before") else f"{k} {v:.1f} ms"
                                          for k, v in stages.items()))
            if not baseline:
                continue
            base_repeats = max(1, repeats // 3) if seconds > 60 else repeats
            base, _ = _median_ms(lambda: reference_style(path, zoo), base_repeats)
            print(f"{'':>11} baseline {base:8.1f} ms (median of {base_repeats}, per-window librosa + per-window model "
                  f"calls) -> {reference_style(path, zoo)}")
            print(f"{'':>11} ours / baseline = {ours / base:.3f}  ({base / ours:.1f}x faster)")


def _stages(zoo: ModelZoo, path: Path, repeats: int) -> dict[str, float]:
    """Median time of each step of one classification."""
    from genre_core.audio.decode import load_audio

    out = {"decode+resample": _median_ms(lambda: load_audio(path, zoo.sample_rate), repeats)[0]}
    clip = load_audio(path, zoo.sample_rate)
    cfg = next(iter(zoo.models.values())).feature_config

    def features():  # what the models read: three images of the windows heard + the handcrafted summary
        a = ClipAnalysis(clip, zoo.max_patches)
        for representation in ("spectrogram", "mel", "mfcc"):
            a.windows(cfg, representation)
        a.handcrafted(cfg)
    heard = ClipAnalysis(clip, zoo.max_patches).windows(cfg, "mel")[0]
    total = len(window_starts(1 + len(clip.samples) // cfg.hop_length, cfg))
    before, ours = _interleaved_ms({"before": lambda: features_before(clip.samples, cfg), "ours": features}, repeats)
    out["features before (every frame of the song, 1d5015d's way)"] = before
    out[f"features (the {len(heard)} of {total} windows heard)"] = ours
    out["features ours / before"] = ours / before
    analysis = ClipAnalysis(clip, zoo.max_patches)  # features computed once, then each model timed on its own
    for representation in ("spectrogram", "mel", "mfcc"):
        analysis.windows(cfg, representation)
    analysis.handcrafted(cfg)
    tagger = zoo.tagger
    if tagger is not None:  # the pretrained network, stage by stage (its output is then shared by its heads)
        rate = tagger.front_end.sample_rate
        resample = lambda: librosa.resample(clip.samples, orig_sr=clip.sample_rate, target_sr=rate,  # noqa: E731
                                            res_type="soxr_hq")
        out["musicnn resample to 16 kHz"] = _median_ms(resample, repeats)[0]
        samples = resample()
        out["musicnn front end"] = _median_ms(lambda: tagger.patches(samples), repeats)[0]
        patches = tagger.patches(samples)
        heard = patches[spread_patches(len(patches), zoo.max_patches)]
        out[f"musicnn network on {tagger.backend} ({len(heard)} of {len(patches)} patches)"] = _median_ms(
            lambda: tagger.run(heard), repeats)[0]
        if tagger.backend != "torch":
            with_torch = load_tagger(tagger.folder, backend="torch")
            out["… the same on torch"] = _median_ms(lambda: with_torch.run(heard), repeats)[0]
        out[f"… every patch ({len(patches)}) on {tagger.backend}"] = _median_ms(lambda: tagger.run(patches),
                                                                               max(1, repeats // 2))[0]
        analysis.tagger_output(tagger)
    for name, model in zoo.models.items():
        label = f"{name} (head)" if model.kind == "transfer" else name
        out[label] = _median_ms(lambda m=model: predict_with(m, analysis), repeats)[0]
    preds = {n: predict_with(m, analysis) for n, m in zoo.models.items()}
    out["ensemble"] = _median_ms(lambda: ensemble_prediction(list(preds.values())), repeats)[0]
    if zoo.headline is not None:
        out["headline rule"] = _median_ms(lambda: headline_prediction(zoo.headline, preds), repeats)[0]
    return out


def bench_profile(zoo: ModelZoo, data_dir: Path | None, seconds: float = 240, lines: int = 15) -> None:
    """cProfile of every model on a ``seconds`` file (models loaded and warmed up): the top lines by own time."""
    import cProfile
    import io
    import pstats

    with tempfile.TemporaryDirectory() as tmp:
        path = _song(data_dir, seconds, Path(tmp))
        zoo.classify(path)
        profiler = cProfile.Profile()
        profiler.runcall(zoo.classify, path)
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).strip_dirs().sort_stats("tottime").print_stats(lines)
    print(f"\n## Profile: every model on a {seconds:.0f} s file (top {lines} by own time)")
    print("\n".join(line for line in text.getvalue().splitlines() if line.strip())[-4000:])


def bench_sampling(zoo: ModelZoo, data_dir: Path, patches_per_song: int = 80) -> None:
    """How much hearing a long song at ``zoo.max_patches`` spread patches changes the answer.

    Songs of 80 patches (4 minutes) are built from the cached embeddings of 8 clips in a row: of one
    genre (one style throughout) and of mixed genres (a hard case: the sample may miss a section).
    The headline transfer model's answer from the spread patches is compared with the one from all.
    """
    from genre_core.features.dataset import default_cache_dir
    from genre_core.models.embeddings import EmbeddingCache, clip_probabilities

    model = next((m for m in zoo.models.values() if m.kind == "transfer"), None)
    if model is None or zoo.max_patches is None:
        return
    index = index_dataset(data_dir)
    cache = EmbeddingCache(default_cache_dir() / "embeddings", model.tagger)
    embeddings = cache.patch_embeddings(index, model.head_input, progress=False)
    per_clip = {c.clip_id: e for c, e in zip(index.clips, embeddings)}
    rng = np.random.default_rng(0)
    songs: dict[str, list[np.ndarray]] = {"one genre": [], "mixed genres": []}
    for genre in GENRES:
        ids = [c.clip_id for c in index.clips if c.genre == genre]
        for start in range(0, len(ids) - 7, 8):
            songs["one genre"].append(np.concatenate([per_clip[i] for i in ids[start:start + 8]]))
    all_ids = [c.clip_id for c in index.clips]
    for _ in range(len(songs["one genre"])):
        songs["mixed genres"].append(np.concatenate([per_clip[i] for i in rng.choice(all_ids, 8, replace=False)]))
    print(f"\n## Long songs heard at {zoo.max_patches} spread patches instead of every 3 s ({model.name})")
    for kind, items in songs.items():
        agree, gaps = 0, []
        for song in items:
            song = song[:patches_per_song]
            full, _ = clip_probabilities(model.svm, song, len(model.labels))
            part, _ = clip_probabilities(model.svm, song[spread_patches(len(song), zoo.max_patches)], len(model.labels))
            agree += int(np.argmax(full) == np.argmax(part))
            gaps.append(float(np.abs(full - part).max()))
        print(f"{kind:>13}: {len(items)} songs of {patches_per_song} patches; same genre {agree}/{len(items)}, "
              f"max |Δ probability| median {np.median(gaps):.3f}, max {np.max(gaps):.3f}")


def bench_window_sampling(zoo: ModelZoo, data_dir: Path, per_genre: int = 3, clips_per_song: int = 8) -> None:
    """How much hearing a long song at ``zoo.max_patches`` spread windows changes each window model's answer.

    Songs of ``clips_per_song`` GTZAN clips back to back (~4 minutes): of one genre and of mixed genres.
    Each window model's answer (its mean window probability) from the spread windows is compared with
    the one from every window of the song, and so is the SVM's from the handcrafted summary of those windows.
    """
    from genre_core.audio.decode import load_audio

    index = index_dataset(data_dir)
    rng = np.random.default_rng(0)
    by_genre = {g: [c for c in index.clips if c.genre == g] for g in GENRES}
    songs: dict[str, list[list]] = {"one genre": [], "mixed genres": []}
    for clips in by_genre.values():
        for start in range(0, min(len(clips) - clips_per_song + 1, per_genre * clips_per_song), clips_per_song):
            songs["one genre"].append(clips[start:start + clips_per_song])
    for _ in range(len(songs["one genre"])):
        songs["mixed genres"].append(list(rng.choice(index.clips, clips_per_song, replace=False)))
    models = {n: m for n, m in zoo.models.items() if m.kind in ("torch", "svm")}
    print(f"\n## Long songs heard at {zoo.max_patches} spread windows instead of every window (window models, SVM)")
    for kind, items in songs.items():
        agree = {n: 0 for n in models}
        gaps: dict[str, list[float]] = {n: [] for n in models}
        for clips in items:
            samples = np.concatenate([load_audio(c.path, zoo.sample_rate).samples for c in clips])
            clip = AudioClip(samples, zoo.sample_rate, zoo.sample_rate, 1)
            every, heard = ClipAnalysis(clip), ClipAnalysis(clip, zoo.max_patches)
            for name, model in models.items():
                full, part = predict_with(model, every), predict_with(model, heard)
                agree[name] += int(full.mean_label == part.mean_label)
                gaps[name].append(float(np.abs(full.probabilities - part.probabilities).max()))
        print(f"{kind:>13}: {len(items)} songs of {clips_per_song} clips; same genre as from every window: " + ", ".join(
            f"{n} {agree[n]}/{len(items)} (max |Δp| median {np.median(gaps[n]):.3f})" for n in models))


def bench_features(data_dir: Path) -> None:
    index = index_dataset(data_dir)
    n = len(index.clips)
    print(f"\n## Feature extraction over {n} clips (all three images + handcrafted per clip)")
    with tempfile.TemporaryDirectory() as tmp:
        for label in ("cold cache", "warm cache"):
            cache = FeatureCache(tmp, DEFAULT_FEATURES)
            start = time.perf_counter()
            for clip in index.clips:
                for kind in ("spectrogram", "mel", "mfcc", "handcrafted"):
                    cache.get(clip, kind)
            seconds = time.perf_counter() - start
            print(f"{label:>10}: {seconds:6.1f} s, {n / seconds:6.2f} clips/s; full GTZAN (1000 clips) "
                  f"extrapolated: {1000 / (n / seconds):6.0f} s")


def bench_training(models_dir: Path) -> None:
    from genre_core.models.artifacts import TRAINED_KINDS
    from genre_core.outputs.catalog import fold_epochs, history, metrics_table

    print("\n## Training cost (measured while training, from each model's history.csv and metrics.json)")
    table = metrics_table(models_dir)
    for row in table.itertuples():
        if row.kind not in TRAINED_KINDS:
            continue
        frame = history(models_dir, row.model)
        if frame.empty:
            print(f"{row.model:<22} no epochs; whole k-fold + final fit {row.training_s:7.0f} s")
            continue
        per_epoch = frame["seconds"].median()
        epochs = fold_epochs(frame).groupby("fold")["epoch"].max().median()
        # the epochs' own seconds add up across resumed runs; training_seconds counts the last process only
        print(f"{row.model:<22} {per_epoch:5.1f} s/epoch, {epochs:4.0f} epochs per fold (early stopping), "
              f"{len(frame)} epochs in all (5-fold + artist run + final fit) = {frame['seconds'].sum():7.0f} s")


def bench_memory(zoo_dir: Path, data_dir: Path | None) -> None:
    """Peak resident memory of a fresh process that loads every model and classifies a 4-minute song."""
    import subprocess
    import sys

    print("\n## Peak memory (fresh processes, ru_maxrss)")
    code = ("import resource,sys,tempfile;from pathlib import Path;from genre_core.serving.zoo import ModelZoo;"
            "from genre_core.cli.bench import _song;z=ModelZoo.load(sys.argv[1]);d=Path(tempfile.mkdtemp());"
            "z.classify(_song(Path(sys.argv[2]) if sys.argv[2] else None,240,d));"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
    out = subprocess.run([sys.executable, "-c", code, str(zoo_dir), str(data_dir or "")], capture_output=True, text=True)
    print(f"inference (all models, 4-minute song): {int(out.stdout.strip() or 0) / 1024:7.0f} MB")
    if data_dir is not None:
        code = ("import resource,sys;from dataclasses import replace;from genre_core.features.dataset import *;"
                "from genre_core.features.config import DEFAULT_FEATURES as C;"
                "import numpy as np;idx=index_dataset(sys.argv[1]);cache=FeatureCache(default_cache_dir(),C);"
                "imgs=[cache.get(c,'spectrogram') for c in idx.clips];y=idx.labels();"
                "from genre_core.training.loop import *;from genre_core.models.networks import build_network;"
                "m,s=normalization_stats(imgs);imgs=[(i-m[:,None])/s[:,None] for i in imgs];"
                "train_network(build_network('deep_cnn',10,1025),imgs,y,C,TrainConfig(epochs=1),progress=False);"
                "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
        out = subprocess.run([sys.executable, "-c", code, str(data_dir)], capture_output=True, text=True)
        print(f"training (deep CNN on the 1025-bin spectrogram, all clips in memory): "
              f"{int(out.stdout.strip() or 0) / 1024:7.0f} MB")


def run_benchmarks(args: argparse.Namespace) -> int:
    data_dir = Path(args.data) if args.data else default_data_dir()
    only = set(args.only or ["latency", "profile", "tagger", "sampling", "features", "training", "memory"])
    print(f"# genre_core benchmarks — {os.cpu_count()} CPU cores, torch {torch.__version__}, "
          f"{time.strftime('%Y-%m-%d %H:%M')}")
    zoo = ModelZoo.load(args.models_dir)
    if "latency" in only:
        bench_latency(zoo, data_dir, args.repeats, baseline=not args.no_baseline)
    if "profile" in only:
        bench_profile(zoo, data_dir)
    if "sampling" in only and data_dir is not None:
        bench_sampling(zoo, data_dir)
        bench_window_sampling(zoo, data_dir)
    if "features" in only and data_dir is not None:
        bench_features(data_dir)
    if "training" in only:
        bench_training(Path(args.models_dir))
    if "memory" in only:
        bench_memory(Path(args.models_dir), data_dir)
    if "tagger" in only:
        bench_tagger(zoo, data_dir, args.repeats)
    return 0


__all__ = ["run_benchmarks", "reference_style"]


def bench_tagger(zoo: ModelZoo, data_dir: Path | None, repeats: int) -> None:
    """The tagger's reference float graph against the served one, interleaved in one run: the network on a
    30 s clip's patches, then the answer alone (``zoo.classify(path, models=zoo.answer_models)``) with each."""
    from genre_core.audio.decode import load_audio

    tagger = zoo.tagger
    if tagger is None or tagger.onnx is None:
        print("\n## Tagger graphs: no ONNX graph serves the tagger here")
        return
    served = tagger.onnx
    reference = load_tagger(tagger.folder, backend="reference").onnx
    graphs = {f"reference {reference.path.name}": reference, f"served {served.path.name}": served}
    with tempfile.TemporaryDirectory() as tmp:
        path = _song(data_dir, 30, Path(tmp))
        patches = tagger.patches(load_audio(path, tagger.front_end.sample_rate).samples)
        steps = {"network": lambda: tagger.run(patches),
                 "answer": lambda: zoo.classify(path, models=zoo.answer_models).final.vote_label}

        def with_graph(network: OnnxNetwork, step: str):
            def run():
                tagger.onnx = network
                return steps[step]()
            return run
        runs = {(step, label): with_graph(network, step) for label, network in graphs.items() for step in steps}
        try:
            outputs = {label: (runs[("network", label)](), runs[("answer", label)]()) for label in graphs}
            times = dict(zip(runs, _interleaved_ms(runs, repeats, warm_up=False)))  # outputs were the warm-up
        finally:
            tagger.onnx = served
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"\n## Tagger graphs, interleaved (median of {repeats}; load average {load:.2f} at the end)")
    (ref_label, ref_out), (new_label, new_out) = outputs.items()
    for step, what in (("network", f"network on the 30 s clip's {len(patches)} patches"),
                       ("answer", "the answer alone (headline + state)")):
        ref_ms, new_ms = times[(step, ref_label)], times[(step, new_label)]
        print(f"{what:>42}: {ref_label} {ref_ms:7.1f} ms, {new_label} {new_ms:7.1f} ms, "
              f"served / reference = {new_ms / ref_ms:.3f}")
    gaps = {k: float(np.abs(ref_out[0][k] - new_out[0][k]).max()) for k in ref_out[0]}
    print(f"{'':>42}  max |served - reference|: " + ", ".join(f"{k} {v:.1e}" for k, v in gaps.items())
          + f"; answer {ref_out[1]} / {new_out[1]}")
