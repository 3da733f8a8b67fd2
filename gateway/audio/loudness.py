"""Loudness as loudness: every local voice levelled to one target (ITU-R BS.1770) under a true-peak ceiling.

A voice's integrated loudness at 0 dB is measured once (:func:`integrated_lufs`, by ``pyloudnorm``) and kept in
``config/loudness.yaml`` (:class:`Calibration`). The same voice is louder on some lines than others (Piper joe
spans about 3 LU over six test lines), so a stream's :class:`Leveller` refines that prior with what it has heard:
each piece is measured as it comes, and the voice's loudness is the power mean of the prior (weighted as
:data:`PRIOR_S` seconds of audio) and every piece so far, this one included. It applies, to each piece,
``target - voice loudness + emotion gain`` and a look-ahead limiter: the gain needed to keep the 4x-oversampled
(true) peak under the ceiling is taken as a running minimum that starts before each peak and holds after it, then
smoothed, so it is already down when the peak arrives. Gain changes (a new emotion) are ramped over 10 ms and
the limiter's state carries from piece to piece, so pieces join without a click. Nothing is clipped:
the last resort is a hard ceiling below full scale, and the limiter keeps audio under it.

>>> import numpy as np
>>> leveller = Leveller(24000, voice_lufs=-20.0, target_lufs=-23.0, ceiling_dbtp=-1.0)
>>> loud = (np.sin(np.arange(24000) * 0.05) * 32767).astype("<i2").tobytes()
>>> out = np.frombuffer(leveller.process(loud, gain_db=6.0), "<i2")
>>> bool(np.abs(out).max() / 32768 <= 10 ** (-1 / 20))
True
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyloudnorm
import soxr
import yaml
from scipy.ndimage import minimum_filter1d

__all__ = ["Calibration", "Leveller", "clipped_samples", "integrated_lufs", "true_peak_dbtp"]

log = logging.getLogger(__name__)

FULL_SCALE = 32767
OVERSAMPLE = 4  #: true peak: 4x oversampling (BS.1770-4 annex 2)
ATTACK_MS = 5.0  #: the limiter's gain is down this long before a peak
HOLD_MS = 30.0  #: and stays down this long after it
RAMP_MS = 10.0  #: a change of gain (emotion) is ramped over this long
PRIOR_S = 0.25  #: the calibration counts as this much audio against what a stream has measured (it levels short first pieces)
#: A piece whose sample peak is this far (3 dB) under the ceiling has no inter-sample peak over it (speech overshoots
#: its samples by ~1 dB at most): the limiter skips the 4x oversampling for it.
INTER_SAMPLE_MARGIN = 10 ** (3.0 / 20)
MIN_MEASURE_S = 0.5  #: a piece shorter than this is not measured (too short for a gated measurement)


def _floats(pcm: bytes | np.ndarray) -> np.ndarray:
    if isinstance(pcm, (bytes, bytearray, memoryview)):
        return np.frombuffer(pcm, dtype="<i2").astype(np.float64) / 32768.0
    if np.issubdtype(np.asarray(pcm).dtype, np.integer):
        return np.asarray(pcm, dtype=np.float64) / 32768.0
    return np.asarray(pcm, dtype=np.float64)


def integrated_lufs(audio: bytes | np.ndarray, sample_rate: int) -> float:
    """Integrated loudness (LUFS, ITU-R BS.1770-4 with gating) of s16le PCM or floats in [-1, 1].

    ``-inf`` for silence; audio shorter than one 400 ms block is measured as if padded with silence.
    """
    x = _floats(audio)
    block = int(0.4 * sample_rate) + 1
    if len(x) < block:
        x = np.concatenate([x, np.zeros(block - len(x))])
    with np.errstate(divide="ignore"):
        return float(pyloudnorm.Meter(sample_rate).integrated_loudness(x))


def _oversampled_peaks(x: np.ndarray, sample_rate: int) -> np.ndarray:
    """Per input sample, the largest magnitude of the 4x-oversampled signal around it (an inter-sample peak)."""
    if len(x) == 0:
        return x
    up = soxr.resample(x, sample_rate, sample_rate * OVERSAMPLE, quality="HQ")
    n = min(len(up) // OVERSAMPLE, len(x))
    peaks = np.abs(x).copy()
    if n:
        peaks[:n] = np.maximum(peaks[:n], np.abs(up[: n * OVERSAMPLE]).reshape(n, OVERSAMPLE).max(axis=1))
    return peaks


def true_peak_dbtp(audio: bytes | np.ndarray, sample_rate: int) -> float:
    """True peak (dBTP): the peak of the 4x-oversampled signal."""
    x = _floats(audio)
    peak = float(_oversampled_peaks(x, sample_rate).max()) if len(x) else 0.0
    return 20.0 * math.log10(peak) if peak > 0 else float("-inf")


def clipped_samples(pcm: bytes | np.ndarray) -> int:
    """Samples at full scale that belong to a run of two or more (how clipping shows in s16 audio)."""
    x = np.frombuffer(pcm, dtype="<i2") if isinstance(pcm, (bytes, bytearray)) else np.asarray(pcm)
    full = (x >= FULL_SCALE) | (x <= -FULL_SCALE - 1)
    if len(full) < 2:
        return 0
    pair = full[1:] & full[:-1]
    in_run = np.zeros(len(full), dtype=bool)
    in_run[1:] |= pair
    in_run[:-1] |= pair
    return int(in_run.sum())


@dataclass
class Calibration:
    """Measured integrated loudness (LUFS at 0 dB) of local voices, keyed ``provider/voice``."""

    voices: dict[str, float] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> Calibration:
        """The table in ``path`` (YAML ``{voices: {"kokoro/af_heart": -22.7, ...}}``); empty when it is missing."""
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except FileNotFoundError:
            log.warning("loudness: no calibration at %s; voices are levelled by limiter only", path)
            return cls()
        return cls({str(k): float(v) for k, v in (data.get("voices") or {}).items()})

    def lufs(self, provider: str, voice: str) -> float | None:
        """The voice's loudness; else the median of its engine's voices; else None (not measured)."""
        measured = self.voices.get(f"{provider}/{voice}")
        if measured is not None:
            return measured
        same = sorted(v for k, v in self.voices.items() if k.split("/", 1)[0] == provider)
        return same[len(same) // 2] if same else None


class Leveller:
    """One stream's levelling: gain to the target plus the emotion's, and a true-peak limiter, piece by piece."""

    def __init__(self, sample_rate: int, *, voice_lufs: float | None, target_lufs: float,
                 ceiling_dbtp: float, adaptive: bool = True, ramp_ms: float = RAMP_MS) -> None:
        self.sample_rate = sample_rate
        self.target_lufs = target_lufs
        self.adaptive = adaptive and voice_lufs is not None
        self.base_db = 0.0 if voice_lufs is None else target_lufs - voice_lufs
        # power x seconds of the voice heard so far, starting from the calibration prior
        self._energy = 0.0 if voice_lufs is None else PRIOR_S * 10.0 ** (voice_lufs / 10.0)
        self._seconds = 0.0 if voice_lufs is None else PRIOR_S
        self.ceiling = 10.0 ** (ceiling_dbtp / 20.0)
        self.attack = max(1, round(ATTACK_MS * sample_rate / 1000))
        self.hold = max(1, round(HOLD_MS * sample_rate / 1000))
        self.ramp = max(1, round(ramp_ms * sample_rate / 1000))
        self._gain: float | None = None  # linear gain of the last piece (before limiting)
        self._need = np.ones(0)  # the last `hold` samples' needed limiter gain
        self._smooth = np.ones(0)  # the last `attack - 1` samples of the running minimum
        self._started = False
        self._idle = True  #: the limiter is at rest (its history all ones): a piece under the ceiling skips it
        self._plain_db, self._plain_gain = float("nan"), 1.0  #: the last plain gain, in dB and linear
        self.limited = 0  #: samples the limiter turned down (for tests and benches)

    def gain_db(self, emotion_db: float) -> float:
        """The level gain of a piece spoken with ``emotion_db``."""
        return self.base_db + emotion_db

    def process(self, pcm: bytes | np.ndarray, gain_db: float = 0.0) -> bytes:
        """Level one piece (s16le bytes or floats in [-1, 1]) and return it as s16le bytes."""
        plain = self._plain(pcm, gain_db)
        if plain is not None:
            return plain
        x = _floats(pcm)
        if len(x) == 0:
            return b""
        if self.adaptive:
            self._measure(x)
        gain = 10.0 ** (self.gain_db(gain_db) / 20.0)
        g = np.full(len(x), gain)
        if self._gain is not None and abs(self._gain - gain) > 1e-6:
            n = min(self.ramp, len(x))
            g[:n] = np.linspace(self._gain, gain, n + 1)[1:]
        self._gain = gain
        y = x * g
        limiter = self._limit(y)
        self._started = True
        y *= limiter
        y = np.clip(y, -self.ceiling, self.ceiling)  # never reached in practice: the limiter is already down
        return np.rint(y * 32768.0).clip(-FULL_SCALE, FULL_SCALE).astype("<i2").tobytes()

    def _plain(self, pcm: bytes | np.ndarray, gain_db: float) -> bytes | None:
        """s16 audio at an unchanged gain that cannot come near the ceiling, scaled in one pass (the cloud path's
        usual chunk); None when the piece needs the full path (a new gain to ramp, the limiter, a measurement)."""
        if self.adaptive or not self._idle or not isinstance(pcm, (bytes, bytearray, memoryview)) or len(pcm) < 2:
            return None
        db = self.gain_db(gain_db)
        if db != self._plain_db:
            self._plain_db, self._plain_gain = db, 10.0 ** (db / 20.0)
        gain = self._plain_gain
        if self._gain is not None and abs(self._gain - gain) > 1e-6:  # a new gain: ramped on the full path
            return None
        x = np.frombuffer(pcm, dtype="<i2", count=len(pcm) // 2)
        if max(int(x.max()), -int(x.min())) * gain * INTER_SAMPLE_MARGIN > self.ceiling * 32768.0:
            return None
        self._gain, self._started = gain, True
        y = x * np.float32(gain)
        return np.rint(y, out=y).astype("<i2").tobytes()

    def _measure(self, x: np.ndarray) -> None:
        """Fold this piece's loudness into the voice's estimate (and so into ``base_db``)."""
        seconds = len(x) / self.sample_rate
        if seconds < MIN_MEASURE_S:
            return
        lufs = integrated_lufs(x, self.sample_rate)
        if not math.isfinite(lufs):
            return
        self._energy += seconds * 10.0 ** (lufs / 10.0)
        self._seconds += seconds
        self.base_db = self.target_lufs - 10.0 * math.log10(self._energy / self._seconds)

    def _limit(self, y: np.ndarray) -> np.ndarray:
        """Limiter gain per sample of ``y`` (already at its level gain); state carries to the next piece."""
        n = len(y)
        idle = self._idle
        if idle and n and float(np.abs(y).max()) * INTER_SAMPLE_MARGIN <= self.ceiling:  # far under: no oversampling
            need = np.ones(n)
        else:
            need = np.minimum(1.0, self.ceiling / np.maximum(_oversampled_peaks(y, self.sample_rate), 1e-12))
        if need.min() >= 1.0 and idle:
            self._need = np.ones(min(self.hold, n))
            self._smooth = np.ones(min(self.attack - 1, n))
            self._idle = True
            return np.ones(n)
        # running minimum over [t - hold, t + attack]: down `attack` samples before a peak, held `hold` after it
        history = self._need
        padded = np.concatenate([history, need, np.ones(self.attack)])
        size = self.hold + self.attack + 1
        lowest = minimum_filter1d(padded, size=size, origin=self.hold - size // 2, mode="nearest")
        lowest = lowest[len(history):len(history) + n]
        # moving average of the last `attack` values: at a peak it averages values no higher than the peak needs
        prev = self._smooth if self._started else np.full(self.attack - 1, lowest[0])  # a stream may start down
        joined = np.concatenate([np.ones(max(0, self.attack - 1 - len(prev))), prev, lowest])
        csum = np.concatenate([[0.0], np.cumsum(joined)])
        smooth = (csum[self.attack:] - csum[:-self.attack]) / self.attack
        self._need = np.concatenate([history, need])[-self.hold:]
        self._smooth = joined[len(joined) - (self.attack - 1):]
        self._idle = bool(self._need.min(initial=1.0) >= 1.0 and self._smooth.min(initial=1.0) >= 1.0)
        out = np.minimum(smooth[-n:], 1.0)
        self.limited += int((out < 0.999).sum())
        return out
