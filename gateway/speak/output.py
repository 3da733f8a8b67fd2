"""Step: one output sample rate for the whole line, whichever providers served it, in client-sized chunks.

Time stays on one clock: a resampler emits a little less than it is fed at first (its filter delay) and catches up
later, so its output is stamped by its own output position from where its input began, never by each input
event's start. When the input jumps (another provider at another rate, or a gap), the old resampler's held samples
are flushed first, at their own place, so chunks come out in time order and none is lost.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from gateway.audio.formats import OutputFormat
from gateway.audio.resample import Resampler
from gateway.core.events import AudioEvent, EventKind
from gateway.core.timeline import ms_to_samples, samples_to_ms

#: Longest audio chunk sent to clients in one stream event.
MAX_CHUNK_MS = 250


@dataclass(slots=True)
class _Run:
    """One resampler over a contiguous stretch of input at one rate."""

    resampler: Resampler
    in_rate: int
    origin_ms: int  #: stream time of the stretch's first input sample
    segment: int
    fed: int = 0  #: input samples fed
    made: int = 0  #: output samples made

    def follows(self, event: AudioEvent) -> bool:
        """Whether ``event`` continues this stretch (same rate, starts where the input ended, ±1 ms of rounding)."""
        return event.sample_rate == self.in_rate and abs(
            event.start_ms - self.origin_ms - samples_to_ms(self.fed, self.in_rate)) <= 1


class OutputAudio:
    """The line's audio at the output rate (the first provider's rate unless the format fixes one)."""

    def __init__(self, output: OutputFormat) -> None:
        self.output = output
        self.rate: int | None = output.sample_rate
        self._run: _Run | None = None
        self.chunks: list[bytes] = []

    def add(self, event: AudioEvent) -> list[AudioEvent]:
        """The event at the output rate, cut into chunks of at most :data:`MAX_CHUNK_MS` so the first bytes of a
        long sentence reach the client (and its player) without waiting for the whole sentence's JSON."""
        if self.rate is None:
            self.rate = event.sample_rate
        out = []
        if self._run is not None and not self._run.follows(event):
            out = self._end_run()
        if self._run is None:
            self._run = _Run(Resampler(event.sample_rate, self.rate), event.sample_rate, event.start_ms, event.segment)
        run = self._run
        run.fed += event.num_samples
        run.segment = event.segment
        return out + self._emit(run, run.resampler.process(event.pcm))

    def _emit(self, run: _Run, pcm: bytes) -> list[AudioEvent]:
        rate = self.rate or run.in_rate
        start = run.made
        run.made += len(pcm) // 2
        if not pcm:
            return []
        self.chunks.append(pcm)
        step = 2 * ms_to_samples(MAX_CHUNK_MS, rate)
        return [AudioEvent(pcm[i:i + step], rate, run.segment, run.origin_ms + samples_to_ms(start + i // 2, rate))
                for i in range(0, len(pcm), step)]

    def _end_run(self) -> list[AudioEvent]:
        run, self._run = self._run, None
        return self._emit(run, run.resampler.flush()) if run is not None else []

    def flush(self) -> list[AudioEvent]:
        """The held samples of the resampler in use, as chunks at their place (the line's last audio)."""
        return self._end_run()

    @property
    def pcm(self) -> bytes:
        return b"".join(self.chunks)


async def to_output(events: AsyncIterator, audio: OutputAudio) -> AsyncIterator:
    """Audio events at the output rate and in short chunks; every other event passes through. The resampler's last
    samples go out before the line's final (or error) event."""
    async for event in events:
        if isinstance(event, AudioEvent):
            for chunk in audio.add(event):
                yield chunk
            continue
        if getattr(event, "kind", None) in (EventKind.FINAL, EventKind.ERROR):
            for chunk in audio.flush():
                yield chunk
        yield event
    for chunk in audio.flush():
        yield chunk
