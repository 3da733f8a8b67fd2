"""Local voices render segment prosody: breaks as exact silence, rate, gain; timelines stay exact."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from gateway.core.events import AlignmentEvent, AudioEvent, SegmentEndEvent
from gateway.core.segments import Prosody, Segment
from gateway.providers.base import SynthesisRequest
from gateway.providers.factory import build_provider
from gateway.settings import Settings

pytestmark = pytest.mark.slow
VOICES = {"piper": "joe", "kokoro": "af_heart", "espeak": "en-us"}


@pytest.fixture(scope="module", params=["piper", "kokoro", "espeak"])
def provider(request):
    p = build_provider(request.param, Settings())
    asyncio.run(p.start())
    if asyncio.run(p.health()).state.value == "down":
        pytest.skip(f"{request.param} not prepared")
    yield p


async def speak(provider, *segments: Segment):
    events = [e async for e in provider.stream(SynthesisRequest(tuple(segments), VOICES[provider.name]))]
    audio = [e for e in events if isinstance(e, AudioEvent)]
    pcm = np.frombuffer(b"".join(e.pcm for e in audio), dtype="<i2")
    rate = audio[0].sample_rate
    phonemes = [p for e in events if isinstance(e, AlignmentEvent) for p in e.phonemes]
    ends = [e for e in events if isinstance(e, SegmentEndEvent)]
    return pcm, rate, phonemes, ends


def seg(index, text, start=0, **prosody):
    brk = prosody.pop("break_before_ms", 0)
    return Segment(index, text, start, Prosody(**prosody), brk)


async def test_break_is_exact_silence_and_timeline_stays_exact(provider):
    pcm, rate, phonemes, ends = await speak(provider, seg(0, "Ready."), seg(1, "Go now.", 7, break_before_ms=700))
    pauses = [p for p in phonemes if p.start_ms == ends[0].end_ms and p.phoneme == " "]
    assert pauses and pauses[0].end_ms - pauses[0].start_ms == 700
    gap_start = (ends[0].end_ms + 2) * rate // 1000
    gap = pcm[gap_start: gap_start + int(0.69 * rate)]
    assert np.abs(gap).max() == 0, "the break must be real silence"
    assert min(p.start_ms for p in phonemes if p.start_ms > ends[0].end_ms) >= ends[0].end_ms + 700
    assert phonemes[-1].end_ms == ends[-1].end_ms == round(len(pcm) * 1000 / rate)
    assert all(a.end_ms <= b.start_ms for a, b in zip(phonemes, phonemes[1:]))


async def test_rate_and_gain(provider):
    normal, rate, _, _ = await speak(provider, seg(0, "The northern road is closed."))
    slow, _, _, _ = await speak(provider, seg(0, "The northern road is closed.", rate=0.6))
    assert len(slow) > 1.3 * len(normal)
    quiet, _, _, _ = await speak(provider, seg(0, "The northern road is closed.", volume_db=-12))
    rms = lambda x: float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))  # noqa: E731
    assert rms(quiet) < 0.4 * rms(normal)

