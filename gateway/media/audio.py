"""Rendered audio files, addressed by request id only: no client path ever reaches the file system."""

from __future__ import annotations

import os
import re
import tempfile
import time
from pathlib import Path

_REQUEST_ID = re.compile(r"^[0-9a-f]{32}$")


def valid_request_id(value: str) -> bool:
    return bool(_REQUEST_ID.match(value))


class AudioStore:
    def __init__(self, root: Path, ttl_s: int) -> None:
        self.root = root
        self.ttl_s = ttl_s
        self.root.mkdir(parents=True, exist_ok=True)
        self._last_sweep = 0.0

    def save(self, request_id: str, data: bytes, extension: str, media_type: str) -> None:
        if not valid_request_id(request_id):
            raise ValueError("invalid request id")
        fd, tmp = tempfile.mkstemp(dir=self.root, suffix=".part")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, self.root / f"{request_id}.{extension}")
        (self.root / f"{request_id}.type").write_text(media_type)
        self._maybe_sweep()

    def find(self, request_id: str) -> tuple[Path, str] | None:
        if not valid_request_id(request_id):
            return None
        type_file = self.root / f"{request_id}.type"
        if not type_file.exists():
            return None
        for path in self.root.glob(f"{request_id}.*"):
            if path.suffix not in (".type", ".part"):
                return path, type_file.read_text()
        return None

    def _maybe_sweep(self) -> None:
        now = time.time()
        if now - self._last_sweep < 60:
            return
        self._last_sweep = now
        for path in self.root.iterdir():
            try:
                if now - path.stat().st_mtime > self.ttl_s:
                    path.unlink()
            except OSError:
                pass
