"""Avatars known to a worker: their spec, preparation state and prepared layers.

Preparation is idempotent on content: ``put`` with the same resolved spec (same content hash)
does nothing and reports the existing state; a different spec replaces the avatar and
prepares it again (a new ``revision``).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, replace

from render_worker.avatars import BUILTIN
from render_worker.avatars.spec import AvatarSpec, build_spec
from render_worker.renderer import PreparedAvatar, prepare


@dataclass(slots=True)
class AvatarEntry:
    spec: AvatarSpec
    state: str = "preparing"  #: preparing | ready | failed
    revision: int = 1
    prepared: PreparedAvatar | None = None
    error: str | None = None
    prepared_at: float | None = None
    builtin: bool = False

    def describe(self) -> dict:
        out = {"id": self.spec.id, "state": self.state, "name": self.spec.name, "description": self.spec.description,
               "base": self.spec.base, "content_hash": self.spec.content_hash, "revision": self.revision,
               "params": self.spec.canonical(), "builtin": self.builtin, "error": self.error,
               "prepared_at": self.prepared_at, "frames": None, "size": self.spec.size}
        if self.prepared is not None:
            out["prepare_ms"] = round(self.prepared.prepare_ms, 1)
            out["mouth_box"] = self.prepared.mouth_box_px()
        return out


class AvatarStore:
    def __init__(self, size: int) -> None:
        self.size = size
        self.entries: dict[str, AvatarEntry] = {}
        self.preparations = 0  #: how many times any avatar was actually prepared
        self._tasks: set[asyncio.Task] = set()

    def bases(self) -> dict[str, AvatarSpec]:
        return {k: replace(v, size=self.size) for k, v in BUILTIN.items()}

    def ids(self) -> list[str]:
        return sorted(self.entries)

    def ready_ids(self) -> list[str]:
        return sorted(k for k, e in self.entries.items() if e.state == "ready")

    def get(self, avatar_id: str) -> AvatarEntry | None:
        return self.entries.get(avatar_id)

    async def prepare_builtins(self) -> None:
        for avatar_id, spec in self.bases().items():
            entry = AvatarEntry(spec, builtin=True)
            self.entries[avatar_id] = entry
            await self._prepare(entry)

    def put(self, avatar_id: str, body: dict) -> tuple[AvatarEntry, bool]:
        """Resolve ``body``; returns (entry, created) where ``created`` says preparation started.

        Raises :class:`~render_worker.avatars.spec.SpecError` for a bad body.
        """
        spec = build_spec(avatar_id, body, self.bases())
        current = self.entries.get(avatar_id)
        if current is not None and current.spec.content_hash == spec.content_hash and current.state != "failed":
            return current, False
        entry = AvatarEntry(spec, revision=(current.revision + 1) if current else 1,
                            builtin=current.builtin if current else False)
        self.entries[avatar_id] = entry
        task = asyncio.get_running_loop().create_task(self._prepare(entry))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return entry, True

    async def _prepare(self, entry: AvatarEntry) -> None:
        try:
            prepared = await asyncio.to_thread(prepare, entry.spec)
        except Exception as exc:  # noqa: BLE001 - reported through GET /v1/avatars/{id}
            entry.state, entry.error = "failed", f"{type(exc).__name__}: {exc}"
            return
        self.preparations += 1
        if self.entries.get(entry.spec.id) is entry:
            entry.prepared, entry.state, entry.prepared_at = prepared, "ready", time.time()
