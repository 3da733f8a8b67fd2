"""Video out of the box: ``gateway serve`` runs the CPU render worker beside itself, restarts it, stops it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from gateway.cli.embedded_video import EmbeddedWorker, embedded_video, free_port, wanted
from gateway.settings import Settings
from tests.conftest import ROOT, GatewayProcess


def render_workers_of(parent: int) -> list[int]:
    """Pids of ``render_worker`` processes whose parent is ``parent``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == parent and b"render_worker" in cmdline:
            found.append(int(entry.name))
    return found


def wait_for(check, timeout: float = 60.0, what: str = "condition"):  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.3)
    raise TimeoutError(what)


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def pid_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()[0] == "Z"


def test_embedded_worker_is_wanted_only_when_nothing_else_renders():
    assert wanted(Settings())
    assert not wanted(Settings(video_embedded=False))
    assert not wanted(Settings(video_workers=["http://10.0.0.7:8790"]))
    assert not wanted(Settings(video_redis_url="redis://127.0.0.1:6379/0"))
    with embedded_video(Settings(video_embedded=False)) as settings:
        assert settings.video.workers == [] and settings.video.embedded_worker is None


@pytest.mark.slow
def test_gateway_serve_runs_restarts_and_stops_the_worker(tmp_path):
    gateway = GatewayProcess({"GATEWAY_DATA_DIR": str(tmp_path)}, tmp_path / "gateway.log", embedded_video=True)
    try:
        gateway.wait_ready(120)
        worker = wait_for(lambda: render_workers_of(gateway.proc.pid), what="the embedded worker")[0]

        def video() -> dict:
            return httpx.get(gateway.url + "/api/health", timeout=10).json()["video"]

        health = wait_for(lambda: (v := video())["healthy"] and v, 90, "a healthy pool")
        assert health["mode"] == "direct" and [w["source"] for w in health["workers"]] == ["embedded"]

        asked = httpx.post(gateway.url + "/api/avatar/speak", json={"text": "Long live the queen!",
                                                                   "character": "queen", "avatar_id": "default"},
                           timeout=60).json()
        assert asked["video_url"] and asked["degradation_level"] == "normal", asked.get("video")
        plain = httpx.post(gateway.url + "/api/avatar/speak", json={"text": "No video, please.",
                                                                   "character": "queen"}, timeout=60).json()
        assert plain["video_url"] is None and plain["degradation_level"] == "normal"

        os.kill(worker, signal.SIGKILL)  # the worker dies: the gateway starts another on the same port
        wait_for(lambda: pid_gone(worker), 10, "the killed worker")
        replacement = wait_for(lambda: [p for p in render_workers_of(gateway.proc.pid) if p != worker], 30,
                               "a restarted worker")[0]
        wait_for(lambda: video()["healthy"], 90, "the pool healthy again")
    finally:
        gateway.stop()
    assert gateway.proc.returncode is not None
    wait_for(lambda: pid_gone(replacement), 15, "the worker stopped with the gateway")


@pytest.mark.slow
def test_worker_dies_with_a_killed_gateway(tmp_path):
    port = free_port()
    script = ("import time; from gateway.cli.embedded_video import EmbeddedWorker; "
              f"w = EmbeddedWorker({port}); w.start(); print('started', flush=True); time.sleep(600)")
    parent = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE)
    try:
        while parent.stdout.readline().strip() != b"started":  # (log lines first)
            pass
        child = wait_for(lambda: render_workers_of(parent.pid), 30, "the worker")[0]
        wait_for(lambda: answers(f"http://127.0.0.1:{port}/healthz"), 60, "the worker answering")
    finally:
        parent.kill()  # no clean-up runs in the parent
        parent.wait(10)
    wait_for(lambda: pid_gone(child), 15, "the orphaned worker to exit")


def test_embedded_worker_command_runs_this_checkout():
    worker = EmbeddedWorker(8790)
    assert worker.command()[1:3] == ["-m", "render_worker"] and "127.0.0.1" in worker.command()
    assert worker.url == "http://127.0.0.1:8790"
