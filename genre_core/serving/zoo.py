"""Classifying audio with every stored model, their ensemble and the headline rule, one song at a time."""
from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from genre_core.audio.decode import AudioClip, AudioSource, load_audio
from genre_core.audio.errors import GenreCoreError, ModelLoadError
from genre_core.features.config import DEFAULT_FEATURES, FeatureConfig
from genre_core.models.artifacts import CONFIG_FILE, PACKAGE_MODELS_DIR, StoredModel, list_model_folders, load_model
from genre_core.models.embeddings import TaggerOutput
from genre_core.models.headline import HEADLINE_NAME, Headline, load_headline
from genre_core.models.musicnn import Tagger
from genre_core.models.predict import ClipAnalysis, ModelPrediction, ensemble_prediction, predict_with
from genre_core.models.states import StateModel, load_states
from genre_core.serving.explain import Saliency, explain
from genre_core.serving.states import Verdict, assess

DEFAULT_MODELS_DIR = PACKAGE_MODELS_DIR
# The tagger hears a song at most at this many 3 s patches, spread evenly (96 s of a longer song): a
# 4-minute song costs 32 patches instead of 80. `bench --only sampling` measures what it changes.
DEFAULT_MAX_PATCHES = 32


ANSWER = 0  # decoding a song and the models behind its answer: a listener is waiting for it
BACKGROUND = 1  # everything else: the comparison models, loading them, explanations


def waiting_words(ahead: int) -> str:
    """What a listener whose song waits behind ``ahead`` turns (the one running included) is told."""
    if ahead <= 1:
        return "Another song is being analysed; yours is next…"
    return f"Another song is being analysed and {ahead - 1} more {'is' if ahead == 2 else 'are'} waiting before yours…"


class Turns:
    """Whose turn it is on the cores: one holder at a time (re-entrant for its thread). When the holder lets
    go, the longest-waiting ANSWER request goes next, else the longest-waiting BACKGROUND one.

    Background work takes one turn per model (or per network run of an explanation), so an answer that
    arrives while it runs waits for at most that one step, never for the rest of it.
    """

    def __init__(self) -> None:
        self._state = threading.Condition()
        self._holder: int | None = None  # thread id
        self._holder_priority: int | None = None
        self._depth = 0
        self._due = 0  # answers on their way to a page (see answer_due)
        self._waiting: list[tuple[int, int]] = []  # (priority, arrival number) of each waiting request
        self._arrivals = itertools.count()

    def _ahead(self, request: tuple[int, int]) -> int:
        return (self._holder is not None) + sum(other < request for other in self._waiting)

    def acquire(self, priority: int = BACKGROUND, waiting: Callable[[int], None] | None = None) -> None:
        """Wait for a turn; ``waiting`` is told how many turns are ahead each time that number changes."""
        me = threading.get_ident()
        with self._state:
            if self._holder == me:
                self._depth += 1
                return
            request = (priority, next(self._arrivals))
            self._waiting.append(request)
        told = None
        try:
            while True:
                with self._state:
                    ahead = self._ahead(request)
                    if ahead == 0:
                        self._waiting.remove(request)
                        self._holder, self._holder_priority, self._depth = me, priority, 1
                        return
                    if ahead == told or waiting is None:
                        self._state.wait()
                        continue
                told = ahead
                waiting(ahead)  # outside the condition: it may draw on a page
        except BaseException:  # e.g. the page was stopped while it waited: its place is given up
            with self._state:
                if request in self._waiting:
                    self._waiting.remove(request)
                    self._state.notify_all()
            raise

    def release(self) -> None:
        with self._state:
            if self._holder != threading.get_ident():
                raise RuntimeError("released a turn this thread does not hold")
            self._depth -= 1
            if self._depth == 0:
                self._holder = self._holder_priority = None
                self._state.notify_all()

    def wait_for_answers(self) -> None:
        """Return once no answer holds or waits for a turn, and none is on its way to a page (:meth:`answer_due`).
        What a page draws after its answer waits for this: the browsers drawing it, and the server building it,
        share the cores with the answers still to come."""
        with self._state:
            if self._holder == threading.get_ident():
                raise RuntimeError("waiting for answers while holding a turn would wait for ever")
            self._state.wait_for(lambda: self._holder_priority != ANSWER and not self._due
                                 and all(priority != ANSWER for priority, _ in self._waiting))

    @contextmanager
    def answer_due(self) -> Iterator[None]:
        """A page's answer is on its way (its turn awaited, computed, drawn) while this block runs: other pages'
        :meth:`wait_for_answers` waits for it too. Never wait for answers inside it."""
        with self._state:
            self._due += 1
        try:
            yield
        finally:
            with self._state:
                self._due -= 1
                self._state.notify_all()

    @contextmanager
    def hold(self, priority: int = BACKGROUND, waiting: Callable[[int], None] | None = None) -> Iterator[None]:
        """``with turns.hold(ANSWER): ...`` runs the block in a turn of that priority."""
        self.acquire(priority, waiting)
        try:
            yield
        finally:
            self.release()

    @property
    def waiting(self) -> dict[int, int]:
        """How many requests of each priority are waiting now."""
        with self._state:
            return {p: sum(r[0] == p for r in self._waiting) for p in (ANSWER, BACKGROUND)}


class _TurnTakingTagger:
    """``tagger`` whose every pass of the network (and patch cutting) waits for a background turn, so an
    explanation (one pass per frequency band) lets waiting answers go between its passes."""

    def __init__(self, tagger: Tagger, turns: Turns) -> None:
        self._tagger, self._turns = tagger, turns

    def run(self, *args, **kwargs):
        with self._turns.hold(BACKGROUND):
            return self._tagger.run(*args, **kwargs)

    def heard_patches(self, *args, **kwargs):
        with self._turns.hold(BACKGROUND):
            return self._tagger.heard_patches(*args, **kwargs)

    def __getattr__(self, name: str):
        return getattr(self._tagger, name)


def headline_prediction(headline: Headline, predictions: dict[str, ModelPrediction]) -> ModelPrediction | None:
    """The headline rule applied to one clip: genre = argmax of its probabilities, so they always agree.

    The timeline is the window probabilities of the first member that has them (for a stack, the
    members' windows differ in length, so one member's timeline is shown, named in ``timeline_model``).
    """
    probs = headline.probabilities({n: p.probabilities for n, p in predictions.items()})
    if probs is None:
        return None
    timeline_from = next((predictions[m] for m in headline.members if predictions[m].window_probabilities is not None),
                         None)
    labels = next(iter(predictions.values())).labels
    return ModelPrediction(HEADLINE_NAME, labels, probs, labels[int(np.argmax(probs))],
                           None if timeline_from is None else timeline_from.window_probabilities,
                           None if timeline_from is None else timeline_from.window_times,
                           timeline_model=None if timeline_from is None else timeline_from.model)


@dataclass
class Classification:
    """Everything known about one classified clip."""

    clip: AudioClip
    analysis: ClipAnalysis
    predictions: dict[str, ModelPrediction]  # per stored model
    ensemble: ModelPrediction | None
    failures: dict[str, str] = field(default_factory=dict)  # model -> error message
    headline: ModelPrediction | None = None
    verdict: Verdict | None = None  # confident / unsure / not music / mixed, when thresholds are stored
    # where the time went, for the app's server log: 'queued' (waiting for the zoo), 'decode', 'models'
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def warnings(self) -> tuple[str, ...]:
        return self.clip.warnings

    def tags(self, tagger: Tagger | None) -> TaggerOutput | None:
        """What the pretrained tagger heard in this clip (computed already by the transfer models)."""
        return None if tagger is None else self.analysis.tagger_output(tagger)

    @property
    def final(self) -> ModelPrediction:
        """The answer shown first: the headline rule, else the ensemble, else the first model."""
        return self.headline or self.ensemble or next(iter(self.predictions.values()))

    @property
    def agreeing(self) -> int:
        """How many of the models that ran have the answer's genre as their most probable one."""
        return sum(p.mean_label == self.final.vote_label for p in self.predictions.values())


class ModelZoo:
    """All loadable models of a folder. Broken folders are reported in ``errors``, not fatal.

    ``load(..., defer=True)`` loads only the models behind the headline answer; the others (``pending``)
    are loaded, and warmed up, by the first call that needs every model (:meth:`complete`, ``classify``
    without ``models``) or by :meth:`load_pending`. The answer models import neither torch nor
    scikit-learn, so a fresh process answers seconds sooner.
    """

    def __init__(self, models: dict[str, StoredModel], errors: dict[str, str], ensemble_members: list[str],
                 headline: Headline | None = None, states: StateModel | None = None,
                 max_patches: int | None = DEFAULT_MAX_PATCHES, pending: dict[str, Path] | None = None,
                 feature_configs: dict[str, FeatureConfig] | None = None) -> None:
        self.models = models
        self.pending = dict(pending or {})  # name -> folder of the models not loaded yet
        # every model's features, loaded or not (the clip's sample rate and shortest length depend on all)
        self.feature_configs = feature_configs or {n: m.feature_config for n, m in models.items()}
        self.max_patches = max_patches
        # One classification at a time: the app's sessions share one zoo and the machine's cores; run side by
        # side, their thread pools oversubscribe the cores and every answer waits for all (8 sessions: 25 s).
        # Waiting answers go before waiting comparison models and explanations (see Turns).
        self.lock = Turns()
        self.errors = errors
        self._ensemble_members = list(ensemble_members)
        self.headline = headline
        self.states = states

    @classmethod
    def load(cls, models_dir: str | Path = DEFAULT_MODELS_DIR, max_patches: int | None = DEFAULT_MAX_PATCHES,
             defer: bool = False) -> "ModelZoo":
        """Every model of ``models_dir``; with ``defer``, only the headline's members now (see the class)."""
        errors: dict[str, str] = {}
        try:
            headline = load_headline(Path(models_dir))
        except (ModelLoadError, OSError, KeyError, json.JSONDecodeError) as exc:
            errors[HEADLINE_NAME] = f"the headline rule could not be read ({exc}); showing the ensemble instead."
            headline = None
        models: dict[str, StoredModel] = {}
        pending: dict[str, Path] = {}
        feature_configs: dict[str, FeatureConfig] = {}
        members: list[str] = []
        for folder in list_model_folders(models_dir):
            try:
                config = json.loads((folder / CONFIG_FILE).read_text())
            except (OSError, json.JSONDecodeError) as exc:
                errors[folder.name] = f"{folder}/{CONFIG_FILE} is not valid JSON ({exc})."
                continue
            if config.get("kind") == "ensemble":
                members = list(config.get("members", []))
                continue
            if config.get("kind") in ("tagger", "headline"):  # loaded by the transfer models / above
                continue
            if defer and headline is not None and folder.name not in headline.members:
                try:
                    feature_configs[folder.name] = FeatureConfig.from_dict(config["feature_config"])
                    pending[folder.name] = folder
                    continue
                except (KeyError, TypeError, ValueError):
                    pass  # load_model reports what is wrong with it
            try:
                models[folder.name] = load_model(folder)
                feature_configs[folder.name] = models[folder.name].feature_config
            except ModelLoadError as exc:
                errors[folder.name] = str(exc)
        try:
            states = load_states(Path(models_dir))
        except (OSError, KeyError, TypeError, ValueError) as exc:
            errors["states"] = f"the confidence thresholds could not be read ({exc})."
            states = None
        zoo = cls(models, errors, members, headline, states, max_patches, pending, feature_configs)
        if defer and not any(m in models for m in zoo.answer_models):  # the headline's models failed: load all
            zoo.load_pending(warm_up=False)
        return zoo

    def load_pending(self, warm_up: bool = True, progress: Callable[[str], None] | None = None) -> list[str]:
        """Load the models ``load(defer=True)`` left for later (and warm them up), one background turn per
        model; returns the names this call loaded (another session may load some of them meanwhile)."""
        if not self.pending:
            return []
        if progress:
            progress("Loading the other models…")
        loaded: list[str] = []
        while True:
            with self.lock.hold(BACKGROUND):
                if not self.pending:
                    break
                name, folder = next(iter(self.pending.items()))
                try:
                    model = load_model(folder)
                except ModelLoadError as exc:
                    self.errors = {**self.errors, name: str(exc)}
                    self.feature_configs = {n: c for n, c in self.feature_configs.items() if n != name}
                else:
                    self.models = dict(sorted({**self.models, name: model}.items()))  # folder order, as load() gives
                    loaded.append(name)
                # new dicts rather than changes in place: pages read them without a turn. A model is in
                # ``pending`` until it is in ``models``, so ``missing`` never skips one being loaded.
                self.pending = {n: f for n, f in self.pending.items() if n != name}
            if warm_up and name in loaded:
                self.warm_up([name])
        return loaded

    @property
    def ensemble_members(self) -> list[str]:
        """The ensemble's members among the usable models (loaded or pending: it votes once all have run)."""
        return [m for m in self._ensemble_members if m in self.models or m in self.pending]

    @property
    def model_names(self) -> list[str]:
        """Every model, loaded or pending."""
        return sorted({*self.models, *self.pending})

    @property
    def min_seconds(self) -> float:
        return max((c.window_seconds for c in self.feature_configs.values()), default=DEFAULT_FEATURES.window_seconds)

    @property
    def sample_rate(self) -> int:
        rates = [c.sample_rate for c in self.feature_configs.values()]
        return max(set(rates), key=rates.count) if rates else DEFAULT_FEATURES.sample_rate

    @property
    def tagger(self) -> Tagger | None:
        """The pretrained tagger behind the transfer models, if any is stored."""
        return next((m.tagger for m in self.models.values() if m.tagger is not None), None)

    def warm_up(self, models: list[str] | None = None) -> None:
        """Classify 4 s of generated sound once with ``models`` (default: those loaded), so the first
        listener does not pay for lazy imports (librosa compiles numba functions on first use: ~2.4 s),
        allocator growth and JIT."""
        rate = self.sample_rate
        t = np.arange(4 * rate) / rate
        tone = (0.3 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 2 * t))).astype(np.float32)
        self.classify_clip(AudioClip(tone, rate, rate, 1), models=models or list(self.models))

    @property
    def answer_models(self) -> list[str]:
        """The models the headline answer needs (all models when there is no headline rule)."""
        if self.headline is None:
            return list(self.models)
        return [m for m in self.headline.members if m in self.models] or list(self.models)

    def classify_clip(self, clip: AudioClip, progress: Callable[[str], None] | None = None,
                      models: list[str] | None = None) -> Classification:
        """``models`` (default: every model) on ``clip``; ``progress`` is told, in words, which step runs next.

        The answer's models run first, in one ANSWER turn; any others one BACKGROUND turn each (so a
        listener's answer waiting meanwhile goes first). ``classify_clip(clip, models=zoo.answer_models)``
        gives the headline answer alone, fast; :meth:`complete` then adds the other models to the same result.
        """
        if not self.models:
            raise GenreCoreError("No usable model is stored; train one with `python -m genre_core train all`.")
        result = Classification(clip, ClipAnalysis(clip, self.max_patches), {}, None)
        first = [n for n in self.answer_models if models is None or n in models]
        later = models is None or any(n not in first for n in models)
        if first:
            with self.lock.hold(ANSWER):
                for name in first:
                    self._predict(result, name, progress)
                if result.predictions or not later:
                    self._combine(result)
        if later:
            self.complete(result, progress, None if models is None else [n for n in models if n not in first])
        elif not first:
            self._combine(result)  # no model was asked for: says so
        return result

    def complete(self, result: Classification, progress: Callable[[str], None] | None = None,
                 models: list[str] | None = None) -> Classification:
        """``result`` with every model (or those of ``models``) that has not run on it yet, one BACKGROUND turn
        per model (features already computed are reused)."""
        if models is None or any(n in self.pending for n in models):
            self.load_pending(progress=progress)
        missing = [n for n in self.missing(result) if models is None or n in models]
        if not missing:
            return result
        for name in missing:
            with self.lock.hold(BACKGROUND):
                self._predict(result, name, progress)
        with self.lock.hold(BACKGROUND):
            return self._combine(result)

    def missing(self, result: Classification) -> list[str]:
        """Models, loaded or pending, that have not been tried on ``result`` yet."""
        return [n for n in self.model_names if n not in result.predictions and n not in result.failures]

    def _predict(self, result: Classification, name: str, progress: Callable[[str], None] | None) -> None:
        """Add ``name``'s prediction (or why it failed) to ``result``."""
        model = self.models[name]
        if progress:
            progress(f"Running {model.config.get('title', name)}…")
        try:
            result.predictions[name] = predict_with(model, result.analysis)
        except (ValueError, RuntimeError) as exc:  # e.g. a clip shorter than this model's window
            result.failures[name] = str(exc)

    def _combine(self, result: Classification) -> Classification:
        """Recompute ``result``'s ensemble, headline and verdict from the predictions it has."""
        predictions = result.predictions
        if not predictions:
            raise GenreCoreError("No model could classify this clip: " + "; ".join(result.failures.values()))
        members = [predictions[m] for m in self.ensemble_members if m in predictions]
        # The ensemble votes once every member has been tried (a vote of the first few would be another rule).
        tried = all(m in predictions or m in result.failures for m in self.ensemble_members)
        result.ensemble = ensemble_prediction(members) if members and tried else None
        if result.headline is None and self.headline:
            result.headline = headline_prediction(self.headline, predictions)
            if result.headline is not None and self.states:
                result.verdict = self._verdict(result.headline, predictions, result.analysis)
        return result

    def _verdict(self, headline: ModelPrediction, predictions: dict[str, ModelPrediction],
                 analysis: ClipAnalysis) -> Verdict:
        patch_model = predictions.get(self.states.thresholds.evidence.get("patch_model", ""))
        tagged = analysis.tagger_output(self.tagger) if self.tagger else None
        return assess(headline.probabilities, headline.labels, analysis.loudness_db(DEFAULT_FEATURES),
                      None if tagged is None else tagged.penultimate.mean(axis=0),
                      None if patch_model is None else patch_model.window_probabilities,
                      None if patch_model is None else patch_model.window_times, self.states)

    def classify(self, source: AudioSource, progress: Callable[[str], None] | None = None,
                 models: list[str] | None = None) -> Classification:
        """Decode ``source`` and classify it with ``models`` (default all); raises AudioError subclasses for bad input.

        Decoding and the answer's models run in one ANSWER turn; while it waits, ``progress`` hears how many
        songs are ahead (a background step running counts as the song being analysed).
        """
        started = time.perf_counter()
        told = (lambda ahead: progress(waiting_words(ahead))) if progress else None
        with self.lock.hold(ANSWER, told):
            queued = time.perf_counter()
            if progress:
                progress("Decoding the audio…")
            clip = load_audio(source, target_sr=self.sample_rate, min_seconds=self.min_seconds)
            decoded = time.perf_counter()
            result = self.classify_clip(clip, progress, [n for n in self.answer_models if models is None or n in models])
            result.seconds.update(queued=queued - started, decode=decoded - queued,
                                  models=time.perf_counter() - decoded)
        return self.complete(result, progress, models)

    def explain(self, result: Classification, model: StoredModel, genre: str,
                max_patches: int | None = None) -> Saliency:
        """Which moments and frequency bands gave transfer ``model`` its ``genre`` on ``result``'s clip,
        in background turns (one per pass of the network: waiting answers go between them)."""
        tagger = _TurnTakingTagger(self.tagger, self.lock)
        samples = result.analysis.samples(self.tagger.front_end.sample_rate)
        return explain(tagger, model.svm, samples, model.labels.index(genre), genre,
                       self.max_patches if max_patches is None else max_patches, head_input=model.head_input)


__all__ = ["ModelZoo", "Classification", "DEFAULT_MODELS_DIR", "headline_prediction", "Turns", "ANSWER", "BACKGROUND",
           "waiting_words"]
