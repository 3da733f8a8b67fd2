"""The CPU render worker as a real process: the v1 contract, avatar preparation, MP4 output, errors."""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from gateway.audio.encode import encode_wav
from render_worker.avatars import BUILTIN

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class WorkerProc:
    """``python -m render_worker`` on a free port (extra CLI flags in ``args``)."""

    def __init__(self, log_dir: Path, *args: str, env: dict | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_dir / f"worker-{self.port}.log"
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "render_worker", "--port", str(self.port), "--worker-id",
             f"w{self.port}", *args], cwd=ROOT, env={**os.environ, **(env or {})}, stdout=self._log,
            stderr=subprocess.STDOUT)

    @property
    def worker_id(self) -> str:
        return f"w{self.port}"

    def wait_ready(self, timeout: float = 60) -> WorkerProc:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited: {self.log_path.read_text()[-2000:]}")
            try:
                if httpx.get(self.url + "/readyz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"worker did not get ready: {self.log_path.read_text()[-2000:]}")

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self._log.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


def tone_wav(seconds: float, rate: int = 16000) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    pcm = (np.sin(2 * np.pi * 180 * t) * 7000 * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))).astype(np.int16)
    return encode_wav(pcm.tobytes(), rate)


#: 600 ms each: silence, lips pressed (PP), jaw open (aa), silence
TRACK = [{"viseme": "sil", "id": 0, "start_ms": 0, "end_ms": 600},
         {"viseme": "PP", "id": 1, "start_ms": 600, "end_ms": 1200},
         {"viseme": "aa", "id": 10, "start_ms": 1200, "end_ms": 1800},
         {"viseme": "sil", "id": 0, "start_ms": 1800, "end_ms": 2400}]


def render(url: str, avatar: str, wav: bytes, params: dict | None = None, timeout: float = 30) -> httpx.Response:
    data = {"params": json.dumps(params)} if params is not None else None
    return httpx.post(f"{url}/v1/avatars/{avatar}/render", files={"audio": ("line.wav", wav, "audio/wav")},
                      data=data, timeout=timeout)


@pytest.fixture(scope="module")
def worker(tmp_path_factory):
    proc = WorkerProc(tmp_path_factory.mktemp("worker"))
    try:
        yield proc.wait_ready()
    finally:
        proc.stop()


def test_contract_health_and_info(worker):
    assert httpx.get(worker.url + "/healthz").json()["status"] == "ok"
    ready = httpx.get(worker.url + "/readyz")
    assert ready.status_code == 200 and ready.json()["ready"] is True
    info = httpx.get(worker.url + "/v1/worker").json()
    for key in ("device", "memory", "queue_depth", "fps", "avatars_ready", "version"):
        assert key in info, key
    assert info["device"] == "cpu" and info["contract"] == "v1"
    assert {"innkeeper", "blacksmith", "rogue"} <= set(info["avatars_ready"])
    assert info["fps"] and info["fps"] > 0  # the warm-up render measured it
    listed = httpx.get(worker.url + "/v1/avatars").json()["avatars"]
    assert all(a["state"] == "ready" for a in listed)


def _wait_state(url: str, avatar: str, state: str = "ready") -> dict:
    for _ in range(100):
        body = httpx.get(f"{url}/v1/avatars/{avatar}").json()
        if body["state"] == state:
            return body
        time.sleep(0.05)
    raise AssertionError(body)


def test_avatar_preparation_is_idempotent(worker):
    spec = {"base": "blacksmith", "palette": {"hair": "#202020", "outfit": "#334455"}, "name": "Castle Guard"}
    before = httpx.get(worker.url + "/v1/worker").json()["preparations"]
    first = httpx.put(worker.url + "/v1/avatars/brannoc-dark", json=spec)
    assert first.status_code in (200, 202) and first.json()["changed"] is True
    ready = _wait_state(worker.url, "brannoc-dark")
    assert httpx.get(worker.url + "/v1/worker").json()["preparations"] == before + 1

    again = httpx.put(worker.url + "/v1/avatars/brannoc-dark", json=spec)  # same content and parameters
    assert again.status_code == 200
    body = again.json()
    assert body["changed"] is False and body["state"] == "ready"
    assert (body["content_hash"], body["revision"], body["prepared_at"]) == \
        (ready["content_hash"], ready["revision"], ready["prepared_at"])
    assert httpx.get(worker.url + "/v1/worker").json()["preparations"] == before + 1  # nothing re-prepared

    changed = httpx.put(worker.url + "/v1/avatars/brannoc-dark", json={**spec, "palette": {"hair": "#aa0000"}})
    assert changed.json()["changed"] is True and changed.json()["revision"] == ready["revision"] + 1
    assert _wait_state(worker.url, "brannoc-dark")["content_hash"] != ready["content_hash"]
    # a built-in with no body is its own content: nothing to do
    assert httpx.put(worker.url + "/v1/avatars/rogue").json()["changed"] is False
    bad = httpx.put(worker.url + "/v1/avatars/brannoc-dark", json={"base": "dragon"})
    assert bad.status_code == 422 and "innkeeper" in bad.json()["message"]


def test_unknown_avatar_is_404_listing_valid_ones(worker):
    resp = render(worker.url, "dragon", tone_wav(0.5))
    assert resp.status_code == 404
    body = resp.json()
    assert body["error"] == "unknown_avatar"
    assert {"innkeeper", "blacksmith", "rogue"} <= set(body["valid"])
    assert "innkeeper" in body["message"]
    assert httpx.get(worker.url + "/v1/avatars/dragon").status_code == 404


def test_bad_audio_is_a_clear_4xx(worker):
    resp = render(worker.url, "innkeeper", b"RIFF....not really a wave file")
    assert resp.status_code == 422 and resp.json()["error"] == "bad_audio"
    assert "audio" in resp.json()["message"]
    empty = render(worker.url, "innkeeper", b"")
    assert empty.status_code == 422 and empty.json()["error"] == "bad_audio"
    no_part = httpx.post(worker.url + "/v1/avatars/innkeeper/render", data={"params": "{}"})
    assert no_part.status_code in (415, 422)
    raw = httpx.post(worker.url + "/v1/avatars/innkeeper/render", content=tone_wav(0.5),
                     headers={"content-type": "audio/wav"})
    assert raw.status_code == 415
    bad_track = render(worker.url, "innkeeper", tone_wav(0.5), {"visemes": [{"viseme": "zz", "start_ms": 0,
                                                                             "end_ms": 10}]})
    assert bad_track.status_code == 422 and bad_track.json()["error"] == "bad_visemes"


def _decode(data: bytes):
    import av

    with av.open(io.BytesIO(data)) as c:
        v, a = c.streams.video[0], c.streams.audio[0]
        info = {"vcodec": v.codec_context.name, "acodec": a.codec_context.name, "fps": float(v.average_rate),
                "width": v.width, "height": v.height, "v_dur": float(v.duration * v.time_base),
                "a_dur": float(a.duration * a.time_base)}
        frames = [f.to_ndarray(format="gray") for f in c.decode(video=0)]
    return info, frames


def _darkness(frame: np.ndarray, box: list[int]) -> int:
    """Dark (mouth-interior) pixels in the middle of the mouth box."""
    x, y, w, h = box
    region = frame[y:y + int(h * 0.85), x + w // 5:x + w - w // 5]
    return int((region < 60).sum())


@pytest.mark.parametrize("avatar", sorted(BUILTIN))
def test_render_mp4_decodes_and_mouth_follows_visemes(worker, avatar):
    wav = tone_wav(2.4)
    resp = render(worker.url, avatar, wav, {"visemes": TRACK, "emotion": "happy", "request_id": "t1"})
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "video/mp4"
    assert resp.headers["x-emotion"] == "happy"
    info, frames = _decode(resp.content)
    assert info["vcodec"] == "h264" and info["acodec"] == "aac" and info["fps"] == 25
    assert abs(len(frames) - 60) <= 1
    assert abs(info["v_dur"] - 2.4) <= 0.04 and abs(info["a_dur"] - 2.4) <= 0.04
    assert abs(info["v_dur"] - info["a_dur"]) <= 0.04  # matching within one frame

    box = httpx.get(f"{worker.url}/v1/avatars/{avatar}").json()["mouth_box"]
    dark = [_darkness(f, box) for f in frames]
    frame_at = lambda ms: dark[int(ms * 25 / 1000)]  # noqa: E731
    sil, pp, aa, sil2 = frame_at(300), frame_at(900), frame_at(1500), frame_at(2100)
    assert aa > 4 * max(pp, 1) and aa > 4 * max(sil, 1) and aa > 4 * max(sil2, 1), (sil, pp, aa, sil2)
    # the mouth is most open inside the aa span
    peak_ms = (int(np.argmax(dark)) + 0.5) * 40
    assert 1200 <= peak_ms <= 1800
    # the lips differ between pressed (PP) and open (aa) in the mouth region itself
    x, y, w, h = box
    diff = np.abs(frames[37][y:y + h, x:x + w].astype(int) - frames[22][y:y + h, x:x + w].astype(int)).mean()
    assert diff > 8


def test_emotion_changes_the_eyes_and_brows(worker):
    wav = tone_wav(0.6)
    frames = {}
    for emotion in ("happy", "angry"):
        resp = render(worker.url, "innkeeper", wav, {"emotion": emotion, "request_id": "same-seed"})
        assert resp.headers["x-emotion"] == emotion
        frames[emotion] = _decode(resp.content)[1][5]
    box = httpx.get(f"{worker.url}/v1/avatars/innkeeper").json()["mouth_box"]
    eyes_band = slice(max(0, box[1] - 150), box[1] - 40)
    diff = np.abs(frames["happy"][eyes_band].astype(int) - frames["angry"][eyes_band].astype(int)).mean()
    assert diff > 1.0


def test_no_track_follows_loudness_and_frames_stream(worker):
    resp = render(worker.url, "rogue", tone_wav(0.8), {"output": "frames"})
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("multipart/x-mixed-replace")
    body = resp.content
    assert body.count(b"X-Frame-Index:") == 20
    assert body.count(b"\xff\xd8") >= 20  # JPEG start markers
    assert body.rstrip().endswith(b"--frame--")


def test_sigterm_drains_renders_in_flight_then_exits(tmp_path):
    """SIGTERM while one render runs and another waits for the slot: readiness turns 503 at once, a new render is
    refused 503 ``draining`` (the gateway's pool retries it elsewhere), both renders in flight finish, the process
    exits."""
    proc = WorkerProc(tmp_path, "--slots", "1", "--test-frame-delay-ms", "50").wait_ready()
    wav = tone_wav(2.0)  # 50 frames x 50 ms: each render takes 2.5 s or more
    results: list[httpx.Response] = []
    talkers = [threading.Thread(target=lambda: results.append(render(proc.url, "innkeeper", wav, timeout=60)))
               for _ in range(2)]
    try:
        for t in talkers:
            t.start()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            info = httpx.get(proc.url + "/v1/worker", timeout=2).json()
            if info["active"] == 1 and info["queue_depth"] == 1:
                break
            time.sleep(0.05)
        assert info["active"] == 1 and info["queue_depth"] == 1, info
        proc.proc.send_signal(signal.SIGTERM)
        sent = time.monotonic()
        ready = httpx.get(proc.url + "/readyz", timeout=2)
        while ready.status_code != 503 and time.monotonic() - sent < 1.0:
            time.sleep(0.05)
            ready = httpx.get(proc.url + "/readyz", timeout=2)
        assert ready.status_code == 503 and ready.json()["reason"] == "draining"
        assert httpx.get(proc.url + "/healthz", timeout=2).status_code == 200  # alive while it drains
        assert httpx.get(proc.url + "/v1/worker", timeout=2).json()["draining"] is True
        refused = render(proc.url, "innkeeper", wav)
        assert refused.status_code == 503 and refused.json()["error"] == "draining"
        assert refused.headers["retry-after"] == "1"
        for t in talkers:
            t.join(60)
        assert [r.status_code for r in results] == [200, 200], [r.text[:200] for r in results]
        assert all(r.headers["content-type"] == "video/mp4" and r.content[4:8] == b"ftyp" for r in results)
        assert proc.proc.wait(30) in (0, -signal.SIGTERM)  # uvicorn re-raises the SIGTERM it handled
        assert "drain done: drained=True" in proc.log_path.read_text()
    finally:
        for t in talkers:
            t.join(5)
        proc.stop()
