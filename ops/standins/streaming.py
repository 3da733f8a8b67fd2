"""The streamed HTTP response of the stand-ins: one that, on
:class:`~ops.standins.faults.Disconnect`, leaves its body unfinished."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from ops.standins.faults import Disconnect


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
