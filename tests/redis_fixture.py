"""Real-Redis fixtures for tests (import them into a test module or a conftest).

``redis_url``: session-wide; uses 127.0.0.1:6379 when it answers PING, else starts
``redis-server --port <free port> --save "" --appendonly no`` and stops it at the end (skips the
test when neither is possible). ``redis_prefix``: a key prefix unique to one test; that test's
keys (and only those) are deleted afterwards. Never FLUSHALL: the server may be shared.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator

import pytest

DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 6379


def redis_pings(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def closed_port_url() -> str:
    """A redis:// URL nothing listens on (for Redis-down tests)."""
    return f"redis://127.0.0.1:{free_port()}/0"


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    if redis_pings(DEFAULT_HOST, DEFAULT_PORT):
        yield f"redis://{DEFAULT_HOST}:{DEFAULT_PORT}/0"
        return
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("no Redis on 127.0.0.1:6379 and no redis-server binary")
    port = free_port()
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not redis_pings("127.0.0.1", port):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.skip(f"redis-server did not start on port {port}")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        stop_process(proc)


def stop_process(proc: subprocess.Popen, timeout: float = 5) -> None:
    """SIGTERM, then SIGKILL after ``timeout`` seconds."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    import redis

    prefix = f"mouthpiece:test:{uuid.uuid4().hex}:"
    yield prefix
    client = redis.Redis.from_url(redis_url, socket_timeout=2)
    try:
        keys = list(client.scan_iter(match=prefix + "*", count=500))
        if keys:
            client.delete(*keys)
    finally:
        client.close()
