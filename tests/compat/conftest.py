"""Targets of the compatibility suite: the default install and the cloud chain, each a real process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.compat.contract_client import ContractClient
from tests.conftest import ROOT, GatewayProcess, free_port


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


class CloudProcess:
    """``./run cloud`` (``ops/run_cloud.py``): the ElevenLabs and Fish Audio stand-ins and the gateway before them."""

    def __init__(self, data: Path) -> None:
        self.port, self.elevenlabs_port, self.fish_port = free_port(), free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.elevenlabs_url = f"http://127.0.0.1:{self.elevenlabs_port}"
        self.log_path = data / "cloud.log"
        self._log = open(self.log_path, "wb")
        env = {**os.environ, "GATEWAY_PORT": str(self.port), "GATEWAY_DATA_DIR": str(data)}
        self.proc = subprocess.Popen([sys.executable, "-m", "ops.run_cloud", "--elevenlabs-port",
                                      str(self.elevenlabs_port), "--fish-port", str(self.fish_port)], cwd=ROOT,
                                     env=env, stdout=self._log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 180.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"./run cloud exited: {self.log_path.read_text(errors='replace')[-3000:]}")
            try:
                if httpx.get(self.url + "/api/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise TimeoutError(self.log_path.read_text(errors="replace")[-3000:])

    def control(self, method: str, path: str, body: object = None) -> dict:
        response = httpx.request(method, f"{self.elevenlabs_url}/__control/{path}", json=body, timeout=10)
        response.raise_for_status()
        return response.json()

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self._log.close()


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
        proc.wait_ready()
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
