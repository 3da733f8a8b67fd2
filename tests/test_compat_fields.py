"""The original contract's fields beside ours: health, 400 errors, voice settings, /static/avatar media, CORS."""

from __future__ import annotations

import io
import re
import wave
from datetime import UTC, datetime

import av
import httpx
import pytest
from fastapi.testclient import TestClient

from gateway.api.app import create_app
from gateway.core.voices import HealthState, VoiceSettings
from gateway.upstream.breaker import BreakerSnapshot
from gateway.policy.degradation import DegradationLevel
from gateway.policy.health import ProviderSignal, ProviderStatus
from gateway.providers.elevenlabs_common import model_id, voice_settings_payload
from gateway.providers.fish_audio import FishAudioProvider, fish_temperature
from gateway.providers.base import SynthesisRequest
from gateway.service.health import overall_status, service_states
from gateway.settings import Settings

ORIGIN = "https://game.example"


@pytest.fixture(scope="module")
def client(gateway_proc):
    with httpx.Client(base_url=gateway_proc.url, timeout=60) as c:
        yield c


# ---- health ---------------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_health_has_the_contract_fields_beside_ours(client):
    health = client.get("/api/health").json()
    assert health["status"] in ("healthy", "degraded", "unhealthy")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", health["timestamp"])
    made = datetime.strptime(health["timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert abs((datetime.now(UTC) - made).total_seconds()) < 60
    assert set(health["providers"]) <= set(health["services"])
    assert set(health["services"].values()) <= {"up", "degraded", "down"}
    for kept in ("degradation_level", "reasons", "warnings", "forced_level", "draining", "retry_budget", "redis",
                 "video", "providers"):
        assert kept in health
    # this gateway has no video pool: no gpu_server entry, and every provider up means healthy
    assert "gpu_server" not in health["services"]
    if set(health["services"].values()) == {"up"} and health["degradation_level"] == "normal":
        assert health["status"] == "healthy"


def status(state: HealthState, family: str) -> ProviderStatus:
    return ProviderStatus(state, "", family, BreakerSnapshot("closed", 0, 5, 30.0), ProviderSignal(None, None, 0.0, 0))


def test_services_name_each_provider_the_vendor_and_the_video_pool():
    providers = {"elevenlabs_ws": status(HealthState.DOWN, "elevenlabs"),
                 "elevenlabs_rest": status(HealthState.UP, "elevenlabs"),
                 "fish_audio": status(HealthState.DEGRADED, "fish"), "piper": status(HealthState.UP, "piper")}
    video = {"healthy": True, "reason": "ok", "workers": [{"healthy": True}, {"healthy": False}]}
    services = service_states(providers, video)
    assert services == {"elevenlabs_ws": "down", "elevenlabs_rest": "up", "fish_audio": "degraded", "piper": "up",
                        "elevenlabs": "up", "gpu_server": "degraded"}
    assert service_states(providers, {"healthy": False})["gpu_server"] == "down"
    assert "gpu_server" not in service_states(providers, None)  # no pool configured


@pytest.mark.parametrize("services,level,draining,expected", [
    ({"piper": "up", "gpu_server": "up"}, DegradationLevel.NORMAL, False, "healthy"),
    ({"piper": "up", "espeak": "down"}, DegradationLevel.NORMAL, False, "degraded"),  # any service down
    ({"piper": "up"}, DegradationLevel.FALLBACK_PROVIDER, False, "degraded"),
    ({"piper": "up", "gpu_server": "down"}, DegradationLevel.AUDIO_ONLY, False, "degraded"),
    ({"piper": "down"}, DegradationLevel.TEXT_ONLY, False, "unhealthy"),
    ({"piper": "up"}, DegradationLevel.NORMAL, True, "unhealthy"),  # draining: new lines get 503
])
def test_overall_status_maps_levels_and_drain(services, level, draining, expected):
    assert overall_status(services, level, draining) == expected


# ---- errors ---------------------------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("body,message", [
    ({"voice_id": "21m00Tcm4TlvDq8ikWAM", "avatar_id": "default"}, "Text is required"),
    ({"text": ["a list"]}, "Invalid request: text"),
    ({"text": "hi", "voice_settings": {"stability": 2}}, "Invalid request: voice_settings.stability"),
    ({"text": "hi", "model_id": "../etc"}, "Invalid request: model_id"),
])
def test_validation_errors_answer_400_with_error(client, body, message):
    r = client.post("/api/avatar/speak", json=body)
    assert r.status_code == 400, r.text
    got = r.json()
    assert got["error"] == "validation_error" and got["message"] == message
    assert got["fields"] and got["request_id"] == r.headers["x-request-id"]


# ---- voice settings -------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_speed_in_voice_settings_changes_the_local_voice(client):
    line = "The northern road is closed until the spring thaw."
    slow = client.post("/api/avatar/speak", json={"text": line, "voice_settings": {"speed": 0.75}}).json()
    fast = client.post("/api/avatar/speak", json={"text": line, "voice_settings": {"speed": 1.5},
                                                  "model_id": "eleven_multilingual_v2"}).json()
    assert slow["provider"] == fast["provider"] and slow["provider"] in ("kokoro", "piper")
    assert fast["duration"] < slow["duration"] * 0.75


def test_voice_settings_override_the_characters_and_reach_the_vendors():
    character = VoiceSettings(speed=0.95, stability=0.25)
    asked = character.override(stability=0.8, similarity_boost=None, use_speaker_boost=True, model_id="eleven_v3")
    assert asked == VoiceSettings(0.95, 0.8, None, None, True, "eleven_v3")
    assert voice_settings_payload(asked) == {"stability": 0.8, "use_speaker_boost": True, "speed": 0.95}
    assert model_id(Settings(), asked) == "eleven_v3" and model_id(Settings(), character) == "eleven_flash_v2_5"
    # Fish Audio: stability becomes the sampling temperature, a Fish backend name becomes the model header
    assert [fish_temperature(s) for s in (None, 0.0, 0.5, 1.0)] == [0.7, 0.9, 0.7, 0.5]
    fish = FishAudioProvider(Settings())
    assert fish.model_for(SynthesisRequest((), "v", VoiceSettings(model_id="speech-1.6"))) == "speech-1.6"
    assert fish.model_for(SynthesisRequest((), "v", VoiceSettings(model_id="eleven_v3"))) == "s1"


def test_cache_keys_made_before_the_new_settings_stay_valid():
    assert VoiceSettings(1.0, 0.5).key() == "speed=1;stability=0.5;similarity=None;style=None"
    assert VoiceSettings(model_id="eleven_v3").key() != VoiceSettings().key()


# ---- /static/avatar -------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_static_avatar_serves_the_lines_audio_in_the_extensions_format(client):
    body = client.post("/api/avatar/speak", json={"text": "Two ales, coming up!", "character": "innkeeper"}).json()
    rid = body["request_id"]
    wav = client.get(f"/static/avatar/{rid}.wav")
    assert wav.status_code == 200 and wav.content == client.get(body["audio_url"]).content  # stored as WAV
    mp3 = client.get(f"/static/avatar/{rid}.mp3")
    assert mp3.status_code == 200 and mp3.headers["content-type"] == "audio/mpeg"
    with av.open(io.BytesIO(mp3.content)) as container:
        assert container.format.name == "mp3"
        assert abs(container.duration / av.time_base - body["duration"]) < 0.1
    with wave.open(io.BytesIO(wav.content)) as w:
        assert abs(w.getnframes() / w.getframerate() - body["duration"]) < 0.01
    for name in (f"{rid}.mp4", f"{'0' * 32}.mp3", f"{rid}.exe", "..%2F..%2Fetc%2Fpasswd.mp3", rid):
        assert client.get(f"/static/avatar/{name}").status_code == 404, name


# ---- CORS -----------------------------------------------------------------------------------------------------
def preflight(client: TestClient, origin: str = ORIGIN) -> httpx.Response:
    return client.options("/api/avatar/speak", headers={"Origin": origin, "Access-Control-Request-Method": "POST",
                                                         "Access-Control-Request-Headers": "content-type"})


def test_cors_is_off_by_default_but_preflights_are_answered(settings):
    client = TestClient(create_app(settings))  # no lifespan: CORS answers before any route
    r = preflight(client)
    assert r.status_code == 400 and "access-control-allow-origin" not in r.headers
    assert "access-control-allow-origin" not in client.get("/api/health/live", headers={"Origin": ORIGIN}).headers


def test_cors_allows_the_configured_origins(tmp_path):
    client = TestClient(create_app(Settings(data_dir=tmp_path, cors_origins=[ORIGIN], log_json=False)))
    r = preflight(client)
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == ORIGIN
    assert "POST" in r.headers["access-control-allow-methods"]
    assert "content-type" in r.headers["access-control-allow-headers"].lower()
    assert preflight(client, "https://elsewhere.example").status_code == 400
    live = client.get("/api/health/live", headers={"Origin": ORIGIN})
    assert live.headers["access-control-allow-origin"] == ORIGIN
    assert "X-TTS-Provider" in live.headers["access-control-expose-headers"]
