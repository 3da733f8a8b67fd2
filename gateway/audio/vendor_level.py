"""Cloud voices levelled like local ones: each vendor voice's loudness learnt from what it has sent, across lines.

Local engines are levelled by their provider (:class:`gateway.providers.delivery.Delivery`), from a measured table.
A vendor's voices (ElevenLabs, Fish Audio, an OpenAI-compatible speech server) can't be measured in advance, so the
gateway learns each one as it speaks: :class:`VoiceLoudness` keeps, per ``provider/voice``, the BS.1770 gating blocks
of its last :data:`MEMORY_S` seconds of audio and measures their integrated loudness (absolute and relative gate, as
for a whole programme), blended with a prior (the calibration table's entry if one is written there, else
``GATEWAY_DELIVERY_VENDOR_PRIOR_LUFS``).
:class:`VendorLeveller` applies ``target - voice loudness`` to one provider stream through the same true-peak
limiter as the local voices, so a character whose line falls from a cloud voice to Kokoro or Piper keeps its level.

The estimate is the voice's, not the line's: a shouted line stays louder than a calm one (it moves the voice's
estimate only by its share of the audio heard), and within a line the gain changes only as the estimate settles,
ramped over :data:`RAMP_MS`.

>>> import numpy as np
>>> levels = VoiceLoudness(prior_lufs=-18.0)
>>> loud = (np.sin(np.arange(48000) * 0.06) * 0.5 * 32767).astype("<i2").tobytes()  # 2 s of a loud tone
>>> out = VendorLeveller(levels, "fish/narrator", 24000, target_lufs=-23.0, ceiling_dbtp=-1.0).process(loud)
>>> round(levels.estimate("fish/narrator"), 1) > -18.0  # learnt: louder than the prior
True
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np
import pyloudnorm
from scipy.signal import sosfilt

from gateway.audio.loudness import Calibration, Leveller

__all__ = ["VendorLeveller", "VoiceLoudness"]

PRIOR_WEIGHT_S = 0.25  #: the prior counts as this much audio against what a voice has been heard saying
MEMORY_S = 120.0  #: a voice's estimate is the integrated loudness of its last this-many seconds of audio
BLOCK_S = 1.0  #: audio is measured in blocks of this length
LEARNT_S = 20.0  #: a voice heard this long is learnt: from then on one block in :data:`SETTLED_EVERY` is measured
SETTLED_EVERY = 8
RAMP_MS = 200.0  #: a change of the voice's gain inside a line is ramped over this long
GATE_BLOCK_S, GATE_HOP_S = 0.4, 0.1  #: BS.1770 gating blocks: 400 ms, 75 % overlap
ABSOLUTE_GATE, RELATIVE_GATE = -70.0, -10.0


_K_WEIGHTING: dict[int, tuple[np.ndarray, float]] = {}  #: sample rate -> (second-order sections, gain)


def _k_weighting(sample_rate: int) -> tuple[np.ndarray, float]:
    """pyloudnorm's K-weighting stages (high shelf, high pass) as one cascade of second-order sections."""
    made = _K_WEIGHTING.get(sample_rate)
    if made is None:
        stages = list(pyloudnorm.Meter(sample_rate)._filters.values())  # noqa: SLF001 - its own filters
        sos = np.array([np.concatenate([np.asarray(s.b) / s.a[0], np.asarray(s.a) / s.a[0]]) for s in stages])
        made = _K_WEIGHTING[sample_rate] = (sos, float(np.prod([s.passband_gain for s in stages])))
    return made


def gating_powers(x: np.ndarray, sample_rate: int) -> np.ndarray:
    """Mean square of each BS.1770 gating block of ``x`` (s16 or floats) after K-weighting."""
    y = np.asarray(x, np.float64) / (32768.0 if np.issubdtype(np.asarray(x).dtype, np.integer) else 1.0)
    sos, gain = _k_weighting(sample_rate)
    y = sosfilt(sos, y) * gain
    size, hop = int(GATE_BLOCK_S * sample_rate), int(GATE_HOP_S * sample_rate)
    if len(y) < size:
        return np.zeros(0)
    csum = np.concatenate([[0.0], np.cumsum(y * y)])
    starts = np.arange(0, len(y) - size + 1, hop)
    return (csum[starts + size] - csum[starts]) / size


def gated_lufs(powers: np.ndarray) -> float:
    """Integrated loudness of gating-block powers (absolute then relative gate, as BS.1770-4); -inf if all silent."""
    with np.errstate(divide="ignore"):
        loud = -0.691 + 10.0 * np.log10(np.maximum(powers, 1e-20))
    kept = powers[loud > ABSOLUTE_GATE]
    if not len(kept):
        return float("-inf")
    threshold = -0.691 + 10.0 * math.log10(float(kept.mean())) + RELATIVE_GATE
    kept = powers[loud > threshold]
    return -0.691 + 10.0 * math.log10(float(kept.mean()))


class VoiceLoudness:
    """Learnt integrated loudness (LUFS) per ``provider/voice``, shared by every line of the process."""

    def __init__(self, prior_lufs: float, calibration: Calibration | None = None) -> None:
        self.prior_lufs = prior_lufs
        self.calibration = calibration or Calibration()
        self._blocks: dict[str, deque[np.ndarray]] = {}  #: key -> gating-block powers of its recent audio
        self._heard_s: dict[str, float] = {}  #: key -> seconds of its audio measured, ever
        self._skipped: dict[str, int] = {}  #: key -> blocks offered since the voice was learnt
        self._estimates: dict[str, float] = {}  #: key -> its estimate, until the next block measured

    def _prior(self, key: str) -> float:
        measured = self.calibration.voices.get(key)
        return measured if measured is not None else self.prior_lufs

    def estimate(self, key: str) -> float:
        """The prior, then the integrated loudness of what the voice has sent (the prior weighing as
        :data:`PRIOR_WEIGHT_S` of audio, in LU)."""
        cached = self._estimates.get(key)
        if cached is not None:
            return cached
        chunks = self._blocks.get(key)
        powers = np.concatenate(list(chunks)) if chunks else np.zeros(0)
        heard = gated_lufs(powers) if len(powers) else float("-inf")
        if not math.isfinite(heard):
            return self._prior(key)
        seconds = len(powers) * GATE_HOP_S
        self._estimates[key] = value = (PRIOR_WEIGHT_S * self._prior(key) + seconds * heard) / (PRIOR_WEIGHT_S + seconds)
        return value

    def wants(self, key: str) -> bool:
        """Whether the next block of ``key`` is worth measuring: every block until :data:`LEARNT_S` of the voice has
        been heard, then one in :data:`SETTLED_EVERY` (a learnt voice's estimate moves slowly; measuring costs CPU)."""
        if self._heard_s.get(key, 0.0) < LEARNT_S:
            return True
        self._skipped[key] = self._skipped.get(key, 0) + 1
        return self._skipped[key] % SETTLED_EVERY == 0

    def observe(self, key: str, audio: np.ndarray, sample_rate: int) -> None:
        """Fold a block of the voice's raw audio into its estimate (the oldest beyond :data:`MEMORY_S` dropped)."""
        powers = gating_powers(audio, sample_rate)
        if not len(powers):
            return
        self._heard_s[key] = self._heard_s.get(key, 0.0) + len(powers) * GATE_HOP_S
        chunks = self._blocks.setdefault(key, deque())
        chunks.append(powers)
        while sum(len(c) for c in chunks) * GATE_HOP_S > MEMORY_S and len(chunks) > 1:
            chunks.popleft()
        self._estimates.pop(key, None)

    def known(self) -> dict[str, float]:
        """Every voice heard so far and its estimate (LUFS)."""
        return {key: round(self.estimate(key), 2) for key in self._blocks}


class VendorLeveller:
    """One provider stream of one vendor voice: level to the target, limit the true peak, learn as it goes."""

    def __init__(self, levels: VoiceLoudness, key: str, sample_rate: int, *, target_lufs: float,
                 ceiling_dbtp: float) -> None:
        self.levels, self.key, self.sample_rate, self.target_lufs = levels, key, sample_rate, target_lufs
        self.leveller = Leveller(sample_rate, voice_lufs=None, target_lufs=target_lufs, ceiling_dbtp=ceiling_dbtp,
                                 adaptive=False, ramp_ms=RAMP_MS)
        self.leveller.base_db = target_lufs - levels.estimate(key)
        self._block: list[np.ndarray] = []
        self._block_samples = 0
        self._measuring = levels.wants(key)  #: whether the block now being gathered will be measured

    def process(self, pcm: bytes) -> bytes:
        """One chunk (s16le) at the voice's current gain; complete blocks of the raw audio teach the estimate."""
        if len(pcm) < 2:
            return b""
        if self._measuring:
            self._block.append(np.frombuffer(pcm, dtype="<i2"))
        self._block_samples += len(pcm) // 2
        if self._block_samples >= BLOCK_S * self.sample_rate:
            if self._measuring:
                self.levels.observe(self.key, np.concatenate(self._block), self.sample_rate)
                self.leveller.base_db = self.target_lufs - self.levels.estimate(self.key)
            self._block, self._block_samples = [], 0
            self._measuring = self.levels.wants(self.key)
        return self.leveller.process(pcm)
