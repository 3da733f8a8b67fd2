"""Shared fixtures: a real gateway process, settings on a temporary data dir, a real Redis."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from gateway.settings import Settings
from tests.redis_fixture import redis_prefix, redis_url  # noqa: F401 - fixtures

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def settings(tmp_path) -> Settings:
    """Settings on a fresh data dir (models stay where setup prepared them)."""
    return Settings(data_dir=tmp_path / "data", log_json=False)


class ServiceProcess:
    """A real server subprocess of this repo on a free port, ready when ``ready_path`` answers 200."""

    name = "service"

    def __init__(self, module_args: list[str], env: dict[str, str], log_path: Path, ready_path: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ready_path = ready_path
        self.log_path = log_path
        self._log = open(log_path, "wb")
        self.proc = subprocess.Popen([sys.executable, "-m", *module_args, "--port", str(self.port)], cwd=ROOT,
                                     env={**os.environ, **env}, stdout=self._log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.logs()[-2000:]}")
            try:
                if httpx.get(self.url + self.ready_path, timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"{self.name} did not start: {self.logs()[-2000:]}")

    def stop(self, timeout_s: float = 10.0) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self._log.close()

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")


class GatewayProcess(ServiceProcess):
    """``gateway serve``; the embedded render worker stays off unless ``embedded_video`` (most tests need no video,
    and every worker costs a process and its start-up)."""

    name = "gateway"

    def __init__(self, env: dict[str, str], log_path: Path, embedded_video: bool = False) -> None:
        super().__init__(["gateway.cli", "serve"], env if embedded_video else {"GATEWAY_VIDEO_EMBEDDED": "false", **env},
                         log_path, "/api/health")


class RenderWorkerProcess(ServiceProcess):
    name = "render worker"

    def __init__(self, log_path: Path, env: dict[str, str] | None = None) -> None:
        super().__init__(["render_worker"], env or {}, log_path, "/readyz")


@pytest.fixture(scope="session")
def gateway_proc(tmp_path_factory):
    """A real gateway process on embedded defaults (its own data dir; models from setup)."""
    data = tmp_path_factory.mktemp("gateway-data")
    # Kokoro leads the default chain; on a loaded test machine its first audio can pass the 4 s at which a
    # primary is demoted by latency (or by a delivery slower than real time), or the capacity rule can find too few
    # cores left by the other test processes for Kokoro to keep up (a CI run: "it would not keep up" with nothing in
    # flight, while another test's processes still ran), which would move lines to Piper at random. Demotion and
    # capacity have their own tests (tests/test_capacity.py, tests/chaos/).
    proc = GatewayProcess({"GATEWAY_DATA_DIR": str(data), "GATEWAY_LATENCY_CRITICAL_S": "60",
                           "GATEWAY_DELIVERY_RTF_CRITICAL": "0", "GATEWAY_FIRST_AUDIO_BUDGET_S": "8",
                           "GATEWAY_CAPACITY_ENABLED": "false"},
                          data / "gateway.log")
    try:
        proc.wait_ready()
        yield proc
    finally:
        proc.stop()
