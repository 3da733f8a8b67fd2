"""The whole chain with the cloud stand-ins: ElevenLabs first, mid-stream fail-over, secrets never leak."""

from __future__ import annotations

import base64
import json
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest

from gateway.audio.loudness import integrated_lufs

from ops.standins.process import StandinProcess
from tests.conftest import GatewayProcess

pytestmark = pytest.mark.slow
KEY = "sk_test_standin_5f2c9a7e41d3"
LINE = "The northern road is closed. Turn back at the mill. The bridge is out."


@pytest.fixture(scope="module")
def elevenlabs(tmp_path_factory):
    standin = StandinProcess("ops.standins.elevenlabs", ["--api-key", KEY],
                             log_path=str(tmp_path_factory.mktemp("el") / "standin.log")).wait_ready()
    yield standin
    standin.stop()


def start_gateway(elevenlabs, data) -> GatewayProcess:  # noqa: ANN001
    proc = GatewayProcess({"GATEWAY_DATA_DIR": str(data), "ELEVENLABS_API_KEY": KEY,
                           "GATEWAY_ELEVENLABS_BASE_URL": elevenlabs.url,
                           "GATEWAY_ELEVENLABS_WS_URL": elevenlabs.ws_url,
                           "GATEWAY_CHAIN": '["elevenlabs_ws","elevenlabs_rest","piper","espeak","cache","canned"]',
                           "GATEWAY_RETRY_INITIAL_S": "0.05", "GATEWAY_CACHE_ENABLED": "false",
                           "GATEWAY_FIRST_AUDIO_TIMEOUT_S": "3", "GATEWAY_LOG_LEVEL": "DEBUG"},
                          data / "gateway.log")
    try:
        proc.wait_ready()
    except BaseException:
        proc.stop()
        raise
    return proc


@pytest.fixture(scope="module")
def cloud_gateway(elevenlabs, tmp_path_factory):
    proc = start_gateway(elevenlabs, tmp_path_factory.mktemp("cloud-gw"))
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture
def fresh_gateway(elevenlabs, tmp_path_factory):
    """A gateway of its own: no breaker or demotion left by the other tests' faults."""
    proc = start_gateway(elevenlabs, tmp_path_factory.mktemp("fresh-gw"))
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(autouse=True)
def reset_faults(elevenlabs):
    elevenlabs.control("DELETE", "faults")
    yield
    elevenlabs.control("DELETE", "faults")


def stream(gateway, body) -> list[dict]:
    events = []
    with httpx.stream("POST", gateway.url + "/api/avatar/speak/stream", json=body, timeout=60) as r:
        r.raise_for_status()
        for line in r.iter_lines():
            if line:
                events.append(json.loads(line))
    return events


def test_elevenlabs_serves_first(cloud_gateway):
    r = httpx.post(cloud_gateway.url + "/api/avatar/speak", json={"text": LINE, "character": "queen"}, timeout=60)
    body = r.json()
    assert r.status_code == 200 and body["provider"] == "elevenlabs_ws" and body["degradation_level"] == "normal"
    assert [w["word"] for w in body["words"]][:3] == ["The", "northern", "road"]
    assert body["visemes"] and abs(body["visemes"][-1]["end_ms"] - body["duration"] * 1000) <= 2


def test_mid_stream_failover_continues_from_next_sentence(cloud_gateway, elevenlabs):
    # Every ElevenLabs stream dies after its first sentence: WS speaks sentence 0, REST picks up from 1.
    elevenlabs.control("POST", "faults", {"disconnect_after_sentence": True, "targets": ["ws", "rest"]})
    events = stream(cloud_gateway, {"text": LINE, "output_format": "pcm_16000"})
    switches = [e for e in events if e["type"] == "status" and e["code"] == "provider_switch"]
    assert switches, [e for e in events if e["type"] == "status"]
    assert switches[0]["detail"]["from"] == "elevenlabs_ws"
    assert switches[0]["detail"]["resume_segment"] >= 1
    final = events[-1]
    assert final["type"] == "final" and final["complete"] and final["provider"] in ("elevenlabs_rest", "piper")
    assert final["degradation_level"] == "degraded-2" and final["fallbacks"] >= 1
    ends = [e["segment"] for e in events if e["type"] == "segment_end"]
    assert ends[-1] == 2 and ends == sorted(ends)
    starts = [e["start_ms"] for e in events if e["type"] == "audio"]
    assert starts == sorted(starts)


def audio_of(events: list[dict], after_ms: int = 0, before_ms: int | None = None) -> np.ndarray:
    chunks = [e for e in events if e["type"] == "audio" and e["start_ms"] >= after_ms
              and (before_ms is None or e["start_ms"] < before_ms)]
    return np.frombuffer(b"".join(base64.b64decode(e["audio"]) for e in chunks), "<i2")


def test_cloud_voice_is_levelled_and_keeps_its_level_through_failover(cloud_gateway, elevenlabs):
    # The stand-in speaks at a vendor's level (-17 LUFS); the gateway brings the voice to its -23 LUFS target
    # once it has heard it, so falling to Piper (levelled to -23 itself) does not jump in level.
    body = {"text": LINE, "output_format": "pcm_24000", "voice_id": "elevenlabs:21m00Tcm4TlvDq8ikWAM"}
    for _ in range(2):
        events = stream(cloud_gateway, body)
        assert events[-1]["provider"] == "elevenlabs_ws"
    assert abs(integrated_lufs(audio_of(events), 24000) - -23.0) <= 1.5
    raw = httpx.post(f"{elevenlabs.url}/v1/text-to-speech/21m00Tcm4TlvDq8ikWAM?output_format=pcm_24000",
                     json={"text": LINE}, headers={"xi-api-key": KEY}, timeout=60)
    assert integrated_lufs(np.frombuffer(raw.content, "<i2"), 24000) > -19.0  # the vendor is louder as it comes
    elevenlabs.control("POST", "faults", {"disconnect_after_sentence": True, "targets": ["ws", "rest"]})
    events = stream(cloud_gateway, body)
    switch = next(e for e in events if e["type"] == "status" and e["code"] == "provider_switch")
    at = switch["detail"]["at_ms"]
    before, after = integrated_lufs(audio_of(events, 0, at), 24000), integrated_lufs(audio_of(events, at), 24000)
    assert events[-1]["provider"] in ("elevenlabs_rest", "piper") and abs(before - after) <= 2.0, (before, after)


def test_quota_exhausted_fails_over_without_retry_storm(cloud_gateway, elevenlabs):
    elevenlabs.control("POST", "faults", {"quota_exhausted": True, "targets": ["ws", "rest"]})
    before = elevenlabs.control("GET", "faults")
    r = httpx.post(cloud_gateway.url + "/api/avatar/speak", json={"text": "Quota test."}, timeout=60)
    assert r.json()["provider"] == "piper" and r.json()["degradation_level"] == "degraded-2"
    assert r.headers["X-TTS-Provider"] == "piper"
    del before


def test_api_key_never_leaks(cloud_gateway, elevenlabs):
    elevenlabs.control("POST", "faults", {"error": "invalid_api_key", "targets": ["ws", "rest"]})
    seen = []
    for path, body in (("/api/avatar/speak", {"text": "Secret test one."}),
                       ("/api/avatar/speak/stream", {"text": "Secret test two."})):
        seen.append(httpx.post(cloud_gateway.url + path, json=body, timeout=60).text)
    seen.append(httpx.get(cloud_gateway.url + "/api/health").text)
    seen.append(httpx.get(cloud_gateway.url + "/metrics").text)
    seen.append(httpx.get(cloud_gateway.url + "/api/avatar/voices").text)
    seen.append(cloud_gateway.logs())
    for text in seen:
        assert KEY not in text


def test_every_line_of_a_cut_shared_socket_fails_over_from_its_next_sentence(fresh_gateway, elevenlabs):
    """Lines share ElevenLabs sockets (``GATEWAY_ELEVENLABS_WS_MODE=multi``, the default): one cut socket fails
    every line on it, and each goes on with REST from its own next sentence."""
    lines = [LINE, "Guards stand at the gate. Nobody passes tonight. Go home.",
             "The king is dead. Long live the queen. Bow low."]
    elevenlabs.control("DELETE", "requests")
    # The contexts wait 400 ms for their first audio, so all three lines are on the socket when it is cut after the
    # first sentence any of them finishes.
    elevenlabs.control("POST", "faults", {"latency_ms": 400, "disconnect_after_sentence": True, "targets": ["ws"]})
    with ThreadPoolExecutor(len(lines)) as pool:
        results = list(pool.map(lambda text: stream(fresh_gateway, {"text": text, "output_format": "pcm_16000"}),
                                lines))
    # The three lines' first attempts were on one socket (the chain's retries open more, each cut again).
    contexts = [r for r in elevenlabs.control("GET", "requests") if r["endpoint"] == "ws_context"]
    firsts = [next(r for r in contexts if r["texts"] and text.startswith(r["texts"][0].strip())) for text in lines]
    assert len({r["socket"] for r in firsts}) == 1, firsts
    resumed = []
    for events in results:
        switches = [e for e in events if e["type"] == "status" and e["code"] == "provider_switch"]
        assert switches and switches[0]["detail"]["from"] == "elevenlabs_ws", events
        before = [e["segment"] for e in events[:events.index(switches[0])] if e["type"] == "segment_end"]
        assert switches[0]["detail"]["resume_segment"] == len(before)  # from the next sentence on
        resumed.append(len(before))
        final = events[-1]
        assert final["type"] == "final" and final["complete"] and final["fallbacks"] >= 1
        assert [e["segment"] for e in events if e["type"] == "segment_end"] == [0, 1, 2]
    assert max(resumed) >= 1  # the line that finished its first sentence kept it
