"""Whole-line cache: exact-match, content-addressed entries of PCM + timeline.

Backends: :class:`DiskLineCache` (embedded SQLite, default), :class:`RedisLineCache` (shared),
:class:`NullCache` (disabled). Build one with :func:`build_cache`; key lines with :func:`line_key`.
"""

from gateway.cache.base import CachedLine, CacheHealth, CorruptEntryError, LineCache, NullCache
from gateway.cache.disk import DiskLineCache
from gateway.cache.factory import build_cache
from gateway.cache.key import KEY_SCHEMA_VERSION, line_key, normalize_text
from gateway.cache.redis_cache import RedisLineCache

__all__ = [
    "KEY_SCHEMA_VERSION",
    "CacheHealth",
    "CachedLine",
    "CorruptEntryError",
    "DiskLineCache",
    "LineCache",
    "NullCache",
    "RedisLineCache",
    "build_cache",
    "line_key",
    "normalize_text",
]
