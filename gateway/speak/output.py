"""Step: one output sample rate for the whole line, whichever providers served it, in client-sized chunks."""

from __future__ import annotations

from collections.abc import AsyncIterator

from gateway.audio.formats import OutputFormat
from gateway.audio.resample import Resampler
from gateway.core.events import AudioEvent
from gateway.core.timeline import ms_to_samples, samples_to_ms

#: Longest audio chunk sent to clients in one stream event.
MAX_CHUNK_MS = 250


class OutputAudio:
    """The line's audio at the output rate (the first provider's rate unless the format fixes one)."""

    def __init__(self, output: OutputFormat) -> None:
        self.output = output
        self.rate: int | None = output.sample_rate
        self._resamplers: dict[int, Resampler] = {}
        self.chunks: list[bytes] = []

    def add(self, event: AudioEvent) -> list[AudioEvent]:
        """The event at the output rate, cut into chunks of at most :data:`MAX_CHUNK_MS` so the first bytes of a
        long sentence reach the client (and its player) without waiting for the whole sentence's JSON."""
        if self.rate is None:
            self.rate = event.sample_rate
        pcm = event.pcm
        if event.sample_rate != self.rate:
            resampler = self._resamplers.setdefault(event.sample_rate, Resampler(event.sample_rate, self.rate))
            pcm = resampler.process(pcm)
        self.chunks.append(pcm)
        step = 2 * ms_to_samples(MAX_CHUNK_MS, self.rate)
        return [AudioEvent(pcm[i:i + step], self.rate, event.segment,
                           event.start_ms + samples_to_ms(i // 2, self.rate)) for i in range(0, len(pcm), step)] \
            or [AudioEvent(pcm, self.rate, event.segment, event.start_ms)]

    def flush(self) -> bytes:
        tail = b"".join(r.flush() for r in self._resamplers.values())
        if tail:
            self.chunks.append(tail)
        return tail

    @property
    def pcm(self) -> bytes:
        return b"".join(self.chunks)


async def to_output(events: AsyncIterator, audio: OutputAudio) -> AsyncIterator:
    """Audio events at the output rate and in short chunks; every other event passes through."""
    async for event in events:
        if isinstance(event, AudioEvent):
            for chunk in audio.add(event):
                yield chunk
        else:
            yield event
    audio.flush()
