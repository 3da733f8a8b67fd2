"""Video out of the box: ``gateway serve`` runs the CPU render worker beside the gateway (docs/workers.md).

When no video workers and no Redis are configured and ``GATEWAY_VIDEO_EMBEDDED`` is on (the default),
:func:`embedded_video` starts ``python -m render_worker`` on 127.0.0.1 as a child process, points the video pool at
it (``video.workers``, and ``video.embedded_worker`` so health names it ``embedded``), restarts it if it dies, and
stops it when the gateway stops. The child also dies with the gateway if the gateway is killed outright (Linux
``PR_SET_PDEATHSIG``). Lines that name an ``avatar_id`` (``"default"``: the character's) get a video from it; lines
that name none stay audio-only, so a default install spends no CPU on video nobody asked for.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator

import structlog

from gateway.settings import REPO_ROOT, Settings

log = structlog.get_logger(__name__)
HOST = "127.0.0.1"
#: Restart back-off after the worker exits on its own: doubles from the first to the last.
RESTART_DELAYS_S = (1.0, 2.0, 4.0, 8.0, 16.0, 30.0)
_PR_SET_PDEATHSIG = 1


def wanted(settings: Settings) -> bool:
    """Whether ``gateway serve`` should start the embedded worker with these settings."""
    video = settings.video
    return video.embedded and not video.workers and not video.redis_url


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Ask Linux to send the worker SIGTERM when the gateway process goes away, however it goes."""
    name = ctypes.util.find_library("c")
    if name:
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(name, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class EmbeddedWorker:
    """One render worker child process on a fixed port, restarted with back-off when it exits on its own."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"http://{HOST}:{port}"
        self.proc: subprocess.Popen | None = None
        self.restarts = 0
        self._stopping = threading.Event()
        self._watcher: threading.Thread | None = None

    def command(self) -> list[str]:
        return [sys.executable, "-m", "render_worker", "--host", HOST, "--port", str(self.port),
                "--worker-id", f"embedded:{self.port}"]

    def start(self) -> None:
        self._spawn()
        self._watcher = threading.Thread(target=self._watch, name="embedded-render-worker", daemon=True)
        self._watcher.start()

    def _spawn(self) -> None:
        self.proc = subprocess.Popen(self.command(), cwd=REPO_ROOT, stdin=subprocess.DEVNULL,
                                     preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None)
        log.info("embedded_render_worker_started", url=self.url, pid=self.proc.pid)

    def _watch(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            proc = self.proc
            if proc is None or proc.poll() is None:
                self._stopping.wait(0.5)
                continue
            delay = RESTART_DELAYS_S[min(failures, len(RESTART_DELAYS_S) - 1)]
            log.warning("embedded_render_worker_exited", code=proc.returncode, restart_in_s=delay)
            if self._stopping.wait(delay):
                return
            failures += 1
            self.restarts += 1
            self._spawn()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stopping.set()
        if self._watcher is not None:
            self._watcher.join(timeout_s)
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout_s)
        log.info("embedded_render_worker_stopped", url=self.url)


@contextlib.contextmanager
def embedded_video(settings: Settings) -> Iterator[Settings]:
    """Around ``gateway serve``: yields the settings to serve with (the pool pointed at the embedded worker when one
    was started), and stops the worker when the block ends, on SIGTERM too."""
    if not wanted(settings):
        yield settings
        return
    worker = EmbeddedWorker(settings.video.embedded_port or free_port())
    worker.start()
    video = settings.video.model_copy(update={"workers": [worker.url], "embedded_worker": worker.url})
    # Worker processes of `gateway serve --workers N` read their settings from the environment.
    os.environ.update({"GATEWAY_VIDEO_WORKERS": worker.url, "GATEWAY_VIDEO_EMBEDDED_WORKER": worker.url})
    # uvicorn re-raises the SIGTERM it handled once it has shut down: make that an exit that runs `finally`.
    previous = signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        yield settings.model_copy(update={"video": video})
    finally:
        worker.stop()
        signal.signal(signal.SIGTERM, previous)


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)
