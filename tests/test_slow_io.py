"""Slow and oversized clients against a real ``gateway serve`` over real sockets (issue 12, item 7): slow headers,
idle connections, slow and trickling bodies, oversized headers, and 8 x 50 MB unauthenticated bodies that must not
grow the server's memory. Timeouts are set short here (1-2 s) so each case takes seconds."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from tests.conftest import GatewayProcess

pytestmark = pytest.mark.slow
KEY = "slow-io-key-0123456789"
HEADER_TIMEOUT_S, BODY_TIMEOUT_S, KEEP_ALIVE_S = 1.5, 2.0, 1


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    data = tmp_path_factory.mktemp("slow-io")
    proc = GatewayProcess({"GATEWAY_DATA_DIR": str(data), "GATEWAY_CHAIN": "espeak,canned",
                           "GATEWAY_ENABLED_PROVIDERS": "espeak,canned", "GATEWAY_CACHE_ENABLED": "false",
                           "GATEWAY_API_KEYS": KEY, "GATEWAY_HEADER_TIMEOUT_S": str(HEADER_TIMEOUT_S),
                           "GATEWAY_BODY_TIMEOUT_S": str(BODY_TIMEOUT_S),
                           "GATEWAY_KEEP_ALIVE_TIMEOUT_S": str(KEEP_ALIVE_S),
                           "GATEWAY_LOG_LEVEL": "WARNING"}, data / "gateway.log")
    try:
        proc.wait_ready()
        yield proc
    finally:
        proc.stop()


def connect(gw) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", gw.port), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def read_all(s: socket.socket, limit_s: float = 10.0) -> bytes:
    """Everything the server sends until it closes the connection (or ``limit_s``)."""
    s.settimeout(limit_s)
    out = b""
    try:
        while chunk := s.recv(65536):
            out += chunk
    except (TimeoutError, ConnectionResetError):
        pass
    return out


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def test_slow_headers_are_cut_off_with_408(gateway):
    s = connect(gateway)
    started = time.monotonic()
    s.sendall(b"POST /api/avatar/speak HTTP/1.1\r\nHost: x\r\n")
    try:
        for ch in b"X-Slow: " + b"a" * 40:  # one byte every 0.2 s: 10 s of headers if allowed
            s.sendall(bytes([ch]))
            time.sleep(0.2)
    except (BrokenPipeError, ConnectionResetError):
        pass
    answer = read_all(s)
    took = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert HEADER_TIMEOUT_S - 0.1 < took < HEADER_TIMEOUT_S + 3, took


def test_a_connection_that_never_asks_is_closed(gateway):
    s = connect(gateway)
    started = time.monotonic()
    answer = read_all(s)
    assert answer.startswith(b"HTTP/1.1 408") and time.monotonic() - started < HEADER_TIMEOUT_S + 3


def test_idle_keep_alive_connection_is_closed(gateway):
    s = connect(gateway)
    s.sendall(b"GET /api/health/live HTTP/1.1\r\nHost: x\r\n\r\n")
    started = time.monotonic()
    answer = read_all(s)
    assert answer.startswith(b"HTTP/1.1 200") and time.monotonic() - started < KEEP_ALIVE_S + HEADER_TIMEOUT_S + 2


@pytest.mark.parametrize("trickle", [False, True])
def test_slow_body_gets_408(gateway, trickle):
    s = connect(gateway)
    started = time.monotonic()
    s.sendall(b"POST /api/avatar/speak HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Authorization: Bearer " + KEY.encode() + b"\r\nContent-Length: 200\r\n\r\n{\"text\": \"")
    if trickle:  # a byte every 0.25 s: each one in time, the whole body never
        try:
            for _ in range(40):
                s.sendall(b"a")
                time.sleep(0.25)
        except (BrokenPipeError, ConnectionResetError):
            pass
    answer = read_all(s)
    took = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408"), answer[:300]
    assert b"request_timeout" in answer and BODY_TIMEOUT_S - 0.1 < took < BODY_TIMEOUT_S + 3, took


def test_oversized_headers_get_431(gateway):
    s = connect(gateway)
    s.sendall(b"GET /api/health/live HTTP/1.1\r\nHost: x\r\n" + b"".join(
        b"X-Pad-%d: %s\r\n" % (i, b"b" * 1000) for i in range(40)) + b"\r\n")
    assert read_all(s).startswith(b"HTTP/1.1 431")


def _push(gw, declared: bool, key: bytes | None, results: list, total: int = 50 * 1024 * 1024) -> None:
    s = connect(gw)
    head = b"POST /api/avatar/speak HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    head += (b"Content-Length: %d\r\n" % total) if declared else b"Transfer-Encoding: chunked\r\n"
    head += (b"Authorization: Bearer " + key + b"\r\n") if key else b""
    sent = 0
    block = b"a" * 65536
    try:
        s.sendall(head + b"\r\n")
        while sent < total:
            s.sendall(block if declared else b"10000\r\n" + block + b"\r\n")
            sent += len(block)
    except (BrokenPipeError, ConnectionResetError, TimeoutError):
        pass
    results.append((read_all(s, 5)[:12], sent))
    s.close()


@pytest.mark.parametrize("declared, key", [(True, None), (False, None), (False, KEY.encode())],
                         ids=["content-length-unauthenticated", "chunked-unauthenticated", "chunked-with-key"])
def test_eight_50mb_bodies_do_not_grow_memory(gateway, declared, key):
    before = rss_mb(gateway.proc.pid)
    results: list = []
    threads = [threading.Thread(target=_push, args=(gateway, declared, key, results)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    after = rss_mb(gateway.proc.pid)
    statuses = {r[0] for r in results}
    print(f"RSS {before:.0f} -> {after:.0f} MB; bytes sent before the server closed: max "
          f"{max(sent for _, sent in results) / 2**20:.1f} MiB; answers {sorted(statuses)}")
    assert len(results) == 8 and statuses <= {b"HTTP/1.1 401", b"HTTP/1.1 413"}, statuses
    assert max(sent for _, sent in results) < 50 * 1024 * 1024, "the server read a whole 50 MB body"
    assert after - before < 40, f"RSS grew {after - before:.0f} MB ({before:.0f} -> {after:.0f})"
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=5) as s:  # still serving
        s.sendall(b"GET /api/health/live HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert read_all(s).startswith(b"HTTP/1.1 200")
