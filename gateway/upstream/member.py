"""One HTTP upstream as a pool sees it: active health from probes, passive health from a circuit breaker, load.

An :class:`Upstream` is a worker of a pool (a video render worker, a speech server). The pool probes it every few
seconds (:meth:`Upstream.probe`: by default ``GET /readyz`` and ``GET /v1/worker``, the worker contract; a subclass
asks what its kind of server answers), sends work to the least loaded healthy one (:meth:`Upstream.load`), and
records how each call went (:meth:`Upstream.succeeded`, :meth:`Upstream.failed`): a failure that is the
upstream's fault counts on its breaker and takes it out of rotation until its next good probe.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import httpx

from gateway.upstream.breaker import ProviderBreaker


@dataclass(eq=False)
class Upstream:
    url: str
    breaker: ProviderBreaker
    source: str = "config"  #: where the pool learned of it: "config" or "redis"
    worker_id: str | None = None
    slots: int = 1  #: calls it serves at once (its own report, else 1)
    ready: bool = False
    probe_error: str | None = "not probed yet"
    down_reason: str | None = None  #: set by a failed call until the next good probe
    info: dict = field(default_factory=dict)  #: what its last probe reported
    last_probe: float = 0.0
    in_flight: int = 0  #: calls this pool has open on it

    @property
    def name(self) -> str:
        return self.worker_id or self.url.split("://", 1)[-1]

    def health(self) -> tuple[bool, str]:
        if not self.ready:
            return False, f"not ready ({self.probe_error or 'readiness check failed'})"
        if self.down_reason:
            return False, f"last call failed ({self.down_reason})"
        if self.breaker.state == "open":
            return False, "circuit breaker open"
        problem = self.problem()
        return (False, problem) if problem else (True, "ok")

    def problem(self) -> str | None:
        """Why a ready upstream should still get no work (its kind's own checks), or None."""
        return None

    @property
    def healthy(self) -> bool:
        return self.health()[0]

    def load(self) -> float:
        depth = self.info.get("queue_depth") or 0
        return (self.in_flight + depth) / max(1, self.slots)

    def succeeded(self) -> None:
        self.breaker.success()

    def failed(self, reason: str) -> None:
        """A call failed through this upstream's fault: it counts on the breaker and it leaves rotation."""
        self.breaker.failure()
        self.down_reason = reason

    def snapshot(self) -> dict:
        ok, reason = self.health()
        return {"id": self.name, "url": self.url, "source": self.source, "healthy": ok, "reason": reason,
                "ready": self.ready, "slots": self.slots, "in_flight": self.in_flight, "breaker": self.breaker.state,
                "probed_s_ago": round(time.monotonic() - self.last_probe, 1) if self.last_probe else None}

    async def probe(self, client: httpx.AsyncClient, timeout: float) -> None:
        """Active check: :meth:`check`, then readiness, the reported info, worker id and slots."""
        try:
            error, info = await self.check(client, timeout)
        except httpx.HTTPError as exc:
            self.ready, self.probe_error = False, describe(exc)
        else:
            self.ready, self.probe_error = error is None, error
            if info is not None:
                self.info = info
                self.worker_id = info.get("worker_id") or self.worker_id
                slots = info.get("slots")
                if isinstance(slots, int) and slots > 0:
                    self.slots = slots
            if self.ready:
                self.down_reason = None
        self.last_probe = time.monotonic()

    async def check(self, client: httpx.AsyncClient, timeout: float) -> tuple[str | None, dict | None]:
        """(why it is not ready or None, its info or None when unknown): ``GET /readyz`` and ``GET /v1/worker``."""
        ready = await client.get(self.url + "/readyz", timeout=timeout)
        info = await client.get(self.url + "/v1/worker", timeout=timeout)
        body = None
        if info.status_code == 200:
            try:
                body = info.json()
            except ValueError:
                body = {}
        return (None if ready.status_code == 200 else reason(ready)), body


def pick(upstreams: list[Upstream], tried: set[str]) -> Upstream | None:
    """The least loaded healthy upstream not tried yet whose breaker lets a call through (it joins ``tried``)."""
    for upstream in sorted((u for u in upstreams if u.healthy and u.url not in tried), key=Upstream.load):
        tried.add(upstream.url)
        if upstream.breaker.allow():
            return upstream
    return None


def reason(resp: httpx.Response) -> str:
    """``HTTP <status>`` and the message of a JSON error body (``message``, ``reason``, ``error``, ``detail``;
    OpenAI's ``{"error": {"message": ...}}`` too)."""
    try:
        body = resp.json()
    except ValueError:
        body = None
    message = None
    if isinstance(body, dict):
        for key in ("message", "reason", "error", "detail"):
            value = body.get(key)
            if isinstance(value, dict):
                value = value.get("message")
            if isinstance(value, str) and value:
                message = value
                break
    return f"HTTP {resp.status_code}" + (f": {message[:200]}" if message else "")


#: Bytes of an error answer read for its message.
MAX_ERROR_BODY = 16_384


async def error_body(resp: httpx.Response, limit: int = MAX_ERROR_BODY) -> bytes:
    """The start of a streamed error answer: at most ``limit`` bytes (a connection lost on the way just ends it)."""
    body = b""
    try:
        async for part in resp.aiter_bytes():
            body += part
            if len(body) >= limit:
                break
    except httpx.HTTPError:
        pass
    return body[:limit]


def describe(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:200]
