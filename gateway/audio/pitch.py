"""Median fundamental frequency (F0) of speech: a small YIN pitch tracker in numpy.

Used to measure the local voices' pitch for the voice catalogue (``ops/tools/measure_voice_pitch.py``) and by
tests that check a character sounds like its gender. YIN (de Cheveigné & Kawahara, 2002): per frame, the
cumulative-mean-normalized difference function; the first lag under ``threshold`` (refined by parabolic
interpolation) is the period. Frames that are quiet or have no clear period are unvoiced and left out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Search range in Hz: covers deep male (~65 Hz) to high female and child voices (~500 Hz).
F0_MIN_HZ = 60.0
F0_MAX_HZ = 500.0


@dataclass(frozen=True, slots=True)
class PitchStats:
    """Pitch of a stretch of speech: median and quartiles over voiced frames (Hz), and how much was voiced."""

    median_hz: float
    p25_hz: float
    p75_hz: float
    voiced_frames: int
    frames: int

    @property
    def voiced_ratio(self) -> float:
        return self.voiced_frames / self.frames if self.frames else 0.0


def pcm_to_float(pcm: bytes) -> np.ndarray:
    """s16le mono bytes -> float32 in [-1, 1]."""
    return np.frombuffer(pcm[: len(pcm) - len(pcm) % 2], dtype="<i2").astype(np.float32) / 32768.0


def f0_track(samples: np.ndarray, sample_rate: int, *, hop_ms: int = 10, window_ms: int = 40,
             threshold: float = 0.15, silence_db: float = -35.0) -> np.ndarray:
    """F0 per frame in Hz (0.0 where unvoiced), frames every ``hop_ms``."""
    x = np.asarray(samples, dtype=np.float64)
    max_lag = int(sample_rate / F0_MIN_HZ)
    min_lag = max(2, int(sample_rate / F0_MAX_HZ))
    window = max(int(sample_rate * window_ms / 1000), max_lag + 2)
    hop = max(1, int(sample_rate * hop_ms / 1000))
    if len(x) < window + max_lag:
        return np.zeros(0)
    starts = np.arange(0, len(x) - window - max_lag, hop)
    frames = np.stack([x[s:s + window + max_lag] for s in starts])  # each frame + room for the largest lag
    energy = np.sqrt(np.mean(frames[:, :window] ** 2, axis=1))
    loud = energy > (energy.max() * 10 ** (silence_db / 20) if energy.size else 0)
    # Difference function d(tau) = sum (x[j] - x[j+tau])^2 over the window, through FFT cross-correlation.
    n_fft = 1 << int(np.ceil(np.log2(2 * (window + max_lag))))
    spec_full = np.fft.rfft(frames, n_fft)
    spec_win = np.fft.rfft(frames[:, :window], n_fft)
    cross = np.fft.irfft(spec_full * np.conj(spec_win), n_fft)[:, : max_lag + 1]
    squares = np.concatenate([np.zeros((len(frames), 1)), np.cumsum(frames ** 2, axis=1)], axis=1)
    lags = np.arange(max_lag + 1)
    energy_win = squares[:, window][:, None]
    energy_shift = squares[:, lags + window] - squares[:, lags]
    diff = energy_win + energy_shift - 2 * cross
    diff[:, 0] = 0.0
    # Cumulative mean normalized difference.
    running = np.cumsum(diff[:, 1:], axis=1) / np.arange(1, max_lag + 1)
    cmnd = np.ones_like(diff)
    cmnd[:, 1:] = diff[:, 1:] / np.maximum(running, 1e-12)
    f0 = np.zeros(len(frames))
    for i in np.flatnonzero(loud):
        row = cmnd[i]
        below = np.flatnonzero(row[min_lag:max_lag] < threshold)
        if below.size == 0:
            continue
        tau = int(below[0]) + min_lag
        while tau + 1 < max_lag and row[tau + 1] < row[tau]:  # walk down to the local minimum
            tau += 1
        a, b, c = row[tau - 1], row[tau], row[tau + 1] if tau + 1 <= max_lag else row[tau]
        denom = a - 2 * b + c
        shift = 0.5 * (a - c) / denom if abs(denom) > 1e-12 else 0.0
        f0[i] = sample_rate / (tau + float(np.clip(shift, -1.0, 1.0)))
    return f0


def pitch_stats(samples: np.ndarray, sample_rate: int) -> PitchStats:
    """Median and quartile F0 over the voiced frames of ``samples`` (float mono)."""
    f0 = f0_track(samples, sample_rate)
    voiced = f0[f0 > 0]
    if voiced.size == 0:
        return PitchStats(0.0, 0.0, 0.0, 0, len(f0))
    p25, median, p75 = np.percentile(voiced, [25, 50, 75])
    return PitchStats(float(median), float(p25), float(p75), int(voiced.size), len(f0))


def median_f0(pcm: bytes, sample_rate: int) -> float:
    """Median F0 in Hz of s16le mono speech (0.0 when nothing is voiced)."""
    return pitch_stats(pcm_to_float(pcm), sample_rate).median_hz
