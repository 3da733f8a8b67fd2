"""The avatar video pool the gateway calls: ``VideoPool(settings)``, ``start``, ``render``, ``health``, ``close``.

Modes (docs/workers.md):

- **disabled**: no worker listed and no Redis (``gateway serve`` lists the CPU worker it starts beside itself unless
  ``GATEWAY_VIDEO_EMBEDDED`` is off); unhealthy, ``render`` returns at once.
- **direct**: workers listed in ``GATEWAY_VIDEO_WORKERS``, no Redis: ``render`` posts to the least
  loaded healthy worker and fails over to the next one until the job's deadline.
- **redis**: jobs go through a Redis stream (:mod:`gateway.video.jobs`); this pool runs
  one dispatcher per worker slot (listed workers and those registered through Redis), so any
  gateway's dispatchers may serve any gateway's jobs, and a job survives a worker (requeued) or
  a gateway (claimed after ``claim_idle_s``) dying mid-render. Redis down -> direct HTTP to the
  workers already known.

Health: active (every ``health_interval_s``: ``/readyz`` + ``/v1/worker`` per worker; measured fps
below real time, worker queue wait, the stream's oldest waiting job) and passive (a
:class:`~gateway.upstream.breaker.ProviderBreaker` per worker, fed by render outcomes). The workers, the
health loop and the choice of a worker are an :class:`~gateway.upstream.pool.UpstreamPool`'s.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import time
import uuid
import wave
from dataclasses import dataclass, field

import structlog

from gateway.media.store import MediaInfo, MediaKind, MediaStore, valid_request_id
from gateway.observability.metrics import MEDIA_WRITES
from gateway.settings import VideoSettings
from gateway.upstream.breaker import ProviderBreaker
from gateway.upstream.pool import UpstreamPool
from gateway.video.dispatch import QueueDispatch
from gateway.video.jobs import JobQueue
from gateway.video.metrics import (
    VIDEO_POOL_HEALTHY,
    VIDEO_RENDER_SECONDS,
    VIDEO_RENDERS,
    VIDEO_WORKERS,
)
from gateway.video.workers import RenderResult, WorkerError, WorkerHandle

log = structlog.get_logger(__name__)
NO_WORKERS = "no video workers configured"
CLEANUP_EVERY_S = 60.0  #: how often the Redis consumer group is pruned


@dataclass(slots=True)
class VideoOutcome:
    """What :meth:`VideoPool.render` produced: the stored MP4 (``media``), or None and the ``reason``."""

    media: MediaInfo | None
    reason: str
    worker: str | None = None
    attempts: int = 0
    mode: str = "disabled"
    timings: dict = field(default_factory=dict)  #: queue_ms, render_ms, total_ms, deadline_s

    @property
    def ok(self) -> bool:
        return self.media is not None

    def to_dict(self) -> dict:
        return {"ok": self.ok, "bytes": self.media.size if self.media else None, "reason": self.reason,
                "worker": self.worker, "attempts": self.attempts, "mode": self.mode, "timings": self.timings}


def wav_seconds(data: bytes) -> float:
    """Duration of a WAV (estimate for anything else: 16-bit mono 24 kHz)."""
    try:
        with wave.open(io.BytesIO(data)) as w:
            return w.getnframes() / float(w.getframerate())
    except (wave.Error, EOFError, ZeroDivisionError):
        return len(data) / 48000.0


class VideoPool(QueueDispatch, UpstreamPool):
    """Renders go to workers; the MP4s go into ``media`` (the gateway's media store), so any replica serves them."""

    def __init__(self, settings: VideoSettings, media: MediaStore) -> None:
        super().__init__("video", settings.health_interval_s, settings.health_timeout_s)
        self.settings = s = settings
        self.media = media
        self.pool_id = uuid.uuid4().hex[:12]
        self.mode = "redis" if s.redis_url else ("direct" if s.workers else "disabled")
        self.queue = None
        self.redis_ok = False
        self.redis_error: str | None = None
        self.queue_wait_s = 0.0
        self._health: tuple[bool, str] = (False, NO_WORKERS if self.mode == "disabled" else "starting")
        self._dispatchers: dict[str, list[asyncio.Task]] = {}
        self._last_cleanup = 0.0

    # -- lifecycle -------------------------------------------------------------------------------
    async def start(self) -> None:
        s = self.settings
        if self.mode == "disabled":
            VIDEO_POOL_HEALTHY.set(0)
            return
        for url in s.workers:
            self._add_worker(url, "embedded" if url == s.embedded_worker else "config")
        if self.mode == "redis":
            self.queue = JobQueue(s.redis_url, s.redis_prefix)
        await self.health_pass()
        self.start_health_loop()

    async def close(self) -> None:
        self._closing = True
        tasks = [t for ts in self._dispatchers.values() for t in ts]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._dispatchers.clear()
        if self.queue is not None:
            with contextlib.suppress(Exception):
                await self.queue.close()
        await self.close_pool()

    # -- health ----------------------------------------------------------------------------------
    async def health(self) -> dict:
        healthy, reason = self._health
        return {"healthy": healthy, "reason": reason, "mode": self.mode,
                "redis": None if self.mode != "redis" else {"ok": self.redis_ok, "error": self.redis_error},
                "queue_wait_s": round(self.queue_wait_s, 3),
                "workers": [w.snapshot() for w in self.workers.values()]}

    def _evaluate(self) -> tuple[bool, str]:
        if self.mode == "disabled":
            return False, NO_WORKERS
        if not self.workers:
            return False, "no video workers registered" if self.mode == "redis" else NO_WORKERS
        verdicts = [(w, *w.health()) for w in self.workers.values()]
        if not any(ok for _, ok, _ in verdicts):
            return False, "no healthy video worker: " + "; ".join(f"{w.name}: {why}" for w, _, why in verdicts)
        if self.mode == "redis" and self.redis_ok and self.queue_wait_s > self.settings.max_queue_wait_s:
            return False, f"video queue wait {self.queue_wait_s:.1f} s > {self.settings.max_queue_wait_s:g} s"
        if self.mode == "redis" and not self.redis_ok:
            return True, f"redis unreachable ({self.redis_error}); direct HTTP to known workers"
        return True, "ok"

    def _refresh_health(self) -> None:
        self._health = self._evaluate()
        VIDEO_POOL_HEALTHY.set(1 if self._health[0] else 0)
        ok = sum(1 for w in self.workers.values() if w.healthy)
        VIDEO_WORKERS.labels("healthy").set(ok)
        VIDEO_WORKERS.labels("unhealthy").set(len(self.workers) - ok)

    async def health_pass(self) -> None:
        if self.queue is not None:
            try:
                if not self.redis_ok:
                    await self.queue.ensure_group()
                registered = await self.queue.registered()
                for info in registered:
                    self._add_worker(info["url"].rstrip("/"), "redis", info)
                live = {i["url"].rstrip("/") for i in registered}
                for url, w in list(self.workers.items()):
                    if w.source == "redis" and url not in live:
                        self._remove_worker(url)
                self.queue_wait_s = await self.queue.oldest_wait_s()
                if time.monotonic() - self._last_cleanup > CLEANUP_EVERY_S:
                    self._last_cleanup = time.monotonic()
                    await self.queue.prune_consumers()
                self.redis_ok, self.redis_error = True, None
            except Exception as exc:  # noqa: BLE001 - Redis down: fall back to direct HTTP
                if self.redis_ok or self.redis_error is None:
                    log.warning("video_redis_down", error=str(exc))
                self.redis_ok, self.redis_error = False, f"{type(exc).__name__}: {exc}"[:200]
        await self.probe_all()
        for w in self.workers.values():
            self._ensure_dispatchers(w)
        self._refresh_health()

    def make(self, url: str, source: str) -> WorkerHandle:
        s = self.settings
        name = url.split("://", 1)[-1]
        return WorkerHandle(url=url, source=source, breaker=ProviderBreaker(f"video:{name}", s.breaker_fail_max,
                                                                            s.breaker_reset_s),
                            fps_target=s.fps, min_realtime_factor=s.min_realtime_factor,
                            max_queue_wait_s=s.max_queue_wait_s)

    def _add_worker(self, url: str, source: str, info: dict | None = None) -> None:
        if url in self.workers:
            return
        w = self.add(url, source)
        if info:
            w.worker_id = info.get("worker_id")
            if isinstance(info.get("slots"), int) and info["slots"] > 0:
                w.slots = info["slots"]

    def _remove_worker(self, url: str) -> None:
        self.remove(url)
        for task in self._dispatchers.pop(url, []):
            task.cancel()

    # -- render ----------------------------------------------------------------------------------
    async def render(self, request_id: str, wav_bytes: bytes, visemes: list[dict] | None, avatar_id: str | None,
                     emotion: str | None, deadline_s: float | None) -> VideoOutcome:
        """Render the line's avatar video within ``deadline_s`` (further capped by the per-job deadline).

        Never raises for worker or Redis trouble: the outcome carries ``path=None`` and the reason.
        """
        started = time.monotonic()
        healthy, why = self._health
        if not healthy:
            VIDEO_RENDERS.labels("unhealthy").inc()
            reason = NO_WORKERS if self.mode == "disabled" else f"video pool unhealthy: {why}"
            return VideoOutcome(None, reason, mode=self.mode)
        if not valid_request_id(request_id):
            VIDEO_RENDERS.labels("rejected").inc()
            return VideoOutcome(None, "invalid request id", mode=self.mode)
        audio_s = wav_seconds(wav_bytes)
        budget = self.settings.job_deadline_s(audio_s)
        if deadline_s is not None:
            budget = min(budget, deadline_s)
        deadline_at = time.time() + budget
        avatar_id = avatar_id or self.settings.default_avatar
        if self.mode == "redis" and self.redis_ok:
            outcome = await self._render_queued(request_id, wav_bytes, visemes, avatar_id, emotion, deadline_at,
                                                audio_s)
        else:
            outcome = await self._render_direct(request_id, wav_bytes, visemes, avatar_id, emotion, deadline_at)
        outcome.timings["total_ms"] = round((time.monotonic() - started) * 1000, 1)
        outcome.timings["deadline_s"] = round(budget, 3)
        VIDEO_RENDERS.labels("ok" if outcome.ok else "failed").inc()
        if outcome.ok:
            VIDEO_RENDER_SECONDS.observe(time.monotonic() - started)
        log.info("video_render", ok=outcome.ok, reason=outcome.reason, worker=outcome.worker,
                 attempts=outcome.attempts, mode=outcome.mode, **outcome.timings)
        return outcome

    async def _store(self, request_id: str, data: bytes, outcome: VideoOutcome) -> VideoOutcome:
        try:
            outcome.media = await self.media.put(MediaKind.VIDEO, request_id, data, "video/mp4", "mp4")
        except Exception as exc:  # noqa: BLE001 - a store outage costs the video, never the line
            MEDIA_WRITES.labels("video", self.media.backend, "failed").inc()
            outcome.reason = f"video not stored ({self.media.backend}: {type(exc).__name__})"
            return outcome
        MEDIA_WRITES.labels("video", self.media.backend, "ok").inc()
        return outcome

    async def _render_direct(self, request_id: str, wav: bytes, visemes: list[dict] | None, avatar_id: str | None,
                             emotion: str | None, deadline_at: float) -> VideoOutcome:
        tried: set[str] = set()
        errors: list[str] = []
        while True:
            remaining = deadline_at - time.time()
            if remaining <= 0.05:
                return VideoOutcome(None, "deadline exceeded" + _tail(errors), attempts=len(tried), mode="direct")
            w = self.pick(tried)
            if w is None:
                return VideoOutcome(None, "no video worker could render" + _tail(errors), attempts=len(tried),
                                    mode="direct")
            try:
                res = await self._call(w, request_id, wav, visemes, avatar_id, emotion, remaining)
            except WorkerError as exc:
                errors.append(f"{w.name}: {exc}")
                if not exc.retry:
                    return VideoOutcome(None, f"worker {w.name} failed: {exc}", worker=w.name, attempts=len(tried),
                                        mode="direct")
                continue
            outcome = VideoOutcome(None, "ok", worker=res.worker_id, attempts=len(tried), mode="direct",
                                   timings={"queue_ms": res.worker_queue_ms, "render_ms": res.render_ms})
            return await self._store(request_id, res.data, outcome)

    async def _call(self, w: WorkerHandle, request_id: str, wav: bytes, visemes: list[dict] | None,
                    avatar_id: str | None, emotion: str | None, timeout_s: float) -> RenderResult:
        """One render on one worker, feeding its breaker and health."""
        try:
            res = await w.render(self.client(), request_id=request_id, wav=wav, visemes=visemes, avatar_id=avatar_id,
                                 emotion=emotion, fps=self.settings.fps, timeout_s=timeout_s,
                                 connect_timeout_s=self.settings.connect_timeout_s)
        except WorkerError as exc:
            if exc.fault:
                w.failed(exc.kind)
                self._refresh_health()
                self.wake()  # re-probe now
            elif exc.kind not in ("busy", "not_ready"):
                w.succeeded()  # the worker answered properly; the job was the problem
            raise
        w.succeeded()
        return res

    # -- the Redis path --------------------------------------------------------------------------
    async def _render_queued(self, request_id: str, wav: bytes, visemes: list[dict] | None, avatar_id: str | None,
                             emotion: str | None, deadline_at: float, audio_s: float) -> VideoOutcome:
        assert self.queue is not None
        try:
            job_id = await self.queue.submit(request_id=request_id, wav=wav, visemes=visemes, avatar_id=avatar_id,
                                             emotion=emotion, deadline_at=deadline_at, audio_s=audio_s)
        except Exception as exc:  # noqa: BLE001 - Redis down between health passes
            self.redis_ok, self.redis_error = False, f"{type(exc).__name__}: {exc}"[:200]
            self._refresh_health()
            return await self._render_direct(request_id, wav, visemes, avatar_id, emotion, deadline_at)
        try:
            result = await asyncio.wait_for(self.queue.wait(job_id, deadline_at - time.time()),
                                            max(0.01, deadline_at - time.time() + 0.5))
        except (TimeoutError, Exception) as exc:  # noqa: BLE001
            result = None
            if not isinstance(exc, asyncio.TimeoutError):
                log.warning("video_wait_failed", error=str(exc))
        if result is None:
            with contextlib.suppress(Exception):
                await self.queue.cancel(job_id)
            return VideoOutcome(None, "deadline exceeded waiting for a video worker", mode="redis")
        header, data = result
        outcome = VideoOutcome(None, header.get("reason", "ok"), worker=header.get("worker"),
                               attempts=int(header.get("attempts", 1)), mode="redis",
                               timings={"queue_ms": header.get("queue_ms"), "render_ms": header.get("render_ms")})
        if header.get("ok") and data:
            return await self._store(request_id, data, outcome)
        return outcome


def _tail(errors: list[str]) -> str:
    return (": " + "; ".join(errors[-3:])) if errors else ""
