"""Every page renders under AppTest; the classify page answers uploads and refuses bad bytes."""
from __future__ import annotations

import base64
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import chirp
from streamlit.testing.v1 import AppTest

from genre_core.features.config import GENRES
from genre_core.outputs.text import genre_name

APP = str(Path(__file__).resolve().parent.parent / "streamlit_app.py")
TIMEOUT = 180  # importing torch and librosa and loading the models is slow on 2 cores


def _app() -> AppTest:
    return AppTest.from_file(APP, default_timeout=TIMEOUT)


def _wav_bytes(samples: np.ndarray, sr: int = 22050) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, samples, sr, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def test_classify_page_renders_and_asks_for_audio():
    at = _app().run()
    assert not at.exception
    assert at.title[0].value == "Which genre is this song?"
    assert any("Upload or record" in i.value for i in at.info)


def test_classify_page_classifies_an_uploaded_clip():
    at = _app().run()
    at.file_uploader[0].set_value(("chirp.wav", _wav_bytes(np.tile(chirp(5.0), 2)), "audio/wav")).run()
    assert not at.exception
    assert not at.error, [e.value for e in at.error]
    labels = {m.label: m.value for m in at.metric}
    assert labels["Predicted genre"].lower() in GENRES
    assert labels["Probability"].endswith("%")
    votes = at.dataframe[0].value
    assert len(votes) >= 2 and set(votes["answer"]) <= {genre_name(g) for g in GENRES}


@pytest.mark.parametrize("seconds, sampled", [(30.0, False), (60.0, True)])
def test_classify_says_when_the_comparison_models_heard_spread_windows(seconds, sampled):
    """A song of more than 32 windows (about 50 s) is heard by the models trained from scratch at 32 spread
    windows; the page says so under their votes, and says nothing for a clip they heard whole."""
    at = _app().run()
    at.file_uploader[0].set_value(("song.wav", _wav_bytes(chirp(seconds)), "audio/wav")).run()
    assert not at.exception and not at.error
    said = [c.value for c in at.caption if "heard 32 of its 3 s windows" in c.value]
    assert len(said) == (1 if sampled else 0), [c.value for c in at.caption]


def test_a_long_songs_timeline_says_it_shows_spread_moments():
    """A song of more than 32 patches (96 s) is heard at 32 spread moments: the timeline's title says so."""
    at = _app().run()
    at.file_uploader[0].set_value(("song.wav", _wav_bytes(chirp(120.0)), "audio/wav")).run()
    assert not at.exception and not at.error
    assert _chart(at, "Genre along the song (32 moments of 3 s)")
    assert any("averaged over the moments it heard" in c.value for c in at.caption)


def _plotly_values(values) -> np.ndarray:
    """Plotly 6+ sends numeric arrays as {'dtype', 'bdata'} (base64)."""
    if isinstance(values, dict):
        return np.frombuffer(base64.b64decode(values["bdata"]), dtype=np.dtype(values["dtype"]))
    return np.asarray(values, dtype=float)


def _chart(at: AppTest, title: str) -> dict:
    chart = next(c for c in at.get("plotly_chart") if title in c.proto.spec)
    return json.loads(chart.proto.spec)


def test_headline_genre_probability_and_top_bar_agree():
    """One rule: the metric, its probability and the top bar of the probability chart are the same."""
    at = _app().run()
    at.file_uploader[0].set_value(("chirp.wav", _wav_bytes(np.tile(chirp(5.0), 2)), "audio/wav")).run()
    labels = {m.label: m.value for m in at.metric}
    bars = _chart(at, "Genre probabilities")["data"][0]
    x = _plotly_values(bars["x"])
    top = int(np.argmax(x))
    assert bars["y"][top] == labels["Predicted genre"].lower()
    assert abs(x[top] - float(labels["Probability"].rstrip("%"))) <= 0.5


def test_the_tagger_tags_are_shown():
    at = _app().run()
    at.file_uploader[0].set_value(("chirp.wav", _wav_bytes(np.tile(chirp(5.0), 2)), "audio/wav")).run()
    specs = [c.proto.spec for c in at.get("plotly_chart")]
    assert any("What the pretrained tagger hears" in s for s in specs)
    assert any("Million Song Dataset" in c.value for c in at.caption)


def test_a_recording_after_an_upload_is_the_one_analysed():
    at = _app().run()
    at.file_uploader[0].set_value(("chirp.wav", _wav_bytes(np.tile(chirp(5.0), 2)), "audio/wav")).run()
    first = at.caption
    recording = _wav_bytes(np.tile(chirp(4.0, 48000, 300, 900), 2), 48000)
    at.audio_input[0].set_value(("recording.wav", recording, "audio/wav")).run()
    assert not at.exception and not at.error
    captions = [c.value for c in at.caption]
    assert any("latest input: the **recording**" in c for c in captions)
    assert any("originally 48000 Hz" in c for c in captions), first


def test_a_recording_is_classified_like_an_upload():
    at = _app().run()
    recording = _wav_bytes(np.tile(chirp(4.0, 48000), 2), 48000)  # browsers record at 48 kHz
    at.audio_input[0].set_value(("recording.wav", recording, "audio/wav")).run()
    assert not at.exception and not at.error
    assert any(m.label == "Predicted genre" for m in at.metric)
    assert any("originally 48000 Hz" in c.value for c in at.caption)


@pytest.mark.parametrize("name, expected", [
    ("random.wav", "not an audio file"),
    ("random.mp3", "not an audio file"),
    ("text.wav", "not an audio file"),
    ("empty.wav", "empty"),
    ("header_only.wav", "contains no audio"),
    ("short.wav", "only 0.50 s long"),
    ("tiny.wav", "only 0.20 s long"),
    ("silence.wav", "silent"),
    ("nan_float.wav", "invalid sample values"),
])
def test_bad_uploads_get_a_clear_error_and_the_app_keeps_working(audio_dir, name, expected):
    at = _app().run()
    at.file_uploader[0].set_value((name, (audio_dir / name).read_bytes(), "audio/wav")).run()
    assert not at.exception
    assert any(expected in e.value for e in at.error), [e.value for e in at.error]
    assert not at.metric  # no result is shown for a refused file
    # the same session then classifies a good file
    at.file_uploader[0].set_value(("chirp.wav", _wav_bytes(np.tile(chirp(5.0), 2)), "audio/wav")).run()
    assert not at.exception and not at.error
    assert any(m.label == "Predicted genre" for m in at.metric)


def test_upload_over_the_size_limit_is_refused_in_words():
    from streamlit import config

    previous = config.get_option("server.maxUploadSize")
    config.set_option("server.maxUploadSize", 1)
    try:
        at = _app().run()
        at.file_uploader[0].set_value(("big.wav", _wav_bytes(chirp(30.0)), "audio/wav")).run()
        assert not at.exception and not at.metric
        assert any("too large" in e.value and "limit is 1 MB" in e.value for e in at.error)
    finally:
        config.set_option("server.maxUploadSize", previous)


@pytest.mark.parametrize("name, warning", [
    ("truncated.wav", "truncated"),
    ("twenty_minutes.wav", "the first 10 minutes were analysed"),
    ("cut_short.mp3", "could be decoded"),
    ("cover_art.mp3", None),
    ("chirp.m4a", None),
    ("chirp.opus", None),
    ("chirp.webm", None),
    ("rate8k.wav", "8000 Hz"),
    ("six_channels.wav", None),
    ("rate96k.wav", None),
    ("stereo48k.wav", None),
])
def test_odd_but_usable_files_get_a_result(audio_dir, name, warning):
    at = _app().run()
    at.file_uploader[0].set_value((name, (audio_dir / name).read_bytes(), "audio/wav")).run()
    assert not at.exception and not at.error
    assert any(m.label == "Predicted genre" for m in at.metric)
    if warning:
        assert any(warning in w.value for w in at.warning), [w.value for w in at.warning]


def test_explore_page_renders():
    at = _app().run()
    at.switch_page("pages/explore.py").run()
    assert not at.exception and not at.error
    assert at.title[0].value.endswith("Explore the dataset")
    at.selectbox[1].set_value("rock").run()  # genre B
    assert not at.exception


def test_compare_page_renders_both_protocols():
    at = _app().run()
    at.switch_page("pages/compare.py").run()
    assert not at.exception and not at.error
    table = at.dataframe[0].value
    assert {"svm_handcrafted", "musicnn_logreg", "headline"} <= set(table["model"])
    assert table["balanced accuracy"].between(0, 1).all()
    at.radio[1].set_value("vote").run()
    assert not at.exception
    at.radio[0].set_value("artist").run()
    assert not at.exception and not at.error
    table = at.dataframe[0].value
    assert "balanced acc. (covered genres)" in table.columns and "musicnn_logreg" in set(table["model"])
    assert any("cannot speak for them" in c.value for c in at.caption)


def _upload(at: AppTest, name: str, data: bytes) -> AppTest:
    return at.file_uploader[0].set_value((name, data, "audio/wav")).run()


def test_state_not_music_for_a_sweep():
    at = _upload(_app().run(), "sweep.wav", _wav_bytes(np.tile(chirp(5.0), 2)))
    assert any("Not music?" in w.value for w in at.warning), [w.value for w in at.warning]
    assert any(m.label == "Predicted genre" for m in at.metric)  # the forced choice is still shown


def test_state_mixed_for_a_medley_with_sections(gtzan_dir):
    clips = ["classical/classical.00002.ogg", "metal/metal.00002.ogg", "reggae/reggae.00002.ogg"]
    medley = np.concatenate([sf.read(gtzan_dir / c, dtype="float32")[0] for c in clips])
    at = _upload(_app().run(), "medley.wav", _wav_bytes(medley))
    assert not at.exception and not at.error
    mixed = [i.value for i in at.info if "Mixed genres" in i.value]
    assert mixed and "classical" in mixed[0] and "metal" in mixed[0] and "0:00–" in mixed[0], \
        [i.value for i in at.info]


def test_state_not_sure_is_shown_with_both_candidates(monkeypatch):
    """The page's rendering of the 'not sure' state (its threshold is tested in test_states)."""
    import genre_core.serving.zoo as inference
    from genre_core.serving.states import Verdict

    def unsure(probabilities, labels, *args):
        order = np.argsort(probabilities)[::-1]
        return Verdict("unsure", labels[order[0]], float(probabilities[order[0]]), labels[order[1]],
                       f"Not sure: {labels[order[0]]} or {labels[order[1]]}.")

    monkeypatch.setattr(inference, "assess", unsure)
    at = _upload(_app().run(), "song.wav", _wav_bytes(np.tile(chirp(5.0, 22050, 200, 900), 2)))
    assert any("Not sure:" in w.value and " or " in w.value for w in at.warning), [w.value for w in at.warning]


def test_a_training_clip_is_recognised_and_answered_out_of_fold(gtzan_dir):
    at = _app().run()
    clip = gtzan_dir / "jazz" / "jazz.00003.ogg"
    at.file_uploader[0].set_value((clip.name, clip.read_bytes(), "audio/ogg")).run()
    notice = [i.value for i in at.info if "one the models were trained on" in i.value]
    assert notice and "jazz.00003" in notice[0] and "out-of-fold" in notice[0]


def test_about_page_is_drawn_from_the_stored_results():
    at = _app().run()
    at.switch_page("pages/about.py").run()
    assert not at.exception and not at.error
    text = " ".join(m.value for m in at.markdown)
    assert "clips** of GTZAN" in text and "artist-filtered test has" in text and "not sure" in text
    table = at.dataframe[0].value
    assert "musicnn_logreg" in set(table["folder"]) and table["balanced accuracy (5-fold)"].between(0, 1).all()


def test_why_this_genre_and_the_report_downloads(gtzan_dir):
    clip = gtzan_dir / "metal" / "metal.00002.ogg"
    at = _app().run()
    at.file_uploader[0].set_value((clip.name, clip.read_bytes(), "audio/ogg")).run()
    assert any(s.value == "Why this genre" for s in at.subheader)
    assert any("The pretrained network hears" in m.value for m in at.markdown)
    timeline = _chart(at, "Genre along the song")
    assert any(t.get("name", "").startswith("windows voting") for t in timeline["data"])  # the windows that carried it
    assert any("Click a point to play" in c.value for c in at.caption)  # text alternative of the timeline
    at.button[0].click().run()  # show which moments and frequencies decided it
    assert not at.exception and not at.error
    assert any("Why metal" in c.proto.spec for c in at.get("plotly_chart"))
    assert any("Turning the" in m.value and "metal" in m.value for m in at.markdown)
    downloads = at.get("download_button")
    assert [d.proto.label for d in downloads] == ["Download the report (HTML)", "Download the result (JSON)"]


def test_clicking_the_timeline_plays_the_song_from_there():
    """The timeline's selection (what a click sends) sets the audio player's start time."""
    at = _upload(_app().run(), "song.wav", _wav_bytes(np.tile(chirp(5.0, 22050, 200, 900), 2)))
    at.session_state["timeline"] = {"selection": {"points": [{"x": 7.5, "y": 40}], "point_indices": [2]}}
    at.run()
    assert not at.exception
    assert at.get("audio")[0].proto.start_time == 7
    assert any("Playing from 0:07" in c.value for c in at.caption)


def test_two_songs_side_by_side(gtzan_dir):
    at = _app().run()
    at.switch_page("pages/two_songs.py").run()
    assert not at.exception and len(at.info) == 2
    for i, name in enumerate(("classical/classical.00005.ogg", "metal/metal.00005.ogg")):
        clip = gtzan_dir / name
        at.file_uploader[i].set_value((clip.name, clip.read_bytes(), "audio/ogg")).run()
    assert not at.exception and not at.error
    assert [m.value for m in at.metric] == ["Classical", "Metal"]
    assert sum("Mel spectrogram" in c.proto.spec for c in at.get("plotly_chart")) == 2
    assert any("differ by" in m.value for m in at.markdown)


def test_many_files_at_once_lists_bad_files_and_offers_a_csv(audio_dir):
    at = _app().run()
    at.switch_page("pages/batch.py").run()
    assert not at.exception
    files = [(n, (audio_dir / n).read_bytes(), "audio/wav") for n in ("chirp.wav", "text.wav", "stereo48k.wav")]
    at.file_uploader[0].set_value(files).run()
    assert not at.exception and not at.error
    table = at.dataframe[0].value
    assert list(table["file"]) == ["chirp.wav", "stereo48k.wav"] and table["confidence"].between(0, 1).all()
    assert any(w.value.startswith("` text.wav `") for w in at.warning)  # the name, as text
    assert at.get("download_button")[0].proto.label == "Download the table (CSV)"


HOSTILE_IMAGE = "![t](http://example.invalid/p.png)bad.wav"
HOSTILE_LINK = "[home](http://example.invalid)=song.wav"


def test_hostile_file_names_stay_text_on_many_files(audio_dir):
    from genre_core.outputs.text import markdown_name

    at = _app().run()
    at.switch_page("pages/batch.py").run()
    files = [(HOSTILE_LINK, (audio_dir / "chirp.wav").read_bytes(), "audio/wav"),
             (HOSTILE_IMAGE, (audio_dir / "text.wav").read_bytes(), "audio/wav")]
    at.file_uploader[0].set_value(files).run()
    assert not at.exception
    warning = next(w.value for w in at.warning if "bad" in w.value)
    assert warning.startswith(markdown_name(HOSTILE_IMAGE)) and warning.count("![t](") == 1  # only in the code span
    assert list(at.dataframe[0].value["file"]) == [HOSTILE_LINK]  # the table cell is text already


def test_hostile_file_names_stay_text_on_two_songs(audio_dir):
    from genre_core.outputs.text import markdown_name

    at = _app().run()
    at.switch_page("pages/two_songs.py").run()
    for i, name in enumerate((HOSTILE_IMAGE, HOSTILE_LINK)):
        at.file_uploader[i].set_value((name, (audio_dir / "chirp.wav").read_bytes(), "audio/wav")).run()
    assert not at.exception
    assert [m.label for m in at.metric][:2] == [markdown_name(HOSTILE_IMAGE), markdown_name(HOSTILE_LINK)]


def test_two_songs_timeline_click_plays_that_song_from_there(gtzan_dir):
    at = _app().run()
    at.switch_page("pages/two_songs.py").run()
    for i, name in enumerate(("classical/classical.00005.ogg", "metal/metal.00005.ogg")):
        clip = gtzan_dir / name
        at.file_uploader[i].set_value((clip.name, clip.read_bytes(), "audio/ogg")).run()
    at.session_state["timeline_B"] = {"selection": {"points": [{"x": 13.5, "y": 40}], "point_indices": [4]}}
    at.run()
    assert not at.exception
    assert [a.proto.start_time for a in at.get("audio")] == [0, 13]
    mels = [json.loads(c.proto.spec) for c in at.get("plotly_chart") if "Mel spectrogram" in c.proto.spec]
    ranges = {(m["data"][0]["zmin"], m["data"][0]["zmax"]) for m in mels}
    assert len(mels) == 2 and len(ranges) == 1  # one colour range for both songs


@pytest.mark.parametrize("page, first_title", [("pages/compare.py", "Every model, both protocols"),
                                               ("pages/explore.py", "classical (")])
def test_presentation_view_steps_through_charts_at_projector_size(page, first_title):
    at = _app().run()
    at.switch_page(page).run()
    at.toggle[0].set_value(True).run()
    assert not at.exception
    charts = at.get("plotly_chart")
    assert len(charts) == 1  # one chart at a time
    spec = json.loads(charts[0].proto.spec)
    assert first_title in spec["layout"]["title"]["text"]
    assert spec["layout"]["font"]["size"] >= 18 and spec["layout"]["height"] >= 700
    next_button = next(b for b in at.button if "Next" in b.label)
    next_button.click().run()
    assert not at.exception
    assert json.loads(at.get("plotly_chart")[0].proto.spec)["layout"]["title"]["text"] != spec["layout"]["title"]["text"]


def test_compare_defaults_to_the_headline_against_a_model_trained_from_scratch():
    at = _app().run()
    at.switch_page("pages/compare.py").run()
    first, second = at.selectbox[0].value, at.selectbox[1].value
    assert first == "headline" and second != first and second not in ("musicnn_logreg", "ensemble")
    assert first not in at.selectbox[1].options


def _step_controls(at: AppTest) -> tuple:
    """Presentation view's (Previous, Next, chart select, 'Chart N of M' text)."""
    back = next(b for b in at.button if "Previous" in b.label)
    forward = next(b for b in at.button if "Next" in b.label)
    pick = next(s for s in at.selectbox if s.label == "Chart")
    place = next(e.value for e in (*at.markdown, *at.caption) if e.value.startswith("Chart "))
    return back, forward, pick, place


@pytest.mark.parametrize("page", ["pages/compare.py", "pages/explore.py"])
def test_previous_and_next_know_the_chart_they_step_from(page):
    """Both buttons are drawn for the chart on screen: Previous is live from chart 2 on, Next is off on the last."""
    at = _app().run()
    at.switch_page(page).run()
    at.toggle[0].set_value(True).run()
    count = len(_step_controls(at)[2].options)
    assert count >= 5
    seen = []
    for index in range(count):
        back, forward, _, place = _step_controls(at)
        assert place == f"Chart {index + 1} of {count}"
        assert (back.disabled, forward.disabled) == (index == 0, index == count - 1), index
        seen.append(json.loads(at.get("plotly_chart")[0].proto.spec)["layout"]["title"]["text"])
        if index < count - 1:
            forward.click().run()
            assert not at.exception
    assert len(set(seen)) == count  # every step showed another chart
    for index in reversed(range(count - 1)):
        _step_controls(at)[0].click().run()
        assert _step_controls(at)[3] == f"Chart {index + 1} of {count}"
        assert json.loads(at.get("plotly_chart")[0].proto.spec)["layout"]["title"]["text"] == seen[index]
    back, forward, pick, _ = _step_controls(at)
    assert back.disabled and not forward.disabled
    pick.select_index(count - 1).run()  # picking a chart moves the buttons with it
    back, forward, _, place = _step_controls(at)
    assert not back.disabled and forward.disabled and place == f"Chart {count} of {count}"


def test_learning_curves_offer_only_models_with_epochs():
    """Every model offered (and pre-selected) draws a train and a validation line; those without are named."""
    at = _app().run()
    at.switch_page("pages/compare.py").run()
    picker = at.multiselect[0]
    assert picker.value and not {"musicnn_logreg", "svm_handcrafted", "headline", "ensemble"} & set(picker.options)
    for metric in ("Loss", "Accuracy"):
        names = [t["name"] for t in _chart(at, f"{metric} per epoch")["data"]]
        assert names == [f"{m} {part}" for m in picker.value for part in ("train", "validation")]
    note = next(c.value for c in at.caption if c.value.startswith("No curves for"))
    assert "musicnn_logreg" in note and "svm_handcrafted" in note
    at.toggle[0].set_value(True).run()  # presentation view draws the same models
    pick = _step_controls(at)[2]
    pick.select_index(len(pick.options) - 2).run()
    names = [t["name"] for t in json.loads(at.get("plotly_chart")[0].proto.spec)["data"]]
    assert names == [f"{m} {part}" for m in at.multiselect[0].value for part in ("train", "validation")]


def test_library_page_reads_results_and_opens_a_song_in_classify(audio_dir, tmp_path):
    from genre_core.library.engine import classify_entries
    from genre_core.library.results import finish_table, list_sources, write_part
    from genre_core.serving.zoo import ModelZoo

    songs = tmp_path / "songs"
    songs.mkdir()
    for name in ("chirp.wav", "stereo48k.wav", "text.wav"):
        (songs / name).write_bytes((audio_dir / name).read_bytes())
    entries, _ = list_sources(songs)
    write_part(tmp_path / "results", classify_entries(ModelZoo.load(defer=True), entries), 0)
    finish_table(tmp_path / "results", entries)

    at = _app().run()
    at.switch_page("pages/library.py").run()
    assert not at.exception and any("Type the folder" in i.value for i in at.info)
    at.text_input[0].set_value(str(tmp_path / "nowhere")).run()
    assert at.error and not at.exception
    at.text_input[0].set_value(str(tmp_path / "results")).run()
    assert not at.exception and not at.error
    assert at.subheader[0].value == "2 songs classified, 1 could not be"
    assert len(at.dataframe[0].value) == 2
    at.selectbox[0].set_value(str((songs / "chirp.wav").resolve())).run()
    at.button[0].click().run()
    assert not at.exception
    assert any("From your library" in c.value for c in at.caption)
    assert {m.label for m in at.metric} >= {"Predicted genre", "Probability"}


# the stored label where a person reads a genre; a GTZAN file name (hiphop.00000.ogg) may keep it
UNHYPHENATED = re.compile(r"hiphop(?![./])", re.IGNORECASE)


def _what_people_read(at: AppTest) -> str:
    """Every text the page shows: headings, sentences, notes, metrics, table cells and the charts' texts."""
    texts = [e.value for kind in ("title", "subheader", "markdown", "caption", "info", "warning", "error", "success")
             for e in at.get(kind)]
    texts += [f"{m.label} {m.value} {m.proto.delta}" for m in at.metric]
    for frame in at.dataframe:
        texts += list(frame.value.columns) + [str(v) for v in frame.value.to_numpy().ravel()]
    texts += [c.proto.spec for c in at.get("plotly_chart")]  # titles, legends, axis categories, hover texts
    return "\n".join(texts)


def test_classify_says_hip_hop_in_every_sentence(gtzan_dir):
    clip = gtzan_dir / "hiphop" / "hiphop.00000.ogg"
    at = _app().run()
    at.file_uploader[0].set_value((clip.name, clip.read_bytes(), "audio/ogg")).run()
    at.button[0].click().run()  # show which moments and frequencies decided it
    assert not at.exception and any("Why hip-hop" in c.proto.spec for c in at.get("plotly_chart"))
    said = _what_people_read(at)
    assert "In words: hip-hop" in said and "the hip-hop answer" in said
    assert not UNHYPHENATED.search(said), [line for line in said.splitlines() if UNHYPHENATED.search(line)][:5]


def test_two_songs_and_many_files_say_hip_hop(gtzan_dir):
    """Song B (hiphop.00001) sounds unlike the training music: its note names the forced choice too."""
    clips = [gtzan_dir / "hiphop" / f"hiphop.0000{i}.ogg" for i in (0, 1)]
    at = _app().run()
    at.switch_page("pages/two_songs.py").run()
    for i, clip in enumerate(clips):
        at.file_uploader[i].set_value((clip.name, clip.read_bytes(), "audio/ogg")).run()
    assert not at.exception and [m.value for m in at.metric] == ["Hip-hop", "Hip-hop"]
    said = _what_people_read(at)
    assert "choose: hip-hop" in said and "Both are **hip-hop**" in said
    assert not UNHYPHENATED.search(said), [line for line in said.splitlines() if UNHYPHENATED.search(line)][:5]
    at.switch_page("pages/batch.py").run()
    at.file_uploader[0].set_value([(c.name, c.read_bytes(), "audio/ogg") for c in clips]).run()
    assert not at.exception and list(at.dataframe[0].value["genre"]) == ["hip-hop", "hip-hop"]
    said = _what_people_read(at)
    assert "2 hip-hop" in said and not UNHYPHENATED.search(said), said
    assert list(at.session_state["batch_table"]["genre"]) == ["hiphop", "hiphop"]  # the CSV's table: stored labels


def test_the_projected_scores_name_each_model_once_in_words():
    """'Every model, both protocols' at projector size: titles, not folders; the headline that is one model
    is not a second, identical row, and the app's answer is in bold."""
    from genre_core.outputs.catalog import headline_member, plain_title, titles_in_words

    at = _app().run()
    at.switch_page("pages/compare.py").run()
    at.toggle[0].set_value(True).run()
    spec = _chart(at, "Every model, both protocols")
    axis = spec["layout"]["yaxis"]
    shown = [t.replace("<br>", " ").replace("<b>", "").replace("</b>", "") for t in axis["ticktext"]]
    models = Path(APP).parent / "models"
    titles, member = titles_in_words(models), headline_member(models)
    assert "headline" not in axis["tickvals"] and len(set(shown)) == len(shown) == len(spec["data"][0]["y"])
    assert all(shown[i] == plain_title(titles[name]) for i, name in enumerate(axis["tickvals"]))
    assert "in bold: the app's answer" in spec["layout"]["title"]["text"]
    assert [t for t in axis["ticktext"] if t.startswith("<b>")] == [axis["ticktext"][axis["tickvals"].index(member)]]
