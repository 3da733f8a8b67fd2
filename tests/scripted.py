"""An in-process test provider whose behaviour is scripted: fail, hang, stall or die mid-stream.

Only the chain tests use it; real speech comes from the real providers in the other tests.
"""

from __future__ import annotations

import asyncio

import numpy as np

from gateway.core.errors import ErrorKind, ProviderError
from gateway.core.events import AlignmentEvent, AudioEvent, FinalEvent, SegmentEndEvent
from gateway.core.timeline import PhonemeSpan, samples_to_ms
from gateway.core.voices import HealthState, ProviderHealth, VoiceInfo
from gateway.providers.base import Provider, SynthesisRequest

RATE = 16000


class ScriptedProvider(Provider):
    def __init__(self, name: str, *, fail_first: int = 0, fail_kind: ErrorKind = ErrorKind.RETRYABLE,
                 hang_before_audio: bool = False, die_after_segments: int | None = None,
                 stall_after_segments: int | None = None, ms_per_segment: int = 200, family: str | None = None):
        self.name = name
        self.family = family or name
        self.fail_first = fail_first
        self.fail_kind = fail_kind
        self.hang_before_audio = hang_before_audio
        self.die_after_segments = die_after_segments
        self.stall_after_segments = stall_after_segments
        self.ms_per_segment = ms_per_segment
        self.calls = 0
        self.requests: list[SynthesisRequest] = []

    def voices(self) -> list[VoiceInfo]:
        return [VoiceInfo(self.name, "v", "Test voice", sample_rate=RATE)]

    async def health(self) -> ProviderHealth:
        return ProviderHealth(HealthState.UP)

    async def stream(self, request: SynthesisRequest):
        self.calls += 1
        self.requests.append(request)
        if self.calls <= self.fail_first:
            raise ProviderError(self.fail_kind, "scripted failure", provider=self.name)
        if self.hang_before_audio:
            await asyncio.sleep(3600)
        samples = 0
        n = RATE * self.ms_per_segment // 1000
        for k, segment in enumerate(request.segments):
            if self.die_after_segments is not None and k >= self.die_after_segments:
                # Half a segment of audio, then the connection drops.
                yield AudioEvent(_tone(n // 2), RATE, segment.index, samples_to_ms(samples, RATE))
                samples += n // 2
                raise ProviderError(ErrorKind.RETRYABLE, "connection lost", provider=self.name)
            if self.stall_after_segments is not None and k >= self.stall_after_segments:
                await asyncio.sleep(3600)
            start = samples_to_ms(samples, RATE)
            yield AudioEvent(_tone(n), RATE, segment.index, start)
            samples += n
            end = samples_to_ms(samples, RATE)
            yield AlignmentEvent((PhonemeSpan("a", start, end),), (), segment.index)
            yield SegmentEndEvent(segment.index, end)
            await asyncio.sleep(0)
        yield FinalEvent({"provider": self.name})


def _tone(n: int) -> bytes:
    t = np.arange(n) / RATE
    return (np.sin(2 * np.pi * 220 * t) * 8000).astype("<i2").tobytes()
