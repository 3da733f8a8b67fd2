"""``/v1/text-to-speech/{voice_id}/stream-input``: ElevenLabs' client WebSocket protocol, served by the gateway.

Game code written for ElevenLabs points its WebSocket at the gateway and keeps working:

* client → ``{"text": " ", "voice_settings": …, "generation_config": {"chunk_length_schedule": […]}}``, then text
  chunks ``{"text": "Hello ", "flush": false}``, optionally ``"flush": true``, and ``{"text": ""}`` to end;
* gateway → ``{"audio": <base64>, "isFinal": null, "alignment": {chars, charStartTimesMs, charDurationsMs},
  "normalizedAlignment": …}`` per spoken piece, then ``{"isFinal": true}`` and close 1000.

Extensions (extra keys an ElevenLabs client ignores) are described in :mod:`gateway.export.elevenlabs_ws`.

Text that arrives token by token is cut into pieces as soon as a clause is complete (sentence end, or a comma,
semicolon or colon after enough characters), so first audio does not wait for the 120-character schedule; the
schedule still cuts long unpunctuated text at a word boundary. Pieces are spoken in order by one task while
more text keeps arriving.

Input is bounded before any work (:mod:`gateway.api.ws_input`: message size, 1,000 characters of text per message,
settings validated like HTTP; :class:`Backlog`: text waiting to be spoken), and a session is admitted by the same
path as an HTTP line (:func:`gateway.api.access.admit`: key, drain, rate limit) plus a cap on sessions per process.
``voice_settings`` (first message) and ``model_id`` (query) apply to every piece. Every refusal is a JSON message
``{"message", "error", "code"}`` followed by a close with that code (docs/api.md lists them).
"""

from __future__ import annotations

import asyncio
import base64
import re

import structlog
from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from gateway.api.access import REFUSED, Refusal, admit, draining, key_valid, presented_key
from gateway.api.ws_input import (
    POLICY,
    TOO_BIG,
    ClientMessage,
    SessionOptions,
    WsInputError,
    check_model_id,
    read_message,
    session_options,
)
from gateway.audio.encode import create_encoder
from gateway.audio.formats import parse_output_format
from gateway.core.errors import InputError
from gateway.core.events import AlignmentEvent, AudioEvent, ErrorEvent, SegmentEndEvent, StatusEvent
from gateway.core.timeline import WordSpan
from gateway.export.elevenlabs_ws import audio_message
from gateway.lipsync.build import LipSyncData
from gateway.service import Mouthpiece
from gateway.speak.events import LineFinished, VisemesEvent
from gateway.speak.line import SpeakInput

router = APIRouter(tags=["websocket"])
log = structlog.get_logger(__name__)

_SENTENCE_CUT = re.compile(r"[.!?…]+[\"')\]]*\s")
_CLAUSE_CUT = re.compile(r"[,;:—]\s")
MIN_CLAUSE_CHARS = 20
DEFAULT_SCHEDULE = [120, 160, 250, 290]
_END = object()


class Chunker:
    """Cuts streamed text into speakable pieces at clause boundaries (or by the chunk-length schedule)."""

    def __init__(self, schedule: list[int] | None = None) -> None:
        self.buffer = ""
        self.schedule = [int(x) for x in (schedule or DEFAULT_SCHEDULE)] or DEFAULT_SCHEDULE
        self.pieces_cut = 0

    def feed(self, text: str) -> list[str]:
        self.buffer += text
        pieces = []
        while True:
            piece = self._cut()
            if piece is None:
                return pieces
            pieces.append(piece)

    def flush(self) -> list[str]:
        piece, self.buffer = self.buffer.strip(), ""
        return [piece] if piece else []

    def _cut(self) -> str | None:
        end = None
        sentence = _SENTENCE_CUT.search(self.buffer)
        if sentence:
            end = sentence.end()
        else:
            for clause in _CLAUSE_CUT.finditer(self.buffer):
                if clause.end() >= MIN_CLAUSE_CHARS:
                    end = clause.end()
                    break
        limit = self.schedule[min(self.pieces_cut, len(self.schedule) - 1)]
        if end is None and len(self.buffer) >= limit:
            space = self.buffer.rfind(" ", 0, limit)
            end = space + 1 if space > 0 else limit
        if end is None:
            return None
        piece, self.buffer = self.buffer[:end].strip(), self.buffer[end:]
        self.pieces_cut += 1
        return piece or None


@router.websocket("/v1/text-to-speech/{voice_id}/stream-input")
async def stream_input(websocket: WebSocket, voice_id: str) -> None:
    mouthpiece: Mouthpiece = websocket.app.state.mouthpiece
    limits, max_chars = mouthpiece.settings.ingress, mouthpiece.settings.max_text_chars
    query = websocket.query_params
    await websocket.accept()
    try:
        fmt = parse_output_format(query.get("output_format", "mp3_44100_128"))
        mouthpiece.resolve_voice(voice_id)  # the same resolution as HTTP: 404 hint -> close 1008 with it
        inactivity = min(180.0, max(1.0, float(query.get("inactivity_timeout", 20))))
        model_id = check_model_id(query.get("model_id"))
    except (ValueError, InputError, WsInputError) as exc:
        message = exc.message if isinstance(exc, (InputError, WsInputError)) else str(exc)
        await _close_with_error(websocket, "invalid_request", message, POLICY)
        return
    if mouthpiece.draining:  # before reading anything: this replica takes no new sessions
        await _refuse(websocket, draining())
        return
    client = websocket.client.host if websocket.client else "unknown"
    try:
        first = await _next_message(websocket, inactivity, limits.ws_max_message_bytes, max_chars)
        if first is None:
            return
        options = session_options(first.raw, max_chars)
    except WsInputError as exc:
        await _close_with_error(websocket, exc.error, exc.message, exc.code)
        return
    header_key = presented_key(websocket.headers)
    try:  # one admission path with HTTP: key, drain, rate limits
        await admit(mouthpiece, header_key if key_valid(mouthpiece, header_key) else options.key, client)
    except Refusal as refusal:
        await _refuse(websocket, refusal)
        return
    state = websocket.app.state  # sessions open in this app (capacity: GATEWAY_WS_MAX_SESSIONS)
    if getattr(state, "ws_sessions", 0) >= limits.ws_max_sessions:
        await _refuse(websocket, Refusal(503, "capacity", f"This replica serves {limits.ws_max_sessions} WebSocket "
                                         "sessions at once; retry shortly or on another replica.",
                                         retry_after_s=1))
        return
    state.ws_sessions = getattr(state, "ws_sessions", 0) + 1
    try:
        await _session(websocket, mouthpiece, first, options, Piece(voice_id, fmt, options.voice_settings, model_id),
                       inactivity)
    finally:
        state.ws_sessions -= 1


class Piece:
    """How each piece of a session is spoken: the session's voice, format, voice settings and model."""

    def __init__(self, voice_id: str, fmt, voice_settings: dict | None, model_id: str | None) -> None:  # noqa: ANN001
        self.voice_id, self.fmt, self.voice_settings, self.model_id = voice_id, fmt, voice_settings, model_id

    def input(self, text: str) -> SpeakInput:
        return SpeakInput(text, voice_id=self.voice_id, output_format=self.fmt.name, blendshapes=False,
                          voice_settings=self.voice_settings, model_id=self.model_id)


async def _next_message(websocket: WebSocket, inactivity: float, max_bytes: int, max_chars: int):  # noqa: ANN202
    """The next client message, checked (:class:`WsInputError`); None when the client left or went quiet (then the
    session is already closed)."""
    try:
        message = await asyncio.wait_for(websocket.receive(), inactivity)
    except TimeoutError:
        await _close_with_error(websocket, "input_timeout_exceeded", f"Have not received a new text input within "
                                f"the timeout of {inactivity:g} seconds.", POLICY)
        return None
    if message["type"] == "websocket.disconnect":
        return None
    return read_message(message, max_bytes, max_chars)


async def _session(websocket: WebSocket, mouthpiece: Mouthpiece, first: ClientMessage, options: SessionOptions,
                   piece: Piece, inactivity: float) -> None:
    limits, max_chars = mouthpiece.settings.ingress, mouthpiece.settings.max_text_chars
    queue: asyncio.Queue = asyncio.Queue()
    backlog = Backlog(limits.ws_max_pending_chars)
    speaker = asyncio.create_task(_speak_pieces(websocket, mouthpiece, queue, piece, backlog))
    chunker = Chunker(options.schedule)
    message: ClientMessage | None = first
    try:
        while True:
            if message is not first:
                message = await _next_message(websocket, inactivity, limits.ws_max_message_bytes, max_chars)
                if message is None:
                    speaker.cancel()
                    return
            text = message.text
            if message is not first and text == "":
                backlog.put(queue, chunker.flush())
                queue.put_nowait(_END)
                break
            if text and (message is not first or text.strip()):
                backlog.put(queue, chunker.feed(text))
            if message.flush:
                backlog.put(queue, chunker.flush())
            backlog.check(len(chunker.buffer))
            message = None
        await speaker
    except WsInputError as exc:
        speaker.cancel()
        await _close_with_error(websocket, exc.error, exc.message, exc.code)
    except WebSocketDisconnect:
        speaker.cancel()


class Backlog:
    """Text received but not yet spoken; past ``limit`` characters the session is closed 1009 (a sender much
    faster than speech cannot pile work up on the replica)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.pending = 0

    def put(self, queue: asyncio.Queue, pieces: list[str]) -> None:
        for text in pieces:
            self.pending += len(text)
            queue.put_nowait(text)
        self.check(0)

    def check(self, buffered: int) -> None:
        if self.pending + buffered > self.limit:
            raise WsInputError("too_much_pending_text", f"More than {self.limit} characters are waiting to be "
                               "spoken; send text no faster than it is spoken.", TOO_BIG)

    def taken(self, text: str) -> None:
        self.pending -= len(text)


async def _speak_pieces(websocket: WebSocket, mouthpiece: Mouthpiece, queue: asyncio.Queue, template: Piece,
                        backlog: Backlog) -> None:
    encoder = None
    fmt = template.fmt
    try:
        while True:
            piece = await queue.get()
            if piece is _END:
                break
            backlog.taken(piece)
            try:
                line = mouthpiece.prepare(template.input(piece))
            except InputError as exc:
                await websocket.send_json({"error": "invalid_text", "message": exc.message, "piece": piece})
                continue
            pcm: list[bytes] = []
            lips: LipSyncData | None = None
            words: list[WordSpan] = []
            seg_start = 0
            provider = level = changed = None
            async for event in mouthpiece.stream(line):
                if isinstance(event, VisemesEvent):
                    lips = event.lipsync
                elif isinstance(event, StatusEvent):
                    provider, level = event.provider or provider, event.degradation_level or level
                    changed = event.detail if event.code == "voice_changed" else changed
                elif isinstance(event, AudioEvent):
                    if encoder is None:
                        encoder = create_encoder(fmt, event.sample_rate)
                    pcm.append(event.pcm)
                elif isinstance(event, AlignmentEvent):
                    words.extend(event.words)
                elif isinstance(event, SegmentEndEvent):
                    await websocket.send_json(audio_message(encoder.feed(b"".join(pcm)), line.text, words, seg_start,
                                                            event.end_ms, lips, provider, level, changed))
                    pcm, lips, seg_start, changed = [], None, event.end_ms, None
                elif isinstance(event, ErrorEvent):
                    await websocket.send_json({"error": event.code, "message": event.message, "piece": piece,
                                               "isFinal": None})
                elif isinstance(event, LineFinished):
                    provider, level = event.result.provider, event.result.degradation_level.value
        tail = encoder.finish() if encoder is not None else b""
        if tail:
            await websocket.send_json({"audio": base64.b64encode(tail).decode(), "isFinal": None,
                                       "alignment": None, "normalizedAlignment": None})
        await websocket.send_json({"isFinal": True})
        await websocket.close(1000)
    except WebSocketDisconnect:
        return
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # noqa: BLE001 - never leave a client hanging without a close
        log.exception("ws_stream_failed", error_type=type(exc).__name__)
        await _close_with_error(websocket, "internal_error", "internal error", 1011)


async def _close_with_error(websocket: WebSocket, error: str, message: str, code: int) -> None:
    """Send ``{"message", "error", "code"}`` and close with ``code`` (the reason: the message, cut to the 123 bytes
    a close frame holds)."""
    REFUSED.labels("websocket", error).inc()
    try:
        await websocket.send_json({"message": message, "error": error, "code": code})
        await websocket.close(code, reason=message.encode()[:120].decode("utf-8", "ignore"))
    except (WebSocketDisconnect, RuntimeError):
        pass


async def _refuse(websocket: WebSocket, refusal: Refusal) -> None:
    """A refusal of the admission path, as HTTP's body plus ``code``: 1008 (key) or 1013 (drain, rate, capacity)."""
    REFUSED.labels("websocket", refusal.error).inc()
    try:
        await websocket.send_json({**refusal.body(), "code": refusal.ws_code, "status": refusal.status})
        await websocket.close(refusal.ws_code, reason=refusal.message.encode()[:120].decode("utf-8", "ignore"))
    except (WebSocketDisconnect, RuntimeError):
        pass
