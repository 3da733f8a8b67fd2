"""The output step keeps one clock across resamplers: chunks in time order, contiguous, none lost at a switch."""

from __future__ import annotations

import asyncio

import numpy as np

from gateway.audio.formats import parse_output_format
from gateway.core.events import AudioEvent, FinalEvent
from gateway.core.timeline import samples_to_ms
from gateway.speak.output import OutputAudio, to_output


def tone(ms: int, rate: int) -> bytes:
    n = ms * rate // 1000
    return (np.sin(np.arange(n) * 0.05) * 8000).astype("<i2").tobytes()


def events(parts: list[tuple[int, int]]) -> list[AudioEvent]:
    """``(ms, rate)`` pieces back to back, as the chain stamps them (start = sum of earlier lengths)."""
    out, at = [], 0
    for ms, rate in parts:
        pcm = tone(ms, rate)
        out.append(AudioEvent(pcm, rate, 0, at))
        at += samples_to_ms(len(pcm) // 2, rate)
    return out


def run(parts: list[tuple[int, int]], fmt: str) -> tuple[list[AudioEvent], OutputAudio]:
    audio = OutputAudio(parse_output_format(fmt))

    async def source():
        for event in events(parts):
            yield event
        yield FinalEvent({})

    async def collect():
        return [e async for e in to_output(source(), audio)]

    got = asyncio.run(collect())
    assert isinstance(got[-1], FinalEvent)  # the resampler's tail goes out before the final event
    return [e for e in got if isinstance(e, AudioEvent)], audio


def test_resampled_chunks_are_contiguous_and_in_order():
    # A 24 kHz provider at 16 kHz output: soxr holds samples back early and catches up later; the stamps must follow
    # the output itself (a fail-over once produced 1667 ms then 1660 ms).
    parts = [(137, 24000), (260, 24000), (511, 24000), (90, 24000), (777, 24000)]
    chunks, audio = run(parts, "pcm_16000")
    starts = [c.start_ms for c in chunks]
    assert starts == sorted(starts)
    position = 0
    for chunk in chunks:
        assert abs(chunk.start_ms - samples_to_ms(position, 16000)) <= 1
        position += chunk.num_samples
    total_in_ms = sum(samples_to_ms(len(tone(ms, r)) // 2, r) for ms, r in parts)
    assert abs(samples_to_ms(position, 16000) - total_in_ms) <= 1  # nothing lost: the tail was streamed too
    assert len(audio.pcm) == 2 * position


def test_switch_of_rate_flushes_the_old_resampler_at_its_place():
    parts = [(400, 24000), (300, 22050), (300, 16000), (250, 24000)]
    chunks, audio = run(parts, "pcm_16000")
    starts = [c.start_ms for c in chunks]
    assert starts == sorted(starts)
    ends = [c.start_ms + samples_to_ms(c.num_samples, 16000) for c in chunks]
    assert all(abs(b - e) <= 2 for e, b in zip(ends, starts[1:]))  # no overlap, no hole at the switches
    assert abs(ends[-1] - 1250) <= 2


def test_native_rate_is_passed_through_unchanged():
    parts = [(300, 22050), (700, 22050)]
    chunks, audio = run(parts, "pcm_22050")
    assert b"".join(c.pcm for c in chunks) == b"".join(e.pcm for e in events(parts)) == audio.pcm
    assert [c.start_ms for c in chunks] == [0, 250, 300, 550, 800]
