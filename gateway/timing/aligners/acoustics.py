"""Acoustic measurements every 5 ms, for refining phone boundaries and checking pauses.

:func:`measure` takes 16 kHz PCM and returns :class:`Acoustics`: per-frame levels (dB) of the
whole band and of three bands chosen for landmarks:

* ``low`` (60-400 Hz): voicing; rises where a vowel starts after a voiceless consonant;
* ``mid`` (400-2500 Hz): formant energy; falls where a vowel closes into a nasal (the lips or
  tongue close, the sound goes through the nose) and rises where it opens again;
* ``energy`` (all): falls into closures and pauses, rises at onsets.

Frame ``k`` is centred at ``k * 5`` ms (16 ms Hann window, pre-emphasis 0.97).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RATE = 16000
HOP_MS = 5
HOP = RATE * HOP_MS // 1000
WINDOW = 256  # 16 ms
_BANDS = {"low": (60, 400), "mid": (400, 2500)}


@dataclass(slots=True)
class Acoustics:
    """Per-frame levels in dB (frame ``k`` centred at ``k * HOP_MS`` ms)."""

    energy: np.ndarray
    low: np.ndarray
    mid: np.ndarray

    @property
    def frames(self) -> int:
        return int(self.energy.size)

    def cue(self, name: str) -> np.ndarray:
        return getattr(self, name)

    def speech_level(self) -> float:
        """Level of loud speech (95th percentile of the frame energy)."""
        return float(np.percentile(self.energy, 95)) if self.frames else 0.0

    def floor_level(self) -> float:
        """Level of the quietest stretches (5th percentile)."""
        return float(np.percentile(self.energy, 5)) if self.frames else 0.0

    def loud_ms(self, start_ms: int, end_ms: int, below_speech_db: float = 25.0) -> int:
        """How much of ``[start_ms, end_ms)`` is within ``below_speech_db`` of loud speech (ms)."""
        a, b = max(0, start_ms // HOP_MS), min(self.frames, end_ms // HOP_MS)
        if b <= a:
            return 0
        return int(np.sum(self.energy[a:b] > self.speech_level() - below_speech_db)) * HOP_MS


def measure(pcm16k: bytes) -> Acoustics:
    """Levels of 16 kHz s16le mono PCM."""
    x = np.frombuffer(pcm16k[: len(pcm16k) // 2 * 2], dtype="<i2").astype(np.float32) / 32768.0
    if x.size == 0:
        empty = np.zeros(0, dtype=np.float32)
        return Acoustics(empty, empty, empty)
    x = np.append(x[:1], x[1:] - 0.97 * x[:-1])
    n = x.size // HOP + 1
    padded = np.pad(x, (WINDOW // 2, WINDOW // 2 + HOP))
    starts = np.arange(n) * HOP
    frames = np.lib.stride_tricks.sliding_window_view(padded, WINDOW)[starts] * np.hanning(WINDOW).astype(np.float32)
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    freqs = np.fft.rfftfreq(WINDOW, 1 / RATE)

    def level(mask: np.ndarray) -> np.ndarray:
        return (10 * np.log10(power[:, mask].sum(axis=1) + 1e-10)).astype(np.float32)

    low = level((freqs >= _BANDS["low"][0]) & (freqs < _BANDS["low"][1]))
    mid = level((freqs >= _BANDS["mid"][0]) & (freqs < _BANDS["mid"][1]))
    return Acoustics(level(np.ones_like(freqs, dtype=bool)), low, mid)
