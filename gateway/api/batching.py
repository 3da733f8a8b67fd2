"""Write what is ready together: a streamed body's chunks joined for as long as the next one needs no waiting.

A line's NDJSON events come in bursts: a provider message gives audio chunks and their alignment at once, a
sentence's end gives its visemes and ``segment_end`` at once. Sent one by one, each event is its own socket write
(and its own wake-up of the client); :class:`Batched` joins a burst into one write and sends it the moment the
stream would wait for more (or once it holds :data:`MAX_BURST` bytes), so nothing waits for anything that is not
already there: the bytes and their order are the same, only the number of writes drops.
:class:`BatchedStreamingResponse` sends such a body, its last burst in the same write as the end of the body.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine
from typing import Any

from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from gateway.core.aio import Resume, cancel, start

#: A burst is sent once it holds this much, even if more is ready (about a second of 24 kHz audio as NDJSON): it
#: bounds how long the first bytes of a burst wait for the rest to be encoded.
MAX_BURST = 64 * 1024


class Batched:
    """``source``'s chunks, those that are ready back to back joined into one (of at most about ``max_bytes``).

    Iterate it like the source; :attr:`finished` turns true just before the last burst is handed out (so the
    response can send it together with the end of the body).
    """

    def __init__(self, source: AsyncIterator[bytes], max_bytes: int = MAX_BURST) -> None:
        self.finished = False
        self._bursts = self._run(source, max_bytes)

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._bursts

    async def aclose(self) -> None:
        await self._bursts.aclose()

    async def _run(self, source: AsyncIterator[bytes], max_bytes: int) -> AsyncIterator[bytes]:
        burst: list[bytes] = []
        size = 0
        pending: tuple[Coroutine, Any] | None = None
        try:
            while True:
                if size >= max_bytes:
                    yield b"".join(burst)
                    burst, size = [], 0
                step = source.__anext__()
                try:
                    ready, value = start(step)
                except StopAsyncIteration:
                    break
                if not ready:
                    pending = (step, value)
                    if burst:
                        yield b"".join(burst)
                        burst, size = [], 0
                    try:
                        value = await Resume(step, value)
                    except StopAsyncIteration:
                        break
                    finally:
                        pending = None
                burst.append(value)
                size += len(value)
            self.finished = True
            if burst:
                yield b"".join(burst)
        finally:
            if pending is not None:  # closed while a step was suspended (the client went away): cancel that step
                await cancel(*pending)
            aclose = getattr(source, "aclose", None)
            if aclose is not None:
                await aclose()


class BatchedStreamingResponse(StreamingResponse):
    """A streamed body written in bursts (:class:`Batched`), its last burst together with the end of the body.

    A client that goes away cancels the body at once, as with Starlette's response, by a plain task watching
    ``receive`` (Starlette builds an anyio task group per response for that; this is the same with less work).
    """

    def __init__(self, content: AsyncIterator[bytes], **kwargs: Any) -> None:
        self.batches = Batched(content)
        super().__init__(self.batches, **kwargs)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        task = asyncio.current_task()
        gone = False

        async def watch() -> None:
            nonlocal gone
            while (await receive())["type"] != "http.disconnect":
                pass
            gone = True
            task.cancel()  # the client went away: stop the line

        watcher = asyncio.ensure_future(watch())
        try:
            await self.stream_response(send)
        except asyncio.CancelledError:
            if not gone:
                raise
            task.uncancel()  # our own cancel: the response is over, the request is not failed
        finally:
            watcher.cancel()
        if self.background is not None:
            await self.background()

    async def stream_response(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        ended = False
        async for chunk in self.body_iterator:
            ended = self.batches.finished
            await send({"type": "http.response.body", "body": chunk, "more_body": not ended})
        if not ended:
            await send({"type": "http.response.body", "body": b"", "more_body": False})
