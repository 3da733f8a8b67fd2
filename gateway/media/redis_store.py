"""Media in Redis (when a Redis URL is configured): every replica reads what any replica wrote.

Keys, under ``prefix`` (``mouthpiece:media:``):

* ``<kind>:<id>`` - a hash: ``size``, ``type``, ``ext``, ``created`` (epoch ms), ``chunks``;
* ``<kind>:<id>:<n>`` - chunk ``n`` of the bytes (``chunk_bytes`` each, so a large video never becomes one huge
  Redis value and a Range read fetches only the chunks it needs, with ``GETRANGE``);
* ``index`` (sorted set: item -> expiry ms), ``sizes`` (hash: item -> bytes), ``total`` (bytes held): the
  accounting behind the total size cap, updated atomically by one Lua script per write.

Every key of an item expires with the kind's TTL (``PEXPIRE``); chunks and the hash are written in one
``MULTI``/``EXEC``, the hash last, so a reader sees the whole item or none of it. An item larger than
``max_item_bytes`` is refused (:class:`MediaTooLarge`); past ``max_total_bytes`` the items closest to expiry are
evicted. Redis down: writes raise, reads raise :class:`MediaUnavailable` (HTTP 503), with short timeouts.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from gateway.media.store import (
    MediaInfo,
    MediaKind,
    MediaStore,
    MediaTooLarge,
    MediaUnavailable,
    Retention,
    check_id,
    now_ms,
    valid_request_id,
)

DEFAULT_PREFIX = "mouthpiece:media:"
_ERRORS = (RedisError, OSError, asyncio.TimeoutError)

#: KEYS: index, sizes, total. ARGV: item, size, expires_ms, now_ms, max_total. Forgets expired items, adds this
#: one (none when ``item`` is empty), then evicts the items closest to expiry (never this one) while the total is
#: over the cap.
#: Returns the evicted items; the caller deletes their keys.
_ACCOUNT = """
local total = tonumber(redis.call('GET', KEYS[3]) or '0')
local old = redis.call('HGET', KEYS[2], ARGV[1])
if old then total = total - tonumber(old) end
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[4], 'LIMIT', 0, 500)
for _, m in ipairs(expired) do
  if m ~= ARGV[1] then
    total = total - tonumber(redis.call('HGET', KEYS[2], m) or '0')
    redis.call('HDEL', KEYS[2], m)
    redis.call('ZREM', KEYS[1], m)
  end
end
if ARGV[1] ~= '' then
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
  total = total + tonumber(ARGV[2])
end
local gone = {}
while total > tonumber(ARGV[5]) do
  local first = redis.call('ZRANGE', KEYS[1], 0, 1)
  local victim = first[1]
  if victim == ARGV[1] then victim = first[2] end
  if not victim then break end
  total = total - tonumber(redis.call('HGET', KEYS[2], victim) or '0')
  redis.call('HDEL', KEYS[2], victim)
  redis.call('ZREM', KEYS[1], victim)
  table.insert(gone, victim)
end
if total < 0 then total = 0 end
redis.call('SET', KEYS[3], total)
return gone
"""


class RedisMediaStore(MediaStore):
    backend = "redis"

    def __init__(self, url: str, retention: dict[MediaKind, Retention], *, prefix: str = DEFAULT_PREFIX,
                 chunk_bytes: int = 512 * 1024, max_item_bytes: int = 64 * 1024 * 1024,
                 max_total_bytes: int = 512 * 1024 * 1024, timeout_s: float = 2.0) -> None:
        if chunk_bytes <= 0:
            raise ValueError("chunk_bytes must be positive")
        self.url = url
        self.retention = retention
        self.prefix = prefix
        self.chunk_bytes = chunk_bytes
        self.max_item_bytes = max_item_bytes
        self.max_total_bytes = max_total_bytes
        self._client = aioredis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s,
                                               retry=Retry(NoBackoff(), 0), retry_on_timeout=False,
                                               decode_responses=False, max_connections=64)
        self._account = self._client.register_script(_ACCOUNT)
        self._meta = [self._k("index"), self._k("sizes"), self._k("total")]

    def _k(self, name: str) -> str:
        return self.prefix + name

    def _item(self, kind: MediaKind, request_id: str) -> str:
        return f"{kind.value}:{request_id}"

    # -- write ---------------------------------------------------------------------------------------------------
    async def put(self, kind: MediaKind, request_id: str, data: bytes, media_type: str, extension: str) -> MediaInfo:
        check_id(request_id)
        if len(data) > self.max_item_bytes:
            raise MediaTooLarge(f"{kind} of {len(data)} bytes > max_item_bytes {self.max_item_bytes}")
        item, created = self._item(kind, request_id), now_ms()
        ttl_ms = self.retention[kind].ttl_s * 1000
        chunks = max(1, -(-len(data) // self.chunk_bytes))
        async with self._client.pipeline(transaction=True) as pipe:
            for n in range(chunks):
                pipe.set(self._k(f"{item}:{n}"), data[n * self.chunk_bytes:(n + 1) * self.chunk_bytes], px=ttl_ms)
            head = self._k(item)
            pipe.delete(head)
            pipe.hset(head, mapping={"size": len(data), "type": media_type, "ext": extension, "created": created,
                                     "chunks": chunks})
            pipe.pexpire(head, ttl_ms)
            await pipe.execute()
        await self._enforce(item, len(data), created + ttl_ms, created)
        return MediaInfo(kind, request_id, len(data), media_type, extension, created, source=self.backend)

    async def _enforce(self, item: str, size: int, expires_ms: int, now: int) -> int:
        gone = await self._account(keys=self._meta, args=[item, size, expires_ms, now, self.max_total_bytes])
        if gone:
            await self._delete([g.decode() for g in gone])
        return len(gone)

    async def _delete(self, items: list[str]) -> None:
        async with self._client.pipeline(transaction=False) as pipe:
            for item in items:
                pipe.hget(self._k(item), "chunks")
            counts = await pipe.execute()
        keys = []
        for item, count in zip(items, counts):
            keys.append(self._k(item))
            keys += [self._k(f"{item}:{n}") for n in range(int(count or 1))]
        if keys:
            await self._client.delete(*keys)

    # -- read ----------------------------------------------------------------------------------------------------
    async def info(self, kind: MediaKind, request_id: str) -> MediaInfo | None:
        if not valid_request_id(request_id) or kind not in self.retention:
            return None
        item = self._item(kind, request_id)
        try:
            async with self._client.pipeline(transaction=False) as pipe:
                pipe.hgetall(self._k(item))
                pipe.exists(self._k(f"{item}:0"))
                head, first = await pipe.execute()
            if not head or not first:
                return None
            chunks = int(head[b"chunks"])
            if chunks > 1 and await self._client.exists(*[self._k(f"{item}:{n}") for n in range(1, chunks)]) \
                    != chunks - 1:
                return None  # a chunk went (Redis evicted it): never serve a file with a hole
        except _ERRORS as exc:
            raise MediaUnavailable(f"redis: {type(exc).__name__}") from exc
        return MediaInfo(kind, request_id, int(head[b"size"]), head[b"type"].decode(), head[b"ext"].decode(),
                         int(head[b"created"]), source=self.backend)

    async def read(self, info: MediaInfo, start: int, stop: int) -> AsyncIterator[bytes]:
        item, size = self._item(info.kind, info.request_id), self.chunk_bytes
        pos = start
        while pos < stop:
            n, offset = divmod(pos, size)
            end = min(stop - n * size, size)  # exclusive, within chunk n
            try:
                piece = await self._client.getrange(self._k(f"{item}:{n}"), offset, end - 1)
            except _ERRORS as exc:
                raise MediaUnavailable(f"redis: {type(exc).__name__}") from exc
            if len(piece) != end - offset:
                raise MediaUnavailable(f"{info.kind} {info.request_id}: chunk {n} expired while being read")
            pos += len(piece)
            yield piece

    # -- housekeeping --------------------------------------------------------------------------------------------
    async def cleanup(self) -> dict:
        """Forget expired items in the accounting (their keys expired by themselves); evict past the total cap."""
        try:
            evicted = await self._enforce("", 0, 0, now_ms())
            total = int(await self._client.get(self._k("total")) or 0)
        except _ERRORS as exc:
            return {"ok": False, "error": type(exc).__name__}
        return {"ok": True, "evicted": evicted, "total_bytes": total}

    async def health(self) -> dict:
        try:
            await asyncio.wait_for(self._client.ping(), 2.0)
            total = int(await self._client.get(self._k("total")) or 0)
        except _ERRORS as exc:
            return {"backend": self.backend, "ok": False, "error": f"{type(exc).__name__}"}
        return {"backend": self.backend, "ok": True, "error": None, "total_bytes": total,
                "max_total_bytes": self.max_total_bytes}

    async def close(self) -> None:
        await self._client.aclose()
