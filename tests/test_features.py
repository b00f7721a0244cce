"""Feature shapes, values against librosa, windowing and the handcrafted features."""
from __future__ import annotations

import csv

import librosa
import numpy as np
import pytest
from conftest import chirp

from genre_core.audio.decode import AudioClip, load_audio
from genre_core.features.config import DEFAULT_FEATURES, GENRES, SHORT_WINDOW_FEATURES, FeatureConfig
from genre_core.features.spectral import (
    HANDCRAFTED_NAMES,
    compute_clip_features,
    cut_windows,
    excerpt_frames,
    handcrafted_features,
    power_spectrogram,
    window_starts,
    window_times,
)
from genre_core.models.predict import ClipAnalysis

CFG = DEFAULT_FEATURES


@pytest.fixture(scope="module")
def signal() -> np.ndarray:
    return chirp(30.0)


@pytest.fixture(scope="module")
def feats(signal) -> dict[str, np.ndarray]:
    return compute_clip_features(signal, CFG)


def test_shapes(feats):
    n_frames = 1 + 30 * 22050 // 512
    assert feats["spectrogram"].shape == (1025, n_frames)
    assert feats["mel"].shape == (128, n_frames)
    assert feats["mfcc"].shape == (20, n_frames)
    assert all(v.dtype == np.float32 for v in feats.values())


def test_values_match_librosa(signal, feats):
    power = np.abs(librosa.stft(signal, n_fft=2048, hop_length=512)) ** 2
    np.testing.assert_allclose(feats["spectrogram"], librosa.power_to_db(power, ref=1.0, amin=1e-10, top_db=None),
                               atol=1e-3)
    mel = librosa.power_to_db(librosa.feature.melspectrogram(y=signal, sr=22050, n_fft=2048, hop_length=512,
                                                             n_mels=128), amin=1e-10, top_db=None)
    np.testing.assert_allclose(feats["mel"], mel, atol=1e-2)
    np.testing.assert_allclose(feats["mfcc"], librosa.feature.mfcc(S=mel, n_mfcc=20), atol=5e-2)


def test_regression_values(feats):
    # Fixed numbers of this chirp, so an accidental change of the feature code shows up.
    assert feats["mel"].mean() == pytest.approx(-86.08, abs=0.05)
    assert feats["mfcc"][0].mean() == pytest.approx(-973.9, abs=0.5)
    assert feats["spectrogram"].max() == pytest.approx(48.16, abs=0.05)


def test_windows_of_a_30s_clip(feats):
    windows = cut_windows(feats["mel"], CFG)
    assert CFG.frames_per_window == 130 and CFG.window_hop_frames == 65
    assert windows.shape == (18, 128, 130)
    starts = window_starts(feats["mel"].shape[1], CFG)
    np.testing.assert_array_equal(windows[3], feats["mel"][:, starts[3] : starts[3] + 130])
    times = window_times(feats["mel"].shape[1], CFG)
    assert times[0, 0] == 0.0 and times[0, 1] == 3.0
    assert times[1, 0] == pytest.approx(65 * 512 / 22050)


def test_short_windows_selectable(feats):
    windows = cut_windows(feats["mel"], SHORT_WINDOW_FEATURES)
    assert windows.shape[1:] == (128, SHORT_WINDOW_FEATURES.frames_per_window)
    assert len(windows) > 2 * 18


def test_too_short_for_a_window_gives_no_window():
    image = np.zeros((128, 50), dtype=np.float32)
    assert cut_windows(image, CFG).shape == (0, 128, 130)


def test_config_round_trip_and_key():
    cfg = FeatureConfig(n_mfcc=40, window_seconds=1.5)
    assert FeatureConfig.from_dict(cfg.to_dict()) == cfg
    assert cfg.key() != CFG.key()
    with pytest.raises(ValueError):
        FeatureConfig.from_dict({**CFG.to_dict(), "bogus": 1})
    with pytest.raises(ValueError):
        FeatureConfig(overlap=1.0)


def test_handcrafted_names_and_finite(signal):
    values = handcrafted_features(signal, CFG)
    assert values.shape == (len(HANDCRAFTED_NAMES),) == (53,)
    assert np.all(np.isfinite(values))


def test_handcrafted_matches_the_public_gtzan_table(gtzan_dir):
    """Our features of rock.00003 agree with the published table (computed on the original PCM)."""
    with open(gtzan_dir / "features_30_sec.csv") as handle:
        row = next(r for r in csv.DictReader(handle) if r["filename"] == "rock.00003.au")
    ours = dict(zip(HANDCRAFTED_NAMES, handcrafted_features(load_audio(gtzan_dir / "rock/rock.00003.ogg").samples, CFG)))
    for name in ("mfcc1_mean", "mfcc2_mean", "spectral_centroid_mean", "spectral_bandwidth_mean", "rolloff_mean",
                 "zero_crossing_rate_mean", "rms_mean", "chroma_stft_mean"):
        assert ours[name] == pytest.approx(float(row[name]), rel=0.03), name


def test_spectral_shape_matches_librosa(signal):
    from genre_core.features.spectral import spectral_shape

    noisy = signal + 0.05 * np.random.default_rng(0).standard_normal(len(signal)).astype(np.float32)
    mag = np.abs(librosa.stft(noisy, n_fft=2048, hop_length=512))
    centroid, bandwidth, rolloff = spectral_shape(mag, 22050, 2048)
    np.testing.assert_allclose(centroid, librosa.feature.spectral_centroid(S=mag, sr=22050)[0], rtol=1e-4)
    np.testing.assert_allclose(bandwidth, librosa.feature.spectral_bandwidth(S=mag, sr=22050)[0], rtol=1e-3)
    expected = librosa.feature.spectral_rolloff(S=mag, sr=22050)[0]
    assert np.mean(np.isclose(rolloff, expected)) > 0.99  # float32 vs float64 cumulative sums may differ by a bin


def test_zero_crossing_rate_matches_librosa(signal):
    from genre_core.features.spectral import zero_crossing_rate

    noisy = signal + 0.05 * np.random.default_rng(1).standard_normal(len(signal)).astype(np.float32)
    noisy[1000:3000] = 0.0
    ours = zero_crossing_rate(noisy, 2048, 512)
    expected = librosa.feature.zero_crossing_rate(noisy, frame_length=2048, hop_length=512)[0]
    np.testing.assert_allclose(ours, expected, atol=1e-9)


def test_heatmap_colour_scales_avoid_streamlits_placeholder_colours():
    """Streamlit's plotly theme repaints #000001-#000040; the darkest stop must be outside that range."""
    from genre_core.outputs.plots import MAGMA, feature_heatmap, genre_grid

    image = np.random.default_rng(0).normal(size=(128, 200)).astype(np.float32)
    figures = [feature_heatmap(image, 0.02, "mel", "mel"), genre_grid(np.stack([image] * 10), GENRES, 0.02, "mel")]
    for fig in figures:
        for trace in fig.data:
            for _, colour in trace.colorscale:
                value = int(colour.lstrip("#"), 16) if colour.startswith("#") else None
                assert value is None or not 0x000001 <= value <= 0x000040, colour
    assert MAGMA[0][1] == "#010106" and MAGMA[-1][1] == "#fcfdbf"


def test_mel_heatmap_axis_is_in_hertz_and_mfcc_leaves_out_coefficient_zero():
    from genre_core.outputs.plots import feature_heatmap

    mel = feature_heatmap(np.zeros((128, 50), dtype=np.float32), 0.02, "mel", "mel")
    assert mel.layout.yaxis.title.text == "frequency (Hz)"
    assert list(mel.layout.yaxis.ticktext) == ["500", "1 k", "2 k", "4 k", "8 k"]
    mfcc = np.zeros((20, 50), dtype=np.float32)
    mfcc[0] = -400.0  # loudness coefficient, far off the scale of the others
    mfcc[1:] = np.random.default_rng(0).normal(size=(19, 50))
    fig = feature_heatmap(mfcc, 0.02, "mfcc", "mfcc")
    assert fig.data[0].z.shape[0] == 19 and fig.data[0].y[0] == 1 and fig.data[0].zmax < 10


def test_the_genre_grid_on_a_phone_has_two_tiles_a_row_and_room_for_every_name():
    from genre_core.outputs.plots import genre_grid
    from genre_core.outputs.text import genre_name

    image = np.random.default_rng(0).normal(size=(64, 200)).astype(np.float32)
    for per_row in (5, 2):
        fig = genre_grid(np.stack([image] * 10), GENRES, 0.02, "mel", per_row=per_row)
        names = fig.layout.annotations
        assert [a.text for a in names] == [f"<b>{genre_name(g)}</b>" for g in GENRES]
        assert len({round(a.x) for a in names}) == per_row and len({round(a.y) for a in names}) == 10 // per_row


def _windows(shares: dict[str, float], n: int = 10) -> np.ndarray:
    """(n, 10) window probabilities: ``shares`` of the named genres, the rest spread evenly."""
    row = np.full(10, (1 - sum(shares.values())) / (10 - len(shares)))
    for genre, share in shares.items():
        row[GENRES.index(genre)] = share
    return np.tile(row, (n, 1))


def test_the_timeline_names_the_genres_it_shows_and_keeps_its_plot_height():
    """Only genres reaching 10 % get a legend entry; the legend's rows are reserved below the axis, so the plot
    area is the same height however many rows it needs; two timelines side by side share entries and rows."""
    from genre_core.outputs.plots import TIMELINE_PLOT_PX, legend_rows, shared_timeline_legend, timeline

    times = np.stack([np.arange(10) * 3.0, np.arange(10) * 3.0 + 3], axis=1)
    hiphop = _windows({"hiphop": 0.8, "disco": 0.15})
    mixed = _windows({g: 0.11 for g in GENRES[:9]})
    plots = []
    for probabilities in (hiphop, mixed):
        fig = timeline(GENRES, probabilities, times, answer="hiphop")
        plots.append(fig.layout.height - fig.layout.margin.t - fig.layout.margin.b)
        named = [t.name for t in fig.data if t.showlegend is not False]
        if probabilities is hiphop:
            assert named == ["disco", "hip-hop"]
            assert any(t.name == "windows voting hip-hop" for t in fig.data)
    assert plots == [TIMELINE_PLOT_PX, TIMELINE_PLOT_PX]
    names = ["classical", "hip-hop", "country", "reggae", "metal"]
    assert legend_rows(names) == 3 and legend_rows(names, width=1000) == 1  # two columns on a phone
    shown, rows = shared_timeline_legend([(GENRES, hiphop), (GENRES, _windows({"classical": 0.9}))])
    assert shown == ["classical", "disco", "hiphop"] and rows == 2


def test_every_bar_label_stays_whole():
    """A bar past half the axis carries its label inside (black on a light bar, white on a dark one); the
    others outside it, never clipped to the axes nor shrunk."""
    from genre_core.outputs.plots import probability_bars

    probabilities = np.array([0.925, 0.05, 0.025] + [0.0] * 7)
    bars = probability_bars(GENRES, probabilities).data[0]
    assert list(bars.textposition) == ["outside"] * 9 + ["inside"] and bars.text[-1] == "92.5 %"
    assert bars.cliponaxis is False and bars.constraintext == "none"
    assert bars.insidetextfont.color[-1] == "#000000"  # on blues' mid blue (contrast 6.2, white 3.4)
    dark = probability_bars(GENRES, np.roll(probabilities, 4)).data[0]  # hip-hop's purple
    assert dark.insidetextfont.color[-1] == "#ffffff"


def test_power_spectrogram_is_librosas_to_the_bit(signal):
    """Our STFT (frames along their contiguous axis, in blocks) gives librosa's numbers exactly: the stored
    models' answers on every clip stay what they were."""
    reference = (np.abs(librosa.stft(signal, n_fft=CFG.n_fft, hop_length=CFG.hop_length)) ** 2).astype(np.float32)
    assert np.array_equal(power_spectrogram(signal, CFG), reference)
    piece = signal[1000:90000]
    uncentred = (np.abs(librosa.stft(piece, n_fft=CFG.n_fft, hop_length=CFG.hop_length, center=False)) ** 2)
    assert np.array_equal(power_spectrogram(piece, CFG, center=False), uncentred.astype(np.float32))
    batch = np.stack([piece, piece[::-1].copy()])
    assert np.array_equal(power_spectrogram(batch, CFG, center=False)[1],
                          power_spectrogram(piece[::-1].copy(), CFG, center=False))


def test_excerpts_hold_the_whole_clips_frames(signal):
    """An excerpt's frames are the whole clip's frames at the same place, the first and last included."""
    whole = power_spectrogram(signal, CFG)
    n = CFG.frames_per_window
    starts = np.array([0, 300, whole.shape[1] - n])
    excerpts = excerpt_frames(signal, CFG, starts, n)
    assert excerpts.power.shape == (whole.shape[0], 3 * n) and excerpts.mel.shape == (CFG.n_mels, 3 * n)
    for k, start in enumerate(starts):
        assert np.array_equal(excerpts.power[:, k * n:(k + 1) * n], whole[:, start:start + n])


def long_clip(seconds: float) -> AudioClip:
    return AudioClip(chirp(seconds), CFG.sample_rate, CFG.sample_rate, 1)


def test_a_long_song_is_heard_at_spread_windows_computed_only_there():
    clip = long_clip(90.0)  # 59 windows of 3 s at 50 % overlap
    heard, whole = ClipAnalysis(clip, max_patches=8), ClipAnalysis(clip)
    starts = heard.heard_windows(CFG)
    all_starts = window_starts(1 + len(clip.samples) // CFG.hop_length, CFG)
    assert len(starts) == 8 and starts[0] == 0 and starts[-1] == all_starts[-1]
    for representation in ("spectrogram", "mel", "mfcc"):
        windows, times = heard.windows(CFG, representation)
        every, every_times = whole.windows(CFG, representation)
        chosen = np.searchsorted(all_starts, starts)
        np.testing.assert_allclose(windows, every[chosen], rtol=1e-5, atol=1e-4)
        np.testing.assert_allclose(times, every_times[chosen])
    assert not heard._power  # the whole song's spectrogram was never computed for the models


def test_a_clip_of_few_windows_is_heard_whole_as_before():
    clip = long_clip(30.0)
    analysis = ClipAnalysis(clip, max_patches=32)
    assert analysis.heard_windows(CFG) is None
    image = compute_clip_features(clip.samples, CFG)["mel"]
    windows, times = analysis.windows(CFG, "mel")
    assert np.array_equal(windows, cut_windows(image, CFG)) and np.array_equal(times, window_times(image.shape[1], CFG))
    assert np.array_equal(analysis.handcrafted(CFG), handcrafted_features(clip.samples, CFG))


def test_handcrafted_features_of_a_long_songs_excerpts_describe_the_same_music():
    """A steady 120 BPM click over a tone: the excerpts' summary reads the same tempo and nearly the same
    statistics as the whole song's."""
    sr, seconds = CFG.sample_rate, 90
    t = np.arange(seconds * sr) / sr
    clicks = np.zeros_like(t)
    clicks[(np.arange(0, seconds, 0.5) * sr).astype(int)] = 1.0
    song = (0.2 * np.sin(2 * np.pi * 440 * t) + np.convolve(clicks, np.hanning(200), "same")).astype(np.float32)
    analysis = ClipAnalysis(AudioClip(song, sr, sr, 1), max_patches=8)
    excerpt = analysis.handcrafted(CFG)
    whole = handcrafted_features(song, CFG)
    tempo = HANDCRAFTED_NAMES.index("tempo")
    # tempo is read on a grid of autocorrelation lags: 117.5 and 123.0 BPM are the two nearest 120
    assert excerpt[tempo] == pytest.approx(120, rel=0.03) and whole[tempo] == pytest.approx(120, rel=0.03)
    for name in ("rms_mean", "spectral_centroid_mean", "rolloff_mean", "mfcc1_mean", "chroma_stft_mean"):
        i = HANDCRAFTED_NAMES.index(name)
        assert excerpt[i] == pytest.approx(whole[i], rel=0.02), name


def test_a_long_songs_loudness_is_over_its_heard_frames_with_or_without_the_svm():
    """The confidence states read the same loudness whether the answer came alone or with every model."""
    clip = long_clip(90.0)
    alone, with_svm = ClipAnalysis(clip, max_patches=8), ClipAnalysis(clip, max_patches=8)
    with_svm.handcrafted(CFG)
    assert alone.loudness_db(CFG) == with_svm.loudness_db(CFG)
    assert alone.loudness_db(CFG) == pytest.approx(ClipAnalysis(clip).loudness_db(CFG), abs=0.5)
