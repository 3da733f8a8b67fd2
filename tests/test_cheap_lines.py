"""Issue 13 part 4 (cheaper cloud lines): the fast paths give the same bytes and accept and refuse the same input as
the slow ones they replaced, the collector freeze happens only when asked, and the replay stand-in answers with the
ElevenLabs stand-in's own messages."""

from __future__ import annotations

import asyncio
import binascii
import gc
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from websockets.asyncio.client import connect

from gateway.core import b64
from gateway.service import Mouthpiece
from gateway.settings import Settings
from ops.standins.process import StandinProcess

ROOT = Path(__file__).resolve().parent.parent
KEY = "sk_test_replay_4c1d"


@pytest.mark.parametrize("n", [0, 1, 2, 3, 4, 47, 48000, 48001])
def test_base64_round_trip_is_the_standard_encoding(n):
    data = os.urandom(n)
    text = b64.encode(data)
    assert text == binascii.b2a_base64(data, newline=False).decode("ascii")
    assert b64.decode(text) == data
    assert b64.decode(text.encode()) == data


@pytest.mark.parametrize("text", ["ab\ncd", "ab cd==", "Zm9v!!YmFy", "Zm9vYmFy====", "Zm9=vYmFy", "====", "",
                                  "abc", "a", "Zg", "Zg=", "Zm9v\u00e9"])
def test_base64_decode_accepts_and_refuses_what_binascii_does(text):
    try:
        expected = binascii.a2b_base64(text)
    except ValueError as exc:  # binascii.Error is a ValueError
        with pytest.raises(type(exc)):
            b64.decode(text)
    else:
        assert b64.decode(text) == expected


def test_gc_freeze_only_when_asked(tmp_path):
    async def start(freeze: bool) -> int:
        mouthpiece = Mouthpiece(Settings(data_dir=tmp_path, chain=["espeak"], gc_freeze=freeze))
        await mouthpiece.start()
        try:
            return gc.get_freeze_count()
        finally:
            await mouthpiece.close()

    gc.unfreeze()
    try:
        assert asyncio.run(start(False)) == 0
        assert asyncio.run(start(True)) > 0
    finally:
        gc.unfreeze()


def test_replay_stand_in_answers_with_the_upstream_messages():
    standin = StandinProcess("ops.standins.elevenlabs", ["--api-key", KEY]).wait_ready()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    replay = subprocess.Popen([sys.executable, "-m", "ops.standins.replay", "--upstream", standin.ws_url,
                               "--port", str(port), "--latency-ms", "0"], cwd=ROOT)
    path = "/v1/text-to-speech/21m00Tcm4TlvDq8ikWAM/stream-input?model_id=eleven_flash_v2_5&output_format=pcm_24000"
    sent = ['{"text": " "}', '{"text": "The gate is closed tonight. ", "flush": true}', '{"text": ""}']

    async def line(base: str) -> tuple[list[str], int | None]:
        async with asyncio.timeout(30):
            ws = await connect(base + path, additional_headers={"xi-api-key": KEY})
            for message in sent:
                await ws.send(message)
            got = [raw async for raw in ws]
            await ws.close()
            return got, ws.close_code

    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "replay stand-in did not start"
                time.sleep(0.1)
        first, code1 = asyncio.run(line(f"ws://127.0.0.1:{port}"))  # recorded from the upstream
        again, code2 = asyncio.run(line(f"ws://127.0.0.1:{port}"))  # from memory
        direct, _ = asyncio.run(line(standin.ws_url))
        shared = asyncio.run(contexts(f"ws://127.0.0.1:{port}"))  # a shared socket: two contexts, then both again
        shared_direct = asyncio.run(contexts(standin.ws_url))
    finally:
        replay.terminate()
        replay.wait(10)
        standin.stop()
    assert first == again
    assert code1 == code2 == 1000
    assert any('"audio"' in m for m in first) and first[-1].replace(" ", "") == '{"isFinal":true}'
    assert first == direct  # the stand-in's answer for this line, byte for byte (the stand-in is deterministic)
    # multi-stream-input: every context gets the upstream's answer under its own id, recorded or from memory
    assert shared["a1"] == shared["a2"] and shared["b1"] == shared["b2"] and shared["a1"] != shared["b1"]
    assert shared == shared_direct and any('"audio"' in m for m in shared["a1"])


MULTI = "/v1/text-to-speech/21m00Tcm4TlvDq8ikWAM/multi-stream-input?model_id=eleven_flash_v2_5&output_format=pcm_24000"


async def contexts(base: str) -> dict[str, list[str]]:
    """Two lines on one socket, then the same two again under new context ids; each context's messages, its id
    taken out (what a replayed answer must equal)."""
    texts = {"a": "The gate is closed tonight. ", "b": "Bring the lantern. "}
    got: dict[str, list[str]] = {}
    async with asyncio.timeout(30):
        ws = await connect(base + MULTI, additional_headers={"xi-api-key": KEY})
        for round_ in (1, 2):
            for name, text in texts.items():
                ctx = f"{name}{round_}"
                await ws.send(json.dumps({"text": " ", "context_id": ctx}))
                await ws.send(json.dumps({"text": text, "context_id": ctx, "flush": True}))
                await ws.send(json.dumps({"context_id": ctx, "close_context": True}))
            finals = 0
            while finals < 2:
                raw = await ws.recv()
                message = json.loads(raw)
                ctx = message.get("contextId") or message.get("context_id")
                if ctx:
                    got.setdefault(ctx, []).append(raw.replace(json.dumps(ctx), '"?"'))
                    finals += bool(message.get("isFinal"))
        await ws.send(json.dumps({"close_socket": True}))
        await ws.close()
    return got
