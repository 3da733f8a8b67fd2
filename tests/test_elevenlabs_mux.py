"""ElevenLabs lines sharing sockets (``multi-stream-input``) against the stand-in subprocess: real sockets, no mocks.

Lines in parallel on one socket get the same events as on sockets of their own; the context limit opens another
socket; a socket cut mid-stream fails every line on it (the chain going on from the next sentence:
``tests/test_cloud_chain.py``); a context's own error fails only that line; idle sockets close; models refused on
multi-stream go per line.
"""

from __future__ import annotations

import asyncio

import pytest

from gateway.core.errors import ErrorKind, ProviderError
from gateway.core.events import AlignmentEvent, AudioEvent, FinalEvent, SegmentEndEvent
from gateway.core.voices import VoiceSettings
from gateway.providers import elevenlabs_mux
from gateway.providers.elevenlabs_ws import ElevenLabsWsProvider
from tests import test_elevenlabs
from tests.test_elevenlabs import collect, make_settings, request_for

pytestmark = pytest.mark.slow
standin = test_elevenlabs.standin  # the same stand-in fixtures: a process per module, reset around each test
clean = test_elevenlabs.clean

LINES = ["Hello there, traveller.", "The road north is dangerous at night! Take care.",
         "Take 42 coins and go.", "Nobody crosses the bridge after dark. Nobody.",
         "The northern road is closed. Turn back at the mill. The bridge is out."]


def provider_for(standin, mode: str = "multi", **overrides) -> ElevenLabsWsProvider:
    return ElevenLabsWsProvider(make_settings(standin, elevenlabs_ws_mode=mode, **overrides))


def endpoints(standin) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in standin.requests():
        counts[r["endpoint"]] = counts.get(r["endpoint"], 0) + 1
    return counts


async def outcome(provider, text: str):
    try:
        return await collect(provider, request_for(text))
    except ProviderError as exc:
        return exc


def check_line(events, text: str) -> None:
    assert isinstance(events[-1], FinalEvent)
    words = [w.word for e in events if isinstance(e, AlignmentEvent) for w in e.words]
    assert " ".join(words) == " ".join(w.strip(",.!?") for w in text.split())
    samples = sum(e.num_samples for e in events if isinstance(e, AudioEvent))
    assert [e for e in events if isinstance(e, SegmentEndEvent)][-1].end_ms == (samples * 1000 + 12000) // 24000


async def test_lines_in_parallel_share_one_socket_with_the_same_events(standin):
    single = provider_for(standin, "per_line")
    expected = [await collect(single, request_for(text)) for text in LINES]
    await single.close()
    standin.reset()
    provider = provider_for(standin)
    got = await asyncio.gather(*(collect(provider, request_for(text)) for text in LINES))
    await provider.close()
    for events, text, alone in zip(got, LINES, expected):
        check_line(events, text)
        assert events == alone  # audio, alignment, segment ends: exactly what a socket of its own gives
    assert endpoints(standin) == {"ws_multi": 1, "ws_context": len(LINES)}
    contexts = {r["context_id"]: r["texts"] for r in standin.requests() if r["endpoint"] == "ws_context"}
    assert sorted(" ".join(t.strip() for t in texts) for texts in contexts.values()) == sorted(LINES)


async def test_sequential_lines_reuse_the_socket(standin):
    provider = provider_for(standin)
    for text in LINES[:3]:
        check_line(await collect(provider, request_for(text)), text)
    await provider.close()
    assert endpoints(standin) == {"ws_multi": 1, "ws_context": 3}


@pytest.mark.parametrize("limit,lines,sockets", [(2, 5, 3), (5, 7, 2)])
async def test_context_limit_opens_another_socket(standin, limit, lines, sockets):
    provider = provider_for(standin, elevenlabs_ws_contexts_per_socket=limit)
    texts = [LINES[i % len(LINES)] for i in range(lines)]
    got = await asyncio.gather(*(collect(provider, request_for(text)) for text in texts))
    await provider.close()
    for events, text in zip(got, texts):
        check_line(events, text)
    assert endpoints(standin) == {"ws_multi": sockets, "ws_context": lines}
    assert all(len(r["contexts"]) <= limit for r in standin.requests() if r["endpoint"] == "ws_multi")


async def test_socket_cut_fails_every_line_on_it(standin):
    # The contexts wait 300 ms for their first audio: all three are on the socket when it is cut.
    standin.set_faults(latency_ms=300, disconnect_after_chunks=3, disconnect_close_code=1011)
    provider = provider_for(standin)
    got = await asyncio.gather(*(outcome(provider, text) for text in [LINES[1], LINES[3], LINES[4]]))
    assert all(isinstance(r, ProviderError) and r.kind is ErrorKind.RETRYABLE and r.status == 1011 for r in got), got
    assert endpoints(standin) == {"ws_multi": 1, "ws_context": 3}
    standin.set_faults(disconnect_after_chunks=None, latency_ms=0)
    check_line(await collect(provider, request_for(LINES[0])), LINES[0])  # a new socket
    assert endpoints(standin)["ws_multi"] == 2
    await provider.close()


async def test_context_error_fails_only_its_line(standin):
    standin.set_faults(error="internal_server_error", error_count=1)
    provider = provider_for(standin)
    got = await asyncio.gather(*(outcome(provider, text) for text in LINES))
    failed = [r for r in got if isinstance(r, ProviderError)]
    assert len(failed) == 1 and failed[0].kind is ErrorKind.RETRYABLE, got
    for events, text in zip(got, LINES):
        if not isinstance(events, ProviderError):
            check_line(events, text)
    check_line(await collect(provider, request_for(LINES[0])), LINES[0])  # the same socket goes on
    await provider.close()
    assert endpoints(standin) == {"ws_multi": 1, "ws_context": len(LINES) + 1}


async def test_context_quota_error_is_that_lines(standin):
    standin.control("POST", "account", {"character_limit": 40, "character_count": 0})
    provider = provider_for(standin)
    check_line(await collect(provider, request_for(LINES[0])), LINES[0])  # 23 characters
    with pytest.raises(ProviderError) as info:
        await collect(provider, request_for(LINES[0]))
    assert info.value.kind is ErrorKind.QUOTA
    await provider.close()


async def test_idle_socket_closes(standin):
    provider = provider_for(standin, elevenlabs_ws_idle_s=0.3)
    check_line(await collect(provider, request_for(LINES[0])), LINES[0])
    assert sum(len(s) for s in provider.mux.sockets.values()) == 1
    await asyncio.sleep(0.2)
    check_line(await collect(provider, request_for(LINES[1])), LINES[1])  # within the idle time: same socket
    await asyncio.sleep(1.0)
    assert provider.mux.sockets == {}
    assert standin.control("GET", "account")["active"] == 0  # the stand-in saw the socket end
    check_line(await collect(provider, request_for(LINES[2])), LINES[2])
    await provider.close()
    assert endpoints(standin) == {"ws_multi": 2, "ws_context": 3}


async def test_line_left_early_frees_its_context(standin):
    provider = provider_for(standin, elevenlabs_ws_contexts_per_socket=1)
    stream = provider.stream(request_for(LINES[1]))
    async for event in stream:
        if isinstance(event, AudioEvent):
            break
    await stream.aclose()
    for _ in range(50):  # the context counts until the service ends it
        if not any(s.lines for sockets in provider.mux.sockets.values() for s in sockets):
            break
        await asyncio.sleep(0.1)
    check_line(await collect(provider, request_for(LINES[0])), LINES[0])
    await provider.close()
    assert endpoints(standin)["ws_multi"] == 1


async def test_model_refused_on_multi_goes_per_line(standin):
    provider = provider_for(standin)
    events = await collect(provider, request_for(LINES[0], settings=VoiceSettings(model_id="eleven_v3")))
    check_line(events, LINES[0])
    await provider.close()
    assert endpoints(standin) == {"ws": 1}


async def test_a_403_at_the_multi_handshake_sends_the_model_per_line_from_then_on(standin, monkeypatch):
    # The provider does not know the model is refused (no name rule): the service's 403 at the handshake teaches it.
    monkeypatch.setattr(elevenlabs_mux, "REFUSED_PREFIXES", ())
    provider = provider_for(standin)
    settings = VoiceSettings(model_id="eleven_v3")
    for _ in range(2):
        check_line(await collect(provider, request_for(LINES[0], settings=settings)), LINES[0])
    assert "eleven_v3" in provider.mux.refused and provider.mux.connections == 1  # tried once, then per line
    await provider.close()
    assert endpoints(standin).get("ws") == 2 and not endpoints(standin).get("ws_multi")


async def test_open_failure_fails_the_waiting_lines(standin):
    standin.set_faults(hang="connect")
    provider = provider_for(standin, connect_timeout_s=0.5)
    try:
        got = await asyncio.wait_for(asyncio.gather(*(outcome(provider, text) for text in LINES[:3])), 10)
    finally:
        standin.reset()
    assert all(isinstance(r, ProviderError) and r.kind is ErrorKind.TIMEOUT for r in got), got
    check_line(await collect(provider, request_for(LINES[0])), LINES[0])
    await provider.close()


async def test_close_fails_the_lines_on_its_sockets(standin):
    standin.set_faults(latency_ms=600)
    provider = provider_for(standin)
    lines = [asyncio.create_task(outcome(provider, text)) for text in LINES[:2]]
    await asyncio.sleep(0.2)
    await provider.close()
    got = await asyncio.wait_for(asyncio.gather(*lines), 5)  # none is left waiting
    assert all(isinstance(r, ProviderError) and r.kind is ErrorKind.RETRYABLE for r in got), got
