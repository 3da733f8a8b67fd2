"""The media store as health sees it: every write's outcome and a periodic write probe, so a store that cannot
write (a read-only directory, a full disk, an unreachable Redis or bucket) shows in ``/api/health`` within one
probe interval, and its recovery too, with or without traffic.

:class:`MonitoredStore` wraps the configured store (:func:`monitored`). A failed ``put`` marks it down at once
(the line is still served: the speak step then returns its audio inline, reason ``media_unwritable``); the probe
(:meth:`MediaStore.probe`: for the disk, a small file written and removed in each directory) marks it up again.
A probe after a failed write writes at least as many bytes as that write (capped), so a disk with a few
kilobytes left does not read as recovered while real items still fail.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import structlog

from gateway.media.store import MediaInfo, MediaKind, MediaStore

log = structlog.get_logger(__name__)
#: Largest probe written after a failed write (bytes).
MAX_PROBE_BYTES = 1 << 20


def describe(exc: BaseException) -> str:
    """``OSError: No space left on device`` (no paths: they are in the store's own health detail)."""
    why = getattr(exc, "strerror", None) or str(exc).split(":")[0][:120]
    return f"{type(exc).__name__}: {why}" if why else type(exc).__name__


@dataclass(slots=True)
class StoreState:
    """Up or down, since when, and the last error (kept after recovery, for the operator)."""

    up: bool = True
    since: float | None = None  #: epoch s of the last change
    last_error: str | None = None
    last_error_at: float | None = None
    failures: int = 0  #: writes and probes that failed, since start

    def failed(self, why: str) -> bool:
        """Record a failure; True when this starts an outage."""
        self.failures += 1
        self.last_error, self.last_error_at = why, time.time()
        if self.up:
            self.up, self.since = False, time.time()
            return True
        return False

    def succeeded(self) -> bool:
        """Record a success; True when this ends an outage."""
        if not self.up:
            self.up, self.since = True, time.time()
            return True
        return False


class MonitoredStore(MediaStore):
    def __init__(self, inner: MediaStore) -> None:
        self.inner = inner
        self.backend = inner.backend
        self.state = StoreState()
        self._probe_bytes = 1

    async def start(self) -> None:
        try:
            await self.inner.start()
        except Exception as exc:
            self._down("start", exc)
            raise

    async def put(self, kind: MediaKind, request_id: str, data: bytes, media_type: str, extension: str) -> MediaInfo:
        try:
            info = await self.inner.put(kind, request_id, data, media_type, extension)
        except ValueError:
            raise  # a bad request id or an item past the cap: not an outage
        except Exception as exc:
            self._probe_bytes = max(self._probe_bytes, min(len(data), MAX_PROBE_BYTES))
            self._down("write", exc)
            raise
        if self.state.succeeded():
            log.warning("media_store_recovered", backend=self.backend, by="write")
        return info

    async def probe(self) -> None:
        try:
            await self.inner.probe(self._probe_bytes)
        except Exception as exc:  # noqa: BLE001 - any failure of the probe is the store's state
            self._down("probe", exc)
            return
        if self.state.succeeded():
            self._probe_bytes = 1
            log.warning("media_store_recovered", backend=self.backend, by="probe")

    def _down(self, what: str, exc: BaseException) -> None:
        if self.state.failed(describe(exc)):
            log.warning("media_store_unwritable", backend=self.backend, on=what, error=self.state.last_error)

    async def info(self, kind: MediaKind, request_id: str) -> MediaInfo | None:
        return await self.inner.info(kind, request_id)

    def read(self, info: MediaInfo, start: int, stop: int) -> AsyncIterator[bytes]:
        return self.inner.read(info, start, stop)

    async def cleanup(self) -> dict:
        return await self.inner.cleanup()

    async def health(self) -> dict:
        own = await self.inner.health()
        s = self.state
        # Up while lines' audio can be kept: a shared store that is down while its local fallback writes is up here
        # (its own state is under backend_ok / backend_error).
        return {**own, "backend_ok": own.get("ok", True), "backend_error": own.get("error"), "ok": s.up,
                "status": "up" if s.up else "down", "error": None if s.up else s.last_error, "since": s.since,
                "last_error": s.last_error, "last_error_at": s.last_error_at, "failures": s.failures}

    async def close(self) -> None:
        await self.inner.close()


def monitored(store: MediaStore) -> MonitoredStore:
    return store if isinstance(store, MonitoredStore) else MonitoredStore(store)
