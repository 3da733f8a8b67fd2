"""Audio that arrives without timing (Fish Audio, plain OpenAI speech servers), a segment at a time.

:class:`AlignedStream` is one provider stream's clock: the segment's pause (SSML ``<break>``) as silence, the
audio chunks as they arrive (an odd byte carried to the next chunk), and, once the segment is complete, its
audio force-aligned to its text in a thread (:mod:`gateway.timing.aligners`), clipped to the segment's audio, as
one :class:`AlignmentEvent` before the :class:`SegmentEndEvent`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace

from gateway.audio.loudness import Leveller
from gateway.core.errors import ErrorKind, ProviderError
from gateway.core.events import AlignmentEvent, AudioEvent, FinalEvent, ProviderEvent, SegmentEndEvent
from gateway.core.segments import Segment
from gateway.core.timeline import PhonemeSpan, WordSpan, samples_to_ms
from gateway.providers.prosody import pause
from gateway.providers.threaded import LoopLimiter
from gateway.timing.aligners import Aligner, AlignmentResult, build_aligner

CEILING_DBTP = -1.0  #: where an emotion's gain is applied to vendor audio, its true peak stays under this


class Alignment:
    """The aligner a provider shares across its streams: built on first use, run in a thread, bounded."""

    def __init__(self, aligner: Aligner | None, concurrency: int) -> None:
        self._aligner = aligner
        self._limiter = LoopLimiter(concurrency)

    def aligner(self) -> Aligner:
        if self._aligner is None:
            self._aligner = build_aligner()
        return self._aligner

    async def warm_up(self) -> None:
        await asyncio.to_thread(self.aligner().warm_up)

    async def align(self, pcm: bytes, rate: int, text: str, char_offset: int, start_ms: int) -> AlignmentResult:
        aligner = self.aligner()
        async with self._limiter():
            return await asyncio.to_thread(aligner.align, pcm, rate, text, char_offset=char_offset, start_ms=start_ms)


class AlignedStream:
    """One provider stream of untimed audio: its clock (samples at one rate) and the alignment methods used."""

    def __init__(self, provider: str, alignment: Alignment, samples: int = 0, rate: int = 0) -> None:
        self.provider = provider
        self.alignment = alignment
        self.samples = samples
        self.rate = rate
        self.methods: dict[str, int] = {}
        self._leveller: Leveller | None = None  # the emotion's gain under a true-peak ceiling (no clipping)

    async def segment(self, segment: Segment, rate: int, chunks: AsyncIterator[bytes],
                      gain_db: float = 0.0) -> AsyncIterator[ProviderEvent]:
        """Events of one segment whose audio (PCM s16le mono at ``rate``) ``chunks`` yields."""
        if self.rate and rate != self.rate:
            raise ProviderError(ErrorKind.RETRYABLE, f"sample rate changed mid-line ({self.rate} -> {rate} Hz)",
                                provider=self.provider)
        self.rate = rate
        silence, added = pause(segment, self.samples, rate)
        for event in silence:
            yield event
        self.samples += added
        seg_start = self.samples
        parts: list[bytes] = []
        carry = b""
        async for data in chunks:
            if carry:
                data, carry = carry + data, b""
            if len(data) & 1:
                data, carry = data[:-1], data[-1:]
            if not data:
                continue
            if abs(gain_db) >= 0.01 or self._leveller is not None:  # 0 dB: the vendor's audio as it came
                if self._leveller is None:
                    self._leveller = Leveller(rate, voice_lufs=None, target_lufs=0.0, ceiling_dbtp=CEILING_DBTP)
                data = self._leveller.process(data, gain_db)
            yield AudioEvent(data, rate, segment.index, samples_to_ms(self.samples, rate))
            self.samples += len(data) // 2
            parts.append(data)
        if not parts:
            raise ProviderError(ErrorKind.RETRYABLE, "no audio for the sentence", provider=self.provider)
        start_ms, end_ms = samples_to_ms(seg_start, rate), samples_to_ms(self.samples, rate)
        result = await self.alignment.align(b"".join(parts), rate, segment.text, segment.char_start, start_ms)
        self.methods[result.method] = self.methods.get(result.method, 0) + 1
        phonemes, words = fit(result.phonemes, result.words, start_ms, end_ms)
        yield AlignmentEvent(phonemes, words, segment.index)
        yield SegmentEndEvent(segment.index, end_ms)

    def final(self, **stats: object) -> FinalEvent:
        return FinalEvent({"provider": self.provider, "audio_ms": samples_to_ms(self.samples, self.rate or 1),
                           "sample_rate": self.rate, **stats, "alignment": self.methods})


def fit(phonemes: list[PhonemeSpan], words: list[WordSpan], start_ms: int,
        end_ms: int) -> tuple[tuple[PhonemeSpan, ...], tuple[WordSpan, ...]]:
    """Clip an alignment to ``[start_ms, end_ms]`` exactly (rounding of the two clocks may differ by 1 ms)."""
    out = [replace(p, start_ms=min(max(p.start_ms, start_ms), end_ms), end_ms=min(max(p.end_ms, start_ms), end_ms))
           for p in phonemes]
    out = [p for p in out if p.end_ms > p.start_ms or p.phoneme == " "]
    if out and out[-1].end_ms < end_ms:
        out[-1] = replace(out[-1], end_ms=end_ms)
    fitted = tuple(replace(w, start_ms=min(max(w.start_ms, start_ms), end_ms),
                           end_ms=min(max(w.end_ms, start_ms), end_ms)) for w in words)
    return tuple(out), fitted
