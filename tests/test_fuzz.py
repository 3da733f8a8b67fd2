"""Client input never causes a 500: random bodies against the real app (fast espeak chain)."""

from __future__ import annotations

import io
import json
import wave
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from starlette.websockets import WebSocketDisconnect

from gateway.api.app import create_app
from gateway.settings import Settings

FIELDS = ["text", "voice_id", "character", "avatar_id", "output_format", "visemes", "blendshapes", "fps"]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**12, 10**12) | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=60),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=8,
)
texts = st.one_of(
    st.text(max_size=80),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=200),
    st.sampled_from(["", " ", "<speak>hi</speak>", "\x00\x01", "a" * 1001, "Hello there.", "🙂🙂", "ﷺ", "1/0"]),
)
bodies = st.fixed_dictionaries(
    {"text": texts},
    optional={"character": st.sampled_from(["narrator", "guard", "", "../../etc", "x" * 300]) | st.text(max_size=20),
              "voice_id": st.sampled_from(["espeak:en-us", "piper:joe", ":", "a:b:c", ""]) | st.text(max_size=20),
              "output_format": st.sampled_from(["wav", "mp3", "pcm_16000", "opus", "", "wav_1"]) | st.text(max_size=12),
              "fps": st.integers(-5, 500) | json_values,
              "visemes": json_values, "blendshapes": json_values, "avatar_id": json_values},
) | st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=10), json_values, max_size=6)


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    settings = Settings(data_dir=tmp_path_factory.mktemp("fuzz"), enabled_providers=["espeak", "canned"],
                        chain=["espeak", "canned"], cache_enabled=False, log_level="ERROR")
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        yield c


@hsettings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies)
def test_random_json_bodies_never_500(client, body):
    for path in ("/api/avatar/speak", "/api/avatar/speak/stream"):
        r = client.post(path, json=body)
        assert r.status_code < 500, (path, body, r.text[:300])
        if r.status_code == 200 and path.endswith("stream"):
            last = json.loads(r.text.strip().splitlines()[-1])
            assert last["type"] in ("final", "error")


@hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=200))
def test_random_bytes_never_500(client, raw):
    r = client.post("/api/avatar/speak", content=raw, headers={"content-type": "application/json"})
    assert r.status_code in (200, 400, 404), r.text[:300]


@hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(request_id=st.text(max_size=80))
def test_audio_path_never_500(client, request_id):
    r = client.get("/api/avatar/audio/" + quote(request_id, safe=""))
    assert r.status_code in (200, 404, 405), r.text[:200]


# ---- the ElevenLabs-protocol WebSocket: random message sequences ----------------------------------------------------
#: Close codes the WebSocket documents (docs/api.md, "Errors and close codes"); 1006 (abnormal) and 1011 (internal
#: error) are never a client's doing.
WS_CLOSE_CODES = {1000, 1003, 1008, 1009, 1013}
ws_objects = st.fixed_dictionaries({}, optional={
    "text": texts | json_values,
    "flush": st.booleans() | json_values,
    "voice_settings": st.dictionaries(st.sampled_from(["stability", "similarity_boost", "style", "use_speaker_boost",
                                                       "speed", "x"]), json_values | st.floats(-1, 5), max_size=3)
    | json_values,
    "generation_config": st.fixed_dictionaries({}, optional={
        "chunk_length_schedule": st.lists(st.integers(-5, 2000) | json_values, max_size=5) | json_values})
    | json_values,
    "xi_api_key": st.text(max_size=10) | json_values,
})
ws_messages = st.one_of(
    ws_objects.map(json.dumps), ws_objects.map(json.dumps), st.text(max_size=50), st.binary(max_size=50),
    st.sampled_from([json.dumps({"text": "a" * 1001}), json.dumps({"text": " ", "pad": "p" * 70000}), "{", "null",
                     json.dumps({"text": "word " * 400})]),
)


@hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(messages=st.lists(ws_messages, max_size=5), voice=st.sampled_from(["narrator", "espeak:en-us", "nobody", "%00"]),
       query=st.sampled_from(["", "&model_id=eleven_v3", "&model_id=..", "&inactivity_timeout=x"]))
def test_random_websocket_messages_end_with_a_documented_close(client, messages, voice, query):
    path = f"/v1/text-to-speech/{voice}/stream-input?output_format=pcm_16000&inactivity_timeout=2{query}"
    received = []
    with client.websocket_connect(path) as ws:
        for m in [*messages, json.dumps({"text": ""})]:
            ws.send_bytes(m) if isinstance(m, bytes) else ws.send_text(m)
        try:
            while True:
                received.append(ws.receive_json())
        except WebSocketDisconnect as exc:
            code = exc.code
    assert code in WS_CLOSE_CODES, (code, messages, received[-2:])
    if code != 1000:
        assert received and received[-1].get("message") and received[-1].get("code") == code, received[-2:]
    assert client.get("/api/health/live").status_code == 200


# ---- POST /api/lipsync: random multipart bodies ---------------------------------------------------------------------
def tiny_wav(seconds: float = 0.3) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(16000)
        w.writeframes(b"\x00\x01" * int(16000 * seconds))
    return buf.getvalue()


form_values = st.text(max_size=30) | st.sampled_from(["", "0", "-1", "241", "60", "true", "no", "maybe", "1e9"])
parts = st.fixed_dictionaries({}, optional={"text": form_values, "fps": form_values, "visemes": form_values,
                                            "blendshapes": form_values, "extra": form_values})
audio_parts = st.one_of(st.none(), st.binary(max_size=300), st.just(tiny_wav()), st.just(b""),
                        st.just(tiny_wav()[:60]))


@hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fields=parts, audio=audio_parts, name=st.sampled_from(["audio", "Audio", "file"]))
def test_random_multipart_never_500(client, fields, audio, name):
    files = {name: ("clip.wav", audio, "audio/wav")} if audio is not None else None
    r = client.post("/api/lipsync", data=fields, files=files)
    assert r.status_code < 500, (r.status_code, r.text[:300])
    assert r.json()["error"] if r.status_code >= 400 else "phonemes" in r.json()


@hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=400), boundary=st.sampled_from(["x", "----b", "", "a" * 80, "\u00e9"]))
def test_random_multipart_bytes_never_500(client, raw, boundary):
    r = client.post("/api/lipsync", content=b"--x\r\n" + raw,
                    headers={"content-type": f"multipart/form-data; boundary={boundary}".encode()})
    assert r.status_code < 500, (r.status_code, r.text[:300])
    assert client.get("/api/health/live").status_code == 200
