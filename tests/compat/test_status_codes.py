"""The contract's error statuses a client must handle: 429 (10 lines a minute per client address), 503 (service
unavailable) and 500 (server error), each with the message in ``error``.

The default install does not limit per client address (game servers share NAT: docs/admin.md), so this gateway is
the default install with the contract's limit switched on, and an admin key to take the replica out of service.
"""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from gateway.api.app import create_app
from tests.compat.contract_client import ContractClient, ContractError
from tests.conftest import GatewayProcess

pytestmark = pytest.mark.slow
ADMIN = "compat-admin-key-3b9f"


@pytest.fixture(scope="module")
def limited(tmp_path_factory):
    data = tmp_path_factory.mktemp("compat-limited")
    proc = GatewayProcess({"GATEWAY_DATA_DIR": str(data), "GATEWAY_RATE_LIMIT_PER_CLIENT_PER_MIN": "10",
                           "GATEWAY_ADMIN_KEY": ADMIN}, data / "gateway.log")
    proc.wait_ready(120)
    yield proc
    proc.stop()


@pytest.fixture
def client(limited):
    c = ContractClient(limited.url)
    yield c
    c.close()


def drain(url: str, on: bool) -> None:
    httpx.post(url + "/admin/drain", json={"draining": on}, headers={"Authorization": f"Bearer {ADMIN}"},
               timeout=10).raise_for_status()


def test_service_unavailable_answers_503_with_error(client, limited):
    drain(limited.url, True)
    try:
        with pytest.raises(ContractError) as err:
            client.speak("Anyone there?", voice_id=None)
        assert err.value.status == 503 and err.value.retry_after
        assert client.health()["status"] == "unhealthy"
    finally:
        drain(limited.url, False)
    assert client.health()["status"] != "unhealthy"


def test_eleventh_line_in_a_minute_answers_429_with_error(client):
    answered = []
    for _ in range(11):
        try:
            client.speak("Aye.", voice_id=None, avatar_id=None)
            answered.append(200)
        except ContractError as exc:
            answered.append(exc.status)
            retry_after = exc.retry_after
            break
    assert answered == [200] * 10 + [429], answered
    assert retry_after is not None and 0 < int(retry_after) <= 60


def test_server_error_answers_500_with_error(settings):
    app: FastAPI = create_app(settings)

    @app.get("/api/avatar/broken")
    async def broken() -> dict:
        raise RuntimeError("a bug")

    body = TestClient(app, raise_server_exceptions=False).get("/api/avatar/broken")
    assert body.status_code == 500 and body.json()["error"] and "a bug" not in body.text
