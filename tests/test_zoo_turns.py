"""Whose turn it is on the cores: a listener's answer goes before other sessions' comparison models and
explanations, and waits for at most one of their steps. Threads are ordered with events, never sleeps."""
from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from genre_core.serving import zoo as zoo_module
from genre_core.serving.zoo import ANSWER, BACKGROUND, ModelZoo, Turns, waiting_words

MODELS = Path(__file__).resolve().parents[1] / "models"
STEP = 10  # seconds any event is waited for: a deadlock fails the test instead of hanging it


def started(target, *args) -> threading.Thread:
    thread = threading.Thread(target=target, args=args, daemon=True)
    thread.start()
    return thread


def finished(*threads: threading.Thread) -> None:
    for thread in threads:
        thread.join(STEP)
        assert not thread.is_alive(), "a thread never got its turn"


def test_a_later_answer_goes_before_waiting_background_work():
    """Background job 1 holds the turn, background job 2 waits; an answer asked for after both runs next."""
    turns, order = Turns(), []
    holding, go = threading.Event(), threading.Event()
    waits = {"background 2": threading.Event(), "answer": threading.Event()}
    told: dict[str, list[int]] = {"background 2": [], "answer": []}

    def background_1():
        with turns.hold(BACKGROUND):
            holding.set()
            assert go.wait(STEP)
            order.append("background 1")

    def job(name: str, priority: int):
        def waiting(ahead: int) -> None:
            told[name].append(ahead)
            waits[name].set()
        with turns.hold(priority, waiting):
            order.append(name)

    first = started(background_1)
    assert holding.wait(STEP)
    second = started(job, "background 2", BACKGROUND)
    assert waits["background 2"].wait(STEP)
    answer = started(job, "answer", ANSWER)
    assert waits["answer"].wait(STEP)
    assert turns.waiting == {ANSWER: 1, BACKGROUND: 1}
    go.set()
    finished(first, second, answer)
    assert order == ["background 1", "answer", "background 2"]
    assert told["answer"] == [1]  # "yours is next" was true: only the running step was ahead of it


def test_answers_keep_their_order_and_are_told_truthfully_how_many_are_ahead():
    """Three answers wait behind a background step: first come, first served; each hears its place as it moves."""
    turns, order = Turns(), []
    holding, go = threading.Event(), threading.Event()
    told: dict[int, list[int]] = {1: [], 2: [], 3: []}
    changed = threading.Condition()
    inside = {n: threading.Event() for n in told}
    done = {n: threading.Event() for n in told}

    def told_so_far(expected: dict[int, list[int]]) -> None:
        with changed:
            assert changed.wait_for(lambda: all(told[n] == t for n, t in expected.items()), STEP), told

    def background():
        with turns.hold(BACKGROUND):
            holding.set()
            assert go.wait(STEP)

    def answer(n: int):
        def waiting(ahead: int) -> None:
            with changed:
                told[n].append(ahead)
                changed.notify_all()
        with turns.hold(ANSWER, waiting):
            order.append(n)
            inside[n].set()
            assert done[n].wait(STEP)

    threads = [started(background)]
    assert holding.wait(STEP)
    for n in told:  # one after the other, so their arrival order is known
        threads.append(started(answer, n))
        told_so_far({n: [n]})
    go.set()
    assert inside[1].wait(STEP)
    told_so_far({1: [1], 2: [2, 1], 3: [3, 2]})
    done[1].set()
    assert inside[2].wait(STEP)
    told_so_far({3: [3, 2, 1]})
    done[2].set()
    done[3].set()
    finished(*threads)
    assert order == [1, 2, 3]
    assert [waiting_words(a) for a in told[3]] == [
        "Another song is being analysed and 2 more are waiting before yours…",
        "Another song is being analysed and 1 more is waiting before yours…",
        "Another song is being analysed; yours is next…"]


def test_a_turn_is_reentrant_and_a_stopped_waiter_gives_up_its_place():
    turns = Turns()
    with turns.hold(ANSWER):
        with turns.hold(BACKGROUND):  # the same thread: no deadlock
            pass
        other_waits, stop = threading.Event(), RuntimeError("the page was stopped")

        def stopped(ahead: int) -> None:
            other_waits.set()
            raise stop

        failures = []

        def waiter():
            try:
                turns.acquire(ANSWER, stopped)
            except RuntimeError as exc:
                failures.append(exc)

        finished(started(waiter))
        assert other_waits.is_set() and failures == [stop]
        assert turns.waiting == {ANSWER: 0, BACKGROUND: 0}
    with pytest.raises(RuntimeError):
        turns.release()  # nobody holds it now


def test_the_rest_of_a_page_waits_while_an_answer_is_due_but_not_for_background_work():
    """After its answer a page draws its charts only once no answer waits or runs; other songs' comparison
    models do not hold it up. (The 0.5 s waits only check that nothing happens: they can never fail a
    correct Turns, only a broken one.)"""
    turns = Turns()
    holding, go, answer_waits, answer_runs, answer_done, returned = (threading.Event() for _ in range(6))

    def background():
        with turns.hold(BACKGROUND):
            holding.set()
            assert go.wait(STEP)

    def answer():
        with turns.hold(ANSWER, lambda ahead: answer_waits.set()):
            answer_runs.set()
            assert answer_done.wait(STEP)

    def page():
        turns.wait_for_answers()
        returned.set()

    threads = [started(background)]
    assert holding.wait(STEP)
    turns.wait_for_answers()  # background work alone: no wait
    threads.append(started(answer))
    assert answer_waits.wait(STEP)
    threads.append(started(page))
    assert not returned.wait(0.5)  # an answer is waiting
    go.set()
    assert answer_runs.wait(STEP)
    assert not returned.wait(0.5)  # an answer is running
    answer_done.set()
    assert returned.wait(STEP)
    finished(*threads)
    with turns.hold(ANSWER), pytest.raises(RuntimeError):
        turns.wait_for_answers()  # by the answer's own thread: would never return


def test_the_rest_of_a_page_waits_until_another_pages_answer_is_drawn():
    """Between its turn and its metric on screen a page's answer is still due: other pages' charts wait."""
    turns, returned = Turns(), threading.Event()

    def page():
        turns.wait_for_answers()
        returned.set()

    with turns.answer_due():
        waiter = started(page)
        assert not returned.wait(0.5)  # no turn is held or waited for, but an answer is on its way
    assert returned.wait(STEP)
    finished(waiter)


@pytest.fixture(scope="module")
def zoo() -> ModelZoo:
    return ModelZoo.load(MODELS)


def run_log(monkeypatch, zoo: ModelZoo, hold_at: str):
    """Record (thread name, model) of every prediction; the thread named ``hold_at`` stops inside its first
    prediction (holding its turn) until ``go`` is set. Returns (runs, holding, go)."""
    runs, holding, go = [], threading.Event(), threading.Event()
    predict = zoo_module.predict_with

    def recording(model, analysis):
        me = threading.current_thread().name
        runs.append((me, model.name))
        if me == hold_at and not holding.is_set():
            holding.set()
            assert go.wait(STEP)
        return predict(model, analysis)

    monkeypatch.setattr(zoo_module, "predict_with", recording)
    return runs, holding, go


def test_an_answer_waits_for_one_comparison_model_of_another_song_not_all(zoo, gtzan_dir, monkeypatch):
    """The real zoo: session B's comparison models run one turn each; session A's upload, arriving while
    B's first one runs, gets its answer (equal to the CLI's) before B's second comparison model."""
    song_a, song_b = gtzan_dir / "metal" / "metal.00002.ogg", gtzan_dir / "blues" / "blues.00001.ogg"
    expected = zoo.classify(song_a)  # the CLI's answer: every model, alone
    answered_b = zoo.classify(song_b, models=zoo.answer_models)
    comparison = zoo.missing(answered_b)
    assert len(comparison) > 2
    runs, holding, go = run_log(monkeypatch, zoo, hold_at="B")
    waiting, steps = threading.Event(), []
    results = {}

    def session_a():
        def progress(step: str) -> None:
            steps.append(step)
            if step.startswith("Another song"):
                waiting.set()
        results["A"] = zoo.classify(song_a, progress=progress, models=zoo.answer_models)

    b = threading.Thread(target=lambda: results.setdefault("B", zoo.complete(answered_b)), name="B", daemon=True)
    b.start()
    assert holding.wait(STEP)  # B is inside its first comparison model
    a = threading.Thread(target=session_a, name="A", daemon=True)
    a.start()
    assert waiting.wait(STEP)
    go.set()
    finished(a, b)
    assert [m for t, m in runs if t == "B"] == comparison
    answer = [("A", m) for m in zoo.answer_models]
    assert runs[:len(answer) + 2] == [("B", comparison[0]), *answer, ("B", comparison[1])]  # after B's first step
    assert steps[0] == "Another song is being analysed; yours is next…"
    assert results["A"].final.vote_label == expected.final.vote_label
    np.testing.assert_allclose(results["A"].final.probabilities, expected.final.probabilities, atol=1e-6)
    assert set(results["B"].predictions) == set(zoo.models) and results["B"].ensemble is not None


def test_an_answer_goes_between_the_passes_of_another_songs_explanation(zoo, gtzan_dir, monkeypatch):
    """An explanation is (bands + 1) passes of the network, each its own background turn."""
    song, other = gtzan_dir / "reggae" / "reggae.00003.ogg", gtzan_dir / "jazz" / "jazz.00004.ogg"
    explained = zoo.classify(song, models=zoo.answer_models)
    transfer = zoo.models[explained.final.timeline_model]
    tagger, waiting = zoo.tagger, threading.Event()
    runs, holding, go = run_log(monkeypatch, zoo, hold_at="nobody")
    run = tagger.run

    def recording(*args, **kwargs):
        if threading.current_thread().name == "E":
            runs.append(("E", "pass"))
            if not holding.is_set():
                holding.set()
                assert go.wait(STEP)
        return run(*args, **kwargs)

    monkeypatch.setattr(tagger, "run", recording)
    results = {}
    e = threading.Thread(target=lambda: results.setdefault("E", zoo.explain(explained, transfer, explained.final.vote_label)),
                         name="E", daemon=True)
    e.start()
    assert holding.wait(STEP)
    a = threading.Thread(target=lambda: results.setdefault("A", zoo.classify(
        other, progress=lambda s: s.startswith("Another song") and waiting.set(), models=zoo.answer_models)),
        name="A", daemon=True)
    a.start()
    assert waiting.wait(STEP)
    go.set()
    finished(a, e)
    answer = [("A", m) for m in zoo.answer_models]
    assert runs[:len(answer) + 2] == [("E", "pass"), *answer, ("E", "pass")]  # between the first and second pass
    assert runs.count(("E", "pass")) == len(results["E"].drops) + 1  # every band, and the song as it is
