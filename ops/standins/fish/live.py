"""Fish Audio live WebSocket: ``/v1/tts/live``, binary msgpack frames.

Client ``start`` (a TTSRequest with ``text: ""``), ``text``*, ``flush``, ``stop``; server
``{"event": "audio", "audio": <bin>}``* then one ``{"event": "finish", "reason": "stop"|"error"}``
and close. Buffered text is spoken at ``flush``, at ``stop``, and whenever ``chunk_length``
characters ending a sentence are waiting.
"""

from __future__ import annotations

from typing import Any

import ormsgpack
from fastapi import WebSocket
from fastapi.responses import Response
from starlette.websockets import WebSocketDisconnect, WebSocketState

from ops.standins.audio import StreamEncoder
from ops.standins.faults import Disconnect, Pace
from ops.standins.fish.errors import ERRORS, error_response
from ops.standins.fish.request import TTSJob, parse_tts_request
from ops.standins.fish.state import StandIn
from ops.standins.streaming import paced_chunks


class _Closed(Exception):
    """The session is over (closed by a fault, or the client left)."""


class _LiveSession:
    """One ``/v1/tts/live`` connection: start, text*, flush, stop -> audio*, finish."""

    def __init__(self, si: StandIn, ws: WebSocket, record: dict) -> None:
        self.si = si
        self.ws = ws
        self.record = record
        self.job: TTSJob | None = None
        self.encoder: StreamEncoder | None = None
        self.buffer = ""
        self.pace = Pace(si.faults, "ws")  #: chunks: every chunk spoken
        self.closed = False

    async def _send(self, payload: dict) -> None:
        if self.closed:
            raise _Closed
        try:
            await self.ws.send_bytes(ormsgpack.packb(payload))
        except (WebSocketDisconnect, RuntimeError, OSError):
            self.closed = True
            raise _Closed from None

    async def close(self, code: int = 1000) -> None:
        if not self.closed:
            self.closed = True
            try:
                await self.ws.close(code)
            except (RuntimeError, OSError):
                pass

    async def finish(self, reason: str) -> None:
        self.record["finish"] = reason
        try:
            await self._send({"event": "finish", "reason": reason})
        except _Closed:
            return
        await self.close(1000)

    async def speak(self, text: str) -> None:
        if not text.strip() or self.job is None or self.encoder is None:
            return
        self.si.account.credit -= self.si.account.cost(text)  # live text is charged as it is spoken
        try:
            async for chunk in paced_chunks(self.si.speech, self.pace, text, self.si.job_speed(self.job),
                                            self.job.rate):
                data = self.encoder.feed(chunk.pcm)
                self.pace.chunks += 1
                if data:
                    await self._send({"event": "audio", "audio": data})
        except Disconnect:
            await self.close(self.si.f.disconnect_close_code)
            raise _Closed from None

    def _ready_text(self) -> str:
        """Complete sentences once ``chunk_length`` characters are waiting (what a flush would send)."""
        limit = (self.job.fields.get("chunk_length") if self.job else None) or 200
        if len(self.buffer) < limit:
            return ""
        cut = max(self.buffer.rfind(p) for p in (". ", "! ", "? ", "\n"))
        if cut < 0:
            return ""
        ready, self.buffer = self.buffer[:cut + 1], self.buffer[cut + 1:].lstrip()
        return ready

    async def run(self) -> None:
        while True:
            try:
                raw = await self.ws.receive_bytes()
            except (WebSocketDisconnect, RuntimeError, KeyError):
                self.closed = True
                return
            try:
                message = ormsgpack.unpackb(raw)
            except Exception:  # noqa: BLE001
                await self.finish("error")
                return
            event = message.get("event") if isinstance(message, dict) else None
            if event == "start":
                if not await self._start(message.get("request")):
                    return
            elif self.job is None:
                await self.finish("error")  # text before start
                return
            elif event == "text":
                text = message.get("text")
                if isinstance(text, str):
                    self.buffer += text
                    self.record["text"] = (self.record.get("text") or "") + text
                    await self.speak(self._ready_text())
            elif event == "flush":
                text, self.buffer = self.buffer, ""
                await self.speak(text)
            elif event == "stop":
                text, self.buffer = self.buffer, ""
                await self.speak(text)
                if self.encoder is not None:
                    tail = self.encoder.finish()
                    if tail:
                        await self._send({"event": "audio", "audio": tail})
                await self.finish("stop")
                return
            # unknown events are ignored, like the SDK ignores unknown server events

    async def _start(self, request: Any) -> bool:
        job = parse_tts_request(request, live=True)
        if isinstance(job, Response):
            self.record["status"] = job.status_code
            await self.finish("error")
            return False
        self.record.update({k: v for k, v in job.fields.items() if k != "text"})
        error = self.si.faults.take_error("ws")
        if error:
            self.record["status"] = ERRORS[error][0]
            await self.finish("error")
            return False
        if (denied := self.si.admit(job, "ws")) is not None:
            self.record["status"] = denied.status_code
            await self.finish("error")
            return False
        self.job = job
        self.encoder = StreamEncoder(job.audio_format)
        self.record["status"] = 200
        return True


async def live(si: StandIn, websocket: WebSocket) -> None:
    """Refuse a bad key at the handshake, else run a live session to its close."""
    record = si.requests.add(endpoint="live", method="WS", model=websocket.headers.get("model"), status=None)
    si.faults.counters["requests"] += 1
    if await si.faults.hang_on_connect("ws"):
        return  # never upgraded
    if not si.account.key_ok(websocket.headers.get("authorization")):
        record["status"] = 401
        await websocket.send_denial_response(error_response("invalid_token"))
        return
    await websocket.accept()
    si.account.active += 1
    session = _LiveSession(si, websocket, record)
    try:
        await session.run()
    except _Closed:
        pass
    finally:
        si.account.active -= 1
        if websocket.client_state == WebSocketState.CONNECTED and not session.closed:
            await session.close(1000)
