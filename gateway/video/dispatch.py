"""The Redis consumer side of the video pool: one dispatcher per worker slot.

A dispatcher runs only while its worker is healthy and Redis answers. It first tries to take
over a job another consumer left idle for ``claim_idle_s`` (``XAUTOCLAIM``: that gateway died
mid-job), else reads a new one (``XREADGROUP``); keeps its lease while the worker renders;
publishes the result; and on a retryable failure requeues the job at once for another worker
(see :mod:`gateway.video.jobs`). :class:`QueueDispatch` is mixed into
:class:`~gateway.video.pool.VideoPool`, whose state (settings, queue, workers, ``_call``)
it uses.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import structlog

from gateway.video.metrics import VIDEO_QUEUE_WAIT, VIDEO_REDELIVERIES
from gateway.video.workers import WorkerError, WorkerHandle

log = structlog.get_logger(__name__)


class QueueDispatch:
    def _ensure_dispatchers(self, w: WorkerHandle) -> None:
        if self.queue is None or self._closing:
            return
        tasks = self._dispatchers.setdefault(w.url, [])
        tasks[:] = [t for t in tasks if not t.done()]
        while len(tasks) < w.slots:
            consumer = f"{self.pool_id}/{w.name}/{len(tasks)}"
            tasks.append(asyncio.create_task(self._dispatch_loop(w, consumer), name=f"video-dispatch-{consumer}"))

    async def _dispatch_loop(self, w: WorkerHandle, consumer: str) -> None:
        s, q = self.settings, self.queue
        assert q is not None
        last_claim = 0.0
        while not self._closing:
            if not self.redis_ok or not w.healthy:
                await asyncio.sleep(0.2)
                continue
            try:
                d = None
                if time.monotonic() - last_claim > s.claim_idle_s / 2:
                    last_claim = time.monotonic()
                    d = await q.claim_stale(consumer, s.claim_idle_s)
                    if d is not None:
                        VIDEO_REDELIVERIES.labels("claimed_idle").inc()
                if d is None:
                    d = await q.read(consumer, block_ms=500)
                if d is not None:
                    await self._handle(w, consumer, d)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - Redis trouble: the health pass notices
                log.warning("video_dispatch_error", worker=w.name, error=f"{type(exc).__name__}: {exc}")
                await asyncio.sleep(0.5)

    async def _handle(self, w: WorkerHandle, consumer: str, d) -> None:  # noqa: ANN001 - a Delivery
        s, q = self.settings, self.queue
        assert q is not None
        attempt = d.attempt + (1 if d.claimed else 0)
        f = d.fields
        base = {"job_id": d.job_id, "attempts": attempt}
        if d.deadline_at - time.time() <= 0.05:
            await q.finish(d, {**base, "ok": False, "reason": "deadline passed while queued"})
            return
        if attempt > s.max_attempts:
            await q.finish(d, {**base, "ok": False, "reason": f"gave up after {s.max_attempts} attempts: "
                                                               f"{f.get('last_error', 'worker lost')}"})
            return
        payload = await q.payload(d.job_id)
        if payload is None:  # cancelled by the submitter, or expired
            await q.finish(d, {**base, "ok": False, "reason": "cancelled"})
            return
        if not w.breaker.allow():
            await q.requeue(d, d.attempt, f"{w.name}: breaker")
            await asyncio.sleep(0.2)
            return
        wav, visemes = payload
        queue_ms = round((time.time() - float(f.get("enqueued_at", time.time()))) * 1000, 1)
        VIDEO_QUEUE_WAIT.observe(queue_ms / 1000)
        lease = asyncio.create_task(self._keep_lease(consumer, d.msg_id))
        try:
            res = await self._call(w, f.get("request_id", ""), wav, visemes, f.get("avatar_id") or None,
                                   f.get("emotion") or None, d.deadline_at - time.time())
        except WorkerError as exc:
            left = d.deadline_at - time.time()
            if exc.retry and left > 0.2:
                again = attempt + 1 if exc.fault else attempt
                VIDEO_REDELIVERIES.labels(exc.kind).inc()
                await q.requeue(d, again, f"{w.name}: {exc}")
                if not exc.fault:
                    await asyncio.sleep(0.1)
            else:
                await q.finish(d, {**base, "ok": False, "worker": w.name, "reason": f"worker {w.name} failed: {exc}"})
            return
        finally:
            lease.cancel()
        await q.finish(d, {**base, "ok": True, "reason": "ok", "worker": res.worker_id, "queue_ms": queue_ms,
                           "render_ms": res.render_ms}, res.data)

    async def _keep_lease(self, consumer: str, msg_id: str) -> None:
        assert self.queue is not None
        while True:
            await asyncio.sleep(max(0.2, self.settings.claim_idle_s / 3))
            with contextlib.suppress(Exception):
                await self.queue.renew(consumer, msg_id)
