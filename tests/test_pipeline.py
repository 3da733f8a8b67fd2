"""The speak pipeline with real local providers: levels, fail-over across sample rates, text-only answers."""

from __future__ import annotations

import io
import wave

import pytest

from gateway.core.errors import InputError
from gateway.core.events import AudioEvent, StatusEvent
from gateway.policy.degradation import DegradationLevel
from gateway.providers.factory import build_providers
from gateway.service import Mouthpiece
from gateway.speak.events import LineFinished, VisemesEvent
from gateway.speak.line import SpeakInput
from tests.scripted import ScriptedProvider

pytestmark = pytest.mark.slow


@pytest.fixture
async def gateway(settings):
    gw = Mouthpiece(settings.model_copy(update={"enabled_providers": ["piper", "espeak", "cache", "canned"],
                                                "chain": ["piper", "espeak", "cache", "canned"]}))
    await gw.start()
    yield gw
    await gw.close()


async def test_normal_line_is_real_speech_with_covering_timeline(gateway):
    result = await gateway.speak(gateway.prepare(SpeakInput("The bridge is out. Take the ford instead.")))
    assert result.provider == "piper" and result.degradation_level is DegradationLevel.NORMAL
    with wave.open(io.BytesIO(result.audio)) as w:
        assert w.getframerate() == 22050
        assert abs(w.getnframes() / 22050 - result.duration_s) < 1e-6
    assert 1.5 < result.duration_s < 6
    assert abs(result.timeline.phonemes[-1].end_ms - result.duration_s * 1000) <= 1
    visemes = result.lipsync.visemes
    assert visemes[0].start_ms == 0 and abs(visemes[-1].end_ms - result.duration_s * 1000) <= 1


async def test_primary_down_falls_back_and_says_so(gateway):
    gateway.breakers["piper"].force_open()
    result = await gateway.speak(gateway.prepare(SpeakInput("The gate is closed.")))
    assert result.provider == "espeak"
    assert result.degradation_level is DegradationLevel.FALLBACK_PROVIDER


async def test_all_tts_down_serves_canned_offline(gateway):
    gateway.breakers["piper"].force_open()
    gateway.breakers["espeak"].force_open()
    result = await gateway.speak(gateway.prepare(SpeakInput("A line nobody has said before.")))
    assert result.provider == "canned" and result.degradation_level is DegradationLevel.CACHED_ONLY
    assert result.audio and result.lipsync.visemes
    assert result.spoken_text == "Sorry, I can't answer right now."


async def test_everything_down_answers_text_only_with_estimated_visemes(gateway):
    for breaker in gateway.breakers.values():
        breaker.force_open()
    result = await gateway.speak(gateway.prepare(SpeakInput("Nothing can speak this.")))
    assert result.provider is None and result.audio is None
    assert result.degradation_level is DegradationLevel.TEXT_ONLY
    assert [w.word for w in result.timeline.words] == ["Nothing", "can", "speak", "this"]
    assert result.lipsync.visemes[-1].end_ms == result.timeline.duration_ms


async def test_mid_line_switch_resamples_to_one_rate(settings):
    # A 16 kHz provider dies after its first sentence; piper (22.05 kHz) finishes the line at 16 kHz.
    settings = settings.model_copy(update={"enabled_providers": ["piper", "espeak"],
                                           "chain": ["flaky", "piper", "espeak"]})
    providers = {"flaky": ScriptedProvider("flaky", die_after_segments=1), **build_providers(settings)}
    gateway = Mouthpiece(settings, providers=providers)
    await gateway.start()
    line = gateway.prepare(SpeakInput("One. Two words here. Three."))
    events = [e async for e in gateway.stream(line)]
    await gateway.close()
    rates = {e.sample_rate for e in events if isinstance(e, AudioEvent)}
    assert rates == {16000}
    switch = [e for e in events if isinstance(e, StatusEvent) and e.code == "provider_switch"]
    assert switch and switch[0].detail["resume_segment"] == 1
    assert switch[0].degradation_level == "degraded-2"
    final = events[-1]
    assert isinstance(final, LineFinished)
    result = final.result
    assert result.provider == "piper" and result.sample_rate == 16000
    visemes = [e for e in events if isinstance(e, VisemesEvent)]
    assert visemes[0].start_ms == 0 and visemes[-1].end_ms == max(e.end_ms for e in visemes)
    assert all(a.end_ms == b.start_ms for a, b in zip(visemes, visemes[1:]))


async def test_pinned_voice_goes_first(gateway):
    result = await gateway.speak(gateway.prepare(SpeakInput("Pinned.", voice_id="espeak:en-gb")))
    assert result.provider == "espeak"


def test_bad_input_is_an_input_error(settings):
    gw = Mouthpiece(settings.model_copy(update={"enabled_providers": ["espeak"], "chain": ["espeak"]}))
    with pytest.raises(InputError) as err:
        gw.prepare(SpeakInput("hello", character="nobody"))
    assert err.value.status == 404 and "narrator" in err.value.detail["valid"]
    with pytest.raises(InputError) as err:
        gw.prepare(SpeakInput("x" * 1001))
    assert err.value.status == 400 and "1000" in err.value.message
