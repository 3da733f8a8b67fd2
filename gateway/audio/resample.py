"""Sample-rate conversion of PCM s16le mono with libsoxr, streaming or one-shot.

:class:`Resampler` keeps soxr's filter state across chunks, so a line resampled chunk by chunk
is the same signal (and, after :meth:`Resampler.flush`, the same length) as resampled at once.
Equal rates are a pass-through that copies nothing.
"""

from __future__ import annotations

import numpy as np
import soxr

QUALITY = "HQ"


def _check_rate(rate: int) -> int:
    if not isinstance(rate, int) or isinstance(rate, bool) or not 1000 <= rate <= 384000:
        raise ValueError(f"invalid sample rate {rate!r}")
    return rate


class Resampler:
    """Streaming resampler for PCM s16le mono bytes.

    ``process`` returns what is ready now (soxr holds back a few ms of filter delay, so early
    calls may return less than proportional, even ``b""``); ``flush`` returns the rest. Chunks
    of odd byte length are fine: the dangling byte is kept for the next call.
    """

    def __init__(self, in_rate: int, out_rate: int, quality: str = QUALITY) -> None:
        self.in_rate = _check_rate(in_rate)
        self.out_rate = _check_rate(out_rate)
        self.passthrough = in_rate == out_rate
        self._carry = b""
        self._stream = None if self.passthrough else soxr.ResampleStream(
            in_rate, out_rate, 1, dtype="int16", quality=quality)

    def process(self, pcm: bytes) -> bytes:
        if self._carry:
            pcm = self._carry + pcm
            self._carry = b""
        if len(pcm) & 1:
            self._carry = pcm[-1:]
            pcm = pcm[:-1]
        if self.passthrough or not pcm:
            return pcm
        return self._stream.resample_chunk(np.frombuffer(pcm, dtype="<i2"), last=False).tobytes()

    def flush(self) -> bytes:
        """The remaining samples; a dangling odd byte is dropped. The resampler can't be reused."""
        self._carry = b""
        if self.passthrough:
            return b""
        return self._stream.resample_chunk(np.zeros(0, dtype="<i2"), last=True).tobytes()


def resample_pcm(pcm: bytes, in_rate: int, out_rate: int, quality: str = QUALITY) -> bytes:
    """Resample a whole PCM s16le mono buffer (returns ``pcm`` itself when the rates are equal)."""
    _check_rate(in_rate)
    _check_rate(out_rate)
    if len(pcm) & 1:
        pcm = pcm[:-1]
    if in_rate == out_rate or not pcm:
        return pcm
    samples = np.frombuffer(pcm, dtype="<i2")
    return soxr.resample(samples, in_rate, out_rate, quality=quality).astype("<i2", copy=False).tobytes()
