"""The HTTP contract, over a real uvicorn process on embedded defaults."""

from __future__ import annotations

import base64
import io
import json
import wave

import httpx
import pytest

pytestmark = pytest.mark.slow

LINE = "Welcome to the Gilded Goose, traveller! Mind the step."


@pytest.fixture(scope="module")
def client(gateway_proc):
    with httpx.Client(base_url=gateway_proc.url, timeout=60) as c:
        yield c


def wav_duration(data: bytes) -> float:
    with wave.open(io.BytesIO(data)) as w:
        return w.getnframes() / w.getframerate()


def test_speak_returns_audio_and_lipsync(client):
    r = client.post("/api/avatar/speak", json={"text": LINE, "character": "innkeeper"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["provider"] in ("piper", "kokoro")
    assert body["degradation_level"] == "normal"
    assert r.headers["X-TTS-Provider"] == body["provider"]
    assert r.headers["X-TTS-Degradation-Level"] == "normal"
    assert body["video_url"] is None
    assert 1.5 < body["duration"] < 8
    audio = client.get(body["audio_url"])
    assert audio.status_code == 200 and audio.headers["content-type"].startswith("audio/wav")
    assert abs(wav_duration(audio.content) - body["duration"]) < 0.01
    visemes = body["visemes"]
    assert visemes[0]["start_ms"] == 0
    assert abs(visemes[-1]["end_ms"] - body["duration"] * 1000) <= 2
    assert all(a["end_ms"] == b["start_ms"] for a, b in zip(visemes, visemes[1:]))
    assert [w["word"] for w in body["words"]][:3] == ["Welcome", "to", "the"]
    assert set(body["blendshapes"]["curves"]) >= {"jawOpen", "mouthClose", "mouthFunnel", "mouthPucker"}


def test_repeat_is_served_from_cache(client):
    text = "The forge is hot today."
    first = client.post("/api/avatar/speak", json={"text": text, "character": "blacksmith"}).json()
    second = client.post("/api/avatar/speak", json={"text": text, "character": "blacksmith"}).json()
    assert first["provider"] != "cache"
    assert second["provider"] == "cache" and second["source_provider"] == first["provider"]
    assert second["degradation_level"] == "normal"
    assert second["duration"] == first["duration"]
    assert second["words"] == first["words"]


def test_output_formats(client):
    r = client.post("/api/avatar/speak", json={"text": "Short line.", "output_format": "pcm_16000"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["sample_rate"] == 16000
    raw = client.get(body["audio_url"]).content
    assert abs(len(raw) / 2 / 16000 - body["duration"]) < 0.01
    r = client.post("/api/avatar/speak", json={"text": "Short line.", "output_format": "mp3"})
    assert r.status_code == 200
    mp3 = client.get(r.json()["audio_url"])
    assert mp3.headers["content-type"].startswith("audio/mpeg") and len(mp3.content) > 500


def test_stream_ndjson(client):
    events = []
    with client.stream("POST", "/api/avatar/speak/stream", json={"text": LINE}) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("application/x-ndjson")
        for line in r.iter_lines():
            if line:
                events.append(json.loads(line))
    kinds = [e["type"] for e in events]
    assert kinds[0] == "status" and kinds[-1] == "final"
    assert kinds.index("audio") < kinds.index("segment_end")
    assert "visemes" in kinds and "alignment" in kinds
    pcm = b"".join(base64.b64decode(e["audio"]) for e in events if e["type"] == "audio")
    rate = next(e["sample_rate"] for e in events if e["type"] == "audio")
    final = events[-1]
    assert final["complete"] is True and abs(len(pcm) / 2 / rate - final["duration"]) < 0.01
    starts = [e["start_ms"] for e in events if e["type"] == "audio"]
    assert starts == sorted(starts)


@pytest.mark.parametrize("body,status,needle", [
    ({"text": ""}, 400, "Text is required"),
    ({"text": "   \n\t "}, 400, "Text is required"),
    ({"text": "<b></b>\x00\x07"}, 400, "Text is required"),
    ({"text": "a" * 1001}, 400, "1000"),
    ({"text": "hi", "character": "dragon"}, 404, "narrator"),
    ({"text": "hi", "output_format": "flac_99"}, 400, "pcm_16000"),
    ({"text": "hi", "voice_id": "nope:nobody"}, 404, "piper:joe"),
    ({"text": 42}, 400, "text"),
    ({"character": "narrator"}, 400, "Text is required"),
    ({"text": "hi", "fps": 0}, 400, "fps"),
])
def test_bad_input(client, body, status, needle):
    r = client.post("/api/avatar/speak", json=body)
    assert r.status_code == status, r.text
    assert needle in r.text


def test_malformed_json_names_the_problem(client):
    r = client.post("/api/avatar/speak", content=b'{"text": "hi"', headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["error"] == "validation_error"
    assert "body" in r.json()["message"]


def test_audio_only_by_request_id(client):
    assert client.get("/api/avatar/audio/not-a-request-id").status_code == 404
    assert client.get("/api/avatar/audio/..%2F..%2Fetc%2Fpasswd").status_code == 404
    assert client.get("/api/avatar/audio/" + "0" * 32).status_code == 404


def test_voices_health_metrics(client):
    voices = client.get("/api/avatar/voices").json()
    ids = {v["voice_id"] for v in voices["voices"]}
    assert "piper:joe" in ids and any(i.startswith("espeak:") for i in ids)
    assert len({c["voices"]["kokoro"] for c in voices["characters"]}) >= 5
    health = client.get("/api/health").json()
    assert health["providers"]["piper"]["state"] == "up"
    assert health["providers"]["piper"]["breaker"]["state"] == "closed"
    assert health["degradation_level"] in ("normal", "degraded-2")
    metrics = client.get("/metrics").text
    assert "mouthpiece_requests_total" in metrics and "mouthpiece_time_to_first_audio_seconds" in metrics
