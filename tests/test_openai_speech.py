"""The ``openai_speech`` provider against real servers of the OpenAI speech API: the project's own speech worker
(engine timing through the extension) and an independent stand-in shaped like Kokoro-FastAPI (no extension: the
aligner times the audio); routing, fail-over between servers and to the next provider; the official SDK against
the stand-in."""

from __future__ import annotations

import asyncio
import signal

import httpx
import pytest
from pydantic import SecretStr

from gateway.audio.decode import decode_audio
from gateway.core.errors import ErrorKind, ProviderError
from gateway.core.events import AlignmentEvent, AudioEvent, FinalEvent, SegmentEndEvent
from gateway.core.timeline import samples_to_ms
from gateway.core.voices import HealthState
from gateway.providers.base import SynthesisRequest
from gateway.providers.espeak import EspeakProvider
from gateway.providers.factory import build_provider
from gateway.providers.openai_speech import OpenAISpeechProvider
from gateway.settings import Settings
from gateway.text.clean import clean_text, split_sentences, words_with_offsets
from gateway.upstream.speech_api import EventReader, EventWriter
from tests.conftest import GatewayProcess, free_port
from tests.speech_fixtures import (  # noqa: F401 - fixtures
    WORKER_KEY,
    speech_standins,
    speech_worker,
    standins,
    start_worker,
)

TEXT = "Hello there, adventurer! You owe me 42 gold pieces. The dragon sleeps beneath the old mountain."
DEAD = f"http://127.0.0.1:{free_port()}"


def request(text: str = TEXT, voice: str = "") -> SynthesisRequest:
    text = clean_text(text)
    return SynthesisRequest(tuple(split_sentences(text)), voice, text=text)


def collect(provider: OpenAISpeechProvider, req: SynthesisRequest) -> list:
    async def run() -> list:
        await provider.start()
        try:
            return [e async for e in provider.stream(req)]
        finally:
            await provider.close()

    return asyncio.run(run())


def check_stream(events: list, req: SynthesisRequest) -> FinalEvent:
    """One provider stream: contiguous audio, every segment's timing before its end and covering its audio,
    words that index the text, a final event with the whole length."""
    samples, rate, seg_start, timed = 0, 0, 0, set()
    for event in events:
        if isinstance(event, AudioEvent):
            rate = rate or event.sample_rate
            assert event.sample_rate == rate and event.start_ms == samples_to_ms(samples, rate)
            samples += event.num_samples
        elif isinstance(event, AlignmentEvent):
            timed.add(event.segment)
            for w in event.words:
                assert req.text[w.char_start:w.char_end] == w.word and seg_start <= w.start_ms <= w.end_ms
        elif isinstance(event, SegmentEndEvent):
            assert event.segment in timed and event.end_ms == samples_to_ms(samples, rate)
            seg_start = event.end_ms
    assert [e.segment for e in events if isinstance(e, SegmentEndEvent)] == [s.index for s in req.segments]
    final = events[-1]
    assert isinstance(final, FinalEvent) and final.stats["audio_ms"] == seg_start
    return final


def worker_settings(urls: list[str], **kw) -> Settings:  # noqa: ANN003
    return Settings(speech_workers=urls, speech_api_key=SecretStr(WORKER_KEY), log_json=False, **kw)


def studio_settings(urls: list[str], **kw) -> Settings:  # noqa: ANN003
    return Settings(openai_speech_urls=urls, log_json=False, **kw)


# -- fast: settings, factory, the extension's codec -------------------------------------------------

def test_speech_workers_take_over_the_engines_they_serve():
    settings = worker_settings(["http://w1:8791", "http://w2:8791/"])
    piper = build_provider("piper", settings)
    assert isinstance(piper, OpenAISpeechProvider) and (piper.name, piper.family, piper.model) == ("piper",) * 3
    assert piper.exact_timing and list(piper.pool.workers) == ["http://w1:8791", "http://w2:8791"]
    assert isinstance(build_provider("espeak", settings), EspeakProvider)  # the fallback stays in-process
    assert not isinstance(build_provider("piper", Settings(log_json=False)), OpenAISpeechProvider)  # embedded
    studio = Settings(openai_speech_urls="http://k:8880", openai_speech_model="tts-1", log_json=False)
    assert studio.chain[0] == "openai_speech" and build_provider("openai_speech", studio).model == "tts-1"
    with pytest.raises(ValueError):
        Settings(speech_workers=["gpu-1:8791"])


def test_event_codec_gives_back_the_engines_events_exactly():
    async def espeak_events() -> list:
        provider = EspeakProvider(Settings(log_json=False))
        await provider.start()
        return [e async for e in provider.stream(request(TEXT, "en-us"))]

    events = asyncio.run(espeak_events())
    writer, reader = EventWriter(), EventReader("espeak")
    back = [e for e in (reader.event(writer.line(e)) for e in events) if e is not None]
    assert back == events[:-1] and reader.done == events[-1].stats
    shifted, writer = EventReader("espeak", base=22050, base_rate=22050), EventWriter()  # one second in
    moved = [e for e in (shifted.event(writer.line(e)) for e in events) if e is not None]
    assert [e.start_ms - 1000 for e in moved if isinstance(e, AudioEvent)] == \
        [e.start_ms for e in events if isinstance(e, AudioEvent)]
    with pytest.raises(ProviderError) as err:
        reader.event(EventWriter.error(ErrorKind.OVERLOADED, "busy"))
    assert err.value.kind is ErrorKind.OVERLOADED


# -- the project's own speech worker ----------------------------------------------------------------

@pytest.mark.slow
def test_engine_timing_through_the_worker(speech_worker):
    provider = OpenAISpeechProvider.for_engine("piper", worker_settings([speech_worker.url]))
    req = request()

    async def run() -> tuple:
        await provider.start()
        try:
            return await provider.health(), provider.voices(), [e async for e in provider.stream(req)]
        finally:
            await provider.close()

    health, voices, events = asyncio.run(run())
    assert health.state is HealthState.UP and health.detail["servers"][0]["timing"] == "engine"
    assert [(v.voice_id, v.name) for v in voices] == [("piper:joe", "Joe (en_US, medium)")]
    final = check_stream(events, req)
    assert final.stats["provider"] == "piper" and final.stats["sample_rate"] == 22050 and "alignment" not in final.stats
    phonemes = [p for e in events if isinstance(e, AlignmentEvent) for p in e.phonemes]
    assert phonemes[0].phoneme == "^" and len(phonemes) > 60  # Piper's own phoneme spans, not an alignment


@pytest.mark.slow
def test_worker_asks_for_a_key(speech_worker):
    provider = OpenAISpeechProvider.for_engine("piper", Settings(speech_workers=[speech_worker.url], log_json=False))

    async def run() -> tuple:
        await provider.start()
        try:
            return await provider.health()
        finally:
            await provider.close()

    health = asyncio.run(run())
    assert health.state is HealthState.DOWN and "HTTP 401" in health.reason


# -- an independent server of the API (the stand-in) -------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["pcm", "wav"])
def test_aligned_audio_from_a_plain_server(standins, fmt):
    studio = standins[0]
    req = request(voice="am_michael")
    events = collect(OpenAISpeechProvider.from_settings(studio_settings([studio.url],
                                                                        openai_speech_response_format=fmt)), req)
    final = check_stream(events, req)
    assert final.stats["sample_rate"] == 24000 and final.stats["alignment"] == {"forced": 3}
    for event in (e for e in events if isinstance(e, AlignmentEvent)):
        expected = [w for w, _, _ in words_with_offsets(req.segments[event.segment].text)]
        assert [w.word for w in event.words] == expected
    asked = studio.requests()
    assert [r["text"] for r in asked] == [s.text for s in req.segments]  # one plain request per sentence
    assert all(r["fields"] == ["input", "model", "response_format", "speed", "voice"] and r["voice"] == "am_michael"
               and r["response_format"] == fmt for r in asked)  # nothing a plain server would not know


@pytest.mark.slow
def test_fail_over_between_servers(standins):
    broken, good = standins
    broken.set_faults(error="processing_error")  # 500 on every synthesis
    provider = OpenAISpeechProvider.from_settings(studio_settings([DEAD, broken.url, good.url]))
    req = request(voice="af_heart")
    final = check_stream(collect(provider, req), req)
    assert final.stats["server"] == good.url.split("://")[1] and final.stats["servers_tried"] == 2  # DEAD: probed
    dead, bad, ok = provider.pool.workers.values()
    assert not dead.ready and ok.healthy and ok.breaker.cb.fail_counter == 0
    assert bad.breaker.cb.fail_counter == 1  # counted; its models list still answers, so a re-probe keeps it


@pytest.mark.slow
def test_mid_line_fail_over_resumes_at_the_unfinished_sentence(standins):
    first, second = standins
    provider = OpenAISpeechProvider.from_settings(studio_settings([first.url, second.url]))
    req = request(voice="af_heart")

    async def run() -> list:
        await provider.start()
        events = []
        try:
            async for event in provider.stream(req):
                events.append(event)
                if isinstance(event, SegmentEndEvent) and event.segment == 0:
                    first.set_faults(disconnect_after_chunks=1)  # the next sentence dies after its first chunk
        finally:
            await provider.close()
        return events

    events = asyncio.run(run())
    final = check_stream(events, req)
    assert final.stats["servers_tried"] == 2 and final.stats["server"] == second.url.split("://")[1]
    assert [r["text"] for r in first.requests()] == [s.text for s in req.segments[:2]]
    assert [r["text"] for r in second.requests()] == [s.text for s in req.segments[1:]]  # from the unfinished one
    cut = [e for e in events if isinstance(e, AudioEvent) and e.segment == 1]
    assert len(cut) > 1  # sentence 1: its first chunk from the first server, then all of it again from the second


@pytest.mark.slow
def test_error_classes(standins):
    busy, other = standins
    for s in standins:
        s.set_faults(error="rate_limited")
    with pytest.raises(ProviderError) as err:
        collect(OpenAISpeechProvider.from_settings(studio_settings([busy.url, other.url])), request(voice="af_heart"))
    assert err.value.kind is ErrorKind.OVERLOADED  # both busy: fail over now, no breaker counts
    for s in standins:
        s.reset()
    with pytest.raises(ProviderError) as err:
        collect(OpenAISpeechProvider.from_settings(studio_settings([busy.url])), request(voice="nobody"))
    assert err.value.kind is ErrorKind.UNAVAILABLE and "not found" in err.value.message
    busy.set_faults(error="validation_error")  # the request itself is refused: no other server is asked
    with pytest.raises(ProviderError) as err:
        collect(OpenAISpeechProvider.from_settings(studio_settings([busy.url, other.url])), request(voice="af_heart"))
    assert err.value.kind is ErrorKind.REJECTED and other.requests() == []  # the chain fails over instead


@pytest.mark.slow
def test_openai_sdk_against_the_stand_in(standins):
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(api_key="unused", base_url=standins[0].url + "/v1", max_retries=0)
    mp3 = client.audio.speech.create(model="kokoro", voice="af_heart", input=TEXT)
    assert decode_audio(mp3.content, max_seconds=30)[1] == 24000
    with client.audio.speech.with_streaming_response.create(model="tts-1", voice="bf_emma", input=TEXT,
                                                            response_format="pcm") as resp:
        pcm = b"".join(resp.iter_bytes())
    assert len(pcm) > 3 * 48000 and len(pcm) % 2 == 0
    assert {m.id for m in client.models.list()} == {"tts-1", "tts-1-hd", "kokoro"}
    with pytest.raises(openai.BadRequestError):
        client.audio.speech.create(model="kokoro", voice="nobody", input=TEXT)


# -- the gateway with a pool of speech workers -------------------------------------------------------

def speak(gateway: GatewayProcess, text: str) -> dict:
    resp = httpx.post(gateway.url + "/api/avatar/speak", json={"text": text, "character": "narrator"}, timeout=60)
    assert resp.status_code == 200, resp.text
    return resp.json()


@pytest.mark.slow
def test_gateway_serves_piper_through_workers_and_falls_back_when_all_are_gone(tmp_path, tmp_path_factory):
    workers = [start_worker(tmp_path_factory, f"pool-{i}", engines="piper", key=None) for i in range(2)]
    gateway = GatewayProcess({"GATEWAY_DATA_DIR": str(tmp_path), "GATEWAY_SPEECH_WORKERS":
                              ",".join(w.url for w in workers), "GATEWAY_SPEECH_ENGINES": "piper",
                              "GATEWAY_CHAIN": "piper,espeak,canned", "GATEWAY_CACHE_ENABLED": "false",
                              "GATEWAY_SPEECH_HEALTH_INTERVAL_S": "0.5"}, tmp_path / "gateway.log")
    try:
        gateway.wait_ready()
        body = speak(gateway, "The forge is hot today.")
        assert body["provider"] == "piper" and body["degradation_level"] == "normal" and body["phonemes"]
        workers[0].proc.send_signal(signal.SIGKILL)  # one worker dies: the other speaks every line
        for text in ("Mind the anvil.", "Rooms are five silver a night.", "Keep your voice down."):
            assert speak(gateway, text)["provider"] == "piper"
        workers[1].proc.send_signal(signal.SIGKILL)  # none left: the chain's next provider speaks
        body = speak(gateway, "The northern road is closed.")
        assert body["provider"] == "espeak" and body["degradation_level"] == "degraded-2"
        health = httpx.get(gateway.url + "/api/health", timeout=10).json()
        piper = health["providers"]["piper"]
        assert piper["state"] == "down" and "no healthy speech server" in piper["reason"]
        assert [w["healthy"] for w in piper["detail"]["servers"]] == [False, False]
    finally:
        gateway.stop()
        for w in workers:
            w.stop()
