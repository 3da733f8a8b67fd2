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
"""

from __future__ import annotations

import asyncio
import base64
import json
import re

import structlog
from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from gateway.api.access import key_valid, presented_key
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
    query = websocket.query_params
    await websocket.accept()
    try:
        fmt = parse_output_format(query.get("output_format", "mp3_44100_128"))
        mouthpiece.resolve_voice(voice_id)  # the same resolution as HTTP: 404 hint -> close 1008 with it
        inactivity = min(180.0, max(1.0, float(query.get("inactivity_timeout", 20))))
    except (ValueError, InputError) as exc:
        message = exc.message if isinstance(exc, InputError) else str(exc)
        await _close_with_error(websocket, "invalid_request", message, 1008)
        return

    authorized = key_valid(mouthpiece, presented_key(websocket.headers))
    queue: asyncio.Queue = asyncio.Queue()
    speaker = asyncio.create_task(_speak_pieces(websocket, mouthpiece, queue, voice_id, fmt))
    chunker: Chunker | None = None
    try:
        while True:
            try:
                raw = await asyncio.wait_for(websocket.receive_text(), inactivity)
            except TimeoutError:
                await _close_with_error(websocket, "input_timeout_exceeded",
                                        f"Have not received a new text input within the timeout of "
                                        f"{inactivity:g} seconds.", 1008)
                speaker.cancel()
                return
            try:
                message = json.loads(raw)
                if not isinstance(message, dict):
                    raise ValueError("message must be a JSON object")
                text = message.get("text")
                if not isinstance(text, str):
                    raise ValueError("each message needs a string 'text'")
            except ValueError as exc:
                await _close_with_error(websocket, "invalid_message", str(exc), 1008)
                speaker.cancel()
                return
            if chunker is None:  # the initial message: settings (and maybe the key), text is " "
                if not authorized:
                    bearer = str(message.get("authorization") or "")
                    key = message.get("xi-api-key") or message.get("xi_api_key") or (
                        bearer[7:].strip() if bearer.lower().startswith("bearer ") else None)
                    if not key_valid(mouthpiece, key):
                        await _close_with_error(websocket, "invalid_api_key", "A valid API key is required.", 1008)
                        speaker.cancel()
                        return
                schedule = (message.get("generation_config") or {}).get("chunk_length_schedule")
                chunker = Chunker(schedule if isinstance(schedule, list) and schedule else None)
                if text.strip():
                    for piece in chunker.feed(text):
                        queue.put_nowait(piece)
                continue
            if text == "":
                for piece in chunker.flush():
                    queue.put_nowait(piece)
                queue.put_nowait(_END)
                break
            for piece in chunker.feed(text):
                queue.put_nowait(piece)
            if message.get("flush"):
                for piece in chunker.flush():
                    queue.put_nowait(piece)
        await speaker
    except WebSocketDisconnect:
        speaker.cancel()


async def _speak_pieces(websocket: WebSocket, mouthpiece: Mouthpiece, queue: asyncio.Queue, voice_id: str,
                        fmt) -> None:  # noqa: ANN001
    encoder = None
    try:
        while True:
            piece = await queue.get()
            if piece is _END:
                break
            try:
                line = mouthpiece.prepare(SpeakInput(piece, voice_id=voice_id, output_format=fmt.name,
                                                     blendshapes=False))
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
    try:
        await websocket.send_json({"message": message, "error": error, "code": code})
        await websocket.close(code)
    except (WebSocketDisconnect, RuntimeError):
        pass
