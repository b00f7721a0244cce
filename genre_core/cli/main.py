"""`python -m genre_core ...`: index, features, train, headline, evaluate, grid, predict, summary, bench."""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

from tqdm import tqdm

from genre_core.audio.errors import GenreCoreError
from genre_core.features.config import DEFAULT_FEATURES, REPRESENTATIONS, FeatureConfig
from genre_core.features.dataset import DATA_ENV, FeatureCache, default_cache_dir, default_data_dir, index_dataset
from genre_core.serving.zoo import DEFAULT_MAX_PATCHES, DEFAULT_MODELS_DIR, ModelZoo


def _data_dir(args: argparse.Namespace) -> Path:
    data = Path(args.data) if args.data else default_data_dir()
    if data is None:
        raise GenreCoreError(f"No dataset folder: pass --data DIR or set ${DATA_ENV}.")
    return data


def _feature_config(args: argparse.Namespace) -> FeatureConfig:
    return replace(DEFAULT_FEATURES, window_seconds=args.window_seconds, overlap=args.overlap)


def cmd_index(args: argparse.Namespace) -> int:
    index = index_dataset(_data_dir(args), check_audio=args.check)
    print(index.report())
    return 0


def cmd_features(args: argparse.Namespace) -> int:
    from genre_core.features.dataset import iter_clip_features

    index = index_dataset(_data_dir(args))
    cache = FeatureCache(args.cache, _feature_config(args))
    for kind in (*REPRESENTATIONS, "handcrafted"):
        started = time.perf_counter()
        for _ in iter_clip_features(index, cache, kind, progress=not args.quiet):
            pass
        rate = len(index.clips) / (time.perf_counter() - started)
        print(f"{kind:<12} {len(index.clips)} clips, {rate:.1f} clips/s (cache hits {cache.hits}, misses {cache.misses})")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from genre_core.training.pipeline import train_spec
    from genre_core.training.specs import MODEL_SPECS

    names = list(MODEL_SPECS) if args.model == ["all"] else args.model
    unknown = [n for n in names if n not in MODEL_SPECS]
    if unknown:
        raise GenreCoreError(f"Unknown model(s) {unknown}; choose from {list(MODEL_SPECS)} or 'all'.")
    index = index_dataset(_data_dir(args), check_audio=True)
    print(index.report())
    cache = FeatureCache(args.cache, _feature_config(args))
    models_dir = Path(args.models_dir)
    checkpoints = Path(args.checkpoints) if args.checkpoints else None
    embeddings = None
    if any(MODEL_SPECS[n].kind == "transfer" for n in names):
        from genre_core.models.artifacts import shared_tagger
        from genre_core.models.embeddings import TAGGER_NAME, EmbeddingCache

        embeddings = EmbeddingCache(Path(args.cache) / "embeddings", shared_tagger(models_dir, TAGGER_NAME))
    for name in names:
        spec = MODEL_SPECS[name]
        if args.epochs:
            spec = replace(spec, train=replace(spec.train, epochs=args.epochs))
        metrics = train_spec(spec, index, cache, models_dir, k=args.folds, checkpoint_dir=checkpoints,
                             resume=args.resume, progress=not args.quiet, split=args.split,
                             embeddings=embeddings)
        s = metrics["vote"]["summary"]
        print(f"{name}: accuracy {s['accuracy']['mean']:.3f} ± {s['accuracy']['std']:.3f}, balanced "
              f"{s['balanced_accuracy']['mean']:.3f} ± {s['balanced_accuracy']['std']:.3f} ({metrics['training_seconds']} s)")
    if not args.no_ensemble:
        _finish_zoo(models_dir, index, cache, Path(args.cache), args.folds, not args.quiet)
    return 0


def _finish_zoo(models_dir: Path, index, cache: FeatureCache, cache_dir: Path, folds: int, progress: bool) -> None:
    """What follows training the models: the SVM bar, ensemble, headline rule, states, dataset summary."""
    from genre_core.training.ensemble import build_ensemble, compute_plain_svm_bar
    from genre_core.training.summary import write_dataset_summary

    compute_plain_svm_bar(index, cache, models_dir, k=folds)
    build_ensemble(models_dir, index)
    _headline_and_states(models_dir, index, cache, cache_dir)
    write_dataset_summary(index, cache, models_dir, progress=progress)
    _rewrite_cards(models_dir)


def _rewrite_cards(models_dir: Path) -> None:
    """Every trained model's card again, from its stored config and metrics: models trained in separate runs
    (or by an older version) then read alike and cite the same SVM bar."""
    from genre_core.models.artifacts import CONFIG_FILE, METRICS_FILE, TRAINED_KINDS, list_model_folders
    from genre_core.training.cards import write_model_card

    for folder in list_model_folders(models_dir):
        config = json.loads((folder / CONFIG_FILE).read_text())
        if config.get("kind") in TRAINED_KINDS and (folder / METRICS_FILE).exists():
            write_model_card(folder, config, json.loads((folder / METRICS_FILE).read_text()), models_dir)


def cmd_finish(args: argparse.Namespace) -> int:
    index = index_dataset(_data_dir(args))
    _finish_zoo(Path(args.models_dir), index, FeatureCache(args.cache, _feature_config(args)), Path(args.cache),
                args.folds, not args.quiet)
    return 0


def _headline_and_states(models_dir: Path, index, cache: FeatureCache, cache_dir: Path) -> None:
    """Choose the headline rule from stored predictions, then derive the answer-state thresholds."""
    from genre_core.models.artifacts import shared_tagger
    from genre_core.models.embeddings import TAGGER_NAME, EmbeddingCache
    from genre_core.training.calibration import calibrate
    from genre_core.training.decision import build_headline
    from genre_core.training.specs import STACK_MEMBERS

    metrics = build_headline(models_dir, STACK_MEMBERS)
    s = metrics["mean"]["summary"]
    chosen = json.loads((models_dir / "headline" / "config.json").read_text())
    print(f"headline: {chosen['rule']} {chosen['members']}; nested CV balanced accuracy "
          f"{s['balanced_accuracy']['mean']:.3f} ± {s['balanced_accuracy']['std']:.3f}, accuracy "
          f"{s['accuracy']['mean']:.3f} ± {s['accuracy']['std']:.3f}, macro-F1 {s['macro_f1']['mean']:.3f}")
    if (models_dir / "musicnn_logreg" / "config.json").exists():
        embeddings = EmbeddingCache(cache_dir / "embeddings", shared_tagger(models_dir, TAGGER_NAME))
        t = calibrate(models_dir, index, embeddings, cache)
        print(f"states: not sure below {t.unsure_below:.2f}, unlike the training music above novelty "
              f"{t.novelty_above:.1f}, too quiet below {t.quiet_below_db:.0f} dBFS, mixed when under "
              f"{t.mixed_share_below:.0%} of the 3 s patches agree with the answer")


def cmd_library(args: argparse.Namespace) -> int:
    import shlex
    import signal

    from genre_core.library.engine import RAY_LOG, LibraryInterrupted, run_library
    from genre_core.library.results import CSV, STATE_WORDS, PLAYLIST, TABLE, summary_lines

    if not Path(args.source).exists():
        raise GenreCoreError(f"{args.source}: no such folder or list of files.")
    out = Path(args.out)
    # Ctrl-C stops the run and keeps what is done, also when the shell started it with SIGINT ignored
    # (a script's `genre-core library ... &`)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        table, _, seconds = run_library(args.source, out, args.models_dir, args.address, args.workers,
                                        args.all_models, args.batch_size, not args.quiet)
    except ValueError as exc:  # a manifest without a path column
        raise GenreCoreError(str(exc)) from exc
    except LibraryInterrupted as stop:
        print(f"\ninterrupted: {stop.done} of {stop.total} songs are done and kept in {out} (table and playlists "
              f"of those so far). To classify the other {stop.total - stop.done}, run:\n"
              f"  {shlex.join(args.command_line)}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:  # before Ray started (listing the files) or while the table was written
        print(f"\ninterrupted: the songs classified so far are kept in {out}. To go on, run:\n"
              f"  {shlex.join(args.command_line)}", file=sys.stderr)
        return 130
    for line in summary_lines(table):  # files listed but missing have their rows
        print(line)
    print(f"table: {out / TABLE} and {out / CSV}" +
          (f" ({seconds:.0f} s classifying)" if seconds else " (nothing new to classify)"))
    playlists = sorted(p.name for p in out.glob("*" + PLAYLIST))
    doubt = [name for name in STATE_WORDS.values() if name + PLAYLIST in playlists]
    if playlists:
        print(f"playlists in {out}: {', '.join(playlists)}" +
              (f" ({' and '.join(repr(n) for n in doubt)}: answers in doubt, kept out of the genre lists)"
               if doubt else ""))
    if (out / RAY_LOG).exists():
        print(f"Ray's messages: {out / RAY_LOG}")
    return 0


def cmd_slides(args: argparse.Namespace) -> int:
    from genre_core.outputs.slides import write_deck

    if Path(args.file).suffix.lower() not in (".pptx", ".pdf"):
        raise GenreCoreError(f"{args.file}: name the deck .pptx or .pdf.")
    try:
        path = write_deck(args.models_dir, args.file, tuple(args.models) if args.models else None, args.rule)
    except FileNotFoundError as exc:
        raise GenreCoreError(str(exc)) from exc
    except KeyError as exc:
        raise GenreCoreError(f"no stored model named {exc}; see `genre-core evaluate`.") from exc
    print(f"slides: {path}")
    return 0


def cmd_headline(args: argparse.Namespace) -> int:
    index = index_dataset(_data_dir(args))
    _headline_and_states(Path(args.models_dir), index, FeatureCache(args.cache, _feature_config(args)),
                         Path(args.cache))
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from genre_core.outputs.readme import markdown_table, metrics_cells

    header, cells, rows = metrics_cells(Path(args.models_dir), args.protocol)
    if not rows:
        raise GenreCoreError(f"No trained models with {args.protocol} metrics under {args.models_dir}.")
    if args.protocol == "artist":
        print(f"Artist-filtered test; covered genres: {rows[0]['covered_genres']}")
    print("Clip decision: the top genre of the clip's mean probability (the rule the app shows; "
          f"'vote' = majority of 3 s windows). Protocol: {rows[0]['protocol']}")
    if args.markdown:
        print(markdown_table(header, cells))
        return 0
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(header)]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths)))
    for c in cells:
        print("  ".join(v.ljust(w) for v, w in zip(c, widths)))
    if args.data or default_data_dir():
        from genre_core.serving.verify import verify_reference_predictions

        problems = verify_reference_predictions(Path(args.models_dir), _data_dir(args))
        for p in problems:
            print("MISMATCH", p)
        print("reference predictions:", "all reproduced" if not problems else f"{len(problems)} mismatches")
        return 1 if problems else 0
    return 0


def cmd_readme(args: argparse.Namespace) -> int:
    from genre_core.outputs.readme import read_snapshot, replace_section, results_section

    previous = read_snapshot(args.previous) if args.previous else None
    if args.previous and previous is None:
        raise GenreCoreError(f"{args.previous}: no such snapshot (write one with --snapshot before replacing models/).")
    if args.snapshot:
        from genre_core.outputs.readme import snapshot

        Path(args.snapshot).write_text(json.dumps(snapshot(args.models_dir), indent=2) + "\n")
        print(f"snapshot of {args.models_dir}: {args.snapshot}")
        return 0
    try:
        section = results_section(args.models_dir, previous, args.previous if previous else "")
    except FileNotFoundError as exc:
        raise GenreCoreError(str(exc)) from exc
    if not args.write:
        print(section, end="")
        return 0
    path = Path(args.write)
    try:
        path.write_text(replace_section(path.read_text(), section))
    except (OSError, ValueError) as exc:
        raise GenreCoreError(f"{path}: {exc}") from exc
    print(f"results section of {path} rewritten from {args.models_dir}")
    return 0


def cmd_grid(args: argparse.Namespace) -> int:
    from genre_core.training.grid import grid_search

    index = index_dataset(_data_dir(args))
    table = grid_search(index, args.cache, args.representations, args.architectures, args.batch_sizes,
                        args.folds, args.epochs, 0, Path(args.out), progress=not args.quiet,
                        feature_cfg=_feature_config(args))
    print(table.sort_values("balanced_accuracy_mean", ascending=False).to_string(index=False))
    print(f"written to {args.out}")
    return 0


def _expand(paths: list[str]) -> list[str]:
    """Files as given; folders replaced by the audio files under them."""
    from genre_core.outputs.batch import audio_files

    out: list[str] = []
    for path in paths:
        out += [str(p) for p in audio_files(path)] if Path(path).is_dir() else [path]
    return out


def cmd_predict(args: argparse.Namespace) -> int:
    from genre_core.outputs.batch import result_row, table
    from genre_core.outputs.report import summarize, write_report
    from genre_core.outputs.text import csv_text, genre_name

    zoo = ModelZoo.load(args.models_dir, max_patches=None if args.every_patch else DEFAULT_MAX_PATCHES,
                        defer=args.answer_only)
    for name, error in zoo.errors.items():
        print(f"warning: model {name} not loaded: {error}", file=sys.stderr)
    files = _expand(args.files)
    if not files:
        print("error: no audio files found in " + ", ".join(args.files), file=sys.stderr)
        return 1
    if args.report and len(files) > 1:
        print("error: --report writes the report of one file; use --csv for many", file=sys.stderr)
        return 2
    status = 0
    results, rows = [], []
    bar = tqdm(files, desc="classifying", unit="file", disable=len(files) < 3 or args.json, file=sys.stderr)
    for file in bar:
        try:
            result = zoo.classify(file, models=zoo.answer_models if args.answer_only else None)
        except (GenreCoreError, FileNotFoundError) as exc:
            status = 1
            bar.write(f"error: {file}: {exc}", file=sys.stderr)
            results.append({"file": file, "error": str(exc)})
            rows.append({"file": file, "problem": str(exc)})
            continue
        entry = summarize(result, zoo, file)
        results.append(entry)
        rows.append(result_row(file, result))
        if args.report:
            html_path, json_path = write_report(result, zoo, Path(file).name, args.report)
            print(f"report: {html_path} and {json_path}", file=sys.stderr)
        if not args.json:
            for w in result.warnings:
                bar.write(f"warning: {w}", file=sys.stderr)
            final = result.final
            top = ", ".join(f"{genre_name(g)} {p:.0%}" for g, p in final.top(3))
            bar.write(f"{file}: {genre_name(final.vote_label)}  ({top})  [{final.model}, {result.clip.duration:.1f} s]")
            verdict = result.verdict
            if verdict is not None and verdict.state != "confident":
                bar.write(f"    {verdict.headline}")
            if "tags" in entry:
                bar.write("    tags: " + ", ".join(f"{t} {p:.0%}" for t, p in entry["tags"][:5]))
            if args.timeline:
                for w in entry["timeline"]:
                    bar.write(f"    {w['start_s']:7.2f}-{w['end_s']:7.2f} s  {genre_name(w['genre']):<10} "
                              f"{w['probability']:.0%}")
    if args.csv:
        Path(args.csv).write_text(csv_text(table(rows)), encoding="utf-8")
        print(f"table: {args.csv}", file=sys.stderr)
    if args.json:
        print(json.dumps(results if len(results) > 1 else results[0], indent=2))
    return status


def cmd_bench(args: argparse.Namespace) -> int:
    from genre_core.cli.bench import run_benchmarks

    return run_benchmarks(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m genre_core", description="Music genre classification on GTZAN.")
    sub = parser.add_subparsers(dest="command", required=True)

    def data_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("--data", help=f"GTZAN-layout folder (default: ${DATA_ENV})")
        p.add_argument("--cache", default=str(default_cache_dir()), help="feature cache folder")
        p.add_argument("--quiet", action="store_true", help="no progress bars")
        p.add_argument("--window-seconds", type=float, default=DEFAULT_FEATURES.window_seconds,
                       help="analysis window (the 82 %% reference used 1.5)")
        p.add_argument("--overlap", type=float, default=DEFAULT_FEATURES.overlap, help="window overlap, 0..1")

    p = sub.add_parser("index", help="list the clips of a GTZAN folder")
    data_args(p)
    p.add_argument("--check", action="store_true", help="decode every file and report unreadable ones")
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("features", help="compute and cache the features of every clip")
    data_args(p)
    p.set_defaults(func=cmd_features)

    p = sub.add_parser("train", help="k-fold evaluate, final-fit and store models")
    data_args(p)
    p.add_argument("model", nargs="+", help="model name(s) or 'all'")
    p.add_argument("--models-dir", default=str(DEFAULT_MODELS_DIR))
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--split", choices=["kfold", "artist"], default="kfold",
                   help="kfold: stratified k-fold by clip (plus the artist-filtered test as its own block when splits/ "
                        "exists); artist: only the artist-filtered split")
    p.add_argument("--epochs", type=int, help="override the maximum number of epochs")
    p.add_argument("--checkpoints", default=str(default_cache_dir() / "checkpoints"), help="checkpoint folder")
    p.add_argument("--resume", action="store_true", help="continue from the checkpoints of an interrupted run")
    p.add_argument("--no-ensemble", action="store_true", help="do not rebuild the ensemble and dataset summary")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("finish", help="rebuild the SVM bar, ensemble, headline rule, answer states and dataset "
                                      "summary from the stored models (what `train` does after the last model)")
    data_args(p)
    p.add_argument("--models-dir", default=str(DEFAULT_MODELS_DIR))
    p.add_argument("--folds", type=int, default=5)
    p.set_defaults(func=cmd_finish)

    p = sub.add_parser("library", help="classify a whole music library on Ray (this machine, or a cluster with "
                                       "--address); Ctrl-C keeps what is done and a rerun goes on; writes "
                                       "library.parquet, library.csv, one M3U8 playlist per genre and ray.log")
    p.add_argument("source", help="a folder (walked recursively), a text file of paths, or a CSV with a 'path' column")
    p.add_argument("--out", required=True, help="results folder (an interrupted run continues from what is there)")
    p.add_argument("--address", help="Ray cluster to join, as `ray start --head` prints it, e.g. 10.0.0.5:6379; the "
                                     "token in ~/.ray/auth_token is sent when there is one (default: $RAY_ADDRESS, "
                                     "else Ray is started on this machine, on loopback only)")
    p.add_argument("--workers", type=int, help="worker processes (default: one per CPU of the cluster)")
    p.add_argument("--all-models", action="store_true", help="run every model, not only the answer's")
    p.add_argument("--batch-size", type=int, default=4, help="files per task")
    p.add_argument("--models-dir", default=str(DEFAULT_MODELS_DIR))
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_library)

    p = sub.add_parser("slides", help="write the model comparison as a slide deck (.pptx or .pdf)")
    p.add_argument("file", help="deck to write, ending in .pptx or .pdf")
    p.add_argument("--models", nargs="+", help="whose confusion matrices and recalls to show (default: the headline "
                                               "against the best model trained from scratch)")
    p.add_argument("--rule", choices=["mean", "vote"], default="mean", help="clip decision (default: mean, as the app)")
    p.add_argument("--models-dir", default=str(DEFAULT_MODELS_DIR))
    p.set_defaults(func=cmd_slides)

    p = sub.add_parser("headline", help="choose the headline rule from the stored out-of-fold predictions and "
                                        "derive the answer-state thresholds")
    data_args(p)
    p.add_argument("--models-dir", default=str(DEFAULT_MODELS_DIR))
    p.set_defaults(func=cmd_headline)

    p = sub.add_parser("evaluate", help="print stored metrics; with data, check stored reference predictions")
    p.add_argument("--models-dir", default=str(DEFAULT_MODELS_DIR))
    p.add_argument("--data")
    p.add_argument("--markdown", action="store_true", help="print the table as Markdown (for the README)")
    p.add_argument("--protocol", choices=["kfold", "artist"], default="kfold",
                   help="kfold: clip-level stratified 5-fold; artist: the artist-filtered test split")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("readme", help="write the README's results section from the stored models")
    p.add_argument("--models-dir", default=str(DEFAULT_MODELS_DIR))
    p.add_argument("--previous", default="reports/zoo_460.json", help="snapshot of the previous zoo to compare with")
    p.add_argument("--write", metavar="README", help="replace the marked section of this file (default: print it)")
    p.add_argument("--snapshot", metavar="JSON", help="instead, store the figures of --models-dir for the next zoo")
    p.set_defaults(func=cmd_readme)

    p = sub.add_parser("grid", help="grid search representation x architecture x batch size")
    data_args(p)
    p.add_argument("--representations", nargs="+", default=["mel", "mfcc"])
    p.add_argument("--architectures", nargs="+", default=["simple_cnn", "deep_cnn"])
    p.add_argument("--batch-sizes", nargs="+", type=int, default=[32, 64])
    p.add_argument("--folds", type=int, default=3)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--out", default="grid_results.csv")
    p.set_defaults(func=cmd_grid)

    p = sub.add_parser("predict", help="classify audio files (or every audio file under a folder)")
    p.add_argument("files", nargs="+", help="audio files or folders")
    p.add_argument("--report", metavar="FILE.html",
                   help="write a self-contained HTML report of the (one) file and its JSON beside it")
    p.add_argument("--csv", metavar="FILE.csv", help="write one row per file: genre, confidence, agreement, state")
    p.add_argument("--models-dir", default=str(DEFAULT_MODELS_DIR))
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--timeline", action="store_true", help="print the window-by-window timeline")
    p.add_argument("--answer-only", action="store_true",
                   help="run only the models the headline answer needs (fastest; no per-model votes)")
    p.add_argument("--every-patch", action="store_true",
                   help=f"let every model hear all of a long song (default: the tagger at most {DEFAULT_MAX_PATCHES} "
                        "3 s patches spread over it, the other models as many of their windows)")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("bench", help="print speed figures (see BENCHMARKS.md)")
    p.add_argument("--data")
    p.add_argument("--models-dir", default=str(DEFAULT_MODELS_DIR))
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--only", nargs="*", help="subset: latency, profile, tagger, sampling, features, training, memory")
    p.add_argument("--no-baseline", action="store_true", help="skip the write-ups' way (slow) in latency")
    p.set_defaults(func=cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    # as typed, for the command that resumes an interrupted run
    program = [sys.argv[0]] if Path(sys.argv[0]).name == "genre-core" else [sys.executable, "-m", "genre_core"]
    args.command_line = [*program, *argv]
    try:
        return args.func(args)
    except GenreCoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; rerun with --resume to continue training from the last checkpoint", file=sys.stderr)
        return 130
