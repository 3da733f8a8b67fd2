"""The original contract, as its clients use it, against the default install and the cloud chain.

The seed request (``voice_id`` Rachel ``21m00Tcm4TlvDq8ikWAM``, ``avatar_id`` ``"default"``) must answer 200 with
audio, visemes and a video of the right length on both (on the default install, with no ElevenLabs, Rachel's id
speaks as the nearest local voice: docs/voices.md).
"""

from __future__ import annotations

import io
import time
from datetime import UTC, datetime

import av
import pytest

from tests.compat.contract_client import RACHEL, SEED, ContractError

pytestmark = pytest.mark.slow


def media_seconds(data: bytes) -> tuple[float, set[str]]:
    with av.open(io.BytesIO(data)) as container:
        return float(container.duration / av.time_base), {s.type for s in container.streams}


def test_seed_request_answers_audio_visemes_and_video(client):
    spoken = client.speak(**SEED)
    assert spoken.request_id and spoken.duration > 0.5 and spoken.processing_time >= 0
    audio = client.media(spoken.audio_url)
    assert audio.headers["content-type"].startswith("audio/")
    seconds, streams = media_seconds(audio.content)
    assert streams == {"audio"} and abs(seconds - spoken.duration) < 0.1
    assert spoken.video_url, spoken.body.get("video")
    video = client.media(spoken.video_url)
    assert video.headers["content-type"] == "video/mp4"
    seconds, streams = media_seconds(video.content)
    assert streams == {"video", "audio"} and abs(seconds - spoken.duration) < 0.15
    # Mouthpiece's own fields come along: the visemes cover the audio
    visemes = spoken.body["visemes"]
    assert visemes and abs(visemes[-1]["end_ms"] - spoken.duration * 1000) <= 2


def test_media_under_the_contracts_static_urls(client):
    spoken = client.speak("Welcome back, traveller.", voice_id=None)  # voice_id is optional
    mp3 = client.media(f"/static/avatar/{spoken.request_id}.mp3")
    assert mp3.headers["content-type"] == "audio/mpeg"
    assert abs(media_seconds(mp3.content)[0] - spoken.duration) < 0.1
    mp4 = client.media(f"/static/avatar/{spoken.request_id}.mp4")
    assert mp4.headers["content-type"] == "video/mp4" and mp4.content == client.media(spoken.video_url).content


@pytest.mark.parametrize("payload", [
    {"voice_id": RACHEL, "avatar_id": "default"},  # the contract's example: text missing
    {"text": "", "voice_id": RACHEL},
    {"text": "   ", "voice_id": RACHEL},
    {"text": "x" * 1001, "voice_id": RACHEL},
    {"text": 7, "voice_id": RACHEL},
    {"text": "Hi.", "voice_settings": {"stability": 1.5}},
])
def test_missing_or_invalid_parameters_answer_400_with_error(client, payload):
    with pytest.raises(ContractError) as err:
        client.speak(**{"text": None, "voice_id": None, "avatar_id": None, **payload})
    assert err.value.status == 400


def test_malformed_json_answers_400(client):
    with pytest.raises(ContractError) as err:
        client.post_raw(b'{"text": "Hello", ')
    assert err.value.status == 400


def test_text_is_sanitised_as_the_contract_says(client):
    spoken = client.speak("  <b>Halt!</b>\x07   Who   goes\tthere? ", voice_id=None)
    assert spoken.body["text"] == "Halt! Who goes there?"


def test_voices_list_ids_names_and_previews(client):
    voices = client.voices()
    assert voices
    for voice in voices:
        assert isinstance(voice["id"], str) and isinstance(voice["name"], str) and voice["preview_url"]
    # an id from the list speaks, and its preview plays
    first = voices[0]
    spoken = client.speak("Testing, one, two.", voice_id=first["id"], avatar_id=None)
    assert spoken.duration > 0.3
    preview = client.media(first["preview_url"])
    assert preview.headers["content-type"] == "audio/mpeg" and media_seconds(preview.content)[0] > 0.5


def test_health_reports_status_timestamp_and_services(client, target):
    health = client.health()
    assert health["status"] == "healthy", health.get("reasons")
    stamp = datetime.strptime(health["timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert abs((datetime.now(UTC) - stamp).total_seconds()) < 60
    assert set(health["services"].values()) == {"up"}
    assert health["services"]["gpu_server"] == "up"
    if target[0] == "cloud":
        assert health["services"]["elevenlabs"] == "up" and health["services"]["fish_audio"] == "up"


def test_voice_settings_and_model_id_reach_elevenlabs(client, target):
    if target[0] != "cloud":
        pytest.skip("the default install has no ElevenLabs; speed on local voices: tests/test_compat_fields.py")
    cloud = target[1]
    cloud.control("DELETE", "requests")
    settings = {"stability": 0.35, "similarity_boost": 0.8, "style": 0.2, "use_speaker_boost": True, "speed": 1.1}
    spoken = client.speak("The gates open at dawn.", voice_settings=settings, model_id="eleven_multilingual_v2")
    assert spoken.body["provider"] == "elevenlabs_ws"
    seen = [r for r in cloud.control("GET", "requests") if r.get("voice_id") == RACHEL]
    assert seen, "the stand-in saw no request for Rachel"
    assert seen[-1]["query"]["model_id"] == "eleven_multilingual_v2"
    sent = seen[-1]["voice_settings"]
    assert {k: sent[k] for k in settings} == settings


def test_retry_ladder_is_one_two_four_seconds(client, target):
    if target[0] != "cloud":
        pytest.skip("local engines do not fail on demand; the ladder against a failing vendor runs on the cloud chain")
    cloud = target[1]
    cloud.control("DELETE", "requests")
    cloud.control("POST", "faults", {"error": "internal_server_error", "error_count": 3, "targets": ["ws"]})
    try:
        started = time.monotonic()
        spoken = client.speak("Hold the line.")
        waited = time.monotonic() - started
    finally:
        cloud.control("DELETE", "faults")
    # three failures, three retries after 1 s, 2 s and 4 s, then the fourth attempt serves the line
    assert spoken.body["provider"] == "elevenlabs_ws" and spoken.body["retries"] == 3
    assert waited >= 7.0 and spoken.processing_time >= 7.0
    # a socket per attempt, or a context of a shared socket per attempt (GATEWAY_ELEVENLABS_WS_MODE=multi)
    attempts = [r for r in cloud.control("GET", "requests") if r.get("endpoint") in ("ws", "ws_context")]
    assert len(attempts) == 4, attempts
