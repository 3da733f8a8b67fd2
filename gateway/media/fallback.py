"""A shared media store (Redis, S3) with this replica's disk behind it, so an outage of the shared store never
costs a line its ``audio_url``.

* ``put``: into the shared store; when that fails (unreachable, or the item is past its per-item cap), onto the
  local disk instead (logged, counted as ``fallback`` in ``mouthpiece_media_writes_total``).
* ``info``: the shared store first; what it does not have (or cannot be asked now) is looked up on the local disk.
  When neither has it and the shared store could not be asked, :class:`MediaUnavailable` (HTTP 503): behind
  HAProxy, ``retry-on 503`` then sends the fetch to another replica, which is where such an item lives.
* ``read``: from whichever store the item was found in (``MediaInfo.source``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import structlog

from gateway.media.store import MediaInfo, MediaKind, MediaStore, MediaTooLarge, MediaUnavailable
from gateway.observability.metrics import MEDIA_WRITES

log = structlog.get_logger(__name__)


class WithLocalFallback(MediaStore):
    def __init__(self, shared: MediaStore, local: MediaStore) -> None:
        self.shared = shared
        self.local = local
        self.backend = shared.backend

    async def start(self) -> None:
        await self.local.start()
        await self.shared.start()

    async def put(self, kind: MediaKind, request_id: str, data: bytes, media_type: str, extension: str) -> MediaInfo:
        try:
            return await self.shared.put(kind, request_id, data, media_type, extension)
        except MediaTooLarge as exc:
            why = str(exc)
        except ValueError:
            raise  # not a request id: the caller's bug, not an outage
        except Exception as exc:  # noqa: BLE001 - any failure of the shared store: keep the item here
            why = type(exc).__name__
        MEDIA_WRITES.labels(kind.value, self.backend, "fallback").inc()
        log.warning("media_store_fallback", kind=kind.value, backend=self.backend, to=self.local.backend, error=why)
        return await self.local.put(kind, request_id, data, media_type, extension)

    async def info(self, kind: MediaKind, request_id: str) -> MediaInfo | None:
        unavailable: MediaUnavailable | None = None
        try:
            found = await self.shared.info(kind, request_id)
        except MediaUnavailable as exc:
            found, unavailable = None, exc
        if found is not None:
            return found
        found = await self.local.info(kind, request_id)
        if found is None and unavailable is not None:
            raise unavailable
        return found

    def read(self, info: MediaInfo, start: int, stop: int) -> AsyncIterator[bytes]:
        store = self.local if info.source == self.local.backend else self.shared
        return store.read(info, start, stop)

    async def cleanup(self) -> dict:
        return {**await self.local.cleanup(), self.backend: await self.shared.cleanup()}

    async def probe(self, nbytes: int = 1) -> None:
        """Writable while either is: the shared store, else this replica's disk behind it."""
        try:
            await self.shared.probe(nbytes)
        except Exception:  # noqa: BLE001 - writes fall back to the local disk
            await self.local.probe(nbytes)

    async def health(self) -> dict:
        return {**await self.shared.health(), "fallback": self.local.backend}

    async def close(self) -> None:
        await self.shared.close()
        await self.local.close()
