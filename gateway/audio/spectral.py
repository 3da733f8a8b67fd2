"""Spectral comparisons of two renderings of the same line (windowed vs whole decoding; docs/benchmarks.md).

* :func:`join_jump_db`: how much more the spectrum jumps across each join in ``audio`` than across the same
  instant in ``reference`` (dB): a seam shows as a jump the reference does not have.
* :func:`log_spectral_distance`: frame-by-frame log-spectral distance of two signals (dB), with a floor 60 dB
  under their peak so silence does not dominate.
"""

from __future__ import annotations

import numpy as np


def _spectrum(x: np.ndarray, start: int, n: int) -> np.ndarray:
    return np.abs(np.fft.rfft(x[start:start + n] * np.hanning(n), n))


def _rms_db(a: np.ndarray, b: np.ndarray, floor: float) -> float:
    return float(np.sqrt(np.mean((20 * np.log10(np.maximum(a, floor) / np.maximum(b, floor))) ** 2)))


def join_jump_db(audio: np.ndarray, reference: np.ndarray, joins: list[int], n: int = 512) -> list[float]:
    """For each join (a sample index): the log-spectral jump between the ``n`` samples before and after it in
    ``audio``, minus the same jump in ``reference``. Joins too near either end are skipped."""
    audio = np.asarray(audio, np.float64)
    reference = np.asarray(reference, np.float64)
    peak = max(float(np.abs(audio).max(initial=0)), float(np.abs(reference).max(initial=0)), 1e-9)
    floor = peak * n / 4 * 1e-3  # 60 dB under a full-scale sine's bin
    out = []
    for j in joins:
        if j - n < 0 or j + n > min(len(audio), len(reference)):
            continue
        jump = _rms_db(_spectrum(audio, j - n, n), _spectrum(audio, j, n), floor)
        ref = _rms_db(_spectrum(reference, j - n, n), _spectrum(reference, j, n), floor)
        out.append(jump - ref)
    return out


def log_spectral_distance(a: np.ndarray, b: np.ndarray, n: int = 1024, hop: int = 256) -> np.ndarray:
    """Per-frame log-spectral distance (dB) over the common length, floored 60 dB under the louder peak."""
    m = min(len(a), len(b))
    a = np.asarray(a[:m], np.float64)
    b = np.asarray(b[:m], np.float64)
    starts = range(0, max(0, m - n), hop)
    sa = np.array([_spectrum(a, i, n) for i in starts]).reshape(-1, n // 2 + 1)
    sb = np.array([_spectrum(b, i, n) for i in starts]).reshape(-1, n // 2 + 1)
    if not len(sa):
        return np.zeros(0)
    floor = max(sa.max(), sb.max(), 1e-12) * 1e-3
    d = 20 * np.log10(np.maximum(sa, floor) / np.maximum(sb, floor))
    return np.sqrt(np.mean(d ** 2, axis=1))
