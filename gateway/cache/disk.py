"""The embedded default line cache: one SQLite file (WAL) under ``<data_dir>/cache/lines.sqlite3``.

* **Atomic writes.** Each put is one ``BEGIN IMMEDIATE … COMMIT`` transaction that writes the
  whole entry (and evicts, if needed). A crash at any point leaves either the old state or the
  new one; SQLite's journal rolls back a half transaction on next open. Entries also carry a
  SHA-256 checksum (:class:`~gateway.cache.base.CachedLine`), so a damaged row is a miss, never served.
* **Concurrency.** Blocking SQLite calls run on two dedicated threads, each with its own
  connection: one for reads, one for writes, so a get never waits behind a put in this process.
  In WAL mode readers never block the writer and vice versa; several processes may share the
  file (writers serialize on SQLite's lock, waiting up to ``busy_timeout_s``).
* **Size bound.** Total entry bytes are kept at most ``max_bytes``. When a put goes over, the
  least recently used entries are deleted (in the same transaction) down to 90 % of the bound.
  "Recently used" is refreshed on a hit at most every ``touch_interval_s`` (LRU-ish), so hits
  rarely write.
* **Never raises into the request path.** A SQLite error on get is a miss, on put a dropped write;
  both are logged once per outage and reported by :meth:`DiskLineCache.health`.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from gateway.cache.base import CachedLine, CacheHealth, CorruptEntryError, LineCache, OutageLog, encode_entry

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_MAX_BYTES = 512 * 1024 * 1024
SCHEMA_VERSION = 1
_LOW_WATERMARK = 0.9

_SCHEMA = """
CREATE TABLE IF NOT EXISTS lines (
    key         TEXT PRIMARY KEY,
    entry       BLOB NOT NULL,
    size        INTEGER NOT NULL,
    created_at  REAL NOT NULL,
    accessed_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS lines_by_access ON lines(accessed_at);
CREATE TABLE IF NOT EXISTS totals (
    id      INTEGER PRIMARY KEY CHECK (id = 0),
    bytes   INTEGER NOT NULL,
    entries INTEGER NOT NULL
);
INSERT OR IGNORE INTO totals (id, bytes, entries) VALUES (0, 0, 0);
CREATE TRIGGER IF NOT EXISTS lines_after_insert AFTER INSERT ON lines BEGIN
    UPDATE totals SET bytes = bytes + NEW.size, entries = entries + 1 WHERE id = 0;
END;
CREATE TRIGGER IF NOT EXISTS lines_after_delete AFTER DELETE ON lines BEGIN
    UPDATE totals SET bytes = bytes - OLD.size, entries = entries - 1 WHERE id = 0;
END;
CREATE TRIGGER IF NOT EXISTS lines_after_update AFTER UPDATE OF size ON lines BEGIN
    UPDATE totals SET bytes = bytes - OLD.size + NEW.size WHERE id = 0;
END;
"""

_UPSERT = """
INSERT INTO lines (key, entry, size, created_at, accessed_at) VALUES (?, ?, ?, ?, ?)
ON CONFLICT(key) DO UPDATE SET entry = excluded.entry, size = excluded.size,
    created_at = excluded.created_at, accessed_at = excluded.accessed_at
"""


class DiskLineCache(LineCache):
    """SQLite-backed :class:`LineCache`. ``path`` is the database file (its folder is created)."""

    backend = "disk"

    def __init__(self, path: str | Path, *, max_bytes: int = DEFAULT_MAX_BYTES, busy_timeout_s: float = 5.0,
                 touch_interval_s: float = 60.0) -> None:
        if max_bytes <= 0:
            raise ValueError("max_bytes must be positive")
        self.path = Path(path)
        self.max_bytes = int(max_bytes)
        self.busy_timeout_s = busy_timeout_s
        self.touch_interval_s = touch_interval_s
        self._reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="linecache-read")
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="linecache-write")
        self._local = threading.local()
        self._conns: list[sqlite3.Connection] = []
        self._conns_lock = threading.Lock()
        self._schema_ready = False
        self._schema_lock = threading.Lock()
        self._closed = False
        self._pending_touch: set[str] = set()
        self._outage = OutageLog(log, f"disk line cache {self.path}")
        self._write_failed = False  #: the outage is of writes: only a write (or the probe) ends it
        self._counters = {"hits": 0, "misses": 0, "puts": 0, "put_dropped": 0, "corrupt": 0, "too_large": 0,
                          "errors": 0, "evicted": 0}

    # -- connection handling (runs on the worker threads) --------------------------------------

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            self._ensure_schema()
            conn = self._connect()
            self._local.conn = conn
        return conn

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: autocommit; transactions are explicit (BEGIN IMMEDIATE … COMMIT).
        conn = sqlite3.connect(self.path, timeout=self.busy_timeout_s, isolation_level=None,
                               check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_s * 1000)}")
        conn.execute("PRAGMA synchronous = NORMAL")  # WAL + NORMAL: consistent after any crash
        with self._conns_lock:
            self._conns.append(conn)
        return conn

    def _ensure_schema(self) -> None:
        with self._schema_lock:
            if self._schema_ready:
                return
            conn = self._connect()
            try:
                deadline = time.monotonic() + self.busy_timeout_s
                while True:
                    try:
                        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                        break
                    except sqlite3.OperationalError as exc:  # another process is switching it right now
                        if "locked" not in str(exc) or time.monotonic() > deadline:
                            raise
                        time.sleep(0.05)
                if str(mode).lower() != "wal":
                    log.warning("disk line cache %s: journal_mode is %s, not WAL", self.path, mode)
                conn.execute("BEGIN IMMEDIATE")
                try:
                    for statement in _split_sql(_SCHEMA):
                        conn.execute(statement)
                    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
            finally:
                with self._conns_lock:
                    self._conns.remove(conn)
                conn.close()
            self._schema_ready = True

    async def _run(self, executor: ThreadPoolExecutor, fn: Callable[..., T], *args: object) -> T:
        return await asyncio.get_running_loop().run_in_executor(executor, fn, *args)

    # -- synchronous operations --------------------------------------------------------------------

    def _get_sync(self, key: str) -> tuple[CachedLine | None, bytes | None, float]:
        row = self._conn().execute("SELECT entry, accessed_at FROM lines WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None, None, 0.0
        entry, accessed_at = row
        try:
            return CachedLine.from_bytes(entry), None, accessed_at
        except CorruptEntryError as exc:
            log.warning("disk line cache: dropping corrupt entry %s: %s", key[:16], exc)
            return None, bytes(entry), accessed_at

    def _put_sync(self, key: str, entry: bytes, created_at: float) -> int:
        conn = self._conn()
        now = time.time()
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(_UPSERT, (key, entry, len(entry), created_at, now))
            evicted = 0
            total = conn.execute("SELECT bytes FROM totals WHERE id = 0").fetchone()[0]
            if total > self.max_bytes:
                evicted = self._evict(conn, key, total - int(self.max_bytes * _LOW_WATERMARK))
            conn.execute("COMMIT")
            return evicted
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    @staticmethod
    def _evict(conn: sqlite3.Connection, keep: str, excess: int) -> int:
        victims: list[tuple[str]] = []
        freed = 0
        for victim, size in conn.execute("SELECT key, size FROM lines ORDER BY accessed_at LIMIT -1"):
            if freed >= excess:
                break
            if victim == keep:
                continue
            victims.append((victim,))
            freed += size
        conn.executemany("DELETE FROM lines WHERE key = ?", victims)
        return len(victims)

    def _delete_sync(self, key: str, only_if_entry: bytes | None = None) -> None:
        if only_if_entry is None:
            self._conn().execute("DELETE FROM lines WHERE key = ?", (key,))
        else:
            self._conn().execute("DELETE FROM lines WHERE key = ? AND entry = ?", (key, only_if_entry))

    def _touch_sync(self, key: str) -> None:
        try:
            self._conn().execute("UPDATE lines SET accessed_at = ? WHERE key = ?", (time.time(), key))
        finally:
            self._pending_touch.discard(key)

    def _totals_sync(self) -> tuple[int, int]:
        bytes_, entries = self._conn().execute("SELECT bytes, entries FROM totals WHERE id = 0").fetchone()
        return int(bytes_), int(entries)

    def _close_sync(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            self._local.conn = None
            with self._conns_lock:
                if conn in self._conns:
                    self._conns.remove(conn)
            conn.close()

    # -- LineCache ----------------------------------------------------------------------------------

    async def get(self, key: str) -> CachedLine | None:
        if self._closed:
            return None
        try:
            line, corrupt, accessed_at = await self._run(self._reader, self._get_sync, key)
        except Exception as exc:  # noqa: BLE001 - a broken cache is a miss, never an error
            self._failure(exc)
            self._counters["misses"] += 1
            return None
        self._read_ok()
        if corrupt is not None:
            self._counters["corrupt"] += 1
            self._counters["misses"] += 1
            try:
                await self._run(self._writer, self._delete_sync, key, corrupt)
            except Exception as exc:  # noqa: BLE001
                self._failure(exc)
            return None
        if line is None:
            self._counters["misses"] += 1
            return None
        self._counters["hits"] += 1
        if time.time() - accessed_at > self.touch_interval_s and key not in self._pending_touch:
            self._pending_touch.add(key)
            self._writer.submit(self._touch_sync, key).add_done_callback(self._ignore_touch_error)
        return line

    async def put(self, key: str, line: CachedLine) -> bool:
        if self._closed:
            return False
        entry = encode_entry(line, key, self.backend, self._counters)
        if entry is None:
            return False
        if len(entry) > self.max_bytes:
            self._counters["too_large"] += 1
            return False
        try:
            evicted = await self._run(self._writer, self._put_sync, key, entry, line.created_at)
        except Exception as exc:  # noqa: BLE001 - a broken cache drops the write
            self._failure(exc, write=True)
            self._counters["put_dropped"] += 1
            return False
        self._write_ok()
        self._counters["puts"] += 1
        self._counters["evicted"] += evicted
        return True

    async def delete(self, key: str) -> None:
        if self._closed:
            return
        try:
            await self._run(self._writer, self._delete_sync, key)
        except Exception as exc:  # noqa: BLE001
            self._failure(exc, write=True)

    async def stats(self) -> dict:
        out: dict = {"backend": self.backend, "path": str(self.path), "max_bytes": self.max_bytes, **self._counters}
        if not self._closed:
            try:
                out["bytes"], out["entries"] = await self._run(self._reader, self._totals_sync)
            except Exception as exc:  # noqa: BLE001
                self._failure(exc)
        out["last_error"] = self._outage.reason
        return out

    async def health(self) -> CacheHealth:
        if self._closed:
            return CacheHealth(ok=False, backend=self.backend, reason="closed")
        try:
            size, entries = await self._run(self._reader, self._totals_sync)
        except Exception as exc:  # noqa: BLE001
            self._failure(exc)
            return CacheHealth(ok=False, backend=self.backend, reason=self._outage.reason,
                               detail={"path": str(self.path)})
        detail = {"path": str(self.path), "bytes": size, "entries": entries, "max_bytes": self.max_bytes}
        if self._outage.down:  # reads work but the last write failed (disk full, lock timeout, ...)
            return CacheHealth(ok=False, backend=self.backend, reason=self._outage.reason, detail=detail)
        return CacheHealth(ok=True, backend=self.backend, detail=detail)

    async def probe(self) -> None:
        """A tiny write transaction: an unwritable file or a full disk fails it, its end clears the outage."""
        if self._closed:
            return
        try:
            await self._run(self._writer, self._probe_sync)
        except Exception as exc:  # noqa: BLE001 - recorded: health reports it
            self._failure(exc, write=True)
            return
        self._write_ok()

    def _probe_sync(self) -> None:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            # A real change (SQLite skips writing a row that stays the same); its own table, outside the schema.
            conn.execute("CREATE TABLE IF NOT EXISTS health_probe (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)")
            conn.execute("INSERT INTO health_probe VALUES (0, 1) ON CONFLICT(id) DO UPDATE SET n = (n + 1) % 1000000")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        loop = asyncio.get_running_loop()
        for executor in (self._reader, self._writer):
            try:
                await loop.run_in_executor(executor, self._close_sync)
            except Exception:  # noqa: BLE001
                pass
        await asyncio.to_thread(self._shutdown_executors)

    def _shutdown_executors(self) -> None:
        self._reader.shutdown(wait=True)
        self._writer.shutdown(wait=True)

    # -- helpers -------------------------------------------------------------------------------------

    def _failure(self, exc: BaseException, write: bool = False) -> None:
        self._counters["errors"] += 1
        self._write_failed = self._write_failed or write
        self._outage.failure(exc)

    def _read_ok(self) -> None:
        """A read worked: that ends an outage of reads, not one of writes (an unwritable file reads fine)."""
        if not self._write_failed:
            self._outage.success()

    def _write_ok(self) -> None:
        self._write_failed = False
        self._outage.success()

    def _ignore_touch_error(self, fut: Future) -> None:
        exc = fut.exception()
        if exc is not None:  # a missed touch only makes eviction slightly less accurate
            log.debug("disk line cache: touch failed: %s", exc)


def _split_sql(script: str) -> list[str]:
    """Split the schema script into statements (trigger bodies contain ``;`` inside BEGIN…END)."""
    statements: list[str] = []
    buf = ""
    for line in script.strip().splitlines():
        buf += line + "\n"
        if sqlite3.complete_statement(buf):
            statements.append(buf.strip())
            buf = ""
    return statements
