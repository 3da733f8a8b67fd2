"""API keys, rate limits with Retry-After, drain, and the admin API (its own key, every action logged)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from gateway.api.app import create_app
from gateway.settings import Settings

KEY, ADMIN = "client-key-0123456789", "admin-key-9876543210"


@pytest.fixture
def client(tmp_path):
    settings = Settings(data_dir=tmp_path, chain=["espeak", "canned"], api_keys=[KEY], admin_key=ADMIN,
                        rate_limit_per_key_per_min=3, log_level="ERROR")
    with TestClient(create_app(settings)) as c:
        yield c


def auth(key=KEY):
    return {"Authorization": f"Bearer {key}"}


def test_api_key_required(client):
    assert client.post("/api/avatar/speak", json={"text": "Hi."}).status_code == 401
    assert client.post("/api/avatar/speak", json={"text": "Hi."}, headers=auth("wrong")).status_code == 401
    assert client.post("/api/avatar/speak", json={"text": "Hi."}, headers=auth()).status_code == 200
    assert client.post("/api/avatar/speak", json={"text": "Hi."}, headers={"xi-api-key": KEY}).status_code == 200
    assert client.get("/api/avatar/voices").status_code == 401
    assert client.get("/api/health").status_code == 200  # health and metrics stay open for probes
    body = client.post("/api/avatar/speak", json={"text": "Hi."}, headers=auth("nope")).json()
    assert body["error"] == "unauthorized" and KEY not in str(body)


def test_rate_limit_per_key_with_retry_after(client):
    codes = [client.post("/api/avatar/speak", json={"text": "Go."}, headers=auth()).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    r = client.post("/api/avatar/speak", json={"text": "Go."}, headers=auth())
    assert r.status_code == 429 and 1 <= int(r.headers["Retry-After"]) <= 60
    assert r.json()["error"] == "rate_limited"
    assert "mouthpiece_rate_limited_total" in client.get("/metrics").text


def test_admin_needs_its_own_key(client):
    assert client.get("/admin/state").status_code == 401
    assert client.get("/admin/state", headers=auth()).status_code == 401  # a client key is not an admin key
    assert client.get("/admin/state", headers=auth(ADMIN)).status_code == 200


def test_admin_forces_breaker_and_level_and_drains(client):
    r = client.post("/admin/breakers/espeak", json={"state": "open"}, headers=auth(ADMIN))
    assert r.status_code == 200 and r.json()["state"] == "open"
    body = client.post("/api/avatar/speak", json={"text": "Forced."}, headers=auth()).json()
    assert body["provider"] == "canned" and body["degradation_level"] == "offline"
    client.post("/admin/breakers/espeak", json={"state": "closed"}, headers=auth(ADMIN))
    assert client.post("/admin/breakers/nobody", json={"state": "open"}, headers=auth(ADMIN)).status_code == 404
    state = client.post("/admin/level", json={"level": "degraded-1"}, headers=auth(ADMIN)).json()
    assert state["degradation_level"] == "degraded-1" and state["forced_level"] == "degraded-1"
    assert client.get("/api/health").json()["degradation_level"] == "degraded-1"
    client.post("/admin/level", json={"level": None}, headers=auth(ADMIN))
    assert client.post("/admin/drain", json={"draining": True}, headers=auth(ADMIN)).json() == {"draining": True}
    r = client.post("/api/avatar/speak", json={"text": "Drained."}, headers=auth())
    assert r.status_code == 503 and r.headers["Retry-After"] == "5"
    assert client.get("/api/health/ready").status_code == 503
    client.post("/admin/drain", json={"draining": False}, headers=auth(ADMIN))
    assert client.get("/api/health/ready").status_code == 200
    assert 'mouthpiece_admin_actions_total{action="drain"} 2.0' in client.get("/metrics").text


def test_admin_disabled_without_key(tmp_path):
    with TestClient(create_app(Settings(data_dir=tmp_path, chain=["espeak"], log_level="ERROR"))) as c:
        r = c.get("/admin/state", headers=auth(ADMIN))
        assert r.status_code == 403 and r.json()["error"] == "admin_disabled"
