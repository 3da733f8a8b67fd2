"""Issue 14: the ElevenLabs-protocol WebSocket honours ``voice_settings`` (first message) and ``model_id`` (query)
like HTTP does: a real gateway in front of the ElevenLabs stand-in, which records what the vendor was asked."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
import websockets

from ops.standins.process import StandinProcess
from tests.conftest import GatewayProcess

pytestmark = pytest.mark.slow
KEY = "sk_ws_settings_standin_91"
LINE = "The ferry leaves at dawn."


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    work = tmp_path_factory.mktemp("ws-settings")
    standin = StandinProcess("ops.standins.elevenlabs", ["--api-key", KEY],
                             log_path=str(work / "standin.log")).wait_ready()
    gw = GatewayProcess({"ELEVENLABS_API_KEY": KEY, "GATEWAY_ELEVENLABS_BASE_URL": standin.url,
                         "GATEWAY_ELEVENLABS_WS_URL": standin.ws_url, "GATEWAY_CHAIN": "elevenlabs_rest,canned",
                         "GATEWAY_CACHE_ENABLED": "false", "GATEWAY_DATA_DIR": str(work / "data")},
                        work / "gateway.log")
    try:
        gw.wait_ready()
        yield gw, standin
    finally:
        gw.stop()
        standin.stop()


async def speak_ws(gw, first: dict, query: str = "") -> list[dict]:
    url = gw.url.replace("http", "ws") + f"/v1/text-to-speech/narrator/stream-input?output_format=pcm_16000{query}"
    async with websockets.connect(url) as ws:
        for m in (first, {"text": LINE + " "}, {"text": ""}):
            await ws.send(json.dumps(m))
        messages = [json.loads(raw) async for raw in ws]
        assert ws.close_code == 1000
    return messages


def test_websocket_voice_settings_and_model_id_reach_the_vendor_like_http(stack):
    gw, standin = stack
    settings = {"stability": 0.8, "similarity_boost": 0.3, "style": 0.2, "use_speaker_boost": False, "speed": 1.1}
    standin.reset()
    messages = asyncio.run(speak_ws(gw, {"text": " ", "voice_settings": settings}, "&model_id=eleven_multilingual_v2"))
    assert messages[-1] == {"isFinal": True} and messages[0]["provider"] == "elevenlabs_rest"
    ws_asked = [r for r in standin.requests() if r.get("text")]
    standin.reset()
    r = httpx.post(gw.url + "/api/avatar/speak", json={"text": LINE, "voice_settings": settings,
                                                        "model_id": "eleven_multilingual_v2", "visemes": False},
                   timeout=30)
    assert r.status_code == 200 and r.json()["provider"] == "elevenlabs_rest"
    http_asked = [r for r in standin.requests() if r.get("text")]
    assert ws_asked and http_asked
    for asked in (ws_asked[0], http_asked[0]):
        assert asked["model_id"] == "eleven_multilingual_v2", asked
        for name, value in settings.items():
            assert asked["voice_settings"][name] == value, (name, asked["voice_settings"])
    assert ws_asked[0]["voice_settings"] == http_asked[0]["voice_settings"]


def test_without_settings_the_character_defaults_apply(stack):
    gw, standin = stack
    standin.reset()
    asyncio.run(speak_ws(gw, {"text": " "}))
    asked = [r for r in standin.requests() if r.get("text")][0]
    assert asked["model_id"] != "eleven_multilingual_v2" and (asked["voice_settings"] or {}).get("speed", 1.0) == 1.0
