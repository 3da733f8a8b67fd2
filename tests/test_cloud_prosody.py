"""Cloud providers map expressive lines: breaks as real silence, emotion and rate into vendor settings."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from pydantic import SecretStr

from gateway.core.events import AlignmentEvent, AudioEvent, SegmentEndEvent
from gateway.providers.base import SynthesisRequest
from gateway.providers.elevenlabs_rest import ElevenLabsRestProvider
from gateway.providers.elevenlabs_ws import ElevenLabsWsProvider
from gateway.providers.fish_audio import FishAudioProvider
from gateway.settings import Settings
from gateway.core.segments import Prosody, Segment
from ops.standins.process import StandinProcess

pytestmark = pytest.mark.slow
KEY = "sk_prosody_test_0123456789"
LINE = (Segment(0, "Stand back.", 0), Segment(1, "The forge is hot.", 12, Prosody(emotion="angry", rate=0.9),
                                              break_before_ms=600))


@pytest.fixture(scope="module")
def elevenlabs():
    s = StandinProcess("ops.standins.elevenlabs", ["--api-key", KEY]).wait_ready()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def fish():
    s = StandinProcess("ops.standins.fish", ["--api-key", KEY]).wait_ready()
    yield s
    s.stop()


def run(provider, voice):
    async def go():
        return [e async for e in provider.stream(SynthesisRequest(LINE, voice, text="Stand back. The forge is hot."))]
    return asyncio.run(go())


def check_break(events):
    audio = [e for e in events if isinstance(e, AudioEvent)]
    rate = audio[0].sample_rate
    pcm = np.frombuffer(b"".join(e.pcm for e in audio), dtype="<i2")
    first_end = next(e.end_ms for e in events if isinstance(e, SegmentEndEvent) and e.segment == 0)
    gap = pcm[(first_end + 2) * rate // 1000:(first_end + 590) * rate // 1000]
    assert len(gap) and np.abs(gap).max() == 0, "the break is real silence"
    later = [p for e in events if isinstance(e, AlignmentEvent) for p in e.phonemes if p.start_ms > first_end
             and p.phoneme.strip()]
    assert min(p.start_ms for p in later) >= first_end + 600


@pytest.mark.parametrize("cls", [ElevenLabsRestProvider, ElevenLabsWsProvider])
def test_elevenlabs_break_and_emotion(elevenlabs, cls):
    elevenlabs.reset()
    settings = Settings(elevenlabs_api_key=SecretStr(KEY), elevenlabs_base_url=elevenlabs.url,
                        elevenlabs_ws_url=elevenlabs.ws_url)
    provider = cls(settings)
    events = run(provider, "JBFqnCBsd6RMkjVDRZzb")
    check_break(events)
    sent = [r.get("voice_settings") for r in elevenlabs.requests() if r.get("voice_settings") is not None]
    if cls is ElevenLabsRestProvider:  # one request per sentence: the angry one carries its settings
        # The neutral first sentence sends no settings; the angry, slower one does.
        assert len(sent) == 1 and sent[0]["stability"] < 0.5 and "speed" in sent[0]


def test_fish_break_and_prosody(fish):
    fish.reset()
    settings = Settings(fish_api_key=SecretStr(KEY), fish_base_url=fish.url)
    events = run(FishAudioProvider(settings), "")
    check_break(events)
    prosodies = [r.get("prosody") for r in fish.requests() if r.get("endpoint") == "tts"]
    assert prosodies[0] is None and prosodies[1] and prosodies[1]["speed"] != 1.0
