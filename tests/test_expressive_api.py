"""Expressive lines through the API: SSML breaks and prosody, emotions on the face, normalized numbers."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from gateway.api.app import create_app
from gateway.settings import Settings

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    settings = Settings(data_dir=tmp_path_factory.mktemp("expr"), chain=["piper", "espeak", "cache", "canned"],
                        log_level="ERROR")
    with TestClient(create_app(settings)) as c:
        yield c


def speak(client, **body):
    r = client.post("/api/avatar/speak", json=body)
    assert r.status_code == 200, r.text
    return r.json()


def test_ssml_break_is_silence_in_audio_and_visemes(client):
    ssml = speak(client, text='<speak>Wait. <break time="800ms"/> Now go.</speak>')
    pauses = [p for p in ssml["phonemes"] if p["phoneme"] == " " and p["end_ms"] - p["start_ms"] == 800]
    assert len(pauses) == 1, ssml["phonemes"]
    gap = [v for v in ssml["visemes"] if v["viseme"] == "sil" and v["end_ms"] - v["start_ms"] >= 750]
    assert gap, "the break closes the mouth"
    assert [w["word"] for w in ssml["words"]] == ["Wait", "Now", "go"]


def test_prosody_rate_slows_the_line(client):
    normal = speak(client, text="<speak>The gate opens at dawn.</speak>")
    slow = speak(client, text='<speak><prosody rate="60%">The gate opens at dawn.</prosody></speak>')
    assert slow["duration"] > 1.3 * normal["duration"]


def test_emotion_drives_the_face(client):
    angry = speak(client, text="Get out of my forge!", emotion="angry")
    neutral = speak(client, text="Get out of my forge!", emotion="neutral")
    brow = lambda body: max(body["blendshapes"]["curves"]["browDownLeft"])  # noqa: E731
    assert brow(angry) > 0.3 > brow(neutral)
    assert all(0 <= v <= 1 for c in angry["blendshapes"]["curves"].values() for v in c)
    assert "jawOpen" in angry["blendshapes"]["curves"]  # the mouth is still there


def test_numbers_are_spoken_but_subtitles_show_what_was_written(client):
    body = speak(client, text="That costs $3.50, friend.")
    assert body["text"] == "That costs $3.50, friend."
    spans = {body["text"][w["char_start"]:w["char_end"]] for w in body["words"]}
    assert "$3.50" in spans and "friend" in spans


def test_stream_carries_expression_curves(client):
    r = client.post("/api/avatar/speak/stream", json={"text": "Hooray! We won.", "emotion": "happy"})
    events = [json.loads(line) for line in r.text.splitlines() if line]
    visemes = [e for e in events if e["type"] == "visemes"]
    assert visemes and all("expression" in e for e in visemes)
    assert max(max(v["expression"]["curves"]["mouthSmileLeft"]) for v in visemes) > 0.2


@pytest.mark.parametrize("body,needle", [
    ({"text": "<speak><audio src='x'/>hi</speak>"}, "audio"),
    ({"text": "<speak>unclosed"}, "SSML"),
    ({"text": '<!DOCTYPE x [<!ENTITY a "b">]><speak>&a;</speak>'}, "SSML"),
    ({"text": "hi", "emotion": "smug"}, "smug"),
    ({"text": "hi", "text_type": "yaml"}, "text_type"),
])
def test_bad_expressive_input_is_400(client, body, needle):
    r = client.post("/api/avatar/speak", json=body)
    assert r.status_code == 400 and needle in r.text, r.text


def test_plain_text_type_strips_tags(client):
    body = speak(client, text="<speak><audio src='x'/>Hello there.</speak>", text_type="plain")
    assert body["text"] == "Hello there."
