"""Video files on disk, by request id only, with clean-up by age and by total size."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from gateway.media.audio import valid_request_id

SUFFIX = ".mp4"
PART_GRACE_S = 120  #: an unfinished ``.part`` file older than this is a leftover


def video_path(media_dir: Path, request_id: str) -> Path:
    if not valid_request_id(request_id):
        raise ValueError("invalid request id")
    return media_dir / f"{request_id}{SUFFIX}"


def save_video(media_dir: Path, request_id: str, data: bytes) -> Path:
    """Write atomically (temp file + rename) and return the path."""
    path = video_path(media_dir, request_id)
    media_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=media_dir, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def find_video(media_dir: Path, request_id: str) -> Path | None:
    """The MP4 of ``request_id``, or None (also for anything that is not a request id)."""
    if not valid_request_id(request_id):
        return None
    path = media_dir / f"{request_id}{SUFFIX}"
    return path if path.is_file() else None


def cleanup_media(media_dir: Path, max_age_s: float, max_bytes: int, now: float | None = None) -> dict:
    """Delete videos older than ``max_age_s``, then the oldest until at most ``max_bytes`` remain.

    Returns ``{"removed": n, "freed_bytes": b, "kept": k, "kept_bytes": kb}``. Files vanishing
    meanwhile (another process cleaning) are fine.
    """
    now = time.time() if now is None else now
    removed = freed = 0
    files: list[tuple[float, int, Path]] = []
    try:
        entries = list(os.scandir(media_dir))
    except FileNotFoundError:
        return {"removed": 0, "freed_bytes": 0, "kept": 0, "kept_bytes": 0}
    for entry in entries:
        try:
            st = entry.stat()
        except OSError:
            continue
        path = Path(entry.path)
        if entry.name.endswith(".part"):
            if now - st.st_mtime > PART_GRACE_S:
                _unlink(path)
            continue
        if not entry.name.endswith(SUFFIX):
            continue
        if now - st.st_mtime > max_age_s:
            if _unlink(path):
                removed, freed = removed + 1, freed + st.st_size
            continue
        files.append((st.st_mtime, st.st_size, path))
    total = sum(size for _, size, _ in files)
    files.sort()
    while files and total > max_bytes:
        _, size, path = files.pop(0)
        if _unlink(path):
            removed, freed = removed + 1, freed + size
        total -= size
    return {"removed": removed, "freed_bytes": freed, "kept": len(files), "kept_bytes": total}


def _unlink(path: Path) -> bool:
    try:
        path.unlink()
        return True
    except FileNotFoundError:
        return False
    except OSError:
        return False
