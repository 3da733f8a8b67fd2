"""Shared line cache on Redis (used when ``GATEWAY_REDIS_URL`` is set).

Each entry is one Redis string under ``<prefix><key>`` (prefix ``mouthpiece:line:``) holding the
whole :class:`~gateway.cache.base.CachedLine` blob, written with a single ``SET`` (optionally with
``EX``), so a reader sees either the old entry or the new one, never half. Size is bounded by
Redis itself (``maxmemory`` with an ``allkeys-lru`` policy) and/or ``ttl_s``.

Redis being down never fails a request: with short socket timeouts and no client-side retries,
a failed ``get`` is a miss and a failed ``put`` is dropped. The outage is logged once when it
starts and once when it ends, and :meth:`RedisLineCache.health` reports it. While down, calls
skip Redis entirely for ``retry_interval_s`` after each failure, so a dead server costs the
request path nothing; :meth:`health` always probes.
"""

from __future__ import annotations

import asyncio
import logging
import time

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from gateway.cache.base import CachedLine, CacheHealth, CorruptEntryError, LineCache, OutageLog, encode_entry

log = logging.getLogger(__name__)

DEFAULT_PREFIX = "mouthpiece:line:"
_ERRORS = (RedisError, OSError, asyncio.TimeoutError)


class RedisLineCache(LineCache):
    """:class:`LineCache` on Redis. ``url`` is a ``redis://`` / ``rediss://`` / ``unix://`` URL."""

    backend = "redis"

    def __init__(self, url: str, *, prefix: str = DEFAULT_PREFIX, ttl_s: int | None = None,
                 socket_timeout_s: float = 0.5, connect_timeout_s: float = 0.5, retry_interval_s: float = 2.0,
                 max_connections: int = 32) -> None:
        self.url = url
        self.prefix = prefix
        self.ttl_s = ttl_s if ttl_s and ttl_s > 0 else None
        self.socket_timeout_s = socket_timeout_s
        self.retry_interval_s = retry_interval_s
        # Whole-operation deadline on top of the socket timeouts (connect + send + read).
        self._op_timeout_s = connect_timeout_s + 2 * socket_timeout_s
        self._client = aioredis.Redis.from_url(
            url,
            socket_timeout=socket_timeout_s,
            socket_connect_timeout=connect_timeout_s,
            retry=Retry(NoBackoff(), 0),
            retry_on_timeout=False,
            max_connections=max_connections,
            decode_responses=False,
        )
        self._outage = OutageLog(log, f"redis line cache {_redact(url)}")
        self._closed = False
        self._counters = {"hits": 0, "misses": 0, "puts": 0, "put_dropped": 0, "corrupt": 0, "errors": 0,
                          "skipped_while_down": 0}

    def _k(self, key: str) -> str:
        return self.prefix + key

    def _skip(self) -> bool:
        """While down, don't touch Redis until ``retry_interval_s`` passed since the last failure."""
        if self._closed:
            return True
        if self._outage.down and time.monotonic() - self._outage.last_failure_at < self.retry_interval_s:
            self._counters["skipped_while_down"] += 1
            return True
        return False

    def _failure(self, exc: BaseException) -> None:
        self._counters["errors"] += 1
        self._outage.failure(exc)

    async def get(self, key: str) -> CachedLine | None:
        if self._skip():
            self._counters["misses"] += 1
            return None
        try:
            blob = await asyncio.wait_for(self._client.get(self._k(key)), self._op_timeout_s)
        except _ERRORS as exc:
            self._failure(exc)
            self._counters["misses"] += 1
            return None
        self._outage.success()
        if blob is None:
            self._counters["misses"] += 1
            return None
        try:
            line = await asyncio.to_thread(CachedLine.from_bytes, blob) if len(blob) > 256 * 1024 \
                else CachedLine.from_bytes(blob)
        except CorruptEntryError as exc:
            log.warning("redis line cache: dropping corrupt entry %s: %s", key[:16], exc)
            self._counters["corrupt"] += 1
            self._counters["misses"] += 1
            await self._delete_if_unchanged(key, blob)
            return None
        self._counters["hits"] += 1
        return line

    async def _delete_if_unchanged(self, key: str, blob: bytes) -> None:
        # Compare-and-delete: don't remove a good entry another writer stored meanwhile.
        script = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"
        try:
            await asyncio.wait_for(self._client.eval(script, 1, self._k(key), blob), self._op_timeout_s)
        except _ERRORS as exc:
            self._failure(exc)

    async def put(self, key: str, line: CachedLine) -> bool:
        if self._skip():
            self._counters["put_dropped"] += 1
            return False
        blob = encode_entry(line, key, self.backend, self._counters)
        if blob is None:
            return False
        try:
            await asyncio.wait_for(self._client.set(self._k(key), blob, ex=self.ttl_s), self._op_timeout_s)
        except _ERRORS as exc:
            self._failure(exc)
            self._counters["put_dropped"] += 1
            return False
        self._outage.success()
        self._counters["puts"] += 1
        return True

    async def delete(self, key: str) -> None:
        if self._skip():
            return
        try:
            await asyncio.wait_for(self._client.delete(self._k(key)), self._op_timeout_s)
        except _ERRORS as exc:
            self._failure(exc)
        else:
            self._outage.success()

    async def stats(self) -> dict:
        return {"backend": self.backend, "url": _redact(self.url), "prefix": self.prefix, "ttl_s": self.ttl_s,
                "down": self._outage.down, "last_error": self._outage.reason, **self._counters}

    async def health(self) -> CacheHealth:
        detail = {"url": _redact(self.url), "prefix": self.prefix}
        if self._closed:
            return CacheHealth(ok=False, backend=self.backend, reason="closed", detail=detail)
        try:
            await asyncio.wait_for(self._client.ping(), self._op_timeout_s)
        except _ERRORS as exc:
            self._failure(exc)
            detail["down_since"] = self._outage.down_since
            return CacheHealth(ok=False, backend=self.backend, reason=f"redis unreachable: {self._outage.reason}",
                               detail=detail)
        self._outage.success()
        return CacheHealth(ok=True, backend=self.backend, detail=detail)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            await self._client.aclose()
        except _ERRORS:
            pass


def _redact(url: str) -> str:
    """The URL without its password (for logs and health)."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    creds, _, host = rest.rpartition("@")
    if ":" not in creds:
        return url
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"
