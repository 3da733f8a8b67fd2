"""What a local engine's first audio costs, as a straight line of the first sentence's audio: a fixed part (text to
phonemes, the engine's front over the sentence, the session's own overhead) plus a part per second of audio.

A ratio alone (core-seconds per second of audio) predicts a short first sentence far too cheap when the fixed part is
large: Kokoro's first window costs about the same for "Halt there, traveller." as for a sentence three times as long.
So each engine keeps exponentially weighted moments of (audio seconds, core-seconds) of its first pieces and fits
``fixed + per_s x audio`` through them; until the sentences it has seen differ enough in length (``min_spread_s``), or
when the fit would need a negative part, it falls back to the ratio of the means (what the prior starts from).
"""

from __future__ import annotations

import os


class CostFit:
    def __init__(self, prior_per_s: float, alpha: float, min_spread_s: float = 0.3) -> None:
        self.alpha, self.min_spread_s = alpha, min_spread_s
        self.mx, self.my, self.mxx, self.mxy = 1.0, prior_per_s, 1.0, prior_per_s  #: the prior: 1 s at its cost

    def add(self, audio_s: float, work: float) -> None:
        a = self.alpha
        self.mx += a * (audio_s - self.mx)
        self.my += a * (work - self.my)
        self.mxx += a * (audio_s * audio_s - self.mxx)
        self.mxy += a * (audio_s * work - self.mxy)

    @property
    def line(self) -> tuple[float, float]:
        """(fixed core-seconds, core-seconds per audio second)."""
        spread = self.mxx - self.mx * self.mx
        if spread >= self.min_spread_s ** 2:
            per_s = (self.mxy - self.mx * self.my) / spread
            fixed = self.my - per_s * self.mx
            if per_s >= 0 and fixed >= 0:
                return fixed, per_s
        return 0.0, self.my / max(1e-6, self.mx)

    def predict(self, audio_s: float) -> float:
        fixed, per_s = self.line
        return fixed + per_s * audio_s


def affinity_cores() -> float:
    """The cores this process may run on."""
    try:
        return float(len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return float(os.cpu_count() or 1)
