"""Our ElevenLabs providers (REST and WebSocket) against the stand-in subprocess.

Events and timings, words, error classification for every vendor error (driven through the
stand-in's control endpoint), health/quota, faults (first-byte latency, mid-stream disconnect,
hang at connect) and a scan for the API key in everything logged and returned.

First-audio and chunk-gap deadlines are enforced by the chain (``gateway.policy.chain``), not
by the providers: a provider only bounds its connect phase (``connect_timeout_s``).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time

import pytest
import structlog

from gateway.core.events import AlignmentEvent, AudioEvent, FinalEvent, SegmentEndEvent
from gateway.timing.chars import timeline_from_char_alignment
from gateway.core.errors import ErrorKind, ProviderError
from gateway.core.voices import HealthState, VoiceSettings
from gateway.providers.base import SynthesisRequest
from gateway.providers.elevenlabs_common import ws_alignment
from gateway.providers.elevenlabs_errors import classify_http_error, classify_ws_close, parse_retry_after
from gateway.providers.elevenlabs_rest import ElevenLabsRestProvider
from gateway.providers.elevenlabs_ws import ElevenLabsWsProvider
from gateway.settings import Settings
from gateway.core.segments import Segment
from gateway.text.clean import clean_text, split_sentences, words_with_offsets
from ops.standins.process import StandinProcess

pytestmark = pytest.mark.slow

KEY = "test-key-provider"
SECRET = "sk-mouthpiece-SECRET-0f3c9a7d51"  # accepted too; the leak test looks for it everywhere
WRONG = "sk-mouthpiece-WRONG-88d1e2b7c4"
VOICE = "21m00Tcm4TlvDq8ikWAM"
TEXT = "Hello there, traveller. The road north is dangerous at night! Take 42 coins."
PROVIDERS = {"rest": ElevenLabsRestProvider, "ws": ElevenLabsWsProvider}


@pytest.fixture(scope="module")
def standin(tmp_path_factory):
    proc = StandinProcess("ops.standins.elevenlabs", ["--api-key", KEY, "--api-key", SECRET],
                          log_path=str(tmp_path_factory.mktemp("standin") / "standin.log"))
    try:
        yield proc.wait_ready()
    finally:
        proc.stop()


@pytest.fixture(autouse=True)
def clean(standin):
    standin.reset()
    standin.control("POST", "account", {"character_count": 0, "character_limit": 100_000, "concurrency_limit": 5})
    yield
    standin.reset()


def make_settings(standin, key: str | None = KEY, **overrides) -> Settings:
    return Settings(elevenlabs_api_key=key, elevenlabs_base_url=standin.url, elevenlabs_ws_url=standin.ws_url,
                    connect_timeout_s=overrides.pop("connect_timeout_s", 1.5), log_json=False, **overrides)


def request_for(text: str = TEXT, voice: str = VOICE, settings: VoiceSettings = VoiceSettings()) -> SynthesisRequest:
    text = clean_text(text)
    return SynthesisRequest(tuple(split_sentences(text)), voice, settings, text=text)


async def collect(provider, request):
    events = []
    async for event in provider.stream(request):
        events.append(event)
    return events


@pytest.fixture(params=sorted(PROVIDERS))
async def provider(request, standin):
    p = PROVIDERS[request.param](make_settings(standin))
    await p.start()
    yield p
    await p.close()


# -- the happy path -------------------------------------------------------------------------------------

async def test_events_timings_and_words(provider):
    assert VOICE in {v.voice for v in provider.voices()}
    assert provider.family == "elevenlabs" and provider.name.startswith("elevenlabs_")
    request = request_for()
    events = await collect(provider, request)
    assert isinstance(events[-1], FinalEvent)
    audio = [e for e in events if isinstance(e, AudioEvent)]
    ends = [e for e in events if isinstance(e, SegmentEndEvent)]
    phonemes = [p for e in events if isinstance(e, AlignmentEvent) for p in e.phonemes]
    words = [w for e in events if isinstance(e, AlignmentEvent) for w in e.words]

    # Audio: 24 kHz, contiguous start times, real speech.
    samples = 0
    for e in audio:
        assert e.sample_rate == 24000
        assert e.start_ms == (samples * 1000 + 12000) // 24000
        samples += e.num_samples
    total_ms = (samples * 1000 + 12000) // 24000
    assert 2500 < total_ms < 12000
    # Segments end in order, the last where the audio ends; audio events name their segment.
    assert [e.segment for e in ends] == [s.index for s in request.segments]
    assert all(a.end_ms <= b.end_ms for a, b in zip(ends, ends[1:]))
    assert ends[-1].end_ms == total_ms
    segment_of_audio = [e.segment for e in audio]
    assert segment_of_audio == sorted(segment_of_audio)
    # Phonemes: contiguous from 0 to the end of the audio, monotonic.
    assert phonemes[0].start_ms == 0 and phonemes[-1].end_ms == total_ms
    assert all(a.end_ms == b.start_ms for a, b in zip(phonemes, phonemes[1:]))
    assert all(p.end_ms >= p.start_ms for p in phonemes)
    assert len([p for p in phonemes if p.phoneme.strip()]) > 30
    # Words: exactly the text's words, with char offsets into the line, in time order inside the audio.
    expected = [(w, s.char_start + cs, s.char_start + ce) for s in request.segments
                for w, cs, ce in words_with_offsets(s.text)]
    assert [(w.word, w.char_start, w.char_end) for w in words] == expected
    assert all(request.text[w.char_start:w.char_end] == w.word for w in words)
    assert all(a.end_ms <= b.start_ms for a, b in zip(words, words[1:]))
    assert words[0].start_ms < 300 and words[-1].end_ms > total_ms - 600
    # Each segment's words lie inside that segment's audio.
    seg_start = 0
    for end in ends:
        seg_words = [w for e in events if isinstance(e, AlignmentEvent) and e.segment == end.segment for w in e.words]
        assert seg_words and all(seg_start <= w.start_ms <= w.end_ms <= end.end_ms for w in seg_words)
        seg_start = end.end_ms


async def test_rest_stitches_segments_and_sends_settings(standin):
    provider = ElevenLabsRestProvider(make_settings(standin))
    request = request_for(settings=VoiceSettings(speed=1.1, stability=0.4))
    await collect(provider, request)
    await provider.close()
    sent = [r for r in standin.requests() if r["endpoint"] == "stream_with_timestamps"]
    assert [r["text"] for r in sent] == [s.text for s in request.segments]
    assert sent[0].get("previous_text") is None and sent[0]["next_text"].startswith("The road north")
    assert sent[1]["previous_text"] == "Hello there, traveller." and sent[1]["next_text"] == "Take 42 coins."
    assert sent[2]["previous_text"].endswith("at night!") and sent[2].get("next_text") is None
    assert all(r["query"]["output_format"] == "pcm_24000" for r in sent)
    assert all(r["voice_settings"] == {"stability": 0.4, "speed": 1.1} for r in sent)
    assert all(r["model_id"] == Settings().elevenlabs.model_id for r in sent)


async def test_ws_sends_flush_per_segment(standin):
    provider = ElevenLabsWsProvider(make_settings(standin))
    request = request_for()
    await collect(provider, request)
    await provider.close()
    sent = [r for r in standin.requests() if r["endpoint"] in ("ws", "ws_context")]  # a socket, or a context of one
    assert len(sent) == 1
    assert sent[0]["texts"] == [s.text + " " for s in request.segments]
    assert sent[0]["query"]["output_format"] == "pcm_24000" and "inactivity_timeout" in sent[0]["query"]


async def test_ws_accepts_both_duration_spellings(standin):
    standin.set_faults(ws_duration_key="charsDurationsMs")
    provider = ElevenLabsWsProvider(make_settings(standin))
    events = await collect(provider, request_for("Hello there, traveller."))
    words = [w.word for e in events if isinstance(e, AlignmentEvent) for w in e.words]
    assert words == ["Hello", "there", "traveller"]
    assert ws_alignment({"chars": ["a"], "charStartTimesMs": [5], "charDurationsMs": [7]}).ends_ms == [12]
    assert ws_alignment({"chars": ["a"], "charStartTimesMs": [5], "charsDurationsMs": [7]}).ends_ms == [12]


async def test_stall_does_not_make_the_provider_give_up(standin):
    """Gaps are the chain's deadline: the provider keeps streaming through a slow drip."""
    standin.set_faults(stall_ms=250)
    provider = ElevenLabsRestProvider(make_settings(standin, connect_timeout_s=0.5))
    events = await collect(provider, request_for("Hello there, my friend of old."))
    assert isinstance(events[-1], FinalEvent)


# -- errors ------------------------------------------------------------------------------------------------

ERROR_KINDS = [
    ("invalid_api_key", ErrorKind.AUTH),
    ("quota_exceeded", ErrorKind.QUOTA),
    ("too_many_concurrent_requests", ErrorKind.OVERLOADED),
    ("system_busy", ErrorKind.RETRYABLE),
    ("validation_error", ErrorKind.REJECTED),  # a 422 to a validated line: the vendor's problem, fail over
    ("max_character_limit_exceeded", ErrorKind.BAD_REQUEST),  # the line's own cause: a 4xx to the client
    ("voice_not_found", ErrorKind.UNAVAILABLE),
    ("internal_server_error", ErrorKind.RETRYABLE),
    ("service_unavailable", ErrorKind.RETRYABLE),
]


@pytest.mark.parametrize("error,kind", ERROR_KINDS)
async def test_error_kinds(standin, provider, error, kind):
    standin.set_faults(error=error, error_count=1, retry_after_s=2)
    with pytest.raises(ProviderError) as info:
        await collect(provider, request_for("Hi there."))
    assert info.value.kind is kind, info.value
    assert info.value.provider == provider.name
    if provider.name == "elevenlabs_rest" and error == "system_busy":
        assert info.value.retry_after_s == 2 and info.value.status == 429


async def test_wrong_key_is_auth_and_health_down(standin):
    for cls in PROVIDERS.values():
        p = cls(make_settings(standin, key=WRONG))
        await p.start()
        assert p.voices() == []  # best effort: unauthorized -> empty
        with pytest.raises(ProviderError) as info:
            await collect(p, request_for("Hi."))
        assert info.value.kind is ErrorKind.AUTH
        health = await p.health()
        assert health.state is HealthState.DOWN and "authentication" in health.reason
        await p.close()


async def test_quota_exhausted(standin, provider):
    standin.set_faults(quota_exhausted=True)
    with pytest.raises(ProviderError) as info:
        await collect(provider, request_for("Hi."))
    assert info.value.kind is ErrorKind.QUOTA
    health = await PROVIDERS["rest"](make_settings(standin)).health()
    assert health.state is HealthState.DOWN and "quota" in health.reason


async def test_quota_tracked_by_characters(standin):
    standin.control("POST", "account", {"character_limit": 40, "character_count": 0})
    provider = ElevenLabsRestProvider(make_settings(standin))
    await collect(provider, request_for("Hello there, traveller."))  # 23 characters
    with pytest.raises(ProviderError) as info:
        await collect(provider, request_for("Hello there, traveller."))
    assert info.value.kind is ErrorKind.QUOTA and "exceeds your quota" in info.value.message


async def test_health_up_degraded_and_cached(standin):
    provider = ElevenLabsRestProvider(make_settings(standin))
    health = await provider.health()
    assert health.state is HealthState.UP and health.detail["headroom"] == 100_000
    standin.control("POST", "account", {"character_count": 85_000})
    assert (await provider.health()).state is HealthState.UP  # cached for ~30 s
    calls = len([r for r in standin.requests() if r["endpoint"] == "subscription"])
    assert calls == 1
    fresh = ElevenLabsWsProvider(make_settings(standin))
    health = await fresh.health()
    assert health.state is HealthState.DEGRADED and "85%" in health.reason
    assert health.detail["headroom"] == 15_000 and health.detail["character_limit"] == 100_000
    await provider.close()
    await fresh.close()


async def test_no_api_key(standin):
    for cls in PROVIDERS.values():
        p = cls(make_settings(standin, key=None))
        await p.start()
        health = await p.health()
        assert health.state is HealthState.DOWN and "no API key" in health.reason
        with pytest.raises(ProviderError) as info:
            await collect(p, request_for("Hi."))
        assert info.value.kind is ErrorKind.UNAVAILABLE
    assert not [r for r in standin.requests()]  # nothing was sent


async def test_unreachable():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: connection refused
    settings = Settings(elevenlabs_api_key=KEY, elevenlabs_base_url=f"http://127.0.0.1:{port}",
                        elevenlabs_ws_url=f"ws://127.0.0.1:{port}", connect_timeout_s=1.0)
    for cls in PROVIDERS.values():
        p = cls(settings)
        await p.start()
        assert p.voices() == []
        assert (await p.health()).state is HealthState.DOWN
        with pytest.raises(ProviderError) as info:
            await collect(p, request_for("Hi.", voice=VOICE))
        assert info.value.kind is ErrorKind.RETRYABLE
        await p.close()


# -- faults --------------------------------------------------------------------------------------------------

async def test_first_byte_latency_visible(standin, provider):
    standin.set_faults(latency_ms=900)
    start = time.monotonic()
    async for event in provider.stream(request_for("Hello there.")):
        if isinstance(event, AudioEvent):
            first = time.monotonic() - start
            break
    assert 0.9 <= first < 5.0


async def test_mid_stream_disconnect_after_audio(standin, provider):
    standin.set_faults(disconnect_after_chunks=2)
    audio = 0
    with pytest.raises(ProviderError) as info:
        async for event in provider.stream(request_for()):
            if isinstance(event, AudioEvent):
                audio += 1
    assert audio >= 1, "the failure comes after audio was streamed"
    assert info.value.kind is ErrorKind.RETRYABLE


async def test_failure_mid_line_keeps_finished_segments(standin, provider):
    if provider.name == "elevenlabs_ws":
        standin.set_faults(disconnect_after_sentence=True)  # one socket: cut after the first sentence
    else:
        standin.set_faults(error="internal_server_error", error_after=1)  # one request per segment: 2nd fails
    done = []
    with pytest.raises(ProviderError) as info:
        async for event in provider.stream(request_for()):
            if isinstance(event, SegmentEndEvent):
                done.append(event.segment)
    assert done == [0]  # the chain resumes at segment 1 with the next provider
    assert info.value.kind is ErrorKind.RETRYABLE


async def test_hang_at_connect_times_out(standin, provider):
    standin.set_faults(hang="connect")
    start = time.monotonic()
    try:
        with pytest.raises(ProviderError) as info:
            await asyncio.wait_for(collect(provider, request_for("Hi.")), 20)
    finally:
        standin.reset()  # releases the hung handler
    assert info.value.kind is ErrorKind.TIMEOUT
    assert time.monotonic() - start < 1.5 + 2.0


async def test_ws_close_1011_is_retryable(standin):
    standin.set_faults(disconnect_after_chunks=1, disconnect_close_code=1011)
    provider = ElevenLabsWsProvider(make_settings(standin))
    with pytest.raises(ProviderError) as info:
        await collect(provider, request_for())
    assert info.value.kind is ErrorKind.RETRYABLE and info.value.status == 1011


# -- classification and conversion units ----------------------------------------------------------------------

def test_classify_http_error_table():
    def kind(status, code="", headers=None):
        body = {"detail": {"status": code, "message": "m"}} if code else {"detail": [{"loc": ["body"], "msg": "x"}]}
        return classify_http_error(status, body, headers)

    assert kind(401, "quota_exceeded").kind is ErrorKind.QUOTA
    assert kind(401, "invalid_api_key").kind is ErrorKind.AUTH
    assert kind(429, "too_many_concurrent_requests").kind is ErrorKind.OVERLOADED
    busy = kind(429, "system_busy", {"retry-after": "7"})
    assert busy.kind is ErrorKind.RETRYABLE and busy.retry_after_s == 7
    assert kind(422).kind is ErrorKind.REJECTED
    assert kind(400, "invalid_request").kind is ErrorKind.REJECTED and kind(413).kind is ErrorKind.BAD_REQUEST
    assert classify_ws_close(1008, "", {"error": "invalid_message", "message": "m"}).kind is ErrorKind.REJECTED
    assert classify_ws_close(1008, "", {"error": "max_character_limit_exceeded", "message": "m"}).kind \
        is ErrorKind.BAD_REQUEST
    assert kind(400, "max_character_limit_exceeded").kind is ErrorKind.BAD_REQUEST
    assert kind(400, "voice_not_found").kind is ErrorKind.UNAVAILABLE
    assert kind(500, "internal").kind is ErrorKind.RETRYABLE and kind(503, "x").kind is ErrorKind.RETRYABLE
    assert classify_ws_close(1008, "Have not received a new text input within the timeout", None).kind \
        is ErrorKind.RETRYABLE
    assert classify_ws_close(1011, "", None).kind is ErrorKind.RETRYABLE
    assert classify_ws_close(1008, "", {"error": "quota_exceeded", "message": "m"}).kind is ErrorKind.QUOTA
    assert classify_ws_close(1008, "", {"error": "input_timeout_exceeded", "message": "m"}).kind \
        is ErrorKind.RETRYABLE
    assert parse_retry_after({"retry-after-ms": "1500"}) == 1.5


def test_char_alignment_to_timeline():
    segment = Segment(1, "Hi, Bob.", 20)
    chars = list(segment.text)
    starts = [0, 60, 120, 160, 200, 260, 320, 380]
    ends = [60, 120, 160, 200, 260, 320, 380, 420]
    phonemes, words = timeline_from_char_alignment(chars, starts, ends, segment, 1000)
    assert [(w.word, w.start_ms, w.end_ms, w.char_start, w.char_end) for w in words] == [
        ("Hi", 1000, 1120, 20, 22), ("Bob", 1200, 1380, 24, 27)]
    assert phonemes[0].start_ms == 1000 and phonemes[-1].end_ms == 1420
    assert all(a.end_ms == b.start_ms for a, b in zip(phonemes, phonemes[1:]))
    spoken = "".join(p.phoneme for p in phonemes if p.start_ms >= 1200 and p.end_ms <= 1380)
    assert "b" in spoken  # G2P of "Bob" inside its span
    # Vendor drops/adds characters: words still come out, in order.
    _, words = timeline_from_char_alignment(["H", "i", "B", "o", "b", "!"], [0, 50, 200, 250, 300, 350],
                                            [50, 100, 250, 300, 350, 400], segment, 0)
    assert [w.word for w in words] == ["Hi", "Bob"]


# -- secrets ------------------------------------------------------------------------------------------------

async def test_api_key_never_logged_or_returned(standin, caplog, capsys):
    """Run success and every failure path with a distinctive key; scan logs, events, errors, health."""
    caplog.set_level(logging.DEBUG)
    structlog.configure(processors=[structlog.processors.KeyValueRenderer()],
                        wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG),
                        logger_factory=structlog.PrintLoggerFactory(), cache_logger_on_first_use=False)
    seen: list[str] = []

    def record(obj) -> None:
        seen.append(repr(obj))
        seen.append(str(obj))
        if isinstance(obj, BaseException):
            seen.append(repr(obj.args))
            cause = obj.__cause__ or obj.__context__
            while cause is not None:
                seen.extend([repr(cause), str(cause)])
                cause = cause.__cause__ or cause.__context__

    try:
        for key in (SECRET, WRONG):
            for cls in PROVIDERS.values():
                p = cls(make_settings(standin, key=key))
                await p.start()
                record(p.voices())
                record(await p.health())
                for faults in ({}, {"error": "quota_exceeded"}, {"error": "system_busy"},
                               {"disconnect_after_chunks": 1}, {"error": "validation_error"}):
                    standin.reset()
                    if faults:
                        standin.set_faults(**faults)
                    try:
                        async for event in p.stream(request_for("Hello there. Bye.")):
                            record(event)
                    except Exception as exc:  # noqa: BLE001 - every failure is scanned
                        record(exc)
                record(vars(p.account))
                await p.close()
        standin.reset()
        standin.set_faults(hang="connect")
        p = ElevenLabsRestProvider(make_settings(standin, key=SECRET, connect_timeout_s=0.5))
        try:
            await collect(p, request_for("Hi."))
        except ProviderError as exc:
            record(exc)
        standin.reset()
    finally:
        structlog.reset_defaults()
    captured = capsys.readouterr()
    haystack = "\n".join(seen + [captured.out, captured.err, caplog.text, standin.logs(),
                                 repr(standin.requests())])
    for key in (SECRET, WRONG):
        assert key not in haystack
        assert key[8:] not in haystack  # not even a prefix-stripped fragment
    assert "elevenlabs_rest" in haystack  # the scan did see provider output
