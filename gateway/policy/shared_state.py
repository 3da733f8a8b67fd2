"""State shared across gateway replicas through Redis, with a defined behaviour when Redis is down.

* :class:`RedisLink`: one synchronous Redis client with short timeouts and an outage tracker. When a
  call fails, Redis is considered down and every caller uses its local state at once, without touching the
  network; only the health loop's probe (a ping in a worker thread, every ``retry_s`` at most) brings it back,
  so an unreachable Redis never stalls the event loop (logged once per outage, exported as
  ``mouthpiece_redis_up``, reported by ``/api/health``).
* :class:`SharedBreakerStorage`: pybreaker storage whose state, counters and ``opened_at`` live in
  Redis (keys ``mouthpiece:breaker:<provider>:*``) and are mirrored locally, so a replica keeps
  serving on its last known breaker state while Redis is unreachable. An open breaker written by one
  replica is seen by the others at their next state check (well under a second).
"""

from __future__ import annotations

import math
import threading
import time
from datetime import UTC, datetime

import pybreaker
import redis
import structlog

from gateway.observability.metrics import REDIS_UP

log = structlog.get_logger(__name__)


class RedisLink:
    """A sync Redis client (breaker checks are a few sub-millisecond calls) plus reachability tracking."""

    def __init__(self, url: str, timeout_s: float = 0.25, retry_s: float = 2.0) -> None:
        self.url = url
        self.client = redis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s,
                                           retry_on_timeout=False)
        self.retry_s = retry_s
        self._down_until = 0.0
        self._down_since: float | None = None
        self._lock = threading.Lock()
        REDIS_UP.set(1)

    @property
    def up(self) -> bool:
        return self._down_since is None

    def available(self) -> bool:
        return time.monotonic() >= self._down_until

    def failed(self, exc: Exception) -> None:
        with self._lock:
            self._down_until = time.monotonic() + self.retry_s
            if self._down_since is None:
                self._down_since = time.time()
                REDIS_UP.set(0)
                log.warning("redis_unreachable", error=type(exc).__name__, fallback="local state")

    def succeeded(self) -> None:
        if self._down_since is not None:
            with self._lock:
                if self._down_since is not None:
                    log.warning("redis_recovered", down_s=round(time.time() - self._down_since, 2))
                    self._down_since = None
                    REDIS_UP.set(1)

    def call(self, fn, fallback, probe: bool = False):  # noqa: ANN001, ANN201
        """``fn(client)`` when Redis is reachable, else ``fallback()``; never raises a Redis error.

        While Redis is down only a ``probe`` call (the health loop's ping) touches the network.
        """
        if not self.available() or (self._down_since is not None and not probe):
            return fallback()
        try:
            result = fn(self.client)
        except redis.RedisError as exc:
            self.failed(exc)
            return fallback()
        self.succeeded()
        return result

    def ping(self) -> bool:
        """Probe Redis (blocking: call it from a worker thread)."""
        return bool(self.call(lambda c: c.ping(), lambda: False, probe=True))

    def snapshot(self) -> dict:
        return {"up": self.up, "down_since": self._down_since}


class SharedBreakerStorage(pybreaker.CircuitBreakerStorage):
    """pybreaker storage in Redis, mirrored in memory for when Redis is down."""

    def __init__(self, link: RedisLink, name: str, state: str = pybreaker.STATE_CLOSED) -> None:
        super().__init__("redis")
        self.link = link
        self.prefix = f"mouthpiece:breaker:{name}:"
        self.local = pybreaker.CircuitMemoryStorage(state)
        self.local_held_until: float | None = None
        link.call(lambda c: c.set(self.prefix + "state", state, nx=True), lambda: None)

    def _key(self, name: str) -> str:
        return self.prefix + name

    @property
    def state(self) -> str:
        def read(c) -> str:  # noqa: ANN001
            value = c.get(self._key("state"))
            state = value.decode() if value else self.local.state
            self.local.state = state
            return state

        return self.link.call(read, lambda: self.local.state)

    @state.setter
    def state(self, state: str) -> None:
        self.local.state = state
        self.link.call(lambda c: c.set(self._key("state"), state), lambda: None)

    def increment_counter(self) -> None:
        self.local.increment_counter()
        self.link.call(lambda c: c.incr(self._key("fail_counter")), lambda: None)

    def reset_counter(self) -> None:
        self.local.reset_counter()
        self.link.call(lambda c: c.set(self._key("fail_counter"), 0), lambda: None)

    def increment_success_counter(self) -> None:
        self.local.increment_success_counter()
        self.link.call(lambda c: c.incr(self._key("success_counter")), lambda: None)

    def reset_success_counter(self) -> None:
        self.local.reset_success_counter()
        self.link.call(lambda c: c.set(self._key("success_counter"), 0), lambda: None)

    @property
    def counter(self) -> int:
        return int(self.link.call(lambda c: int(c.get(self._key("fail_counter")) or 0), lambda: self.local.counter))

    @property
    def success_counter(self) -> int:
        return int(self.link.call(lambda c: int(c.get(self._key("success_counter")) or 0),
                                  lambda: self.local.success_counter))

    @property
    def opened_at(self) -> datetime | None:
        def read(c) -> datetime | None:  # noqa: ANN001
            value = c.get(self._key("opened_at"))
            return datetime.fromtimestamp(float(value), UTC) if value else self.local.opened_at

        return self.link.call(read, lambda: self.local.opened_at)

    @opened_at.setter
    def opened_at(self, when: datetime) -> None:
        self.local.opened_at = when
        self.link.call(lambda c: c.set(self._key("opened_at"), f"{when.timestamp():.3f}"), lambda: None)

    @property
    def held_until(self) -> float | None:
        """An operator's hold (epoch s, ``inf``: until lifted), shared by every replica; it expires with itself."""
        def read(c) -> float | None:  # noqa: ANN001
            value = c.get(self._key("held_until"))
            self.local_held_until = float(value) if value else None
            return self.local_held_until

        return self.link.call(read, lambda: self.local_held_until)

    @held_until.setter
    def held_until(self, until: float | None) -> None:
        self.local_held_until = until
        key = self._key("held_until")
        if until is None:
            self.link.call(lambda c: c.delete(key), lambda: None)
        elif until == math.inf:
            self.link.call(lambda c: c.set(key, "inf"), lambda: None)
        else:
            ttl_ms = max(1, int((until - time.time()) * 1000))
            self.link.call(lambda c: c.set(key, f"{until:.3f}", px=ttl_ms), lambda: None)
