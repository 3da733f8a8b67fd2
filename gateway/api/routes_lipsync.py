"""``POST /api/lipsync``: an audio file (and the text it speaks) -> phoneme/word timings and lip-sync tracks.

Multipart form: ``audio`` (file: WAV, MP3, Ogg/Opus, FLAC, M4A... anything FFmpeg probes),
optional ``text`` (the words spoken; without it they are recognised from the audio and the
response's ``text`` is what was heard, ``text_source: "heard"``), optional ``fps`` (1..240,
default 60), ``visemes`` and ``blendshapes`` (booleans, default true). The body is read with a byte cap before it is parsed,
so an oversized upload is refused (413) without being buffered whole. Every client mistake is a
4xx with ``{"error", "message", "request_id"}``; alignment runs in a worker thread and never
fails the request (it falls back to an estimate, see ``method``).
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from starlette.requests import ClientDisconnect

from gateway.api.access import speak_access
from gateway.audio.decode import AudioDecodeError
from gateway.export.alignment import lipsync_body
from gateway.providers.threaded import LoopLimiter
from gateway.timing.align import MAX_AUDIO_SECONDS, LipsyncInputError, LipsyncOptions, align_file, check_fps, check_text
from gateway.timing.aligners import Aligner
from gateway.timing.aligners.recognizer import Recognizer

router = APIRouter(tags=["lipsync"])

#: Largest request body accepted (bytes).
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
#: Concurrent alignments (each holds a decoder and a CPU core).
ALIGN_CONCURRENCY = 2
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}

_semaphore = LoopLimiter(ALIGN_CONCURRENCY)


def gateway_aligner(request: Request) -> Aligner:
    """The gateway's aligner (one per process: its decoders load once)."""
    return request.app.state.mouthpiece.aligner


def gateway_recognizer(request: Request) -> Recognizer:
    """The gateway's recogniser, for audio that comes without text."""
    return request.app.state.mouthpiece.recognizer


def _error(request: Request, status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": code, "message": message,
                         "request_id": getattr(request.state, "request_id", None)}, status_code=status)


def _flag(value, name: str, default: bool) -> bool:  # noqa: ANN001
    if value is None or value == "":
        return default
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise LipsyncInputError(f"{name} must be true or false")


async def _read_body(request: Request, limit: int) -> bytes | None:
    """The request body, or ``None`` as soon as it passes ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


_FORM_SCHEMA = {
    "requestBody": {
        "required": True,
        "content": {"multipart/form-data": {"schema": {
            "type": "object",
            "required": ["audio"],
            "properties": {
                "audio": {"type": "string", "format": "binary",
                          "description": f"Audio file (WAV, MP3, Ogg/Opus, FLAC, M4A...), at most "
                                         f"{MAX_UPLOAD_BYTES // (1024 * 1024)} MB and {MAX_AUDIO_SECONDS:g} s."},
                "text": {"type": "string", "description": "The words the audio speaks. Leave it out to have them "
                                                          "recognised from the audio (the response says what was "
                                                          "heard)."},
                "fps": {"type": "integer", "default": 60, "description": "Blendshape frame rate (1..240)."},
                "visemes": {"type": "boolean", "default": True, "description": "Include Oculus and Azure visemes."},
                "blendshapes": {"type": "boolean", "default": True, "description": "Include ARKit curves."},
            },
        }}},
    },
}


@router.post("/api/lipsync", openapi_extra=_FORM_SCHEMA, dependencies=[Depends(speak_access)], responses={
    400: {"description": "Blank text, bad options, corrupt audio or audio too long"},
    413: {"description": "Upload too large"},
    415: {"description": "Not an audio file"},
})
async def lipsync(request: Request, aligner: Aligner = Depends(gateway_aligner),
                  recognizer: Recognizer = Depends(gateway_recognizer)) -> JSONResponse:
    """Align an uploaded recording to its text (or to the words heard in it); returns phonemes, words, visemes,
    blendshapes and ``method``."""

    content_type = request.headers.get("content-type", "")
    if not content_type.lower().startswith("multipart/form-data"):
        return _error(request, 415, "unsupported_media_type",
                      "send multipart/form-data with an 'audio' file and a 'text' field")
    try:
        body = await _read_body(request, MAX_UPLOAD_BYTES)
    except ClientDisconnect:
        return _error(request, 400, "bad_request", "upload interrupted")
    if body is None:
        return _error(request, 413, "payload_too_large",
                      f"upload larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB")
    request._body = body  # noqa: SLF001 - hand the capped body to Starlette's form parser
    try:
        form = await request.form(max_files=2, max_fields=20)
    except Exception:  # noqa: BLE001 - malformed multipart is the client's
        return _error(request, 400, "bad_request", "malformed multipart body")
    try:
        audio = form.get("audio")
        if audio is None or isinstance(audio, str):
            raise LipsyncInputError("missing 'audio' file part")
        text = form.get("text")
        text = check_text(text) if isinstance(text, str) else None  # absent: recognise the words
        fps_raw = form.get("fps")
        try:
            fps = int(fps_raw) if isinstance(fps_raw, str) and fps_raw.strip() else 60
        except ValueError:
            raise LipsyncInputError("fps must be an integer") from None
        options = LipsyncOptions(check_fps(fps), _flag(form.get("visemes"), "visemes", True),
                                 _flag(form.get("blendshapes"), "blendshapes", True))
        data = await audio.read()
        if not data:
            raise LipsyncInputError("the audio file is empty")
    except LipsyncInputError as exc:
        return _error(request, 400, "bad_request", exc.message)
    finally:
        await form.close()

    try:
        async with _semaphore():
            result = await asyncio.to_thread(align_file, data, text, aligner, recognizer, max_seconds=MAX_AUDIO_SECONDS)
            body_out = await asyncio.to_thread(lipsync_body, result, text, options)
    except AudioDecodeError as exc:
        if exc.message.startswith(("not a recognised audio file", "no audio stream")):
            return _error(request, 415, "unsupported_media_type", f"the upload is not audio: {exc.message}")
        return _error(request, 400, "bad_audio", exc.message)
    return JSONResponse(body_out)
