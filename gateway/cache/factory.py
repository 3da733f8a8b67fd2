"""Pick the line cache backend from settings."""

from __future__ import annotations

from pathlib import Path

from gateway.cache.base import LineCache, NullCache
from gateway.cache.disk import DiskLineCache
from gateway.cache.redis_cache import RedisLineCache
from gateway.settings import Settings


def disk_cache_path(settings: Settings) -> Path:
    """Where the embedded cache lives: ``<data_dir>/cache/lines.sqlite3``."""
    return settings.data_dir / "cache" / "lines.sqlite3"


def build_cache(settings: Settings) -> LineCache:
    """``NullCache`` when ``cache_enabled`` is false; Redis when ``redis_url`` is set; else SQLite on disk.

    Optional settings read when present: ``cache_max_bytes`` (disk bound, default 512 MiB) and
    ``cache_ttl_s`` (Redis expiry, default none).
    """
    if not settings.cache.enabled:
        return NullCache()
    if settings.redis_url:
        return RedisLineCache(settings.redis_url, ttl_s=settings.cache.ttl_s)
    return DiskLineCache(disk_cache_path(settings),
                         max_bytes=settings.cache.max_bytes)
