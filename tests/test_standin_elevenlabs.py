"""The ElevenLabs stand-in speaks the real protocol: the official SDK and a raw WebSocket client agree.

One stand-in subprocess per module (Piper loads once). Every test resets its faults.
"""

from __future__ import annotations

import asyncio
import base64
import json

import httpx
import numpy as np
import pytest

from gateway.audio.decode import decode_audio, decode_pcm
from ops.standins.process import StandinProcess

pytestmark = pytest.mark.slow

KEY = "test-key-standin"
VOICE = "21m00Tcm4TlvDq8ikWAM"
TEXT = "Hello there, traveller. The road is long."
NO_RETRY = {"max_retries": 0}

elevenlabs = pytest.importorskip("elevenlabs")
websockets = pytest.importorskip("websockets")
from elevenlabs import ElevenLabs  # noqa: E402
from elevenlabs.core.api_error import ApiError  # noqa: E402
from elevenlabs.errors import UnprocessableEntityError  # noqa: E402


@pytest.fixture(scope="module")
def standin(tmp_path_factory):
    proc = StandinProcess("ops.standins.elevenlabs", ["--api-key", KEY],
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


@pytest.fixture
def client(standin) -> ElevenLabs:
    return ElevenLabs(base_url=standin.url, api_key=KEY)


def _rms(pcm: bytes) -> float:
    x = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    return float(np.sqrt(np.mean(x * x))) if len(x) else 0.0


def _plausible(seconds: float, text: str) -> bool:
    return 0.03 * len(text) <= seconds <= 0.15 * len(text) + 1.0


def _check_alignment(chars: list[str], starts: list[float], ends: list[float], audio_s: float) -> None:
    assert len(chars) == len(starts) == len(ends) > 0
    assert all(b >= a for a, b in zip(starts, starts[1:])), "start times go back"
    assert all(e >= s for s, e in zip(starts, ends))
    assert ends[-1] <= audio_s + 0.05


# -- REST through the official SDK ---------------------------------------------------------------------

def test_convert_default_mp3(client):
    audio = b"".join(client.text_to_speech.convert(VOICE, text=TEXT, request_options=NO_RETRY))
    pcm, rate = decode_audio(audio, max_seconds=30)
    assert rate == 44100  # default mp3_44100_128
    assert _plausible(len(pcm) / 2 / rate, TEXT)
    assert _rms(pcm) > 300


def test_stream_pcm_and_mp3(client):
    raw = b"".join(client.text_to_speech.stream(VOICE, text=TEXT, output_format="pcm_16000",
                                                request_options=NO_RETRY))
    pcm, rate = decode_pcm(raw, 16000)
    assert _plausible(len(pcm) / 2 / rate, TEXT) and _rms(pcm) > 300
    mp3 = b"".join(client.text_to_speech.stream(VOICE, text="Short line.", output_format="mp3_22050_32",
                                                request_options=NO_RETRY))
    pcm2, rate2 = decode_audio(mp3, max_seconds=30)
    assert rate2 == 22050 and _rms(pcm2) > 300


def test_convert_with_timestamps(client):
    r = client.text_to_speech.convert_with_timestamps(VOICE, text=TEXT, output_format="wav_24000",
                                                      request_options=NO_RETRY)
    pcm, rate = decode_audio(base64.b64decode(r.audio_base_64), max_seconds=30)
    seconds = len(pcm) / 2 / rate
    assert rate == 24000 and _plausible(seconds, TEXT) and _rms(pcm) > 300
    a = r.alignment
    assert "".join(a.characters) == TEXT
    _check_alignment(a.characters, a.character_start_times_seconds, a.character_end_times_seconds, seconds)
    assert r.normalized_alignment is not None


def test_stream_with_timestamps_chunks(client):
    chars, starts, ends, audio = [], [], [], b""
    chunks = 0
    for chunk in client.text_to_speech.stream_with_timestamps(VOICE, text=TEXT, output_format="pcm_24000",
                                                              request_options=NO_RETRY):
        chunks += 1
        audio += base64.b64decode(chunk.audio_base_64)
        if chunk.alignment is not None:
            chars += chunk.alignment.characters
            starts += chunk.alignment.character_start_times_seconds
            ends += chunk.alignment.character_end_times_seconds
    assert chunks > 2  # streamed in pieces, not one blob
    seconds = len(audio) / 2 / 24000
    assert "".join(chars) == TEXT
    _check_alignment(chars, starts, ends, seconds)
    assert _plausible(seconds, TEXT) and _rms(audio) > 300
    # Alignment is right: the first word starts near the start, the last ends near the end.
    assert starts[0] < 0.2 and ends[-1] > seconds - 0.4


def test_g711_formats(standin):
    for fmt in ("ulaw_8000", "alaw_8000"):
        r = httpx.post(f"{standin.url}/v1/text-to-speech/{VOICE}/stream", params={"output_format": fmt},
                       headers={"xi-api-key": KEY}, json={"text": "Short line."}, timeout=30)
        assert r.status_code == 200
        codec = "pcm_mulaw" if fmt.startswith("ulaw") else "pcm_alaw"
        import av

        ctx = av.CodecContext.create(codec, "r")
        ctx.sample_rate, ctx.layout = 8000, "mono"
        frames = ctx.decode(av.Packet(r.content))
        pcm = b"".join(bytes(f.to_ndarray().astype("<i2").tobytes()) for f in frames)
        assert len(pcm) // 2 == len(r.content) and _rms(pcm) > 300


def test_characters_counted_and_voices(client):
    before = client.user.subscription.get().character_count
    b"".join(client.text_to_speech.convert(VOICE, text=TEXT, request_options=NO_RETRY))
    sub = client.user.subscription.get()
    assert sub.character_count == before + len(TEXT)
    assert sub.character_limit == 100_000
    voices = client.voices.get_all().voices
    assert VOICE in {v.voice_id for v in voices} and all(v.name for v in voices)


# -- SDK errors -----------------------------------------------------------------------------------------

def test_invalid_key_401(standin):
    bad = ElevenLabs(base_url=standin.url, api_key="wrong-key")
    with pytest.raises(ApiError) as info:
        b"".join(bad.text_to_speech.convert(VOICE, text="Hi.", request_options=NO_RETRY))
    assert info.value.status_code == 401
    assert info.value.body == {"detail": {"status": "invalid_api_key", "message": "Invalid API key"}}


def test_validation_422(standin, client):
    with pytest.raises(UnprocessableEntityError) as info:
        b"".join(client.text_to_speech.convert(VOICE, text="Hi.", output_format="mp3_1_1",
                                               request_options=NO_RETRY))
    assert info.value.body["detail"][0]["loc"] == ["query", "output_format"]
    r = httpx.post(f"{standin.url}/v1/text-to-speech/{VOICE}",
                   headers={"xi-api-key": KEY}, json={"model_id": "eleven_flash_v2_5"})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "text"] and r.json()["detail"][0]["type"] == "missing"


@pytest.mark.parametrize("error,status", [("too_many_concurrent_requests", 429), ("system_busy", 429),
                                          ("quota_exceeded", 401), ("internal_server_error", 500),
                                          ("voice_not_found", 400)])
def test_injected_errors(standin, client, error, status):
    standin.set_faults(error=error, error_count=1, retry_after_s=3)
    with pytest.raises(ApiError) as info:
        b"".join(client.text_to_speech.convert(VOICE, text="Hi.", request_options=NO_RETRY))
    assert info.value.status_code == status
    assert info.value.body["detail"]["status"] == error and info.value.body["detail"]["message"]
    if status == 429:
        assert info.value.headers.get("retry-after") == "3"
    assert len([r for r in standin.requests() if r["endpoint"] == "convert"]) == 1  # SDK did not retry
    # error_count=1: the next request succeeds
    assert b"".join(client.text_to_speech.convert(VOICE, text="Hi.", output_format="pcm_16000",
                                                  request_options=NO_RETRY))


def test_quota_tracking_exceeded(standin, client):
    standin.control("POST", "account", {"character_limit": 20, "character_count": 15})
    with pytest.raises(ApiError) as info:
        b"".join(client.text_to_speech.convert(VOICE, text=TEXT, request_options=NO_RETRY))
    assert info.value.status_code == 401
    detail = info.value.body["detail"]
    assert detail["status"] == "quota_exceeded" and "quota of 20" in detail["message"]
    assert "5 credits remaining" in detail["message"]


def test_mid_stream_disconnect(standin, client):
    standin.set_faults(disconnect_after_chunks=2)
    got = b""
    with pytest.raises(Exception) as info:  # noqa: B017 - httpx surfaces it as a protocol/read error
        for part in client.text_to_speech.stream(VOICE, text=TEXT, output_format="pcm_16000",
                                                 request_options=NO_RETRY):
            got += part
    assert got, "audio arrived before the cut"
    assert isinstance(info.value, (httpx.RemoteProtocolError, httpx.ReadError)) or "peer closed" in str(info.value)


def test_control_endpoint(standin):
    r = httpx.post(f"{standin.url}/__control/faults", json={"error": "no_such_error"})
    assert r.status_code == 422
    state = standin.set_faults(latency_ms=10, error="system_busy")
    assert state["faults"]["latency_ms"] == 10 and state["faults"]["error"] == "system_busy"
    assert "invalid_api_key" in state["errors"]
    state = standin.control("DELETE", "faults")
    assert state["faults"]["error"] is None and state["faults"]["latency_ms"] == 0


# -- WebSocket with a raw client --------------------------------------------------------------------------

def _ws_url(standin, multi: bool = False, **query) -> str:
    params = {"model_id": "eleven_flash_v2_5", "output_format": "pcm_24000", **query}
    path = "multi-stream-input" if multi else "stream-input"
    return f"{standin.ws_url}/v1/text-to-speech/{VOICE}/{path}?" + "&".join(f"{k}={v}" for k, v in params.items())


async def _collect(ws) -> tuple[list[dict], int | None, str]:
    messages = []
    try:
        async for raw in ws:
            messages.append(json.loads(raw))
    except websockets.ConnectionClosed:
        pass
    return messages, ws.close_code, ws.close_reason


@pytest.mark.parametrize("spelling", ["charDurationsMs", "charsDurationsMs"])
async def test_ws_stream_alignment(standin, spelling):
    standin.set_faults(ws_duration_key=spelling)
    async with websockets.connect(_ws_url(standin), additional_headers={"xi-api-key": KEY}) as ws:
        await ws.send(json.dumps({"text": " ", "voice_settings": {"stability": 0.5, "similarity_boost": 0.8}}))
        await ws.send(json.dumps({"text": "Hello there, traveller. "}))
        await ws.send(json.dumps({"text": "The road is long. "}))
        await ws.send(json.dumps({"text": ""}))
        messages, code, _ = await _collect(ws)
    assert code == 1000
    assert messages[-1] == {"isFinal": True}
    audio_msgs = messages[:-1]
    assert audio_msgs and all(m["isFinal"] is None and m["audio"] for m in audio_msgs)
    chars = []
    for m in audio_msgs:
        a = m["alignment"]
        other = "charsDurationsMs" if spelling == "charDurationsMs" else "charDurationsMs"
        assert spelling in a and other not in a
        pcm_ms = len(base64.b64decode(m["audio"])) / 2 / 24
        assert len(a["chars"]) == len(a["charStartTimesMs"]) == len(a[spelling])
        assert a["charStartTimesMs"][0] < 400  # relative to the chunk, not the utterance
        assert a["charStartTimesMs"][-1] + a[spelling][-1] <= pcm_ms + 2
        chars += a["chars"]
        assert m["normalizedAlignment"] is not None
    assert "".join(chars).strip() == "Hello there, traveller. The road is long."


async def test_ws_flush_generates_before_end(standin):
    async with websockets.connect(_ws_url(standin)) as ws:
        await ws.send(json.dumps({"text": " ", "xi_api_key": KEY}))  # key in the first message
        await ws.send(json.dumps({"text": "Short. ", "flush": True}))
        first = json.loads(await asyncio.wait_for(ws.recv(), 20))
        assert first["audio"] and "".join(first["alignment"]["chars"]).strip().startswith("Short")
        await ws.send(json.dumps({"text": ""}))
        messages, code, _ = await _collect(ws)
    assert code == 1000 and messages[-1] == {"isFinal": True}


async def test_ws_buffers_until_schedule(standin):
    async with websockets.connect(_ws_url(standin), additional_headers={"xi-api-key": KEY}) as ws:
        await ws.send(json.dumps({"text": " ", "generation_config": {"chunk_length_schedule": [50]}}))
        await ws.send(json.dumps({"text": "Tiny bit "}))
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(ws.recv(), 0.8)  # under 50 characters: nothing generated yet
        await ws.send(json.dumps({"text": "and now enough text to pass the fifty character mark "}))
        first = json.loads(await asyncio.wait_for(ws.recv(), 20))
        assert first["audio"]
        await ws.send(json.dumps({"text": ""}))
        messages, code, _ = await _collect(ws)
    assert code == 1000


async def test_ws_inactivity_timeout(standin):
    async with websockets.connect(_ws_url(standin, inactivity_timeout=1),
                                  additional_headers={"xi-api-key": KEY}) as ws:
        await ws.send(json.dumps({"text": " "}))
        messages, code, reason = await _collect(ws)
    assert code == 1008
    assert messages[-1]["error"] == "input_timeout_exceeded" and messages[-1]["code"] == 1008
    assert reason.startswith("Have not received a new text input within the timeout of 1 seconds")
    assert len(reason.encode()) <= 123


async def test_ws_keepalive_resets_timer(standin):
    async with websockets.connect(_ws_url(standin, inactivity_timeout=1),
                                  additional_headers={"xi-api-key": KEY}) as ws:
        await ws.send(json.dumps({"text": " "}))
        for _ in range(3):
            await asyncio.sleep(0.6)
            await ws.send(json.dumps({"text": " "}))
        await ws.send(json.dumps({"text": "Hi. ", "flush": True}))
        await ws.send(json.dumps({"text": ""}))
        messages, code, _ = await _collect(ws)
    assert code == 1000 and messages[-1] == {"isFinal": True}


async def test_ws_invalid_key(standin):
    async with websockets.connect(_ws_url(standin), additional_headers={"xi-api-key": "nope"}) as ws:
        await ws.send(json.dumps({"text": " "}))
        messages, code, _ = await _collect(ws)
    assert code == 1008 and messages[-1]["error"] == "invalid_api_key"


async def test_ws_multi_contexts(standin):
    async with websockets.connect(_ws_url(standin, multi=True), additional_headers={"xi-api-key": KEY}) as ws:
        await ws.send(json.dumps({"text": " ", "context_id": "npc_1"}))
        await ws.send(json.dumps({"text": "First. ", "context_id": "npc_1", "flush": True}))
        await ws.send(json.dumps({"text": "Second. ", "context_id": "npc_2", "flush": True}))
        await ws.send(json.dumps({"context_id": "npc_1", "close_context": True}))
        await ws.send(json.dumps({"close_socket": True}))
        messages, code, _ = await _collect(ws)
    assert code == 1000
    finals = [m["contextId"] for m in messages if m.get("isFinal")]
    assert sorted(finals) == ["npc_1", "npc_2"]
    by_ctx = {}
    for m in messages:
        if m.get("audio"):
            by_ctx.setdefault(m["contextId"], []).extend(m["alignment"]["chars"])
    assert "".join(by_ctx["npc_1"]).strip() == "First." and "".join(by_ctx["npc_2"]).strip() == "Second."


async def test_ws_multi_context_limit(standin):
    async with websockets.connect(_ws_url(standin, multi=True), additional_headers={"xi-api-key": KEY}) as ws:
        await ws.send(json.dumps({"text": " ", "context_id": "c0"}))
        for i in range(1, 6):
            await ws.send(json.dumps({"text": " ", "context_id": f"c{i}"}))
        messages, code, _ = await _collect(ws)
    assert code == 1008
    assert messages[-1]["error"] == "max_active_conversations"


async def test_ws_multi_refuses_v3(standin):
    with pytest.raises(websockets.InvalidStatus) as info:
        async with websockets.connect(_ws_url(standin, multi=True, model_id="eleven_v3"),
                                      additional_headers={"xi-api-key": KEY}):
            pass
    assert info.value.response.status_code == 403
