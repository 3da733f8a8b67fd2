"""Rate limits per API key and per client: fixed one-minute windows, in Redis when configured.

With Redis, every replica counts against the same window (``INCR`` + ``EXPIRE`` on
``mouthpiece:rl:<scope>:<id>:<minute>``); while Redis is down each replica counts locally.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

from gateway.observability.metrics import RATE_LIMITED
from gateway.policy.shared_state import RedisLink

WINDOW_S = 60


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    retry_after_s: int = 0
    limit: int = 0
    remaining: int = 0


class RateLimiter:
    def __init__(self, link: RedisLink | None = None) -> None:
        self.link = link
        self._local: dict[str, int] = {}
        self._local_window = 0

    def check(self, scope: str, ident: str, limit: int, now: float | None = None) -> Decision:
        """Count one request of ``ident`` in ``scope``; refuse it past ``limit`` per minute (0 = no limit)."""
        if limit <= 0:
            return Decision(True)
        now = time.time() if now is None else now
        window = int(now // WINDOW_S)
        digest = hashlib.sha256(ident.encode()).hexdigest()[:24]  # keys and addresses never stored in clear
        key = f"mouthpiece:rl:{scope}:{digest}:{window}"

        def shared(c) -> int:  # noqa: ANN001
            pipe = c.pipeline()
            pipe.incr(key)
            pipe.expire(key, WINDOW_S + 5)
            return int(pipe.execute()[0])

        count = self.link.call(shared, lambda: self._count_local(key, window)) if self.link else \
            self._count_local(key, window)
        retry_after = max(1, int((window + 1) * WINDOW_S - now + 0.999))
        if count > limit:
            RATE_LIMITED.labels(scope).inc()
            return Decision(False, retry_after, limit, 0)
        return Decision(True, 0, limit, limit - count)

    def _count_local(self, key: str, window: int) -> int:
        if window != self._local_window:
            self._local.clear()
            self._local_window = window
        self._local[key] = self._local.get(key, 0) + 1
        return self._local[key]
