"""Streamed synthesis: spoken chunks paced by the faults, encoded HTTP bodies, and a response that can drop.

:func:`paced_chunks` is speech cut into stream chunks with the timing and disconnect faults
applied (both vendors' WebSocket sessions send from it); :func:`encoded_chunks` adds the encoder
and the first-byte wait of an HTTP body; :class:`DroppableStreamingResponse` sends such a body
and, on :class:`~ops.standins.faults.Disconnect`, leaves it unfinished.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from ops.standins.audio import AudioFormat, StreamEncoder
from ops.standins.faults import Disconnect, FaultState, Pace
from ops.standins.speech import Chunk, LocalSpeech, chunk_piece


async def paced_chunks(speech: LocalSpeech, pace: Pace, text: str, speed: float, rate: int) -> AsyncIterator[Chunk]:
    """``text`` spoken and cut into chunks at ``rate``, each after ``pace`` let it through
    (it may raise :class:`Disconnect`); counts the sentences, the owner counts the chunks."""
    async for piece in speech.sentences(text, speed):
        for chunk in chunk_piece(piece, rate):
            await pace.before_chunk()
            yield chunk
        pace.sentences += 1


async def encoded_chunks(speech: LocalSpeech, faults: FaultState, text: str, speed: float,
                         fmt: AudioFormat) -> AsyncIterator[tuple[Chunk | None, bytes]]:
    """An HTTP body's audio with the ``rest`` faults applied: ``(chunk, its bytes)`` for every
    chunk (the bytes may be empty while the encoder fills), then ``(None, the encoder's tail)``."""
    pace = Pace(faults, "rest")
    await pace.first_byte()
    encoder = StreamEncoder(fmt)
    async for chunk in paced_chunks(speech, pace, text, speed, fmt.rate):
        pace.chunks += 1
        yield chunk, encoder.feed(chunk.pcm)
    faults.cut("rest", pace.chunks, pace.sentences)
    yield None, encoder.finish()


class DroppableStreamingResponse(Response):
    """A chunked streaming response whose body iterator may raise :class:`Disconnect`.

    Then the ASGI app returns without finishing the response: the server closes the connection
    with no chunked terminator, which clients see as a peer that went away mid-body.
    """

    def __init__(self, body: AsyncIterator[bytes], media_type: str, headers: dict[str, str] | None = None,
                 on_close: Any = None) -> None:
        self.status_code = 200
        self.background = None
        self.stream = body
        self.media_type = media_type
        self.extra_headers = headers or {}
        self.on_close = on_close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", self.media_type.encode())]
        headers += [(k.lower().encode(), str(v).encode()) for k, v in self.extra_headers.items()]
        disconnected = asyncio.Event()

        async def watch() -> None:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    disconnected.set()
                    return

        watcher = asyncio.create_task(watch())
        try:
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            async for chunk in self.stream:
                if disconnected.is_set():
                    return
                if chunk:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except Disconnect:
            return  # leave the response unfinished: the server drops the connection
        except OSError:
            return  # client went away
        finally:
            watcher.cancel()
            aclose = getattr(self.stream, "aclose", None)
            if aclose is not None:
                try:
                    await aclose()
                except Exception:  # noqa: BLE001
                    pass
            if self.on_close is not None:
                self.on_close()
