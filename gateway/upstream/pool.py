"""A pool of HTTP upstreams: the workers, one HTTP client, a health loop, and the choice of the next worker.

:class:`UpstreamPool` keeps its :class:`~gateway.upstream.member.Upstream` workers by URL, probes them all every
``interval_s`` (and at once after a failed call: :meth:`UpstreamPool.wake`), and hands out the least loaded
healthy one whose breaker lets a call through (:meth:`UpstreamPool.pick`). A subclass makes its own kind of
worker (:meth:`UpstreamPool.make`) and may do more in each health pass (:meth:`UpstreamPool.health_pass`). The
video pool and the speech pool of the ``openai_speech`` provider are both one.
"""

from __future__ import annotations

import asyncio
import contextlib

import httpx
import structlog

from gateway.upstream.member import Upstream, pick

log = structlog.get_logger(__name__)


class UpstreamPool:
    def __init__(self, kind: str, interval_s: float, timeout_s: float) -> None:
        self.kind = kind  #: "video", "speech:piper", ... (logs, breaker names)
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self.workers: dict[str, Upstream] = {}
        self._client: httpx.AsyncClient | None = None
        self._client_loop: asyncio.AbstractEventLoop | None = None
        self._wake = asyncio.Event()
        self._loop_task: asyncio.Task | None = None
        self._closing = False

    # -- members ---------------------------------------------------------------------------------
    def make(self, url: str, source: str) -> Upstream:
        """A new worker for ``url`` (each pool its own kind, with its own breaker)."""
        raise NotImplementedError

    def add(self, url: str, source: str = "config") -> Upstream:
        worker = self.workers.get(url)
        if worker is None:
            worker = self.workers[url] = self.make(url, source)
            log.info("upstream_added", pool=self.kind, worker=worker.name, source=source)
        return worker

    def remove(self, url: str) -> Upstream | None:
        worker = self.workers.pop(url, None)
        if worker is not None:
            log.info("upstream_removed", pool=self.kind, worker=worker.name)
        return worker

    def pick(self, tried: set[str]) -> Upstream | None:
        """The least loaded healthy worker not in ``tried`` whose breaker allows a call; it joins ``tried``."""
        return pick(list(self.workers.values()), tried)

    def healthy_count(self) -> int:
        return sum(1 for w in self.workers.values() if w.healthy)

    # -- health ----------------------------------------------------------------------------------
    def client(self) -> httpx.AsyncClient:
        """The pool's HTTP client, one per event loop (the CLI and tests run more than one)."""
        loop = asyncio.get_running_loop()
        if self._client is None or self._client_loop is not loop or self._client.is_closed:
            self._client = httpx.AsyncClient(limits=httpx.Limits(max_connections=64, max_keepalive_connections=16))
            self._client_loop = loop
        return self._client

    async def probe_all(self) -> None:
        if self.workers:
            await asyncio.gather(*(w.probe(self.client(), self.timeout_s) for w in list(self.workers.values())))

    async def health_pass(self) -> None:
        """One round of active checks (a subclass may learn of workers, or refresh its own state, here too)."""
        await self.probe_all()

    def wake(self) -> None:
        """Run a health pass now (after a failed call) instead of at the next interval."""
        self._wake.set()

    def start_health_loop(self) -> None:
        if self._loop_task is None:
            self._loop_task = asyncio.create_task(self._health_loop(), name=f"{self.kind}-health")

    async def _health_loop(self) -> None:
        while not self._closing:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval_s)
            self._wake.clear()
            try:
                await self.health_pass()
            except Exception as exc:  # noqa: BLE001 - the loop must survive anything
                log.warning("upstream_health_error", pool=self.kind, error=str(exc))

    async def close_pool(self) -> None:
        """Stop the health loop and close the HTTP client."""
        self._closing = True
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._loop_task
            self._loop_task = None
        if self._client is not None:
            with contextlib.suppress(RuntimeError):  # made on an event loop that is gone
                await self._client.aclose()
            self._client = None
