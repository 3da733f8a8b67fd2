"""Real processes for the speech pool tests: ``gateway speech-worker`` and the OpenAI speech stand-in."""

from __future__ import annotations

import pytest

from ops.standins.process import StandinProcess
from tests.conftest import ServiceProcess

WORKER_KEY = "sk-worker-test-3b9c"


class SpeechWorkerProcess(ServiceProcess):
    name = "speech worker"

    def __init__(self, log_path, engines: str = "piper,espeak", key: str | None = WORKER_KEY,  # noqa: ANN001
                 env: dict[str, str] | None = None) -> None:
        args = ["gateway.cli", "speech-worker", "--engines", engines] + (["--api-key", key] if key else [])
        super().__init__(args, {"GATEWAY_LOG_JSON": "false", "GATEWAY_PIPER_INTRA_THREADS": "1", **(env or {})},
                         log_path, "/readyz")


def start_worker(tmp_path_factory, name: str, **kw) -> SpeechWorkerProcess:  # noqa: ANN001, ANN003
    proc = SpeechWorkerProcess(tmp_path_factory.mktemp(name) / "worker.log", **kw)
    proc.wait_ready(90)
    return proc


def start_standin() -> StandinProcess:
    return StandinProcess("ops.standins.openai_speech").wait_ready()


@pytest.fixture(scope="session")
def speech_worker(tmp_path_factory):
    """One speech worker (Piper and espeak, key :data:`WORKER_KEY`) for the session."""
    proc = start_worker(tmp_path_factory, "speech-worker")
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="session")
def speech_standins():
    """Two OpenAI speech stand-ins (independent servers of the API, no timing extension) for the session."""
    procs = [start_standin(), start_standin()]
    try:
        yield procs
    finally:
        for proc in procs:
            proc.stop()


@pytest.fixture
def standins(speech_standins):
    """The stand-ins with their faults and request logs reset before and after the test."""
    for s in speech_standins:
        s.reset()
    yield speech_standins
    for s in speech_standins:
        s.reset()
