"""One render worker as the pool sees it: an upstream (readiness, breaker, load) that must render faster than real
time, and the render call with its failures classified (retry elsewhere or not, the worker's fault or not)."""

from __future__ import annotations

import json
from dataclasses import dataclass

import httpx

from gateway.upstream.member import Upstream, describe
from gateway.upstream.member import reason as http_reason


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
class WorkerHandle(Upstream):
    """A render worker: an :class:`~gateway.upstream.member.Upstream` that must also render faster than real time
    and not keep jobs waiting."""

    fps_target: int = 25
    min_realtime_factor: float = 1.0
    max_queue_wait_s: float = 3.0

    @property
    def fps(self) -> float | None:
        value = self.info.get("fps", self.info.get("fps_ewma"))
        return float(value) if isinstance(value, (int, float)) else None

    def problem(self) -> str | None:
        fps = self.fps
        if fps is not None and fps < self.fps_target * self.min_realtime_factor:
            return f"slower than real time ({fps:.1f} fps < {self.fps_target})"
        wait_ms = self.info.get("queue_wait_ms")
        if isinstance(wait_ms, (int, float)) and wait_ms > self.max_queue_wait_s * 1000:
            return f"queue wait {wait_ms / 1000:.1f} s > {self.max_queue_wait_s:g} s"
        return None

    def snapshot(self) -> dict:
        return {**super().snapshot(), "fps": self.fps, "queue_depth": self.info.get("queue_depth"),
                "queue_wait_ms": self.info.get("queue_wait_ms"), "device": self.info.get("device"),
                "avatars_ready": self.info.get("avatars_ready", [])}

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
            raise WorkerError("connect", describe(exc), retry=True, fault=True) from None
        except httpx.TimeoutException as exc:
            raise WorkerError("timeout", describe(exc), retry=False, fault=True) from None
        except httpx.HTTPError as exc:  # connection dropped mid-render (worker died)
            raise WorkerError("dropped", describe(exc), retry=True, fault=True) from None
        finally:
            self.in_flight -= 1
        status = resp.status_code
        if status == 200 and resp.headers.get("content-type", "").startswith("video/mp4"):
            h = resp.headers
            return RenderResult(resp.content, h.get("x-worker-id") or self.name, _num(h.get("x-render-ms")),
                                _num(h.get("x-queue-ms")), _num(h.get("x-render-fps")))
        reason = http_reason(resp)
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
