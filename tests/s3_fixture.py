"""A real S3-compatible HTTP server for tests: moto's server mode (``python -m moto.server``), a separate process
speaking the S3 REST API on a free loopback port. ``s3_endpoint`` is session-wide; each test uses its own bucket."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from tests.redis_fixture import free_port, stop_process


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.3):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory) -> Iterator[str]:
    pytest.importorskip("moto.server", reason="moto[s3] (test dependency) is not installed")
    port = free_port()
    log = open(tmp_path_factory.mktemp("s3") / "moto.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while not _answers(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("moto server did not start")
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process(proc)
        log.close()
