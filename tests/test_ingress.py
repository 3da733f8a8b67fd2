"""Where input enters (issue 12: items 1, 2, 4, 7, 11; issue 14's WebSocket gap), against the real app (espeak chain):
body caps before auth and before reading, keys of any characters, invalid UTF-8, SSML with an XML declaration, and
the ElevenLabs-protocol WebSocket's limits, validation, close codes and admission (shared with HTTP)."""

from __future__ import annotations

import base64
import json

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from gateway.api.app import create_app
from gateway.settings import Settings
from gateway.text.plan import TextTooLong, plan_segments

KEY, ADMIN = "client-key-0123456789", "admin-key-9876543210"
WS = "/v1/text-to-speech/narrator/stream-input?output_format=pcm_16000"


def make_client(tmp_path, **overrides) -> TestClient:
    settings = Settings(**{"data_dir": tmp_path, "chain": ["espeak", "canned"],
                           "enabled_providers": ["espeak", "canned"], "cache_enabled": False, "api_keys": [KEY],
                           "admin_key": ADMIN, "rate_limit_per_key_per_min": 100, "log_level": "ERROR", **overrides})
    return TestClient(create_app(settings), raise_server_exceptions=False)


@pytest.fixture
def client(tmp_path):
    with make_client(tmp_path) as c:
        yield c


def auth(key=KEY):
    return {"Authorization": f"Bearer {key}"}


# ---- HTTP ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("key", ["été", "ключ", "🔑" * 10, KEY + "é"])
def test_non_ascii_keys_are_wrong_keys_not_500(client, key):
    raw = {"Authorization": f"Bearer {key}".encode()}
    for method, path in [("POST", "/api/avatar/speak"), ("GET", "/api/avatar/voices"), ("GET", "/admin/state"),
                         ("POST", "/admin/drain")]:
        r = client.request(method, path, headers=raw, json={"text": "Hi."} if path.endswith("speak") else
                           ({"draining": True} if path.endswith("drain") else None))
        assert r.status_code == 401, (path, r.status_code, r.text)
        assert r.json()["error"] == "unauthorized"
    r = client.get("/api/avatar/voices", headers={"xi-api-key": key.encode()})
    assert r.status_code == 401


def test_invalid_utf8_is_400_validation_error(client):
    r = client.post("/api/avatar/speak", content=b'{"text": "caf\xe9 \xff"}',
                    headers={"content-type": "application/json", **auth()})
    assert r.status_code == 400
    body = r.json()
    assert body["error"] == "validation_error" and "UTF-8" in body["message"] and body["fields"][0]["field"] == "body"


def test_openapi_documents_400_not_422(client):
    schema = client.get("/openapi.json").json()
    assert '"422"' not in json.dumps(schema)
    speak = schema["paths"]["/api/avatar/speak"]["post"]["responses"]
    assert {"400", "401", "413", "429", "503"} <= set(speak)


@pytest.mark.parametrize("text_type", ["auto", "ssml"])
@pytest.mark.parametrize("text", ['<?xml version="1.0"?><speak>Hello there.</speak>',
                                  '<?xml version="1.0" encoding="UTF-8"?>\n<speak version="1.0" '
                                  'xmlns="http://www.w3.org/2001/10/synthesis" xml:lang="en-US">Hi <break '
                                  'time="200ms"/> you.</speak>',
                                  ' \n<?xml version="1.0"?>\n<!-- a comment --><speak>Spaces first.</speak>',
                                  '\ufeff<?xml version="1.0" standalone="yes"?><speak>A byte order mark.</speak>'])
def test_ssml_with_an_xml_declaration_is_spoken(client, text, text_type):
    r = client.post("/api/avatar/speak", json={"text": text, "visemes": False, "text_type": text_type},
                    headers=auth())
    assert r.status_code == 200, r.text
    assert "<" not in r.json()["text"] and r.json()["duration"] > 0.2


def test_oversized_body_413_before_auth_and_before_reading(client):
    big = b'{"text": "' + b"a" * (300 * 1024) + b'"}'
    r = client.post("/api/avatar/speak", content=big, headers={"content-type": "application/json"})  # no key
    assert r.status_code == 413 and r.json()["error"] == "payload_too_large"
    assert r.headers["connection"] == "close"
    assert 'mouthpiece_refused_total{reason="payload_too_large",where="http"}' in client.get("/metrics").text


def test_unauthenticated_body_refused_before_it_is_read(client):
    read = []

    def body():
        read.append(1)
        yield b'{"text": "Hi."}'

    r = client.post("/api/avatar/speak", content=body(), headers={"content-type": "application/json"})
    assert r.status_code == 401 and r.json()["error"] == "unauthorized"
    assert r.headers["connection"] == "close"  # the server drops the rest of the body (real sockets: test_slow_io)


def test_chunked_body_counted_as_it_streams(client):
    sent = []

    def chunks():
        for _ in range(40):  # 40 x 16 KiB = 640 KiB, no Content-Length
            sent.append(1)
            yield b" " * 16384

    r = client.post("/api/avatar/speak", content=chunks(), headers={"content-type": "application/json", **auth()})
    assert r.status_code == 413 and r.json()["error"] == "payload_too_large"


def test_lipsync_upload_has_its_own_larger_limit(client):
    r = client.post("/api/lipsync", headers={**auth(), "content-type": "multipart/form-data; boundary=x",
                                             "content-length": str(30 * 1024 * 1024)}, content=b"")
    assert r.status_code == 413
    small = client.post("/api/lipsync", files={"audio": ("a.wav", b"RIFF....", "audio/wav")}, headers=auth())
    assert small.status_code in (400, 415)  # read and refused as not audio: the upload limit let it in


# ---- WebSocket: malformed input, limits, close codes ----------------------------------------------------------------
def ws_outcome(client, messages, path=WS, headers=None):
    """Send ``messages`` (str, bytes or dict), then return (received JSON messages, close code, reason)."""
    received = []
    with client.websocket_connect(path, headers=auth() if headers is None else headers) as ws:
        try:
            for m in messages:
                if isinstance(m, bytes):
                    ws.send_bytes(m)
                elif isinstance(m, str):
                    ws.send_text(m)
                else:
                    ws.send_json(m)
            while True:
                received.append(ws.receive_json())
        except WebSocketDisconnect as exc:
            return received, exc.code, exc.reason
    raise AssertionError("not closed")


@pytest.mark.parametrize("messages, code, error", [
    ([b"\x00\x01binary"], 1003, "invalid_message"),
    ([{"text": " "}, b"binary later"], 1003, "invalid_message"),
    (["{not json"], 1008, "invalid_message"),
    (["[1, 2]"], 1008, "invalid_message"),
    ([{"text": 5}], 1008, "invalid_message"),
    ([{"text": " ", "generation_config": {"chunk_length_schedule": ["a", None]}}], 1008, "invalid_message"),
    ([{"text": " ", "generation_config": {"chunk_length_schedule": [0]}}], 1008, "invalid_message"),
    ([{"text": " ", "generation_config": {"chunk_length_schedule": 50}}], 1008, "invalid_message"),
    ([{"text": " ", "generation_config": {"chunk_length_schedule": [10**9]}}], 1008, "invalid_message"),
    ([{"text": " ", "generation_config": "fast"}], 1008, "invalid_message"),
    ([{"text": " ", "voice_settings": {"stability": "high"}}], 1008, "invalid_message"),
    ([{"text": " ", "voice_settings": [1]}], 1008, "invalid_message"),
    ([{"text": " ", "flush": "yes"}], 1008, "invalid_message"),
    ([{"text": " "}, {"text": "a" * 1001}], 1009, "text_too_long"),
    ([{"text": " "}, json.dumps({"text": " ", "pad": "x" * 70000})], 1009, "message_too_large"),
])
def test_malformed_messages_get_an_error_and_a_close_code(client, messages, code, error):
    received, closed, reason = ws_outcome(client, messages)
    assert closed == code and received and received[-1]["error"] == error and received[-1]["code"] == code
    assert received[-1]["message"] and reason
    assert f'mouthpiece_refused_total{{reason="{error}",where="websocket"}}' in client.get("/metrics").text


def test_unpunctuated_text_faster_than_speech_is_bounded(client):
    messages = [{"text": " "}] + [{"text": "word " * 190} for _ in range(10)]  # 9,500 characters, no punctuation
    received, closed, _ = ws_outcome(client, messages)
    assert closed == 1009 and received[-1]["error"] == "too_much_pending_text"


@pytest.mark.parametrize("headers, first, error", [
    ({}, {"text": " "}, "unauthorized"),
    ({"Authorization": "Bearer été".encode()}, {"text": " "}, "unauthorized"),
    ({}, {"text": " ", "xi_api_key": "ключ"}, "unauthorized"),
    ({}, {"text": " ", "xi_api_key": 12}, "unauthorized"),
])
def test_bad_keys_close_1008_with_a_reason(client, headers, first, error):
    received, closed, reason = ws_outcome(client, [first], headers=headers)
    assert closed == 1008 and received[-1]["error"] == error and "API key" in reason


def test_key_in_the_first_message_is_accepted(client):
    received, closed, _ = ws_outcome(client, [{"text": " ", "xi_api_key": KEY}, {"text": "Hello there. "},
                                              {"text": ""}], headers={})
    assert closed == 1000 and received[-1] == {"isFinal": True} and any(m.get("audio") for m in received)


def test_draining_replica_refuses_sessions_1013(client):
    client.app.state.mouthpiece.draining = True  # as SIGTERM or POST /admin/drain do (that one is counted globally)
    received, closed, _ = ws_outcome(client, [])
    assert closed == 1013 and received[-1]["error"] == "draining" and received[-1]["status"] == 503


def test_rate_limit_applies_to_sessions(tmp_path):
    with make_client(tmp_path, rate_limit_per_key_per_min=2) as c:
        assert c.post("/api/avatar/speak", json={"text": "One.", "visemes": False}, headers=auth()).status_code == 200
        _, first, _ = ws_outcome(c, [{"text": " "}, {"text": "Two. "}, {"text": ""}])
        received, closed, _ = ws_outcome(c, [{"text": " "}, {"text": "Three. "}, {"text": ""}])
        assert first == 1000 and closed == 1013 and received[-1]["error"] == "rate_limited"
        assert received[-1]["retry_after_s"] >= 1
        assert c.post("/api/avatar/speak", json={"text": "Four."}, headers=auth()).status_code == 429  # one window


def test_session_capacity(tmp_path):
    with make_client(tmp_path, ws_max_sessions=1) as c:
        with c.websocket_connect(WS, headers=auth()) as held:
            held.send_json({"text": " "})
            held.send_json({"text": "Still talking. "})  # the first session is open (and admitted)
            assert held.receive_json().get("audio")
            received, closed, _ = ws_outcome(c, [{"text": " "}])
            assert closed == 1013 and received[-1]["error"] == "capacity"
            held.send_json({"text": ""})


def test_wrong_model_id_in_query_closes_1008(client):
    received, closed, _ = ws_outcome(client, [], path=WS + "&model_id=../etc")
    assert closed == 1008 and "model_id" in received[-1]["message"]


# ---- issue 14: voice_settings and model_id over the WebSocket ---------------------------------------------------
def spoken_seconds(client, first: dict, path=WS) -> float:
    received, closed, _ = ws_outcome(client, [first, {"text": "The road north is long and the nights are cold. "},
                                              {"text": ""}], path=path)
    assert closed == 1000, received
    return sum(len(base64.b64decode(m["audio"])) for m in received if m.get("audio")) / 2 / 16000


def test_voice_settings_speed_is_honoured_like_http(client):
    normal = spoken_seconds(client, {"text": " "})
    fast = spoken_seconds(client, {"text": " ", "voice_settings": {"speed": 1.8, "stability": 0.4}})
    assert fast < 0.8 * normal, (fast, normal)
    http_fast = client.post("/api/avatar/speak", headers=auth(), json={
        "text": "The road north is long and the nights are cold.", "voice_settings": {"speed": 1.8},
        "visemes": False}).json()["duration"]
    assert abs(http_fast - fast) < 0.25 * fast  # the same setting, the same speech


def test_long_text_is_refused_before_it_is_normalized():
    with pytest.raises(TextTooLong) as exc:
        plan_segments("1234 " * 3999, max_chars=1000)  # normalizing this would take ~0.5 s of CPU
    assert exc.value.length == 19994 and exc.value.limit == 1000
    assert plan_segments("1234 " * 100, max_chars=1000).text.startswith("one thousand")


def test_lines_in_flight_cap_is_one_admission_for_http_and_websocket(tmp_path):
    with make_client(tmp_path, max_lines_in_flight=1) as c:
        budget = c.app.state.mouthpiece.retry_budget
        budget.request_started()  # a line in flight as the chain counts it (the chaos drill holds real ones)
        try:
            r = c.post("/api/avatar/speak", json={"text": "Busy?"}, headers=auth())
            received, closed, _ = ws_outcome(c, [{"text": " "}])
        finally:
            budget.request_finished()
        assert r.status_code == 503 and r.json()["error"] == "capacity" and r.headers["retry-after"] == "1"
        assert closed == 1013 and received[-1]["error"] == "capacity"
        assert c.post("/api/avatar/speak", json={"text": "Free.", "visemes": False}, headers=auth()).status_code == 200
