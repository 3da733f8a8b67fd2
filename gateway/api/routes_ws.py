"""``/v1/text-to-speech/{voice_id}/stream-input``: ElevenLabs' client WebSocket protocol, served by the gateway.

Game code written for ElevenLabs points its WebSocket at the gateway and keeps working:

* client → ``{"text": " ", "voice_settings": …, "generation_config": {"chunk_length_schedule": […]}}``, then text
  chunks ``{"text": "Hello ", "flush": false}``, optionally ``"flush": true``, and ``{"text": ""}`` to end;
* gateway → ``{"audio": <base64>, "isFinal": null, "alignment": {chars, charStartTimesMs, charDurationsMs},
  "normalizedAlignment": …}`` per spoken piece, then ``{"isFinal": true}`` and close 1000.

Extensions (extra keys an ElevenLabs client ignores): ``visemes`` and ``azure_visemes`` (times relative to the
message's audio, like the alignment), ``provider``, ``degradation_level``, ``piece`` (the text spoken).

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
from gateway.core.events import (AlignmentEvent, AudioEvent, ErrorEvent, FinalEvent, SegmentEndEvent, StatusEvent,
    VisemesEvent)
from gateway.core.errors import InputError
from gateway.speak.line import SpeakInput
from gateway.service import Mouthpiece
from gateway.core.timeline import WordSpan

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


def char_alignment(text: str, words: list[WordSpan], start_ms: int, end_ms: int) -> dict:
    """ElevenLabs-style character alignment (ms relative to ``start_ms``) from word timings.

    Each word's span is shared out evenly over its characters; characters between words (spaces,
    punctuation) take the gap before the next word.
    """
    chars = list(text)
    starts = [0] * len(chars)
    durations = [0] * len(chars)
    cursor, pos = 0, 0
    for word in words:
        if word.char_start is None or word.char_end is None or word.char_start < pos:
            continue
        gap_chars = range(pos, word.char_start)
        w0, w1 = word.start_ms - start_ms, word.end_ms - start_ms
        for k, i in enumerate(gap_chars):
            span = max(0, w0 - cursor)
            starts[i] = cursor + span * k // max(1, len(gap_chars))
            durations[i] = span // max(1, len(gap_chars))
        n = max(1, word.char_end - word.char_start)
        for k, i in enumerate(range(word.char_start, min(word.char_end, len(chars)))):
            starts[i] = w0 + (w1 - w0) * k // n
            durations[i] = (w1 - w0) // n
        cursor, pos = w1, word.char_end
    tail = range(pos, len(chars))
    total = end_ms - start_ms
    for k, i in enumerate(tail):
        starts[i] = cursor + max(0, total - cursor) * k // max(1, len(tail))
        durations[i] = max(0, total - cursor) // max(1, len(tail))
    return {"chars": chars, "charStartTimesMs": starts, "charDurationsMs": durations}


@router.websocket("/v1/text-to-speech/{voice_id}/stream-input")
async def stream_input(websocket: WebSocket, voice_id: str) -> None:
    gateway: Mouthpiece = websocket.app.state.gateway
    query = websocket.query_params
    await websocket.accept()
    try:
        fmt = parse_output_format(query.get("output_format", "mp3_44100_128"))
        character, pinned = _resolve(gateway, voice_id)
        inactivity = min(180.0, max(1.0, float(query.get("inactivity_timeout", 20))))
    except (ValueError, InputError) as exc:
        message = exc.message if isinstance(exc, InputError) else str(exc)
        await _close_with_error(websocket, "invalid_request", message, 1008)
        return

    authorized = key_valid(gateway, presented_key(websocket.headers))
    queue: asyncio.Queue = asyncio.Queue()
    speaker = asyncio.create_task(_speak_pieces(websocket, gateway, queue, character, pinned, fmt))
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
                    if not key_valid(gateway, key):
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


async def _speak_pieces(websocket: WebSocket, gateway: Mouthpiece, queue: asyncio.Queue, character: str | None,
                        pinned: str | None, fmt) -> None:  # noqa: ANN001
    encoder = None
    try:
        while True:
            piece = await queue.get()
            if piece is _END:
                break
            try:
                line = gateway.prepare(SpeakInput(piece, voice_id=pinned, character=character,
                                                  output_format=fmt.name, blendshapes=False))
            except InputError as exc:
                await websocket.send_json({"error": "invalid_text", "message": exc.message, "piece": piece})
                continue
            pcm: list[bytes] = []
            lips: dict = {}
            words: list[WordSpan] = []
            seg_start = 0
            provider = level = None
            async for event in gateway.stream(line):
                if isinstance(event, VisemesEvent):
                    lips = event.data
                elif isinstance(event, StatusEvent):
                    provider, level = event.provider or provider, event.degradation_level or level
                elif isinstance(event, AudioEvent):
                    if encoder is None:
                        encoder = create_encoder(fmt, event.sample_rate)
                    pcm.append(event.pcm)
                elif isinstance(event, AlignmentEvent):
                    words.extend(event.words)
                elif isinstance(event, SegmentEndEvent):
                    await websocket.send_json(_audio_message(encoder.feed(b"".join(pcm)), line, words, seg_start,
                                                             event.end_ms, lips, provider, level))
                    pcm, lips, seg_start = [], {}, event.end_ms
                elif isinstance(event, ErrorEvent):
                    await websocket.send_json({"error": event.code, "message": event.message, "piece": piece,
                                               "isFinal": None})
                elif isinstance(event, FinalEvent):
                    result = event.stats["result"]
                    provider, level = result.provider, result.degradation_level.value
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


def _audio_message(audio: bytes, line, words: list[WordSpan], start_ms: int, end_ms: int, lips: dict,  # noqa: ANN001
                   provider: str | None, level: str | None) -> dict:
    seg_words = [w for w in words if start_ms <= w.start_ms < end_ms]
    first = seg_words[0].char_start if seg_words and seg_words[0].char_start is not None else 0
    last = seg_words[-1].char_end if seg_words and seg_words[-1].char_end is not None else len(line.text)
    text = line.text[first:last] if seg_words else ""
    local = [WordSpan(w.word, w.start_ms, w.end_ms, (w.char_start or 0) - first, (w.char_end or 0) - first)
             for w in seg_words]
    alignment = char_alignment(text, local, start_ms, end_ms) if text else None

    def rel(spans: list[dict]) -> list[dict]:
        return [{**s, "start_ms": s["start_ms"] - start_ms, "end_ms": s["end_ms"] - start_ms} for s in spans]

    return {"audio": base64.b64encode(audio).decode(), "isFinal": None, "alignment": alignment,
            "normalizedAlignment": alignment, "visemes": rel(lips.get("visemes", [])),
            "azure_visemes": rel(lips.get("azure_visemes", [])), "provider": provider,
            "degradation_level": level, "piece": line.text}


def _resolve(gateway: Mouthpiece, voice_id: str) -> tuple[str | None, str | None]:
    """``voice_id`` may be a character id, a gateway voice id (``provider:voice``) or a cloud voice id of the cast."""
    if gateway.cast.get(voice_id) is not None:
        return voice_id, None
    if ":" in voice_id:
        gateway._resolve_voice(voice_id)  # noqa: SLF001 - raises InputError listing valid voices
        return None, voice_id
    for character in gateway.cast.characters.values():
        if voice_id in character.voices.values():
            return character.id, None
    raise InputError(404, f"Unknown voice_id {voice_id!r}: use a character id, provider:voice, or a cast voice id")


async def _close_with_error(websocket: WebSocket, error: str, message: str, code: int) -> None:
    try:
        await websocket.send_json({"message": message, "error": error, "code": code})
        await websocket.close(code)
    except (WebSocketDisconnect, RuntimeError):
        pass
