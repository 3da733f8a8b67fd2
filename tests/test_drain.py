"""Graceful drain on SIGTERM, with real processes: a slow cloud line (ElevenLabs stand-in dripping its chunks)
is in flight when the gateway gets SIGTERM; readiness turns 503 at once, new lines are refused with 503, the line
in flight finishes with its final event, and the process exits. With ``--workers 2`` too (the supervisor forwards
SIGTERM to each worker process)."""

from __future__ import annotations

import json
import signal
import threading
import time

import httpx
import pytest

from ops.standins.process import StandinProcess
from tests.conftest import ServiceProcess

pytestmark = pytest.mark.slow
KEY = "drain-test-key"
TEXT = ("The caravan left at dawn. The road was long and the dust was thick. We reached the river by noon. "
        "The ferryman wanted silver. We paid him and crossed before the storm.")


@pytest.fixture(scope="module")
def standin(tmp_path_factory):
    proc = StandinProcess("ops.standins.elevenlabs", ["--api-key", KEY],
                          log_path=str(tmp_path_factory.mktemp("el") / "standin.log")).wait_ready()
    try:
        yield proc
    finally:
        proc.proc.terminate()
        proc.proc.wait(10)


def gateway(standin: StandinProcess, tmp_path, workers: int) -> ServiceProcess:
    env = {"ELEVENLABS_API_KEY": KEY, "GATEWAY_ELEVENLABS_BASE_URL": standin.url,
           "GATEWAY_ELEVENLABS_WS_URL": standin.ws_url, "GATEWAY_CHAIN": "elevenlabs_rest",
           "GATEWAY_CACHE_ENABLED": "false", "GATEWAY_DATA_DIR": str(tmp_path / "data"),
           "GATEWAY_DRAIN_DELAY_S": "1.5", "GATEWAY_DRAIN_TIMEOUT_S": "30", "GATEWAY_LOG_JSON": "true"}
    proc = ServiceProcess(["gateway.cli", "serve", "--workers", str(workers)], env, tmp_path / "gateway.log",
                          "/api/health/ready")
    proc.wait_ready()
    return proc


@pytest.mark.parametrize("workers", [1, 2])
def test_sigterm_drains_in_flight_lines_then_exits(standin, tmp_path, workers):
    standin.reset()
    standin.set_faults(stall_ms=300)  # every chunk after the first waits 300 ms: the line lasts seconds
    gw = gateway(standin, tmp_path, workers)
    events: list[dict] = []
    first = threading.Event()

    def speak() -> None:
        with httpx.stream("POST", gw.url + "/api/avatar/speak/stream", json={"text": TEXT}, timeout=60) as r:
            for line in r.iter_lines():
                if line:
                    events.append(json.loads(line))
                    if any(e["type"] == "audio" for e in events):
                        first.set()

    talker = threading.Thread(target=speak)
    try:
        talker.start()
        assert first.wait(30), gw.logs()[-2000:]
        gw.proc.send_signal(signal.SIGTERM)
        sent = time.monotonic()
        ready = None
        while time.monotonic() - sent < 1.2:  # the supervisor forwards SIGTERM within 0.5 s
            ready = httpx.get(gw.url + "/api/health/ready", timeout=2)
            if ready.status_code == 503:
                break
            time.sleep(0.05)
        assert ready is not None and ready.status_code == 503 and ready.json()["status"] == "draining"
        if workers == 1:  # one process: every new request reaches it while it drains
            refused = httpx.post(gw.url + "/api/avatar/speak", json={"text": "One more?"}, timeout=10)
            assert refused.status_code == 503 and refused.json()["error"] == "draining"
            assert refused.headers["retry-after"]
        talker.join(60)
        assert not talker.is_alive()
        assert events[-1]["type"] == "final", events[-3:]
        assert events[-1]["provider"] == "elevenlabs_rest" and events[-1]["audio_url"]
        assert gw.proc.wait(30) is not None
        logs = gw.logs()
        assert '"drained": true' in logs and '"event": "drain_done"' in logs, logs[-3000:]
    finally:
        talker.join(5)
        if gw.proc.poll() is None:
            gw.stop()
        standin.reset()
