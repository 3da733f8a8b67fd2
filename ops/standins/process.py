"""A stand-in as a real subprocess on a free port, for tests, benchmarks and local demos."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


class StandinProcess:
    """A stand-in started as a real subprocess on a free port, with helpers for its control endpoint."""

    def __init__(self, module: str, args: Iterable[str] = (), env: dict[str, str] | None = None,
                 log_path: str | None = None) -> None:
        import os
        import socket
        import subprocess
        import sys
        import tempfile
        from pathlib import Path

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}"
        root = Path(__file__).resolve().parents[2]
        self.log_path = Path(log_path) if log_path else Path(tempfile.mkstemp(prefix="standin-", suffix=".log")[1])
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([sys.executable, "-m", module, "--port", str(self.port), *args], cwd=root,
                                     env={**os.environ, **(env or {})}, stdout=self._log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 90.0) -> "StandinProcess":
        import time

        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"stand-in exited: {self.logs()[-3000:]}")
            try:
                if httpx.get(self.url + "/__control/health", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"stand-in not ready: {self.logs()[-3000:]}")

    def control(self, method: str, path: str, body: Any = None) -> Any:
        import httpx

        resp = httpx.request(method, f"{self.url}/__control/{path}", json=body, timeout=10)
        resp.raise_for_status()
        return resp.json()

    def set_faults(self, **faults: Any) -> dict:
        return self.control("POST", "faults", faults)

    def reset(self) -> None:
        self.control("DELETE", "faults")
        self.control("DELETE", "requests")

    def requests(self) -> list[dict]:
        return self.control("GET", "requests")

    def logs(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        import subprocess

        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self._log.close()
