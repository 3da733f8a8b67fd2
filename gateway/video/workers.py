"""One render worker as the pool sees it: active health (readyz, fps, queue wait), a breaker, and the
render call with its failures classified (retry elsewhere or not, the worker's fault or not)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

import httpx

from gateway.policy.breakers import ProviderBreaker


class WorkerError(Exception):
    """A render that did not produce a video.

    ``kind``: connect | dropped | timeout | server | busy | not_ready | deadline | unknown_avatar | rejected.
    ``retry``: another worker may succeed; ``fault``: counts against this worker's breaker.
    """

    def __init__(self, kind: str, message: str, *, retry: bool, fault: bool) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind, self.message, self.retry, self.fault = kind, message, retry, fault


@dataclass(slots=True)
class RenderResult:
    data: bytes
    worker_id: str
    render_ms: float | None
    worker_queue_ms: float | None
    render_fps: float | None


@dataclass(eq=False)
class WorkerHandle:
    url: str
    source: str  #: "config" or "redis"
    breaker: ProviderBreaker
    fps_target: int
    min_realtime_factor: float
    max_queue_wait_s: float
    worker_id: str | None = None
    slots: int = 1
    ready: bool = False
    probe_error: str | None = "not probed yet"
    down_reason: str | None = None  #: set by a failed render until the next good probe
    info: dict = field(default_factory=dict)
    last_probe: float = 0.0
    in_flight: int = 0

    @property
    def name(self) -> str:
        return self.worker_id or self.url.split("://", 1)[-1]

    @property
    def fps(self) -> float | None:
        value = self.info.get("fps", self.info.get("fps_ewma"))
        return float(value) if isinstance(value, (int, float)) else None

    def health(self) -> tuple[bool, str]:
        if not self.ready:
            return False, f"not ready ({self.probe_error or 'readyz failed'})"
        if self.down_reason:
            return False, f"last render failed ({self.down_reason})"
        if self.breaker.state == "open":
            return False, "circuit breaker open"
        fps = self.fps
        if fps is not None and fps < self.fps_target * self.min_realtime_factor:
            return False, f"slower than real time ({fps:.1f} fps < {self.fps_target})"
        wait_ms = self.info.get("queue_wait_ms")
        if isinstance(wait_ms, (int, float)) and wait_ms > self.max_queue_wait_s * 1000:
            return False, f"queue wait {wait_ms / 1000:.1f} s > {self.max_queue_wait_s:g} s"
        return True, "ok"

    @property
    def healthy(self) -> bool:
        return self.health()[0]

    def load(self) -> float:
        depth = self.info.get("queue_depth") or 0
        return (self.in_flight + depth) / max(1, self.slots)

    def mark_down(self, reason: str) -> None:
        self.down_reason = reason

    def snapshot(self) -> dict:
        ok, reason = self.health()
        return {"id": self.name, "url": self.url, "source": self.source, "healthy": ok, "reason": reason,
                "ready": self.ready, "fps": self.fps, "queue_depth": self.info.get("queue_depth"),
                "queue_wait_ms": self.info.get("queue_wait_ms"), "slots": self.slots, "in_flight": self.in_flight,
                "device": self.info.get("device"), "avatars_ready": self.info.get("avatars_ready", []),
                "breaker": self.breaker.state,
                "probed_s_ago": round(time.monotonic() - self.last_probe, 1) if self.last_probe else None}

    async def probe(self, client: httpx.AsyncClient, timeout: float) -> None:
        """Active check: ``GET /readyz`` and ``GET /v1/worker``."""
        try:
            ready = await client.get(self.url + "/readyz", timeout=timeout)
            info = await client.get(self.url + "/v1/worker", timeout=timeout)
        except httpx.HTTPError as exc:
            self.ready, self.probe_error = False, _describe(exc)
        else:
            self.ready = ready.status_code == 200
            self.probe_error = None if self.ready else _reason(ready)
            if info.status_code == 200:
                try:
                    self.info = info.json()
                except ValueError:
                    self.info = {}
                self.worker_id = self.info.get("worker_id") or self.worker_id
                slots = self.info.get("slots")
                if isinstance(slots, int) and slots > 0:
                    self.slots = slots
            if self.ready:
                self.down_reason = None
        self.last_probe = time.monotonic()

    async def render(self, client: httpx.AsyncClient, *, request_id: str, wav: bytes, visemes: list[dict] | None,
                     avatar_id: str | None, emotion: str | None, fps: int, timeout_s: float,
                     connect_timeout_s: float) -> RenderResult:
        """``POST /v1/avatars/{id}/render`` -> MP4 bytes, or :class:`WorkerError`."""
        avatar = avatar_id or self.info.get("default_avatar") or (self.info.get("avatars_ready") or [None])[0]
        if not avatar:
            raise WorkerError("not_ready", "worker lists no ready avatar", retry=True, fault=False)
        params = {"request_id": request_id, "fps": fps, "output": "mp4", "emotion": emotion,
                  "visemes": visemes or [], "deadline_ms": max(1, int(timeout_s * 1000))}
        files = {"audio": ("line.wav", wav, "audio/wav")}
        timeout = httpx.Timeout(timeout_s, connect=min(connect_timeout_s, timeout_s))
        self.in_flight += 1
        try:
            resp = await client.post(f"{self.url}/v1/avatars/{avatar}/render", files=files,
                                     data={"params": json.dumps(params)}, timeout=timeout)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise WorkerError("connect", _describe(exc), retry=True, fault=True) from None
        except httpx.TimeoutException as exc:
            raise WorkerError("timeout", _describe(exc), retry=False, fault=True) from None
        except httpx.HTTPError as exc:  # connection dropped mid-render (worker died)
            raise WorkerError("dropped", _describe(exc), retry=True, fault=True) from None
        finally:
            self.in_flight -= 1
        status = resp.status_code
        if status == 200 and resp.headers.get("content-type", "").startswith("video/mp4"):
            h = resp.headers
            return RenderResult(resp.content, h.get("x-worker-id") or self.name, _num(h.get("x-render-ms")),
                                _num(h.get("x-queue-ms")), _num(h.get("x-render-fps")))
        reason = _reason(resp)
        if status == 503:
            raise WorkerError("busy", reason, retry=True, fault=False)
        if status == 409:
            raise WorkerError("not_ready", reason, retry=True, fault=False)
        if status == 504:
            raise WorkerError("deadline", reason, retry=False, fault=True)
        if status == 404:
            raise WorkerError("unknown_avatar", reason, retry=False, fault=False)
        if 400 <= status < 500:
            raise WorkerError("rejected", reason, retry=False, fault=False)
        raise WorkerError("server", reason, retry=True, fault=True)


def _num(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _reason(resp: httpx.Response) -> str:
    try:
        body = resp.json()
        message = body.get("message") or body.get("reason") or body.get("error")
    except (ValueError, AttributeError):
        message = None
    return f"HTTP {resp.status_code}" + (f": {message}" if message else "")


def _describe(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:200]
