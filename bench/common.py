"""Shared helpers for benchmarks: a gateway process, NDJSON stream timing, medians."""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent

LINES = [
    "Halt! Who goes there?",
    "The forge is hot today, so mind your fingers near the anvil.",
    "Welcome to the Gilded Goose, traveller. Rooms are five silver a night, and the stew is fresh.",
    "I have seen dragons burn whole cities, and I have seen them weep.",
    "Keep your voice down; the guards change shift at midnight.",
    "By order of the Queen, the northern road is closed until further notice.",
]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def p(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


class Gateway:
    """A real gateway process for benchmarks."""

    def __init__(self, root: Path = ROOT, **env: str) -> None:
        """``root``: the checkout whose gateway runs (another one's, to compare two versions in one run)."""
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.data = tempfile.mkdtemp(prefix="mouthpiece-bench-")
        # no embedded render worker unless a benchmark asks for one: its start-up would share the measured cores
        full_env = {**os.environ, "GATEWAY_DATA_DIR": self.data, "GATEWAY_LOG_LEVEL": "WARNING",
                    "GATEWAY_VIDEO_EMBEDDED": "false", **env}
        self.proc = subprocess.Popen([sys.executable, "-m", "gateway.cli", "serve", "--port", str(self.port)],
                                     cwd=root, env=full_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/api/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise TimeoutError("gateway did not start")

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)

    def __enter__(self) -> "Gateway":
        return self

    def __exit__(self, *exc) -> None:  # noqa: ANN002
        self.close()


def stream_timing(client: httpx.Client, body: dict) -> tuple[float, float, float, str]:
    """(time to first audio, total time, audio seconds, provider) for one streamed line."""
    started = time.perf_counter()
    first = None
    with client.stream("POST", "/api/avatar/speak/stream", json=body) as r:
        r.raise_for_status()
        for line in r.iter_lines():
            if not line:
                continue
            event = json.loads(line)
            if event["type"] == "audio" and first is None:
                first = time.perf_counter() - started
            elif event["type"] == "final":
                return first or float("nan"), time.perf_counter() - started, event["duration"], event["provider"]
            elif event["type"] == "error":
                raise RuntimeError(event["message"])
    raise RuntimeError("stream ended without final")
