"""One ElevenLabs stream-input context: text buffered into generations, spoken in order by a worker."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from ops.standins.audio import StreamEncoder
from ops.standins.faults import Pace, SharedPace
from ops.standins.speech import Chunk

if TYPE_CHECKING:
    from ops.standins.elevenlabs.websocket import WsConnection


class Closed(Exception):
    """The connection is closing (error sent, fault, or the client left)."""


class ContextFailed(Exception):
    """This context failed (its error was sent); the connection and its other contexts go on."""


class Context:
    """One context of a connection (the only one on ``/stream-input``): its text buffer, cut into
    generations by the ``chunk_length_schedule`` (or sentence ends in ``auto_mode``, or a flush),
    spoken one after another by its worker with its own encoder. On ``/multi-stream-input`` each context
    has its own first-byte wait and stalls (a :class:`SharedPace`); chunk counts are the connection's."""

    def __init__(self, conn: WsConnection, context_id: str | None, speed: float, schedule: list[int],
                 record: dict | None = None) -> None:
        self.conn = conn
        self.record = record  #: this context's entry in the request log (multi-stream only)
        self.pace: Pace = SharedPace(conn.pace) if conn.multi else conn.pace
        self.id = context_id
        self.speed = speed
        self.schedule = schedule
        self.generation = 0
        self.buffer = ""
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()
        self.encoder = StreamEncoder(conn.fmt)
        self.pending: list[tuple[Chunk, float]] = []
        self.task = asyncio.create_task(self._worker())
        self.ended = False

    def add_text(self, text: str, flush: bool, trigger: bool, auto_mode: bool) -> None:
        self.buffer += text
        if flush:
            self._cut(len(self.buffer))
            return
        if auto_mode:
            ends = [i + 1 for i, ch in enumerate(self.buffer) if ch in ".!?…" and
                    (i + 1 == len(self.buffer) or self.buffer[i + 1].isspace())]
            if ends:
                self._cut(ends[-1])
            return
        threshold = self.schedule[min(self.generation, len(self.schedule) - 1)]
        if trigger:
            threshold = min(threshold, 50)
        if len(self.buffer.strip()) >= threshold:
            cut = max(self.buffer.rfind(" "), self.buffer.rfind("\n"))
            if cut > 0:
                self._cut(cut + 1)

    def _cut(self, n: int) -> None:
        piece, self.buffer = self.buffer[:n], self.buffer[n:]
        if piece.strip():
            self.generation += 1
            self.queue.put_nowait(piece)

    def end(self, discard: bool = False) -> None:
        """No more text: generate the rest (unless discarded), then the final message."""
        if self.ended:
            return
        self.ended = True
        if discard:
            self.buffer = ""
        else:
            self._cut(len(self.buffer))
        self.queue.put_nowait(None)

    async def _worker(self) -> None:
        try:
            while True:
                piece = await self.queue.get()
                if piece is None:
                    tail = self.encoder.finish()
                    if tail or self.pending:
                        await self.conn.send_audio(self, tail)
                    await self.conn.send_final(self)
                    return
                await self.conn.generate(self, piece)
        except (Closed, ContextFailed):
            return
        except Exception:  # noqa: BLE001 - synthesis failed: tell the client like the vendor would
            await self.conn.fail("internal_server_error")
