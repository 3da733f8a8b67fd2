"""The levelling module on its own: loudness and true peak measured to BS.1770, a limiter that never clips and
joins pieces without a click, the calibration table, and every voice in it."""

from __future__ import annotations

import numpy as np
import pytest

from gateway.audio.loudness import (
    Calibration,
    Leveller,
    clipped_samples,
    integrated_lufs,
    true_peak_dbtp,
)
from gateway.audio.silence import edge_silence, shorten
from gateway.settings import Settings

RATE = 24000


def speechlike(seconds: float = 4.0, peak: float = 1.0, seed: int = 0) -> np.ndarray:
    """Syllables of a harmonic tone (3-8 Hz envelope), peaks at ``peak``: a stand-in with speech's crest factor."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    f0 = 140 + 20 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / RATE
    tone = sum(np.sin(k * phase) / k for k in range(1, 8))
    env = np.clip(np.sin(2 * np.pi * rng.uniform(3, 8) * t), 0, None) ** 2
    x = tone * env
    return x / np.abs(x).max() * peak


def to_pcm(x: np.ndarray) -> bytes:
    return (np.clip(x, -1, 32767 / 32768) * 32768).astype("<i2").tobytes()


def test_loudness_meter_follows_gain():
    x = speechlike(peak=0.5)
    a, b = integrated_lufs(x, RATE), integrated_lufs(x * 10 ** (-6 / 20), RATE)
    assert a - b == pytest.approx(6.0, abs=0.05)
    assert integrated_lufs(np.zeros(RATE), RATE) == float("-inf")


def test_true_peak_sees_inter_sample_peaks():
    # a sine at fs/4 sampled at 45 degrees: every sample is at 0.707 of the real peak
    n = np.arange(RATE)
    x = np.sin(2 * np.pi * n / 4 + np.pi / 4)
    assert 20 * np.log10(np.abs(x).max()) == pytest.approx(-3.0, abs=0.1)
    assert true_peak_dbtp(x, RATE) == pytest.approx(0.0, abs=0.3)


def test_clipped_samples_counts_runs_of_two_or_more():
    x = np.array([0, 32767, 0, 32767, 32767, 32767, 0, -32768, -32768, 5], dtype="<i2")
    assert clipped_samples(x.tobytes()) == 5


@pytest.mark.parametrize("gain_db", [0.0, 3.0, 6.0, 12.0])
def test_limiter_keeps_every_piece_under_the_ceiling(gain_db):
    """Full-scale input turned up: no sample at full scale, the true peak at most a hair over the ceiling."""
    leveller = Leveller(RATE, voice_lufs=integrated_lufs(speechlike(), RATE), target_lufs=-18.0, ceiling_dbtp=-1.0)
    x = speechlike()
    rng = np.random.default_rng(1)
    cuts = np.sort(rng.choice(np.arange(1, len(x)), 12, replace=False))
    out = b"".join(leveller.process(to_pcm(piece), gain_db) for piece in np.split(x, cuts))
    assert len(out) == 2 * len(x)
    y = np.frombuffer(out, "<i2")
    assert clipped_samples(out) == 0
    assert np.abs(y).max() / 32768 <= 10 ** (-1 / 20) + 1e-4
    assert true_peak_dbtp(out, RATE) <= -0.9


def test_quiet_audio_is_only_levelled():
    """Below the ceiling the leveller is a pure gain: loudness lands on target + emotion gain."""
    x = speechlike(peak=0.1)
    measured = integrated_lufs(to_pcm(x), RATE)
    leveller = Leveller(RATE, voice_lufs=measured, target_lufs=-30.0, ceiling_dbtp=-1.0)
    out = leveller.process(to_pcm(x), gain_db=-3.0)
    assert integrated_lufs(out, RATE) == pytest.approx(-33.0, abs=0.1)
    assert leveller.limited == 0


def test_pieces_join_without_a_click():
    """A steady loud tone cut into small pieces and limited hard: the gain moves smoothly across every join."""
    t = np.arange(2 * RATE) / RATE
    x = 0.95 * np.sin(2 * np.pi * 220 * t)
    leveller = Leveller(RATE, voice_lufs=-3.0, target_lufs=-3.0, ceiling_dbtp=-6.0)
    pieces = np.split(x, np.arange(1000, len(x), 2400))
    gains = []
    for k, piece in enumerate(pieces):
        y = np.frombuffer(leveller.process(to_pcm(piece), 4.0 if k % 2 else 0.0), "<i2") / 32768
        loud = np.abs(piece) > 0.3
        gains.append(np.interp(np.arange(len(piece)), np.flatnonzero(loud), y[loud] / piece[loud]))
    gain = np.concatenate(gains)
    assert np.abs(np.diff(gain)).max() < 0.01, "a step in gain is a click"
    assert leveller.limited > len(x) // 2, "the limiter was working across the joins"


def test_edge_silence_and_shortened_counts():
    x = np.concatenate([np.zeros(100), np.ones(50) * 0.5, np.zeros(30)])
    assert edge_silence(x) == (100, 30)
    assert edge_silence(np.zeros(10)) == (10, 0)
    assert shorten([40, 70, 40, 30], 90, from_end=False) == [0, 20, 40, 30]
    assert shorten([40, 70, 40, 30], 50, from_end=True) == [40, 70, 20, 0]


def test_calibration_falls_back_to_the_engines_median(tmp_path):
    path = tmp_path / "loudness.yaml"
    path.write_text("voices:\n  kokoro/a: -20\n  kokoro/b: -22\n  kokoro/c: -25\n")
    cal = Calibration.load(path)
    assert cal.lufs("kokoro", "b") == -22.0
    assert cal.lufs("kokoro", "unknown") == -22.0
    assert cal.lufs("piper", "joe") is None
    assert Calibration.load(tmp_path / "missing.yaml").voices == {}


def test_the_committed_calibration_covers_every_local_voice():
    """config/loudness.yaml has every Piper, Kokoro and espeak voice (`python -m gateway.cli loudness` adds new
    ones), each a plausible measurement."""
    from gateway.install.kokoro import ENGLISH_VOICES
    from gateway.providers.espeak import VOICES

    cal = Calibration.load(Settings().delivery.calibration_file)
    expected = {"piper/joe", *(f"kokoro/{v}" for v in ENGLISH_VOICES), *(f"espeak/{v.voice}" for v in VOICES)}
    assert expected <= set(cal.voices), sorted(expected - set(cal.voices))
    assert all(-35 < v < -10 for v in cal.voices.values())
