"""Media on local disk (the embedded default): one directory per kind, ``<request id>.<extension>`` plus a
``<request id>.type`` sidecar (media type and extension) written last, so a reader never sees half a file.

Every process on the machine sharing the data dir (``gateway serve --workers N``) sees every file; other machines
do not (use Redis or S3 there). Expiry: an item older than its kind's TTL is not served and is deleted by
:meth:`DiskMediaStore.cleanup`, which then deletes the oldest items of a kind past its ``max_bytes``.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

from gateway.media.store import (
    MediaInfo,
    MediaKind,
    MediaStore,
    Retention,
    check_id,
    read_in_thread,
    valid_request_id,
)

TYPE_SUFFIX = ".type"
PART_SUFFIX = ".part"
PART_GRACE_S = 120  #: an unfinished ``.part`` file older than this is a leftover
#: Media up to this size are written on the event loop: a short line's WAV goes to the page cache in less time than
#: the hand-off to a worker thread costs (a thread wake-up and the GIL passed back and forth); larger ones in a thread.
INLINE_PUT_BYTES = 512 * 1024
_PART_NUMBERS = itertools.count()


class DiskMediaStore(MediaStore):
    backend = "disk"

    def __init__(self, dirs: dict[MediaKind, Path], retention: dict[MediaKind, Retention]) -> None:
        self.dirs = dirs
        self.retention = retention

    async def start(self) -> None:
        for path in self.dirs.values():
            path.mkdir(parents=True, exist_ok=True)

    # -- write ---------------------------------------------------------------------------------------------------
    async def put(self, kind: MediaKind, request_id: str, data: bytes, media_type: str, extension: str) -> MediaInfo:
        check_id(request_id)
        if not extension.isalnum():
            raise ValueError("invalid extension")
        if len(data) <= INLINE_PUT_BYTES:
            return self._put(kind, request_id, data, media_type, extension)
        return await asyncio.to_thread(self._put, kind, request_id, data, media_type, extension)

    def _put(self, kind: MediaKind, request_id: str, data: bytes, media_type: str, extension: str) -> MediaInfo:
        root = self.dirs[kind]
        path = root / f"{request_id}.{extension}"
        try:
            _write_atomic(path, data)
        except FileNotFoundError:  # the directory was removed after start(): make it again
            root.mkdir(parents=True, exist_ok=True)
            _write_atomic(path, data)
        _write_atomic(root / f"{request_id}{TYPE_SUFFIX}", f"{media_type}\n{extension}".encode())
        return MediaInfo(kind, request_id, len(data), media_type, extension, int(path.stat().st_mtime * 1000),
                         source=self.backend)

    # -- read ----------------------------------------------------------------------------------------------------
    async def info(self, kind: MediaKind, request_id: str) -> MediaInfo | None:
        if not valid_request_id(request_id) or kind not in self.dirs:
            return None
        return await asyncio.to_thread(self._info, kind, request_id)

    def _info(self, kind: MediaKind, request_id: str) -> MediaInfo | None:
        root = self.dirs[kind]
        try:
            media_type, _, extension = (root / f"{request_id}{TYPE_SUFFIX}").read_text().partition("\n")
            st = (root / f"{request_id}.{extension or 'bin'}").stat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        if time.time() - st.st_mtime > self.retention[kind].ttl_s:
            return None
        return MediaInfo(kind, request_id, st.st_size, media_type, extension, int(st.st_mtime * 1000),
                         source=self.backend)

    def path(self, info: MediaInfo) -> Path:
        return self.dirs[info.kind] / f"{info.request_id}.{info.extension}"

    async def read(self, info: MediaInfo, start: int, stop: int) -> AsyncIterator[bytes]:
        fh = await asyncio.to_thread(open, self.path(info), "rb")
        try:
            fh.seek(start)
            async for piece in read_in_thread(fh.read, stop - start, f"{info.kind} {info.request_id}"):
                yield piece
        finally:
            fh.close()

    # -- expiry --------------------------------------------------------------------------------------------------
    async def cleanup(self) -> dict:
        return await asyncio.to_thread(self.cleanup_now)

    def cleanup_now(self, now: float | None = None) -> dict:
        """Per kind: delete what is past its TTL, then the oldest past ``max_bytes``; leftovers of failed writes."""
        now = time.time() if now is None else now
        out = {}
        for kind, root in self.dirs.items():
            keep = self.retention[kind]
            out[kind.value] = cleanup_dir(root, keep.ttl_s, keep.max_bytes, now)
        return out

    async def probe(self, nbytes: int = 1) -> None:
        await asyncio.to_thread(self._probe, nbytes)

    def _probe(self, nbytes: int) -> None:
        for root in self.dirs.values():
            root.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=root, suffix=PART_SUFFIX)
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(b"\0" * max(1, nbytes))
            finally:
                Path(tmp).unlink(missing_ok=True)

    async def health(self) -> dict:
        return {"backend": self.backend, "ok": True, "error": None,
                "dirs": {kind.value: str(path) for kind, path in self.dirs.items()}}


def _write_atomic(path: Path, data: bytes) -> None:
    """``data`` to a private ``.part`` file beside ``path`` (unique to this process), then renamed over ``path``."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0)
    while True:
        tmp = f"{path}.{os.getpid()}.{next(_PART_NUMBERS)}{PART_SUFFIX}"
        try:
            fd = os.open(tmp, flags, 0o600)
            break
        except FileExistsError:  # a leftover of an earlier process that had this pid
            continue
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fchmod(fd, 0o644)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def cleanup_dir(root: Path, max_age_s: float, max_bytes: int | None, now: float) -> dict:
    """Delete items older than ``max_age_s``, then the oldest until at most ``max_bytes`` remain.

    An item is its data file and its ``.type`` sidecar. Returns ``{"removed", "freed_bytes", "kept",
    "kept_bytes"}``; files vanishing meanwhile (another process cleaning) are fine.
    """
    removed = freed = 0
    items: list[tuple[float, int, list[Path]]] = []
    try:
        entries = list(os.scandir(root))
    except FileNotFoundError:
        return {"removed": 0, "freed_bytes": 0, "kept": 0, "kept_bytes": 0}
    by_id: dict[str, list[tuple[os.DirEntry, os.stat_result]]] = {}
    for entry in entries:
        try:
            st = entry.stat()
        except OSError:
            continue
        if entry.name.endswith(PART_SUFFIX):
            if now - st.st_mtime > PART_GRACE_S:
                _unlink(Path(entry.path))
            continue
        stem = entry.name.split(".", 1)[0]
        if valid_request_id(stem):
            by_id.setdefault(stem, []).append((entry, st))
    for files in by_id.values():
        data = [(e, st) for e, st in files if not e.name.endswith(TYPE_SUFFIX)]
        mtime = max((st.st_mtime for _, st in data or files), default=now)
        size = sum(st.st_size for _, st in data)
        paths = [Path(e.path) for e, _ in files]
        if now - mtime > max_age_s:
            removed, freed = removed + 1, freed + size
            for path in paths:
                _unlink(path)
            continue
        items.append((mtime, size, paths))
    total = sum(size for _, size, _ in items)
    items.sort(key=lambda item: item[0])
    while items and max_bytes is not None and total > max_bytes:
        _, size, paths = items.pop(0)
        for path in paths:
            _unlink(path)
        removed, freed, total = removed + 1, freed + size, total - size
    return {"removed": removed, "freed_bytes": freed, "kept": len(items), "kept_bytes": total}


def _unlink(path: Path) -> bool:
    try:
        path.unlink()
        return True
    except OSError:
        return False
