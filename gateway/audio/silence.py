"""Silence at the edges of a piece of audio, and trimming it without breaking exact timings."""

from __future__ import annotations

import numpy as np

__all__ = ["SILENCE", "edge_silence", "shorten"]

SILENCE = 2e-3  #: |sample| below this (about -54 dBFS) is silence


def edge_silence(audio: np.ndarray, threshold: float = SILENCE) -> tuple[int, int]:
    """(lead, tail): samples of ``audio`` (floats in [-1, 1]) before the first and after the last sound.

    All silent: ``(len(audio), 0)``.
    """
    loud = np.flatnonzero(np.abs(audio) >= threshold)
    if len(loud) == 0:
        return len(audio), 0
    return int(loud[0]), int(len(audio) - 1 - loud[-1])


def shorten(counts: list[int], n: int, *, from_end: bool) -> list[int]:
    """Per-symbol sample ``counts`` with ``n`` samples taken off the start (or the end): the first (last) symbols
    shrink, down to zero, so the counts still sum to the trimmed audio's length."""
    out = list(counts)
    order = range(len(out) - 1, -1, -1) if from_end else range(len(out))
    for k in order:
        if n <= 0:
            break
        take = min(out[k], n)
        out[k] -= take
        n -= take
    return out
