"""The Redis side of the video pool: a job stream with one consumer group, payloads, results, registrations.

Keys (``P`` = the prefix, default ``mouthpiece:video:``):

- ``P jobs``: stream of job entries (metadata only), consumer group ``renderers``;
- ``P job:<job_id>``: hash ``{wav, visemes}`` with a TTL just past the job's deadline (deleting it
  cancels the job: a dispatcher that finds no payload drops the entry);
- ``P result:<job_id>``: list the submitter ``BLPOP``s: one item, ``<JSON header>\\n<mp4 bytes>``;
- ``P worker:<worker_id>``: a worker's registration (JSON, expires unless its heartbeat refreshes it),
  ids in the set ``P workers``.

Delivery: a dispatcher reads with ``XREADGROUP`` and keeps its lease by re-claiming the entry to
itself (``XCLAIM`` resets the idle time) while the worker renders; it ``XACK``s + ``XDEL``s when
the job is done. If the dispatcher's process dies, the entry stays pending, goes idle, and any
other dispatcher takes it with ``XAUTOCLAIM`` after ``claim_idle_s``. If the worker dies, the
dispatcher sees the dropped connection and requeues the job at once (``XADD`` a copy with
``attempt + 1``, ``XACK`` + ``XDEL`` the old one, in one ``MULTI``).
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass

GROUP = "renderers"
STREAM_MAXLEN = 10_000


def worker_key(prefix: str, worker_id: str) -> str:
    return f"{prefix}worker:{worker_id}"


def workers_set_key(prefix: str) -> str:
    return f"{prefix}workers"


@dataclass(slots=True)
class Delivery:
    msg_id: str
    fields: dict[str, str]
    claimed: bool = False  #: taken over from another consumer (XAUTOCLAIM)

    @property
    def job_id(self) -> str:
        return self.fields["job_id"]

    @property
    def attempt(self) -> int:
        return int(self.fields.get("attempt", "1"))

    @property
    def deadline_at(self) -> float:
        return float(self.fields["deadline_at"])


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class JobQueue:
    def __init__(self, redis_url: str, prefix: str) -> None:
        import redis.asyncio as aioredis

        self.prefix = prefix
        self.stream = f"{prefix}jobs"
        self.r = aioredis.from_url(redis_url, socket_timeout=3, socket_connect_timeout=1)
        # blocking reads (XREADGROUP BLOCK, BLPOP) need a client without a socket timeout
        self.rb = aioredis.from_url(redis_url, socket_timeout=None, socket_connect_timeout=1)

    async def close(self) -> None:
        await self.r.aclose()
        await self.rb.aclose()

    def payload_key(self, job_id: str) -> str:
        return f"{self.prefix}job:{job_id}"

    def result_key(self, job_id: str) -> str:
        return f"{self.prefix}result:{job_id}"

    async def ensure_group(self) -> None:
        from redis.exceptions import ResponseError

        try:
            await self.r.xgroup_create(self.stream, GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def ping(self) -> bool:
        return bool(await self.r.ping())

    # -- submitting side -------------------------------------------------------------------------
    async def submit(self, *, request_id: str, wav: bytes, visemes: list[dict] | None, avatar_id: str | None,
                     emotion: str | None, deadline_at: float, audio_s: float) -> str:
        """Queue a job; returns its id (wait for it with :meth:`wait`)."""
        job_id = uuid.uuid4().hex
        ttl_ms = max(1000, int((deadline_at - time.time() + 5) * 1000))
        fields = {"job_id": job_id, "request_id": request_id, "avatar_id": avatar_id or "", "emotion": emotion or "",
                  "deadline_at": f"{deadline_at:.3f}", "enqueued_at": f"{time.time():.3f}", "attempt": "1",
                  "audio_s": f"{audio_s:.3f}"}
        async with self.r.pipeline(transaction=True) as pipe:
            pipe.hset(self.payload_key(job_id), mapping={"wav": wav, "visemes": json.dumps(visemes or [])})
            pipe.pexpire(self.payload_key(job_id), ttl_ms)
            pipe.xadd(self.stream, fields, maxlen=STREAM_MAXLEN, approximate=True)
            await pipe.execute()
        return job_id

    async def wait(self, job_id: str, timeout_s: float) -> tuple[dict, bytes] | None:
        """The job's result (header, mp4 bytes or b"") or None when ``timeout_s`` passes first."""
        if timeout_s <= 0:
            return None
        item = await self.rb.blpop([self.result_key(job_id)], timeout=max(0.01, timeout_s))
        if item is None:
            return None
        header, _, data = item[1].partition(b"\n")
        return json.loads(header), data

    async def cancel(self, job_id: str) -> None:
        await self.r.delete(self.payload_key(job_id))

    # -- dispatching side ------------------------------------------------------------------------
    async def read(self, consumer: str, block_ms: int) -> Delivery | None:
        resp = await self.rb.xreadgroup(GROUP, consumer, {self.stream: ">"}, count=1, block=block_ms)
        for _stream, entries in resp or []:
            for msg_id, fields in entries:
                return Delivery(_text(msg_id), {_text(k): _text(v) for k, v in fields.items()})
        return None

    async def claim_stale(self, consumer: str, min_idle_s: float) -> Delivery | None:
        """Take over one entry that another consumer left idle for ``min_idle_s`` (XAUTOCLAIM)."""
        resp = await self.r.xautoclaim(self.stream, GROUP, consumer, int(min_idle_s * 1000), "0-0", count=1)
        entries = resp[1] if len(resp) > 1 else []
        for msg_id, fields in entries:
            if not fields:  # deleted while pending
                await self.r.xack(self.stream, GROUP, msg_id)
                continue
            return Delivery(_text(msg_id), {_text(k): _text(v) for k, v in fields.items()}, claimed=True)
        return None

    async def renew(self, consumer: str, msg_id: str) -> None:
        """Keep the lease: re-claiming to ourselves resets the entry's idle time."""
        await self.r.xclaim(self.stream, GROUP, consumer, 0, [msg_id], justid=True)

    async def payload(self, job_id: str) -> tuple[bytes, list[dict]] | None:
        data = await self.r.hgetall(self.payload_key(job_id))
        if not data or b"wav" not in data:
            return None
        return data[b"wav"], json.loads(data.get(b"visemes", b"[]"))

    async def requeue(self, d: Delivery, attempt: int, note: str) -> None:
        fields = {**d.fields, "attempt": str(attempt), "last_error": note[:200]}
        async with self.r.pipeline(transaction=True) as pipe:
            pipe.xadd(self.stream, fields, maxlen=STREAM_MAXLEN, approximate=True)
            pipe.xack(self.stream, GROUP, d.msg_id)
            pipe.xdel(self.stream, d.msg_id)
            await pipe.execute()

    async def finish(self, d: Delivery, header: dict, data: bytes = b"", ttl_s: float = 60) -> None:
        """Publish the result to the submitter and retire the entry and its payload."""
        key = self.result_key(d.job_id)
        async with self.r.pipeline(transaction=True) as pipe:
            pipe.rpush(key, json.dumps(header).encode() + b"\n" + data)
            pipe.expire(key, max(1, int(ttl_s)))
            pipe.xack(self.stream, GROUP, d.msg_id)
            pipe.xdel(self.stream, d.msg_id)
            pipe.delete(self.payload_key(d.job_id))
            await pipe.execute()

    # -- health ----------------------------------------------------------------------------------
    async def oldest_wait_s(self) -> float:
        """Age of the oldest job no dispatcher has taken yet (0 when none waits)."""
        groups = await self.r.xinfo_groups(self.stream)
        last = next((_text(g["last-delivered-id"]) for g in groups if _text(g["name"]) == GROUP), "0-0")
        entries = await self.r.xrange(self.stream, min=f"({last}", count=1)
        if not entries:
            return 0.0
        sec, usec = await self.r.time()
        first_ms = int(_text(entries[0][0]).split("-")[0])
        return max(0.0, (sec * 1000 + usec / 1000 - first_ms) / 1000)

    async def prune_consumers(self, idle_s: float = 600) -> None:
        """Forget consumers of dead gateways once they hold nothing (keeps XINFO small)."""
        for c in await self.r.xinfo_consumers(self.stream, GROUP):
            if int(c.get("pending", 0)) == 0 and int(c.get("idle", 0)) > idle_s * 1000:
                await self.r.xgroup_delconsumer(self.stream, GROUP, _text(c["name"]))

    async def registered(self) -> list[dict]:
        """Live worker registrations (expired ones are dropped from the id set)."""
        ids = [_text(m) for m in await self.r.smembers(workers_set_key(self.prefix))]
        if not ids:
            return []
        values = await self.r.mget([worker_key(self.prefix, i) for i in ids])
        out, gone = [], []
        for wid, raw in zip(ids, values, strict=True):
            if raw is None:
                gone.append(wid)
                continue
            try:
                info = json.loads(raw)
            except ValueError:
                gone.append(wid)
                continue
            if isinstance(info, dict) and isinstance(info.get("url"), str):
                out.append(info)
        if gone:
            await self.r.srem(workers_set_key(self.prefix), *gone)
        return out
