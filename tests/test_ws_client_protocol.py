"""The gateway's ElevenLabs-protocol WebSocket, with a real websockets client against a real server process."""

from __future__ import annotations

import asyncio
import base64
import json
import time

import pytest
import websockets

from gateway.api.routes_ws import Chunker
from gateway.core.timeline import WordSpan
from gateway.export.elevenlabs_ws import char_alignment

pytestmark = pytest.mark.slow


def ws_url(gateway_proc, voice="narrator", fmt="pcm_16000", **query):
    q = "&".join([f"output_format={fmt}"] + [f"{k}={v}" for k, v in query.items()])
    return gateway_proc.url.replace("http", "ws") + f"/v1/text-to-speech/{voice}/stream-input?{q}"


async def collect(ws) -> list[dict]:
    messages = []
    try:
        async for raw in ws:
            messages.append(json.loads(raw))
    except websockets.ConnectionClosedError:
        pass  # closed with an error code: the caller checks ws.close_code
    return messages


async def test_tokens_in_audio_and_alignment_out(gateway_proc):
    tokens = ["Welcome ", "to ", "the ", "Gilded ", "Goose, ", "traveller! ", "Rooms ", "are ", "five ", "silver. "]
    async with websockets.connect(ws_url(gateway_proc, "innkeeper")) as ws:
        await ws.send(json.dumps({"text": " ", "voice_settings": {"stability": 0.5},
                                  "generation_config": {"chunk_length_schedule": [120, 160, 250, 290]}}))
        for token in tokens:
            await ws.send(json.dumps({"text": token}))
        await ws.send(json.dumps({"text": ""}))
        messages = await collect(ws)
        assert ws.close_code == 1000
    audio = [m for m in messages if m.get("audio")]
    assert messages[-1] == {"isFinal": True}
    assert len(audio) >= 2, "each clause is spoken as soon as it is complete"
    pcm = b"".join(base64.b64decode(m["audio"]) for m in audio)
    assert 2.0 < len(pcm) / 2 / 16000 < 9
    first = audio[0]
    al = first["alignment"]
    assert len(al["chars"]) == len(al["charStartTimesMs"]) == len(al["charDurationsMs"])
    assert "".join(al["chars"]).startswith("Welcome")
    assert al["charStartTimesMs"] == sorted(al["charStartTimesMs"])
    assert first["provider"] and first["degradation_level"] == "normal"
    assert first["visemes"][0]["start_ms"] == 0


async def test_first_audio_before_the_text_is_finished(gateway_proc):
    async with websockets.connect(ws_url(gateway_proc)) as ws:
        await ws.send(json.dumps({"text": " "}))
        started = time.monotonic()
        await ws.send(json.dumps({"text": "Halt! "}))
        await ws.send(json.dumps({"text": "Who goes "}))  # no end of input yet
        first = json.loads(await asyncio.wait_for(ws.recv(), 20))
        assert first.get("audio") and first["piece"] == "Halt!"
        assert time.monotonic() - started < 5
        await ws.send(json.dumps({"text": "there? "}))
        await ws.send(json.dumps({"text": ""}))
        rest = await collect(ws)
    assert rest[-1] == {"isFinal": True}
    assert any(m.get("piece") == "Who goes there?" for m in rest)


async def test_inactivity_timeout_closes_1008(gateway_proc):
    async with websockets.connect(ws_url(gateway_proc, inactivity_timeout=1)) as ws:
        await ws.send(json.dumps({"text": " "}))
        messages = await collect(ws)
    assert messages[-1]["error"] == "input_timeout_exceeded"
    assert ws.close_code == 1008


async def test_unknown_voice_is_refused(gateway_proc):
    async with websockets.connect(ws_url(gateway_proc, voice="nobody")) as ws:
        messages = await collect(ws)
    assert ws.close_code == 1008 and "nobody" in messages[0]["message"]


async def test_mp3_output(gateway_proc):
    async with websockets.connect(ws_url(gateway_proc, fmt="mp3_44100_128")) as ws:
        await ws.send(json.dumps({"text": " "}))
        await ws.send(json.dumps({"text": "A short line. ", "flush": True}))
        await ws.send(json.dumps({"text": ""}))
        messages = await collect(ws)
    import io

    import av  # noqa: E401
    data = b"".join(base64.b64decode(m["audio"]) for m in messages if m.get("audio"))
    with av.open(io.BytesIO(data)) as container:
        frames = sum(f.samples for f in container.decode(audio=0))
    assert frames / 44100 > 0.5


def test_chunker_cuts_at_clauses():
    c = Chunker()
    assert c.feed("Hello ") == []
    assert c.feed("there, friend. And ") == ["Hello there, friend."]
    assert c.feed("now the long clause goes on, ") == ["And now the long clause goes on,"]
    assert c.feed("x " * 150) and c.buffer.count("x") < 150  # the schedule cuts unpunctuated text
    assert c.flush()


def test_char_alignment_covers_text():
    text = "Hi there."
    words = [WordSpan("Hi", 100, 300, 0, 2), WordSpan("there", 350, 700, 3, 8)]
    al = char_alignment(text, words, 100, 800)
    assert al["chars"] == list(text)
    assert al["charStartTimesMs"][0] == 0 and al["charStartTimesMs"][3] == 250
    assert al["charStartTimesMs"] == sorted(al["charStartTimesMs"])


def test_alignment_of_words_past_the_piece_does_not_crash():
    """A canned clip's words index its own text, which may be longer than the piece (the WebSocket closed 1011)."""
    words = [WordSpan("Halt", 0, 300, 0, 4), WordSpan("traveller", 400, 900, 30, 39)]
    out = char_alignment("Halt there.", words, 0, 1000)
    assert len(out["chars"]) == len(out["charStartTimesMs"]) == len(out["charDurationsMs"]) == 11
