"""Voices on the default install, over HTTP and the WebSocket of a real gateway process: characters sound like
themselves (measured pitch), vendor voice ids travel, unknown ids get a hint."""

from __future__ import annotations

import base64
import io
import json
import wave

import httpx
import pytest
import websockets

from gateway.audio.pitch import median_f0

pytestmark = pytest.mark.slow
RACHEL, ADAM = "21m00Tcm4TlvDq8ikWAM", "pNInz6obpgDQGcFmaJgB"
LINE = "Welcome, traveller. The night is cold."
#: Median F0 of a female-range voice is above this; a male-range one is below MALE_HZ.
FEMALE_HZ, MALE_HZ = 165, 155


@pytest.fixture(scope="module")
def client(gateway_proc):
    with httpx.Client(base_url=gateway_proc.url, timeout=60) as c:
        yield c


def speak_f0(client: httpx.Client, **body) -> tuple[dict, float]:
    r = client.post("/api/avatar/speak", json={"text": LINE, "visemes": False, **body})
    assert r.status_code == 200, r.text
    answer = r.json()
    with wave.open(io.BytesIO(client.get(answer["audio_url"]).content)) as w:
        pcm, rate = w.readframes(w.getnframes()), w.getframerate()
    return answer, median_f0(pcm, rate)


@pytest.mark.parametrize("character,voice", [("innkeeper", "kokoro:af_heart"), ("queen", "kokoro:bf_emma")])
def test_a_female_character_speaks_in_a_female_voice(client, character, voice):
    body, f0 = speak_f0(client, character=character)
    assert body["provider"] == "kokoro" and body["degradation_level"] == "normal"
    assert body["voice"]["voice_id"] == voice and body["voice_changed"] is False and body["voice_changes"] == []
    assert f0 > FEMALE_HZ, f"{character}: median F0 {f0:.0f} Hz"


def test_a_male_character_speaks_in_a_male_voice(client):
    body, f0 = speak_f0(client, character="blacksmith")
    assert body["voice"]["voice_id"] == "kokoro:am_onyx" and f0 < MALE_HZ, f"median F0 {f0:.0f} Hz"


def test_original_clients_vendor_id_speaks_on_the_default_install(client):
    # The first call of a client written for the original ElevenLabs-backed service.
    body, f0 = speak_f0(client, voice_id=RACHEL)
    assert body["provider"] == "kokoro" and body["voice"]["voice_id"] == "kokoro:af_heart"
    assert body["degradation_level"] == "normal" and f0 > FEMALE_HZ
    body, f0 = speak_f0(client, voice_id=ADAM)
    assert body["voice"]["gender"] == "male" and f0 < MALE_HZ


@pytest.mark.parametrize("voice_id", ["nobody", "elevenlabs:nobody", "kokoro:af_nobody"])
def test_unknown_voice_id_is_404_with_a_hint(client, voice_id):
    r = client.post("/api/avatar/speak", json={"text": "Hello.", "voice_id": voice_id})
    assert r.status_code == 404
    body = r.json()
    assert body["error"] == "not_found" and voice_id in body["message"]
    assert RACHEL in body["hint"] and "kokoro:af_heart" in body["hint"] and "innkeeper" in body["hint"]
    assert "narrator" in body["examples"]["character"] and "piper:joe" in body["valid"]


def test_voices_lists_traits_and_the_vendor_ids_it_accepts(client):
    body = client.get("/api/avatar/voices").json()
    heart = next(v for v in body["voices"] if v["voice_id"] == "kokoro:af_heart")
    assert heart["gender"] == "female" and heart["accent"] == "us" and 150 < heart["pitch_hz"] < 250
    rachel = next(v for v in body["vendor_voices"] if v["id"] == RACHEL)
    assert rachel["name"] == "Rachel" and rachel["served_as"] == "kokoro:af_heart"
    queen = next(c for c in body["characters"] if c["id"] == "queen")
    assert queen["voice_plan"]["kokoro"] == "kokoro:bf_emma" and queen["voice_plan"]["espeak"] == "espeak:en-gb-f"
    firsts = [c["voice_plan"]["kokoro"] for c in body["characters"]]
    assert len(set(firsts)) == len(firsts)


def ws_url(gateway_proc, voice: str) -> str:
    return gateway_proc.url.replace("http", "ws") + f"/v1/text-to-speech/{voice}/stream-input?output_format=pcm_24000"


async def test_websocket_resolves_a_vendor_id_like_http(gateway_proc):
    async with websockets.connect(ws_url(gateway_proc, RACHEL)) as ws:
        await ws.send(json.dumps({"text": " "}))
        await ws.send(json.dumps({"text": "Good evening, and welcome to the inn. "}))
        await ws.send(json.dumps({"text": ""}))
        messages = [json.loads(m) async for m in ws]
        assert ws.close_code == 1000
    audio = [m for m in messages if m.get("audio")]
    assert audio and audio[0]["provider"] == "kokoro" and messages[-1] == {"isFinal": True}
    pcm = b"".join(base64.b64decode(m["audio"]) for m in audio)
    assert median_f0(pcm, 24000) > FEMALE_HZ


async def test_websocket_unknown_id_closes_with_the_same_hint(gateway_proc):
    async with websockets.connect(ws_url(gateway_proc, "nobody")) as ws:
        try:
            message = json.loads(await ws.recv())
        finally:
            await ws.close()
    assert message["code"] == 1008 and RACHEL in message["message"] and "character id" in message["message"]
