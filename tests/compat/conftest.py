"""Targets of the compatibility suite: the default install and the cloud chain, each a real process."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.compat.contract_client import ContractClient
from tests.conftest import GatewayProcess, ServiceProcess, free_port


def wait_healthy(url: str, timeout: float = 90.0) -> dict:
    """What a contract client does before its first line: wait for ``status == "healthy"``."""
    deadline = time.monotonic() + timeout
    health: dict = {}
    while time.monotonic() < deadline:
        health = httpx.get(url + "/api/health", timeout=10).json()
        if health.get("status") == "healthy":
            return health
        time.sleep(0.5)
    raise TimeoutError(f"not healthy after {timeout:g} s: {health.get('status')} {health.get('services')} "
                       f"{health.get('reasons')} {health.get('video', {}).get('reason')}")


class CloudProcess(ServiceProcess):
    """``./run cloud`` (``ops/run_cloud.py``): the ElevenLabs and Fish Audio stand-ins and the gateway before them."""

    name = "./run cloud"

    def __init__(self, data: Path) -> None:
        self.elevenlabs_url = f"http://127.0.0.1:{free_port()}"
        fish = free_port()
        super().__init__(["ops.run_cloud", "--elevenlabs-port", self.elevenlabs_url.rsplit(":", 1)[1],
                          "--fish-port", str(fish)], {"GATEWAY_DATA_DIR": str(data)}, data / "cloud.log",
                         "/api/health")

    def control(self, method: str, path: str, body: object = None) -> dict:
        response = httpx.request(method, f"{self.elevenlabs_url}/__control/{path}", json=body, timeout=10)
        response.raise_for_status()
        return response.json()

    def stop(self, timeout_s: float = 40.0) -> None:  # the gateway and both stand-ins stop in turn
        super().stop(timeout_s)


@pytest.fixture(scope="session")
def default_install(tmp_path_factory):
    """``gateway serve`` with nothing configured (only its own data dir): the embedded render worker starts."""
    data = tmp_path_factory.mktemp("compat-default")
    proc = GatewayProcess({"GATEWAY_DATA_DIR": str(data)}, data / "gateway.log", embedded_video=True)
    try:
        proc.wait_ready(120)
        wait_healthy(proc.url)
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="session")
def cloud_chain(tmp_path_factory):
    proc = CloudProcess(tmp_path_factory.mktemp("compat-cloud"))
    try:
        proc.wait_ready(180)
        wait_healthy(proc.url)
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="module", params=["default", "cloud"])
def target(request):
    """Each contract test runs against both: ``(name, process)``."""
    fixture = "default_install" if request.param == "default" else "cloud_chain"
    return request.param, request.getfixturevalue(fixture)


@pytest.fixture
def client(target):
    c = ContractClient(target[1].url)
    yield c
    c.close()
