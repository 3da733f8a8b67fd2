"""Registration in the gateway's video pool through Redis: a heartbeat key with a TTL.

Key ``<prefix>worker:<worker_id>`` holds ``{worker_id, url, slots, device, version, contract}``
and expires unless refreshed (every third of the TTL); the id is also in the set
``<prefix>workers``. A worker that dies simply stops refreshing and drops out of the pool.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time

from gateway.video.jobs import worker_key, workers_set_key

log = logging.getLogger("render_worker.registry")


async def heartbeat(redis_url: str, prefix: str, info: dict, ttl_s: float) -> None:
    """Refresh the registration until cancelled; then remove it."""
    import redis.asyncio as aioredis

    client = aioredis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
    key, members = worker_key(prefix, info["worker_id"]), workers_set_key(prefix)
    info = {**info, "registered_at": time.time()}
    try:
        while True:
            try:
                await client.set(key, json.dumps(info), px=int(ttl_s * 1000))
                await client.sadd(members, info["worker_id"])
            except Exception as exc:  # noqa: BLE001 - Redis down: keep trying, the pool ages us out
                log.warning("heartbeat failed: %s", exc)
            await asyncio.sleep(ttl_s / 3)
    finally:
        try:
            await asyncio.wait_for(asyncio.shield(_deregister(client, key, members, info["worker_id"])), 2)
        except Exception:  # noqa: BLE001
            pass
        await client.aclose()


async def _deregister(client, key: str, members: str, worker_id: str) -> None:  # noqa: ANN001
    await client.delete(key)
    await client.srem(members, worker_id)
