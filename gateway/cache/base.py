"""The line cache interface and its stored entry, :class:`CachedLine`.

Entry wire format (all backends store the same bytes)::

    offset  size  field
    0       4     magic b"MPLC"
    4       2     entry format version (big-endian u16), currently 1
    6       2     reserved (0)
    8       4     length of the JSON metadata in bytes (u32)
    12      4     length of the PCM in bytes (u32)
    16      32    SHA-256 of (metadata || PCM)
    48      ...   metadata (UTF-8 JSON: sample_rate, provider, created_at, timeline, meta)
    ...     ...   PCM, s16le mono

An entry whose magic, version, lengths or checksum do not match is *corrupt*:
:meth:`CachedLine.from_bytes` raises :class:`CorruptEntryError` and backends treat it as a miss
(and drop it). A corrupt or truncated entry is never served.
"""

from __future__ import annotations

import hashlib
import json
import logging
import struct
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

from gateway.core.timeline import Timeline, samples_to_ms

MAGIC = b"MPLC"
ENTRY_FORMAT_VERSION = 1
_HEADER = struct.Struct(">4sHHII32s")
HEADER_SIZE = _HEADER.size  # 48


class CorruptEntryError(ValueError):
    """A stored entry failed validation (bad magic/version, wrong length, checksum mismatch)."""


@dataclass(frozen=True, slots=True)
class CachedLine:
    """One whole synthesized line: PCM s16le mono, its timeline, and where it came from."""

    pcm: bytes
    sample_rate: int
    timeline: Timeline
    provider: str  #: provider instance that synthesized it (e.g. "piper")
    created_at: float = field(default_factory=time.time)  #: unix seconds
    meta: dict = field(default_factory=dict)  #: free-form JSON-able extras (family, voice, ...)

    @property
    def num_samples(self) -> int:
        return len(self.pcm) // 2

    @property
    def duration_ms(self) -> int:
        return samples_to_ms(self.num_samples, self.sample_rate)

    def to_bytes(self) -> bytes:
        if len(self.pcm) % 2:
            raise ValueError("PCM s16le must have an even number of bytes")
        if self.sample_rate <= 0:
            raise ValueError("sample_rate must be positive")
        metadata = json.dumps(
            {"sample_rate": self.sample_rate, "provider": self.provider, "created_at": self.created_at,
             "timeline": self.timeline.to_dict(), "meta": self.meta},
            ensure_ascii=False, separators=(",", ":"),
        ).encode("utf-8")
        digest = hashlib.sha256()
        digest.update(metadata)
        digest.update(self.pcm)
        header = _HEADER.pack(MAGIC, ENTRY_FORMAT_VERSION, 0, len(metadata), len(self.pcm), digest.digest())
        return b"".join((header, metadata, self.pcm))

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview) -> "CachedLine":
        data = memoryview(data)
        if len(data) < HEADER_SIZE:
            raise CorruptEntryError("entry shorter than its header")
        magic, version, _reserved, meta_len, pcm_len, checksum = _HEADER.unpack_from(data)
        if magic != MAGIC:
            raise CorruptEntryError("bad magic")
        if version != ENTRY_FORMAT_VERSION:
            raise CorruptEntryError(f"unsupported entry format version {version}")
        if len(data) != HEADER_SIZE + meta_len + pcm_len:
            raise CorruptEntryError(f"length mismatch: {len(data)} bytes, header says {HEADER_SIZE + meta_len + pcm_len}")
        if pcm_len % 2:
            raise CorruptEntryError("odd PCM length")
        metadata = data[HEADER_SIZE:HEADER_SIZE + meta_len]
        pcm = data[HEADER_SIZE + meta_len:]
        digest = hashlib.sha256()
        digest.update(metadata)
        digest.update(pcm)
        if digest.digest() != checksum:
            raise CorruptEntryError("checksum mismatch")
        try:
            meta = json.loads(bytes(metadata).decode("utf-8"))
            return cls(
                pcm=bytes(pcm),
                sample_rate=int(meta["sample_rate"]),
                timeline=Timeline.from_dict(meta["timeline"]),
                provider=str(meta["provider"]),
                created_at=float(meta["created_at"]),
                meta=dict(meta.get("meta") or {}),
            )
        except (ValueError, KeyError, TypeError) as exc:  # checksum matched but content is not ours
            raise CorruptEntryError(f"bad metadata: {exc}") from exc


@dataclass(frozen=True, slots=True)
class CacheHealth:
    """``ok`` false means the backend cannot serve right now; ``reason`` says why."""

    ok: bool
    backend: str
    reason: str = ""
    detail: dict = field(default_factory=dict)


def encode_entry(line: CachedLine, key: str, backend: str, counters: dict[str, int]) -> bytes | None:
    """``line`` as entry bytes, or ``None`` (logged and counted as ``put_dropped``) when it is not a valid line."""
    try:
        return line.to_bytes()
    except ValueError as exc:
        logging.getLogger(__name__).warning("%s line cache: not storing invalid line %s: %s", backend, key[:16], exc)
        counters["put_dropped"] += 1
        return None


class LineCache(ABC):
    """Async line cache. Implementations never raise into the request path: a backend failure is a
    miss on :meth:`get`, a dropped write on :meth:`put`, and shows up in :meth:`health`."""

    #: Backend name ("disk", "redis", "null").
    backend: str = ""

    @abstractmethod
    async def get(self, key: str) -> CachedLine | None:
        """The entry under ``key``, or ``None`` on a miss (absent, corrupt, or backend down)."""

    @abstractmethod
    async def put(self, key: str, line: CachedLine) -> bool:
        """Store ``line`` under ``key`` atomically (replacing any entry). True when it was stored."""

    @abstractmethod
    async def delete(self, key: str) -> None:
        """Remove the entry under ``key`` if present."""

    @abstractmethod
    async def stats(self) -> dict:
        """Counters (hits, misses, puts, errors, ...) and backend figures (entries, bytes)."""

    @abstractmethod
    async def health(self) -> CacheHealth:
        """Whether the backend can serve now (cheap)."""

    async def probe(self) -> None:
        """Try a write now, so an outage (and its end) shows in :meth:`health` without waiting for traffic.
        Never raises. The default does nothing (Redis's :meth:`health` pings already)."""

    async def close(self) -> None:
        """Release connections / threads."""

    async def __aenter__(self) -> "LineCache":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class NullCache(LineCache):
    """The cache when ``cache_enabled`` is false: never stores, always misses."""

    backend = "null"

    async def get(self, key: str) -> CachedLine | None:
        return None

    async def put(self, key: str, line: CachedLine) -> bool:
        return False

    async def delete(self, key: str) -> None:
        return None

    async def stats(self) -> dict:
        return {"backend": self.backend, "enabled": False}

    async def health(self) -> CacheHealth:
        return CacheHealth(ok=True, backend=self.backend, reason="cache disabled")


class OutageLog:
    """Tracks a backend outage so it is logged once when it starts and once when it ends."""

    def __init__(self, logger: logging.Logger, what: str) -> None:
        self._logger = logger
        self._what = what
        self.down_since: float | None = None
        self.last_failure_at: float = 0.0
        self.reason: str = ""
        self.failures: int = 0

    @property
    def down(self) -> bool:
        return self.down_since is not None

    def failure(self, exc: BaseException | str) -> None:
        self.failures += 1
        self.last_failure_at = time.monotonic()
        self.reason = exc if isinstance(exc, str) else (f"{type(exc).__name__}: {exc}".rstrip(": ") or type(exc).__name__)
        if self.down_since is None:
            self.down_since = time.time()
            self._logger.warning("%s unavailable, serving misses and dropping writes: %s", self._what, self.reason)

    def success(self) -> None:
        if self.down_since is not None:
            self._logger.warning("%s recovered after %.1f s", self._what, time.time() - self.down_since)
            self.down_since = None
