"""The Fish Audio provider against the stand-in process: events, aligned timings, error kinds, secrets."""

from __future__ import annotations

import asyncio
import logging

import pytest
from pydantic import SecretStr

from gateway.core.events import AlignmentEvent, AudioEvent, FinalEvent, SegmentEndEvent
from gateway.core.errors import ErrorKind, ProviderError
from gateway.core.voices import HealthState, VoiceSettings
from gateway.providers.base import SynthesisRequest
from gateway.characters import load_cast
from gateway.providers.fish_audio import FishAudioProvider
from gateway.settings import Settings
from gateway.text.clean import split_sentences, words_with_offsets
from gateway.core.timeline import samples_to_ms
from tests.test_standin_fish import KEY, VOICE, _clean, standin  # noqa: F401 - the stand-in fixtures

pytestmark = pytest.mark.slow
TEXT = "Hello there, adventurer! You owe me 42 gold pieces. The dragon sleeps beneath the old mountain."




def _settings(standin, key: str | None = KEY, **kw) -> Settings:
    return Settings(fish_api_key=SecretStr(key) if key is not None else None, fish_base_url=standin.url,
                    log_json=False, first_audio_timeout_s=4.0, chunk_gap_timeout_s=4.0, **kw)


def _request(text: str = TEXT, voice: str = VOICE, speed: float = 1.0) -> SynthesisRequest:
    return SynthesisRequest(tuple(split_sentences(text)), voice, VoiceSettings(speed=speed), text=text)


async def _collect(provider: FishAudioProvider, request: SynthesisRequest) -> list:
    events = []
    try:
        async for event in provider.stream(request):
            events.append(event)
    finally:
        await provider.close()
    return events


def _check_stream(events: list, request: SynthesisRequest) -> None:
    audio = [e for e in events if isinstance(e, AudioEvent)]
    assert audio and all(e.sample_rate == 24000 for e in audio)
    assert isinstance(events[-1], FinalEvent) and events[-1].stats["provider"] == "fish_audio"
    samples = 0
    seg_start = 0
    seen_alignment: set[int] = set()
    for event in events:
        if isinstance(event, AudioEvent):
            assert event.start_ms == samples_to_ms(samples, 24000)  # contiguous stream clock
            samples += event.num_samples
        elif isinstance(event, AlignmentEvent):
            seen_alignment.add(event.segment)
            end = samples_to_ms(samples, 24000)
            phonemes = event.phonemes
            assert phonemes[0].start_ms == seg_start and phonemes[-1].end_ms == end  # covers the segment's audio
            for a, b in zip(phonemes, phonemes[1:]):
                assert a.end_ms == b.start_ms and a.start_ms <= a.end_ms  # contiguous, monotonic
            assert all(isinstance(p.start_ms, int) and isinstance(p.end_ms, int) for p in phonemes)
            segment = request.segments[event.segment]
            expected = [w for w, _, _ in words_with_offsets(segment.text)]
            assert [w.word for w in event.words] == expected
            for w in event.words:
                assert TEXT[w.char_start:w.char_end] == w.word  # char offsets into the request text
                assert seg_start <= w.start_ms < w.end_ms <= end
            for a, b in zip(event.words, event.words[1:]):
                assert a.end_ms <= b.start_ms
        elif isinstance(event, SegmentEndEvent):
            assert event.segment in seen_alignment  # alignment before the segment ends
            assert event.end_ms == samples_to_ms(samples, 24000)
            seg_start = event.end_ms
    assert events[-1].stats["audio_ms"] == seg_start
    assert events[-1].stats["alignment"].get("forced", 0) == len(request.segments)


@pytest.mark.parametrize("transport", ["http", "ws"])
def test_stream_events_and_aligned_timings(standin, transport):
    provider = FishAudioProvider(_settings(standin), transport=transport)
    request = _request()
    events = asyncio.run(_collect(provider, request))
    _check_stream(events, request)
    tts = [r for r in standin.requests() if r["endpoint"] in ("tts", "live")]
    assert len(tts) == len(request.segments)  # one request per segment
    assert all(r["format"] == "pcm" and r["sample_rate"] == 24000 and r["reference_id"] == VOICE and
               r["model"] == "s1" for r in tts)


def test_msgpack_body_is_explicit(standin):
    provider = FishAudioProvider(_settings(standin))
    asyncio.run(_collect(provider, _request("Halt!", speed=1.25)))
    last = standin.requests()[-1]
    assert last["content_type"] == "application/msgpack"
    assert last["prosody"] == {"speed": 1.25, "volume": 0.0} and last["latency"] == "balanced"
    assert last["chunk_length"] == 200 and last["normalize"] is True


def test_no_key_is_unavailable(standin):
    provider = FishAudioProvider(_settings(standin, key=None))
    health = asyncio.run(provider.health())
    assert health.state is HealthState.DOWN and health.reason == "no API key"
    with pytest.raises(ProviderError) as err:
        asyncio.run(_collect(provider, _request()))
    assert err.value.kind is ErrorKind.UNAVAILABLE


def test_health_from_credit(standin):
    assert asyncio.run(FishAudioProvider(_settings(standin)).health()).state is HealthState.UP
    standin.account(credit="0.5")
    health = asyncio.run(FishAudioProvider(_settings(standin)).health())
    assert health.state is HealthState.DEGRADED and "low" in health.reason
    standin.account(credit="0")
    assert asyncio.run(FishAudioProvider(_settings(standin)).health()).state is HealthState.DOWN
    standin.account(credit="10")
    health = asyncio.run(FishAudioProvider(_settings(standin, key="wrong-key")).health())
    assert health.state is HealthState.DOWN and health.reason == "API key rejected"
    # Health never synthesizes.
    assert not [r for r in standin.requests() if r["endpoint"] in ("tts", "live")]


@pytest.mark.parametrize("transport", ["http", "ws"])
@pytest.mark.parametrize("fault,kind", [
    ({"error": "insufficient_credits"}, ErrorKind.QUOTA),
    ({"quota_exhausted": True}, ErrorKind.QUOTA),
    ({"error": "rate_limited"}, ErrorKind.OVERLOADED),
    ({"error": "internal_error"}, ErrorKind.RETRYABLE),
    ({"error": "forbidden"}, ErrorKind.AUTH),
])
def test_error_kinds(standin, transport, fault, kind):
    if transport == "ws" and "error" in fault:
        # Injected WS errors end the session with finish/error (what the live API does): retryable.
        kind = ErrorKind.RETRYABLE
    standin.faults(**fault)
    provider = FishAudioProvider(_settings(standin), transport=transport)
    with pytest.raises(ProviderError) as err:
        asyncio.run(_collect(provider, _request("Halt!")))
    if transport == "ws" and fault.get("quota_exhausted"):
        kind = ErrorKind.RETRYABLE
    assert err.value.kind is kind and err.value.provider == "fish_audio"


@pytest.mark.parametrize("transport", ["http", "ws"])
def test_bad_key_is_auth(standin, transport):
    provider = FishAudioProvider(_settings(standin, key="wrong-key"), transport=transport)
    with pytest.raises(ProviderError) as err:
        asyncio.run(_collect(provider, _request("Halt!")))
    assert err.value.kind is ErrorKind.AUTH and err.value.status == 401


def test_bad_request_and_unknown_voice(standin):
    standin.faults(error="validation_error", error_count=1)
    with pytest.raises(ProviderError) as err:
        asyncio.run(_collect(FishAudioProvider(_settings(standin)), _request("Halt!")))
    assert err.value.kind is ErrorKind.REJECTED and err.value.status == 422  # the vendor's refusal: fail over
    with pytest.raises(ProviderError) as err:
        asyncio.run(_collect(FishAudioProvider(_settings(standin)), _request("Halt!", voice="no-such-voice")))
    assert err.value.kind is ErrorKind.UNAVAILABLE


def test_disconnect_mid_stream_after_audio(standin):
    standin.faults(disconnect_after_chunks=1)
    provider = FishAudioProvider(_settings(standin))
    seen = []

    async def run() -> None:
        async for event in provider.stream(_request()):
            seen.append(event)

    with pytest.raises(ProviderError) as err:
        asyncio.run(run())
    assert err.value.kind is ErrorKind.RETRYABLE
    assert any(isinstance(e, AudioEvent) for e in seen)  # failed after first audio: the chain fails over


def test_connection_refused_is_retryable(standin):
    settings = Settings(fish_api_key=SecretStr(KEY), fish_base_url="http://127.0.0.1:9", log_json=False,
                        connect_timeout_s=1.0)
    with pytest.raises(ProviderError) as err:
        asyncio.run(_collect(FishAudioProvider(settings), _request("Halt!")))
    assert err.value.kind in (ErrorKind.RETRYABLE, ErrorKind.TIMEOUT)


def test_key_never_logged_or_reported(standin, caplog):
    secret = "sk-fish-SECRET-d9c2"
    caplog.set_level(logging.DEBUG)
    messages = []
    for transport in ("http", "ws"):
        provider = FishAudioProvider(_settings(standin, key=secret), transport=transport)
        messages.append(repr(asyncio.run(provider.health())))
        with pytest.raises(ProviderError) as err:
            asyncio.run(_collect(provider, _request("Halt!")))
        messages += [str(err.value), err.value.message, repr(err.value.__cause__), repr(err.value.__context__)]
    messages += [r.getMessage() for r in caplog.records]
    assert all(secret not in m for m in messages)
    assert secret not in repr(_settings(standin, key=secret))
    # The stand-in's request log never holds keys either.
    assert secret not in repr(standin.requests())


def test_voices_from_the_cast(standin):
    settings = _settings(standin)
    provider = FishAudioProvider(settings, cast=load_cast(settings.characters_file))
    voices = provider.voices()
    assert voices and all(v.provider == "fish_audio" for v in voices)
    assert VOICE in {v.voice for v in voices}
    assert provider.name == "fish_audio" and provider.family == "fish" and provider.exact_timing is False
