"""The media store: rendered audio and video, addressed by (kind, request id) only, readable by every replica.

One interface, one module per implementation, chosen by :func:`gateway.media.factory.build_media_store`:

* :class:`~gateway.media.disk.DiskMediaStore` - files under the data dir (the embedded default; shared by the
  worker processes of one machine, not across machines);
* :class:`~gateway.media.redis_store.RedisMediaStore` - Redis (when ``GATEWAY_REDIS_URL`` is set): expiry by TTL,
  per-item and total size caps, large files in chunks;
* :class:`~gateway.media.s3.S3MediaStore` - an S3-compatible object store (when ``GATEWAY_MEDIA_S3_BUCKET`` is set).

No client path ever reaches a backend: a request id is 32 lowercase hex digits, anything else is "not found".
Reads are by byte range (``start`` inclusive, ``stop`` exclusive), so every backend serves HTTP Range requests.
"""

from __future__ import annotations

import asyncio
import re
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from enum import StrEnum

_REQUEST_ID = re.compile(r"^[0-9a-f]{32}$")
#: Bytes handed to the HTTP layer at once when a stored file is streamed out.
READ_CHUNK = 256 * 1024


def valid_request_id(value: str) -> bool:
    return bool(_REQUEST_ID.match(value))


class MediaKind(StrEnum):
    AUDIO = "audio"
    VIDEO = "video"


class MediaTooLarge(ValueError):
    """The item is larger than the store's per-item cap; it is not stored."""


class MediaUnavailable(RuntimeError):
    """The backend cannot be reached: the item may exist, but cannot be read now (HTTP 503, not 404)."""


@dataclass(frozen=True, slots=True)
class Retention:
    """How long items of one kind are kept, and the total bytes they may take (None: no size cap)."""

    ttl_s: int
    max_bytes: int | None = None


@dataclass(frozen=True, slots=True)
class MediaInfo:
    """One stored item: its size, type and when it was written (epoch ms)."""

    kind: MediaKind
    request_id: str
    size: int
    media_type: str
    extension: str
    created_ms: int
    source: str = ""  #: the backend that holds it (``disk``, ``redis``, ``s3``)

    @property
    def etag(self) -> str:
        """Strong validator, the same on every replica (an item is written once per request id)."""
        return f'"{self.request_id[:16]}-{self.size:x}-{self.created_ms:x}"'


def now_ms() -> int:
    return int(time.time() * 1000)


class MediaStore(ABC):
    """Where audio and video results live until their TTL ends."""

    backend: str = "none"

    async def start(self) -> None:
        """Connect / create what is missing (a bucket). Never raises for a backend that is down."""

    @abstractmethod
    async def put(self, kind: MediaKind, request_id: str, data: bytes, media_type: str, extension: str) -> MediaInfo:
        """Keep ``data`` under (kind, request id), replacing what was there. Raises ``ValueError`` for a bad id,
        :class:`MediaTooLarge` past the per-item cap, and the backend's error when it cannot store."""

    @abstractmethod
    async def info(self, kind: MediaKind, request_id: str) -> MediaInfo | None:
        """What is stored under (kind, request id), or None (also for anything that is not a request id, and for an
        expired item). Raises :class:`MediaUnavailable` when the backend cannot be reached."""

    @abstractmethod
    def read(self, info: MediaInfo, start: int, stop: int) -> AsyncIterator[bytes]:
        """Bytes ``[start, stop)`` of a stored item, in pieces of at most :data:`READ_CHUNK`."""

    async def read_all(self, info: MediaInfo) -> bytes:
        return b"".join([piece async for piece in self.read(info, 0, info.size)])

    async def cleanup(self) -> dict:
        """Remove what has expired or is past the size caps; returns counts. Safe to call from every replica."""
        return {}

    async def probe(self, nbytes: int = 1) -> None:
        """Check that the store can write now (``nbytes``: about how much); raises when it cannot. The default asks
        :meth:`health`; the disk writes and removes a small file in each directory."""
        report = await self.health()
        if not report.get("ok", True):
            raise MediaUnavailable(str(report.get("error") or "unhealthy"))

    async def health(self) -> dict:
        """``{"backend", "ok", "error"}`` (and backend details)."""
        return {"backend": self.backend, "ok": True, "error": None}

    async def close(self) -> None:
        """Release connections."""


def check_id(request_id: str) -> None:
    if not valid_request_id(request_id):
        raise ValueError("invalid request id")


async def read_in_thread(read: Callable[[int], bytes], length: int, what: str) -> AsyncIterator[bytes]:
    """``length`` bytes from a blocking ``read(n)`` (a file, an HTTP body), in pieces of at most :data:`READ_CHUNK`,
    each read in a worker thread. Raises :class:`MediaUnavailable` when the source ends early."""
    left = length
    while left > 0:
        piece = await asyncio.to_thread(read, min(READ_CHUNK, left))
        if not piece:
            raise MediaUnavailable(f"{what}: {left} bytes missing")
        left -= len(piece)
        yield piece
