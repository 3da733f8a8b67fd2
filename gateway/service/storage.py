"""Where rendered media and the line cache stand, for ``/api/health`` and readiness.

Each health pass (at most once per ``GATEWAY_STORAGE_PROBE_INTERVAL_S``) asks both to try a small write
(:meth:`MonitoredStore.probe`, :meth:`LineCache.probe`), so a read-only directory or a full disk shows within one
health interval of happening, and its end too, whether or not lines are being spoken. A failed media write in the
request path marks the store down at once. Neither takes a line down: without the media store a line's audio is
served inline (``audio_base64``, reason ``media_unwritable``); without the cache every line is a miss and nothing
is stored (cache bypassed).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from gateway.cache.base import LineCache
from gateway.media.monitored import MonitoredStore


@dataclass(slots=True)
class StorageReport:
    media: dict
    cache: dict | None  #: None when the line cache is off
    warnings: list[str] = field(default_factory=list)

    @property
    def media_up(self) -> bool:
        return self.media.get("status") == "up"

    @property
    def cache_up(self) -> bool:
        return self.cache is None or self.cache.get("status") == "up"


class StorageWatch:
    def __init__(self, media: MonitoredStore, cache: LineCache | None, probe_interval_s: float = 1.0) -> None:
        self.media = media
        self.cache = cache
        self.probe_interval_s = probe_interval_s
        self._probed_at = float("-inf")
        self._task: asyncio.Task | None = None

    async def probe(self) -> None:
        """Probe both now."""
        self._probed_at = time.monotonic()
        await asyncio.gather(self.media.probe(), *([self.cache.probe()] if self.cache is not None else []))

    def probe_soon(self) -> None:
        """Start a probe in the background when one is due (health is asked often, and a store that hangs must not
        hold up ``/api/health``: the report shows what the last probe and the last writes found)."""
        if (self._task is None or self._task.done()) and time.monotonic() - self._probed_at >= self.probe_interval_s:
            self._task = asyncio.get_running_loop().create_task(self.probe(), name="storage-probe")

    async def report(self) -> StorageReport:
        self.probe_soon()
        media = await self.media.health()
        warnings = []
        if media.get("status") != "up":
            warnings.append(f"media_unwritable: {media.get('error') or 'unhealthy'} (audio served inline)")
        cache = None
        if self.cache is not None:
            own = await self.cache.health()
            cache = {"backend": own.backend, "status": "up" if own.ok else "down", "ok": own.ok,
                     "error": own.reason or None if not own.ok else None, **own.detail}
            if not own.ok:
                warnings.append(f"cache_unavailable: {own.reason or 'unhealthy'} (cache bypassed)")
        return StorageReport(media, cache, warnings)
