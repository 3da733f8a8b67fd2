"""ElevenLabs ``multi-stream-input``: many lines share one WebSocket, one context each.

Opening a socket per line (TCP connect, upgrade handshake, close handshake) was about a fifth of a cloud line's
gateway CPU (``docs/benchmarks.md``, issue 13). Here lines of the same voice, model and output format share a
socket from a pool (:class:`MuxPool`), at most ``ws_contexts_per_socket`` lines on one socket at a time:

* a line opens context ``l<n>`` with ``{"text": " ", "voice_settings", "context_id"}``, sends each segment flushed,
  then ``close_context`` at once (the service still speaks what it was asked to flush, then sends
  ``{"isFinal": true, "contextId"}``), so no context ever waits for input and needs no keep-alive;
* one reader per socket routes server messages to their line by ``contextId`` (or ``context_id``); what a line
  makes of them is exactly what a socket of its own makes (:class:`~gateway.providers.elevenlabs_line.LineReader`);
* a context's own ``error`` fails that line only; a socket that closes or drops fails every line still on it
  (classified like a per-line socket's close: a drop or 1011 is RETRYABLE, so the chain fails over);
* a socket with no line on it is closed (``close_socket``) after ``ws_idle_s``, below the service's inactivity
  timeout; one the service closed meanwhile is simply gone from the pool;
* a model refused on multi-stream (``eleven_v3``, or a 403 at the multi-stream handshake) goes per line.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import structlog
from websockets.exceptions import ConnectionClosed

from gateway.core.errors import ErrorKind, ProviderError
from gateway.core.events import ProviderEvent
from gateway.providers.base import SynthesisRequest
from gateway.providers.elevenlabs_common import OUTPUT_FORMAT
from gateway.providers.elevenlabs_errors import classify_ws_close
from gateway.providers.elevenlabs_line import LineReader, corked, json_messages, line_messages

log = structlog.get_logger(__name__)

#: Models the service refuses on multi-stream (HTTP 403 at the handshake).
REFUSED_PREFIXES = ("eleven_v3",)
_GONE = object()

#: Opens a ``multi-stream-input`` socket: (voice, key, model) -> connection; raises ProviderError.
Connect = Callable[[str, str, str], Awaitable[Any]]


def _ends(item: dict | ProviderError) -> bool:
    """Whether a context's message (or its socket's failure) is the last the context gets."""
    return isinstance(item, ProviderError) or bool(
        item.get("isFinal") is True or item.get("is_final") is True or item.get("error"))


class MultiRefused(Exception):
    """The service refused this model on multi-stream: speak the line on a socket of its own."""


class MuxSocket:
    """One shared socket: its lines' queues by context id, the reader that fills them, its idle timer."""

    def __init__(self, pool: MuxPool, slot: tuple[str, str, str], key: str) -> None:
        self.pool = pool
        self.slot = slot
        self.key = key
        self.ws: Any = None
        #: context id -> its line's queue (messages, then maybe a ProviderError); None: the line left early and
        #: its context is still counted until the service ends it.
        self.lines: dict[str, asyncio.Queue | None] = {}
        self.dead = False
        self.last_error: dict | None = None  #: the last in-band error that named no context
        self._idle: asyncio.TimerHandle | None = None
        self.opening = asyncio.create_task(self._open())
        self.opening.add_done_callback(lambda t: t.cancelled() or t.exception())  # retrieved by the lines

    def has_room(self) -> bool:
        return not self.dead and len(self.lines) < self.pool.limit

    def add(self, context_id: str) -> asyncio.Queue:
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        queue: asyncio.Queue = asyncio.Queue()
        self.lines[context_id] = queue
        return queue

    def leave(self, context_id: str, finished: bool) -> None:
        """A line is done with its context (``finished``: the service ended it too, else it still may send)."""
        queue = self.lines.get(context_id)
        while queue is not None and not queue.empty() and not finished:  # its end may be here, unread
            finished = _ends(queue.get_nowait())
        if finished or self.dead:
            self._free(context_id)
        elif context_id in self.lines:
            self.lines[context_id] = None

    def _free(self, context_id: str) -> None:
        self.lines.pop(context_id, None)
        if not self.lines and not self.dead and self._idle is None:
            self._idle = asyncio.get_running_loop().call_later(self.pool.idle_s, self._close_idle)

    async def _open(self) -> None:
        voice, model, _ = self.slot
        try:
            self.ws = await self.pool.connect(voice, self.key, model)
        except BaseException:
            self._die(None)
            raise
        if self.dead:  # the pool closed meanwhile
            await self.ws.close()
            return
        self.pool.spawn(self._read())

    async def send(self, messages: list[str]) -> None:
        """A line's messages, back to back (a socket the service closed meanwhile: its reader fails the line)."""
        try:
            with corked(self.ws):
                for message in messages:
                    await self.ws.send(message)
        except ConnectionClosed:
            pass

    async def _read(self) -> None:
        ws = self.ws
        try:
            async for message in json_messages(ws):
                self._route(message)
        except ConnectionClosed:
            pass
        finally:
            self._die(classify_ws_close(ws.close_code, ws.close_reason or "", self.last_error,
                                        provider=self.pool.provider, secret=self.key))

    def _route(self, message: dict) -> None:
        context_id = message.get("contextId") or message.get("context_id")
        if context_id is None:
            if message.get("error") or (message.get("message") and not message.get("audio")):
                self.last_error = message  # the socket's own: it classifies the close that follows
            return  # and {"type": "flush_done"}
        queue = self.lines.get(context_id, _GONE)
        if queue is None:  # its line left early: only its end matters
            if _ends(message):
                self._free(context_id)
        elif queue is not _GONE:
            queue.put_nowait(message)  # type: ignore[union-attr]

    def _die(self, error: ProviderError | None) -> None:
        """The socket is gone: out of the pool, and every line still on it fails with ``error``."""
        self.dead = True
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        self.pool.drop(self)
        for queue in self.lines.values():
            if queue is not None and error is not None:
                queue.put_nowait(error)
        if error is not None:
            self.lines.clear()

    def _close_idle(self) -> None:
        self._idle = None
        if not self.lines and not self.dead:
            log.debug("elevenlabs_mux_idle_close", provider=self.pool.provider, voice=self.slot[0])
            self._die(None)  # out of the pool now: no line may join it while it closes
            self.pool.spawn(self.close())

    async def close(self) -> None:
        """``close_socket``, then the close handshake (idle, or the pool is closing: lines still on it fail)."""
        self._die(ProviderError(ErrorKind.RETRYABLE, "provider closing", provider=self.pool.provider))
        if self.ws is None:
            return  # still opening: _open closes it once open (its lines got the error above)
        try:
            await self.ws.send(json.dumps({"close_socket": True}))
        except ConnectionClosed:
            pass
        await self.ws.close()


class MuxPool:
    """Shared ``multi-stream-input`` sockets per (voice, model, output format), ``limit`` lines each."""

    def __init__(self, provider: str, connect: Connect, limit: int, idle_s: float) -> None:
        self.provider = provider
        self.connect = connect
        self.limit = limit
        self.idle_s = idle_s
        self.sockets: dict[tuple[str, str, str], list[MuxSocket]] = {}
        self.refused: set[str] = set()
        self.connections = 0  #: sockets opened so far
        self._ids = itertools.count(1)
        self._tasks: set[asyncio.Task] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    def accepts(self, model: str) -> bool:
        return model not in self.refused and not model.startswith(REFUSED_PREFIXES)

    def spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def drop(self, sock: MuxSocket) -> None:
        sockets = self.sockets.get(sock.slot)
        if sockets is not None and sock in sockets:
            sockets.remove(sock)
            if not sockets:
                del self.sockets[sock.slot]

    def _socket(self, voice: str, model: str, key: str) -> MuxSocket:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # sockets belong to the loop that opened them (one per process, but be safe)
            self._loop, self.sockets = loop, {}
        slot = (voice, model, OUTPUT_FORMAT)
        sockets = self.sockets.setdefault(slot, [])
        for sock in sockets:
            if sock.has_room() and sock.key == key:
                return sock
        sock = MuxSocket(self, slot, key)
        self.connections += 1
        sockets.append(sock)
        return sock

    async def stream(self, request: SynthesisRequest, voice: str, model: str,
                     key: str) -> AsyncIterator[ProviderEvent]:
        """One line on a shared socket; :class:`MultiRefused` (before any event) when the model is refused."""
        sock = self._socket(voice, model, key)
        context_id = f"l{next(self._ids)}"
        queue = sock.add(context_id)
        line = LineReader(self.provider, request, key)
        try:
            try:
                await asyncio.shield(sock.opening)
            except ProviderError as exc:
                if exc.status == 403:
                    self.refused.add(model)
                    log.info("elevenlabs_multi_refused", provider=self.provider, model=model)
                    raise MultiRefused from None
                raise
            await sock.send(line_messages(request, context_id))
            while not line.final:
                item = await queue.get()
                if isinstance(item, ProviderError):
                    raise item
                for event in line.feed(item):
                    yield event
                if line.last_error is not None:  # this context's own error: this line only
                    raise classify_ws_close(None, "", line.last_error, provider=self.provider, secret=key)
            for event in line.finish():
                yield event
        finally:
            sock.leave(context_id, finished=line.final or line.last_error is not None)

    async def close(self) -> None:
        for sockets in list(self.sockets.values()):
            for sock in list(sockets):
                await sock.close()
        for task in list(self._tasks):
            task.cancel()
