"""Fidelity of the Fish Audio stand-in, checked with the official fish-audio-sdk (legacy and new clients).

One stand-in process for the module (``python -m ops.standins.fish``), real Piper speech.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import numpy as np
import ormsgpack
import pytest

from gateway.audio.decode import decode_audio
from ops.standins.process import StandinProcess

pytestmark = pytest.mark.slow
KEY = "fish-test-key-7d1c"
TEXT = "Hello there, adventurer! The dragon sleeps beneath the old mountain."
VOICE = "54a5170264694bfc8e9ad98df7bd89c3"  # a stand-in voice (config/characters.yaml: blacksmith)


class FishStandin(StandinProcess):
    """The stand-in subprocess (shared helper of ``ops.standins.process``) plus its account control."""

    def __init__(self, log_path: Path, *extra: str) -> None:
        super().__init__("ops.standins.fish", ["--api-key", KEY, *extra], log_path=str(log_path))
        try:
            self.wait_ready(90)
        except Exception:
            self.stop()
            raise

    def faults(self, **patch) -> dict:
        return self.set_faults(**patch)

    def account(self, **patch) -> dict:
        return self.control("POST", "account", patch)

    def reset(self) -> None:
        super().reset()
        self.account(credit="10", concurrency_limit=5)


@pytest.fixture(scope="module")
def standin(tmp_path_factory):
    server = FishStandin(tmp_path_factory.mktemp("fish") / "standin.log")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def _clean(standin):
    standin.reset()
    yield
    standin.reset()


def _speech(audio: bytes, words: int) -> tuple[float, float]:
    pcm, rate = decode_audio(audio, max_seconds=60)
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32)
    seconds = len(samples) / rate
    rms = float(np.sqrt(np.mean(samples ** 2)))
    assert rms > 300, "audio is silent"
    assert 0.15 * words <= seconds <= 0.8 * words + 1.0, f"{seconds:.2f} s for {words} words"
    return seconds, rms


# ---- legacy SDK (fish_audio_sdk) -----------------------------------------------------------------------------

def test_legacy_session_tts_streams_real_speech(standin):
    from fish_audio_sdk import Session, TTSRequest

    session = Session(KEY, base_url=standin.url)
    started = time.monotonic()
    first = None
    audio = b""
    for chunk in session.tts(TTSRequest(text=TEXT, format="mp3", reference_id=VOICE), backend="s1"):
        if chunk and first is None:
            first = time.monotonic() - started
        audio += chunk
    _speech(audio, len(TEXT.split()))
    assert first is not None and first < 5
    last = standin.requests()[-1]
    assert last["model"] == "s1" and last["format"] == "mp3" and last["status"] == 200
    # The legacy SDK sends explicit nils (sample_rate, prosody) in msgpack: accepted.
    assert "sample_rate" in last["nil_fields"]


@pytest.mark.parametrize("fmt,rate", [("wav", 24000), ("pcm", 16000), ("mp3", 44100), ("opus", 48000)])
def test_legacy_formats(standin, fmt, rate):
    from fish_audio_sdk import Session, TTSRequest

    from gateway.audio.formats import opus_available

    if fmt == "opus" and not opus_available():
        pytest.skip("PyAV has no libopus encoder")
    text = "The forge is hot today."
    request = TTSRequest(text=text, format="pcm" if fmt == "opus" else fmt, sample_rate=rate)
    if fmt == "opus":  # the legacy TTSRequest has no "opus" literal: send the raw body
        body = {**request.model_dump(), "format": "opus"}
        resp = httpx.post(standin.url + "/v1/tts", content=ormsgpack.packb(body),
                          headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/msgpack"})
        assert resp.status_code == 200 and resp.headers["content-type"] == "audio/ogg"
        audio = resp.content
    else:
        audio = b"".join(Session(KEY, base_url=standin.url).tts(request))
    if fmt == "pcm":
        samples = np.frombuffer(audio, dtype="<i2")
        assert 0.6 < len(samples) / rate < 4 and np.abs(samples).max() > 1000
        return
    _, decoded_rate = decode_audio(audio, max_seconds=30)
    assert decoded_rate == rate
    _speech(audio, len(text.split()))


def test_legacy_account_and_models(standin):
    from fish_audio_sdk import Session

    session = Session(KEY, base_url=standin.url)
    credit = session.get_api_credit()
    assert credit.credit > 0 and credit.user_id
    package = session.get_package()
    assert package.total >= package.balance >= 0
    models = session.list_models(page_size=3)
    assert models.total >= 3 and len(models.items) == 3
    assert session.get_model(models.items[0].id).title == models.items[0].title


def test_legacy_errors_have_exact_bodies(standin):
    from fish_audio_sdk import HttpCodeErr, Session

    # Non-streaming calls read the body: HttpCodeErr(**{"status", "message"}) must not TypeError.
    with pytest.raises(HttpCodeErr) as err:
        Session("wrong-key", base_url=standin.url).get_api_credit()
    assert err.value.status == 401 and err.value.message == "Invalid Token"
    for name, status in [("invalid_token", 401), ("insufficient_credits", 402), ("rate_limited", 429),
                         ("internal_error", 500), ("service_unavailable", 503), ("forbidden", 403)]:
        standin.faults(error=name, error_count=1, targets=["meta"])
        with pytest.raises(HttpCodeErr) as err:
            Session(KEY, base_url=standin.url).get_api_credit()
        assert err.value.status == status
    # Streaming tts: the SDK reports the status with the reason phrase.
    standin.faults(quota_exhausted=True, targets=["rest", "ws"])
    from fish_audio_sdk import TTSRequest

    with pytest.raises(HttpCodeErr) as err:
        list(Session(KEY, base_url=standin.url).tts(TTSRequest(text="hi")))
    assert err.value.status == 402


def test_error_body_shapes(standin):
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/msgpack"}
    for name in ("invalid_token", "insufficient_credits", "rate_limited", "internal_error", "bad_request"):
        standin.faults(error=name, error_count=1)
        resp = httpx.post(standin.url + "/v1/tts", content=ormsgpack.packb({"text": "hi"}), headers=headers)
        assert set(resp.json()) == {"status", "message"} and resp.json()["status"] == resp.status_code
        if resp.status_code == 429:
            assert "retry-after" not in resp.headers
    # Validation: 422 is an array of {loc, type, msg, ctx, in}.
    resp = httpx.post(standin.url + "/v1/tts", content=ormsgpack.packb({"text": "hi", "chunk_length": 50}),
                      headers=headers)
    assert resp.status_code == 422 and resp.json()[0]["loc"] == ["body", "chunk_length"]
    assert set(resp.json()[0]) == {"loc", "type", "msg", "ctx", "in"}
    # Unknown voice: 400.
    resp = httpx.post(standin.url + "/v1/tts", content=ormsgpack.packb({"text": "hi", "reference_id": "nope"}),
                      headers=headers)
    assert resp.status_code == 400 and "reference" in resp.json()["message"].lower()


def test_json_body_and_nils_accepted(standin):
    headers = {"Authorization": f"Bearer {KEY}"}
    resp = httpx.post(standin.url + "/v1/tts", json={"text": "Halt!", "format": "wav", "sample_rate": None,
                                                     "reference_id": None, "prosody": None}, headers=headers)
    assert resp.status_code == 200 and resp.content[:4] == b"RIFF"
    assert resp.headers.get("transfer-encoding") == "chunked"
    body = ormsgpack.packb({"text": "Halt!", "format": "pcm", "sample_rate": 24000, "prosody": {"speed": 1.5,
                                                                                                 "volume": 0.0}})
    fast = httpx.post(standin.url + "/v1/tts", content=body,
                      headers={**headers, "Content-Type": "application/msgpack"}).content
    slow = httpx.post(standin.url + "/v1/tts", content=ormsgpack.packb({"text": "Halt!", "format": "pcm",
                                                                         "sample_rate": 24000}),
                      headers={**headers, "Content-Type": "application/msgpack"}).content
    assert len(fast) < len(slow)


def test_legacy_websocket_session(standin):
    from fish_audio_sdk import TTSRequest, WebSocketSession

    with WebSocketSession(KEY, base_url=standin.url) as ws:
        audio = b"".join(ws.tts(TTSRequest(text="", format="mp3"), iter(["Hello there, ", "adventurer. ",
                                                                         "How are you?"]), backend="s1"))
    _speech(audio, 5)
    last = standin.requests()[-1]
    assert last["endpoint"] == "live" and last["finish"] == "stop" and last["model"] == "s1"


def test_legacy_async_websocket_session(standin):
    from fish_audio_sdk import AsyncWebSocketSession, TTSRequest

    async def run() -> bytes:
        async def text():
            yield "The forge "
            yield "is hot today."

        async with AsyncWebSocketSession(KEY, base_url=standin.url) as ws:
            return b"".join([c async for c in ws.tts(TTSRequest(text="", format="wav"), text())])

    _speech(asyncio.run(run()), 5)


# ---- new SDK (fishaudio) ----------------------------------------------------------------------------------------

def test_new_client_convert_stream_and_account(standin):
    from fishaudio import FishAudio

    client = FishAudio(api_key=KEY, base_url=standin.url)
    audio = client.tts.convert(text=TEXT, format="mp3", reference_id=VOICE, model="s1")
    _speech(audio, len(TEXT.split()))
    # The new SDK dumps with exclude_none: no nils on the wire, and the model header it was given.
    last = standin.requests()[-1]
    assert last["nil_fields"] == [] and last["model"] == "s1" and last["reference_id"] == VOICE
    pcm = b"".join(client.tts.stream(text="Keep your voice down.", format="pcm"))
    assert len(pcm) > 44100  # 44.1 kHz default rate, > 0.5 s
    assert client.account.get_credits().credit > 0
    assert client.account.get_package().balance > 0
    assert client.voices.list(page_size=5).total >= 5


def test_new_client_typed_errors(standin):
    from fishaudio import FishAudio
    from fishaudio.exceptions import (APIError, AuthenticationError, PermissionError, RateLimitError,
                                      ServerError)

    with pytest.raises(AuthenticationError):
        FishAudio(api_key="wrong", base_url=standin.url).tts.convert(text="hi")
    client = FishAudio(api_key=KEY, base_url=standin.url)
    for name, exc_type in [("rate_limited", RateLimitError), ("internal_error", ServerError),
                           ("forbidden", PermissionError)]:
        standin.faults(error=name, error_count=1)
        with pytest.raises(exc_type):
            client.tts.convert(text="hi")
    standin.account(credit="0")
    with pytest.raises(APIError) as err:
        client.tts.convert(text="hi")
    assert err.value.status == 402


def test_new_client_websocket_sync_and_async(standin):
    from fishaudio import AsyncFishAudio, FishAudio
    from fishaudio.types import FlushEvent

    client = FishAudio(api_key=KEY, base_url=standin.url)
    audio = b"".join(client.tts.stream_websocket(iter(["Halt! ", FlushEvent(), "Who goes there?"]), format="mp3"))
    _speech(audio, 4)

    async def run() -> bytes:
        async def text():
            yield "Welcome to the Gilded Goose."

        aclient = AsyncFishAudio(api_key=KEY, base_url=standin.url)
        return b"".join([c async for c in aclient.tts.stream_websocket(text(), format="wav")])

    _speech(asyncio.run(run()), 5)


def test_websocket_faults(standin):
    from fishaudio import FishAudio
    from fishaudio.exceptions import WebSocketError
    from httpx_ws import WebSocketUpgradeError

    client = FishAudio(api_key=KEY, base_url=standin.url)
    standin.faults(disconnect_after_chunks=1)
    with pytest.raises(WebSocketError):
        b"".join(client.tts.stream_websocket(iter(["Hello there, adventurer. How are you today?"])))
    standin.reset()
    standin.faults(error="stream_error", error_count=1)
    with pytest.raises(WebSocketError):
        b"".join(client.tts.stream_websocket(iter(["Hello."])))
    standin.reset()
    with pytest.raises(WebSocketUpgradeError) as err:
        b"".join(FishAudio(api_key="wrong", base_url=standin.url).tts.stream_websocket(iter(["Hello."])))
    assert err.value.response.status_code == 401


def test_first_byte_latency_and_stall(standin):
    from fish_audio_sdk import Session, TTSRequest

    standin.faults(latency_ms=600)
    started = time.monotonic()
    stream = Session(KEY, base_url=standin.url).tts(TTSRequest(text="Halt!", format="pcm"))
    next(c for c in stream if c)
    assert time.monotonic() - started >= 0.6
    list(stream)


def test_disconnect_mid_stream_and_hang(standin):
    from fish_audio_sdk import Session, TTSRequest

    standin.faults(disconnect_after_chunks=2)
    got = b""
    with pytest.raises(httpx.HTTPError):
        for chunk in Session(KEY, base_url=standin.url).tts(TTSRequest(text=TEXT, format="pcm")):
            got += chunk
    assert got  # audio came before the cut
    standin.reset()
    standin.faults(hang="connect")
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(standin.url + "/v1/tts", content=ormsgpack.packb({"text": "hi"}),
                   headers={"Authorization": f"Bearer {KEY}"}, timeout=httpx.Timeout(5, read=0.5))
    standin.reset()  # releases the hung request


def test_concurrency_cap_gives_429(standin):
    standin.account(concurrency_limit=1)
    standin.faults(stall_ms=150)
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/msgpack"}
    with httpx.stream("POST", standin.url + "/v1/tts", content=ormsgpack.packb({"text": TEXT, "format": "pcm"}),
                      headers=headers) as first:
        assert first.status_code == 200
        second = httpx.post(standin.url + "/v1/tts", content=ormsgpack.packb({"text": "hi"}), headers=headers)
        assert second.status_code == 429 and "retry-after" not in second.headers
        first.read()


def test_credit_is_spent(standin):
    from fish_audio_sdk import Session, TTSRequest

    session = Session(KEY, base_url=standin.url)
    before = session.get_api_credit().credit
    b"".join(session.tts(TTSRequest(text=TEXT)))
    assert session.get_api_credit().credit < before
