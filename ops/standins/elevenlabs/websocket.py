"""ElevenLabs WebSocket text-to-speech: ``/v1/text-to-speech/{voice_id}/stream-input`` and
``/multi-stream-input``, the stream-input state machine (see the package docstring)."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
from typing import Any

from fastapi import WebSocket
from starlette.websockets import WebSocketDisconnect, WebSocketState

from ops.standins.audio import AudioFormat
from ops.standins.elevenlabs.context import Closed, Context, ContextFailed
from ops.standins.elevenlabs.errors import ERRORS
from ops.standins.elevenlabs.errors import message as error_message
from ops.standins.elevenlabs.formats import DEFAULT_FORMAT, FORMATS
from ops.standins.elevenlabs.state import StandIn
from ops.standins.elevenlabs.voices import DEFAULT_MODEL, VOICE_BY_ID, VOICES, check_voice_settings, voice_speed
from ops.standins.faults import Disconnect, Pace
from ops.standins.streaming import paced_chunks

DEFAULT_SCHEDULE = [120, 160, 250, 290]
MAX_CONTEXTS = 5
_SOCKET_IDS = itertools.count(1)  #: numbers the multi-stream sockets in the request log


class WsConnection:
    """One ``/stream-input`` or ``/multi-stream-input`` connection: the first message (key, voice
    settings, schedule), then text into contexts, audio and alignment out, the final messages, close."""

    def __init__(self, si: StandIn, ws: WebSocket, voice: dict, fmt: AudioFormat, inactivity: float, multi: bool,
                 auto_mode: bool, header_key: str | None) -> None:
        self.si = si
        self.ws = ws
        self.voice = voice
        self.fmt = fmt
        self.inactivity = inactivity
        self.multi = multi
        self.auto_mode = auto_mode
        self.header_key = header_key
        self.contexts: dict[str | None, Context] = {}
        self.closing: list[Context] = []  #: closed with close_context, still finishing their audio
        self.refused: set[str] = set()  #: contexts that failed: their later messages are ignored
        self.send_lock = asyncio.Lock()
        self.closed = asyncio.Event()
        self.pace = Pace(si.faults, "ws")  #: chunks: audio messages sent, over all contexts
        self.initialized = False
        self.counted = False
        self.speed = voice["speed"]
        self.schedule = list(DEFAULT_SCHEDULE)
        self.duration_key = si.f.ws_duration_key

    # -- sending --

    async def _send(self, payload: dict) -> None:
        if self.closed.is_set():
            raise Closed
        async with self.send_lock:
            try:
                await self.ws.send_text(json.dumps(payload))
            except (WebSocketDisconnect, RuntimeError, OSError):
                self.closed.set()
                raise Closed from None

    async def close(self, code: int, reason: str = "") -> None:
        if self.closed.is_set():
            return
        self.closed.set()
        reason_bytes = reason.encode()[:123]
        try:
            await self.ws.close(code, reason_bytes.decode("utf-8", "ignore"))
        except Exception:  # noqa: BLE001 - already gone
            pass

    async def fail(self, error: str, message: str | None = None, code: int | None = None, **values: Any) -> None:
        code = code or ERRORS.get(error, (0, 1008, ""))[1]
        message = message or error_message(error, **values)
        try:
            await self._send({"message": message, "error": error, "code": code})
        except Closed:
            pass
        await self.close(code, message)

    async def fail_context(self, context_id: str, error: str, message: str | None = None, **values: Any) -> None:
        """A multi-stream context's own error: the error message with its ``contextId``, the context dropped;
        the socket and its other contexts go on."""
        code = ERRORS.get(error, (0, 1008, ""))[1]
        self.refused.add(context_id)
        ctx = self.contexts.pop(context_id, None)
        if ctx is not None:
            ctx.ended = True
            if ctx.task is not asyncio.current_task():
                ctx.task.cancel()
        await self._send({"message": message or error_message(error, **values), "error": error, "code": code,
                          "contextId": context_id})

    async def send_audio(self, ctx: Context, audio: bytes) -> None:
        chars: list = []
        start = ctx.pending[0][1] if ctx.pending else 0.0
        for chunk, _ in ctx.pending:
            chars.extend(chunk.chars)
        ctx.pending = []
        alignment = None
        if chars:
            starts = [max(0, round(c.start_ms - start)) for c in chars]
            ends = [max(s, round(c.end_ms - start)) for c, s in zip(chars, starts)]
            alignment = {"chars": [c.char for c in chars], "charStartTimesMs": starts,
                         self.duration_key: [e - s for s, e in zip(starts, ends)]}
        await self._send_for(ctx, {"audio": base64.b64encode(audio).decode() if audio else None, "isFinal": None,
                                   "normalizedAlignment": alignment, "alignment": alignment})

    async def send_final(self, ctx: Context) -> None:
        await self._send_for(ctx, {"isFinal": True})

    async def _send_for(self, ctx: Context, message: dict[str, Any]) -> None:
        if self.multi:
            message["contextId"] = ctx.id
        await self._send(message)

    async def generate(self, ctx: Context, piece: str) -> None:
        if (quota := self.si.quota_error(len(piece), "ws")) is not None:
            if self.multi:
                await self.fail_context(ctx.id, "quota_exceeded", **quota)
                raise ContextFailed
            await self.fail("quota_exceeded", **quota)
            raise Closed
        self.si.account.character_count += len(piece)
        try:
            async for chunk in paced_chunks(self.si.speech, ctx.pace, piece, ctx.speed, self.fmt.rate):
                data = ctx.encoder.feed(chunk.pcm)
                ctx.pending.append((chunk, chunk.start_ms))
                if data:
                    await self.send_audio(ctx, data)
                    self.pace.chunks += 1
        except Disconnect:
            await self.close(self.si.f.disconnect_close_code, "stand-in fault: disconnect")
            raise Closed from None

    # -- receiving --

    async def _receive(self) -> dict | None:
        """Next JSON message; None when the client left or the connection is closing."""
        recv = asyncio.ensure_future(self.ws.receive_text())
        closed = asyncio.ensure_future(self.closed.wait())
        try:
            done, _ = await asyncio.wait({recv, closed}, timeout=self.inactivity,
                                         return_when=asyncio.FIRST_COMPLETED)
        finally:
            closed.cancel()
        if recv not in done:
            recv.cancel()
            if self.closed.is_set():
                return None
            seconds = int(self.inactivity) if float(self.inactivity).is_integer() else self.inactivity
            await self.fail("input_timeout_exceeded", code=1008, message=(
                f"Have not received a new text input within the timeout of {seconds} seconds. Streaming input "
                "terminated. Please make sure to either feed the input in the timely manner, or to send the end "
                'of input text (empty string "") when done.'))
            return None
        try:
            raw = recv.result()
        except (WebSocketDisconnect, RuntimeError):
            self.closed.set()
            return None
        try:
            message = json.loads(raw)
        except ValueError:
            message = None
        if not isinstance(message, dict):
            await self.fail("invalid_message", code=1008, message="Invalid message: expected a JSON object.")
            return None
        return message

    def _auth_key(self, message: dict) -> str | None:
        for name in ("xi-api-key", "xi_api_key"):
            if message.get(name):
                return str(message[name])
        auth = message.get("authorization")
        if isinstance(auth, str) and auth.lower().startswith("bearer "):
            return auth[7:].strip()
        return self.header_key

    async def _initialize(self, message: dict) -> bool:
        si = self.si
        if not self.multi:  # multi-stream: every context is a request (see _multi_message)
            si.faults.counters["requests"] += 1
        key = self._auth_key(message)
        record = si.requests.add(endpoint="ws_multi" if self.multi else "ws", voice_id=self.voice["voice_id"],
                                 query=dict(self.ws.query_params), key_ok=si.account.key_ok(key),
                                 voice_settings=message.get("voice_settings"),
                                 generation_config=message.get("generation_config"), texts=[])
        self.record = record
        if self.multi:
            record.update(socket=next(_SOCKET_IDS), contexts=[])
        if not si.account.key_ok(key):
            await self.fail("invalid_api_key")
            return False
        error = None if self.multi else si.faults.take_error("ws")
        if error:
            await self.fail(error, **si.error_values(self.voice["voice_id"], 0, DEFAULT_MODEL))
            return False
        if si.account.active >= si.account.concurrency_limit:
            await self.fail("too_many_concurrent_requests", concurrency=si.account.concurrency_limit)
            return False
        if not self.multi and not await self._voice_settings(None, message):
            return False
        schedule = (message.get("generation_config") or {}).get("chunk_length_schedule")
        if schedule is not None:
            if not isinstance(schedule, list) or not schedule or not all(
                    isinstance(x, int) and not isinstance(x, bool) and 50 <= x <= 500 for x in schedule):
                await self.fail("invalid_request", code=1008,
                                message="chunk_length_schedule: every item must be between 50 and 500")
                return False
            self.schedule = schedule
        si.account.active += 1
        self.counted = True
        self.initialized = True
        return True

    async def _voice_settings(self, context_id: str | None, message: dict) -> bool:
        """Check a first message's ``voice_settings`` (the socket's, or on multi-stream the context's) and take
        its speed; False when refused (the socket, or only that context, failed)."""
        vs = message.get("voice_settings")
        if (bad := check_voice_settings(vs, ["voice_settings"])) is not None:
            detail = json.loads(bad.body)["detail"][0]
            text = f"{'.'.join(map(str, detail['loc']))}: {detail['msg']}"
            if context_id is not None:
                await self.fail_context(context_id, "invalid_request", text)
            else:
                await self.fail("invalid_request", code=1008, message=text)
            return False
        self.speed = voice_speed(self.voice, vs)
        return True

    def _context(self, context_id: str | None, record: dict | None = None) -> Context | None:
        ctx = self.contexts.get(context_id)
        if ctx is None:
            ctx = Context(self, context_id, self.speed, self.schedule, record)
            self.contexts[context_id] = ctx
        return ctx

    async def run(self) -> None:
        try:
            while not self.closed.is_set():
                message = await self._receive()
                if message is None:
                    return
                if not self.initialized:
                    if not await self._initialize(message):
                        return
                    if not self.multi:
                        self._text_if_any(self._context(None), message)
                        continue
                if self.multi:
                    if not await self._multi_message(message):
                        break
                elif not await self._single_message(message):
                    break
            # End of input: every context generates the rest, sends its final message; then close 1000.
            await self._drain()
            await self.close(1000)
        except Closed:
            return
        finally:
            for ctx in [*self.contexts.values(), *self.closing]:
                ctx.task.cancel()
            if self.counted:
                self.si.account.active -= 1

    async def _drain(self) -> None:
        tasks = [ctx.task for ctx in [*self.contexts.values(), *self.closing]]
        for ctx in self.contexts.values():
            ctx.end()
        closed = asyncio.ensure_future(self.closed.wait())
        try:
            if tasks:
                await asyncio.wait([*tasks, closed], return_when=asyncio.FIRST_COMPLETED)
                while not self.closed.is_set() and not all(t.done() for t in tasks):
                    await asyncio.wait([*[t for t in tasks if not t.done()], closed],
                                       return_when=asyncio.FIRST_COMPLETED)
        finally:
            closed.cancel()
        if self.closed.is_set():
            raise Closed

    def _text_if_any(self, ctx: Context, message: dict) -> None:
        """A context's first message: its text counts only when it is more than the opening ``" "``."""
        text = message.get("text") or ""
        if (isinstance(text, str) and text.strip()) or message.get("flush"):
            self._text(ctx, message)

    def _text(self, ctx: Context, message: dict) -> None:
        text = message.get("text")
        if isinstance(text, str):
            self.record["texts"].append(text)
            if ctx.record is not None:
                ctx.record["texts"].append(text)
        ctx.add_text(text if isinstance(text, str) else "", bool(message.get("flush")),
                     bool(message.get("try_trigger_generation")), self.auto_mode)

    async def _single_message(self, message: dict) -> bool:
        """False when the input ended (``{"text": ""}``)."""
        ctx = self._context(None)
        text = message.get("text")
        if text == "" and not message.get("flush"):
            return False
        if text is not None and not isinstance(text, str):
            await self.fail("invalid_request", code=1008, message="text: Input should be a valid string")
            raise Closed
        self._text(ctx, message)
        return True

    async def _open_context(self, context_id: str, message: dict) -> Context | None:
        """A new multi-stream context: the limit (socket-level), then it is a request of its own: the ``ws``
        error fault and its voice settings may fail it alone. None when it failed."""
        si = self.si
        if len(self.contexts) >= MAX_CONTEXTS:
            await self.fail("max_active_conversations", code=1008, message=(
                f"Maximum number of active contexts ({MAX_CONTEXTS}) exceeded for this connection. "
                "Close unused contexts with close_context."))
            raise Closed
        si.faults.counters["requests"] += 1
        self.record["contexts"].append(context_id)
        record = si.requests.add(endpoint="ws_context", voice_id=self.voice["voice_id"], context_id=context_id,
                                 socket=self.record["socket"],
                                 query=dict(self.ws.query_params), voice_settings=message.get("voice_settings"),
                                 texts=[])
        if error := si.faults.take_error("ws"):
            await self.fail_context(context_id, error, **si.error_values(self.voice["voice_id"], 0, DEFAULT_MODEL))
            return None
        if not await self._voice_settings(context_id, message):
            return None
        return self._context(context_id, record)

    async def _multi_message(self, message: dict) -> bool:
        """False when the socket should end (``close_socket``)."""
        if message.get("close_socket"):
            return False
        context_id = message.get("context_id") or "default"
        if message.get("close_context"):
            self.refused.discard(context_id)
            ctx = self.contexts.pop(context_id, None)
            if ctx is not None:
                ctx.end(discard=True)
                self.closing = [c for c in self.closing if not c.task.done()] + [ctx]
            return True
        if context_id in self.refused:
            return True  # a failed context: the client's messages already on their way are dropped
        text = message.get("text")
        if context_id not in self.contexts:
            if (ctx := await self._open_context(context_id, message)) is not None:
                self._text_if_any(ctx, message)
            return True
        ctx = self.contexts[context_id]
        if text == "" and not message.get("flush"):
            return True  # keep-alive for this context
        self._text(ctx, message)
        return True


async def stream_input(si: StandIn, websocket: WebSocket, voice_id: str, multi: bool) -> None:
    """Accept (or refuse) a stream-input connection and run it to its close."""
    query = websocket.query_params
    if await si.faults.hang_on_connect("ws"):
        return  # never accepted
    model = query.get("model_id") or DEFAULT_MODEL
    if multi and model.startswith("eleven_v3"):
        await websocket.close(1008)  # before accept: HTTP 403 at the handshake
        return
    await websocket.accept()
    try:
        inactivity = float(query.get("inactivity_timeout", 20))
    except ValueError:
        inactivity = -1
    conn_fail = None
    fmt = FORMATS.get(query.get("output_format") or DEFAULT_FORMAT)
    voice = VOICE_BY_ID.get(voice_id)
    if fmt is None:
        conn_fail = ("invalid_request", f"output_format: must be one of {', '.join(sorted(FORMATS))}")
    elif not 1 <= inactivity <= 180:
        conn_fail = ("invalid_request", "inactivity_timeout: must be between 1 and 180 seconds")
    elif voice is None:
        conn_fail = ("voice_not_found", error_message("voice_not_found", voice_id=voice_id))
    conn = WsConnection(si, websocket, voice or VOICES[0], fmt or FORMATS[DEFAULT_FORMAT], max(1.0, inactivity),
                        multi, query.get("auto_mode", "false").lower() == "true", websocket.headers.get("xi-api-key"))
    if conn_fail is not None:
        await conn.fail(conn_fail[0], conn_fail[1], code=1008)
        return
    await conn.run()
    if websocket.client_state == WebSocketState.CONNECTED and not conn.closed.is_set():
        await conn.close(1000)
