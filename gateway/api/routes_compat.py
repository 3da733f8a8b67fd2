"""What clients of the original contract fetch beyond the speak call.

* ``GET /static/avatar/<request_id>.mp3|.wav|.ogg|.mp4``: the same media as ``audio_url`` / ``video_url``
  (``/api/avatar/audio|video/<request_id>``), addressed the way those clients build them. The audio comes in the
  format the extension names: as stored when it already is, else converted once per call (the line was spoken in
  another ``output_format``).
* ``GET /api/avatar/voices/<voice_id>/preview``: the ``preview_url`` of each voice in ``GET /api/avatar/voices``, a
  short MP3 of that voice (spoken through the chain like any line, so the line cache answers repeats).
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from gateway.api.access import read_access, speak_access
from gateway.api.media import media_response
from gateway.api.schemas import ErrorResponse
from gateway.audio.convert import convert_audio
from gateway.audio.decode import AudioDecodeError
from gateway.audio.formats import parse_output_format
from gateway.media.store import MediaKind, MediaUnavailable, valid_request_id
from gateway.speak.line import SpeakInput

router = APIRouter(tags=["compatibility"])
#: Extension -> output format name of the audio served under it.
AUDIO_EXTENSIONS = {"mp3": "mp3", "wav": "wav", "ogg": "opus"}
#: What a voice preview says (the original contract's first line).
PREVIEW_TEXT = "Hello, how can I help you today?"


def _not_found(what: str) -> JSONResponse:
    return JSONResponse({"error": "not_found", "message": f"No {what} for that request id"}, status_code=404)


@router.get("/static/avatar/{name}", responses={404: {"model": ErrorResponse}, 503: {"description": "Store down"}},
            dependencies=[Depends(read_access)])
async def static_avatar(name: str, request: Request) -> Response:
    """``<request_id>.mp3`` (or ``.wav``, ``.ogg``): the line's audio in that format; ``<request_id>.mp4``: its
    video (byte ranges as on ``video_url``)."""
    request_id, _, extension = name.partition(".")
    extension = extension.lower()
    if not valid_request_id(request_id) or extension not in (*AUDIO_EXTENSIONS, "mp4"):
        return _not_found("media")
    store = request.app.state.mouthpiece.media
    if extension == "mp4":
        return await media_response(store, MediaKind.VIDEO, request_id, request)
    try:
        target = parse_output_format(AUDIO_EXTENSIONS[extension])
    except ValueError:  # Ogg Opus needs an FFmpeg with libopus
        return _not_found(f".{extension} audio")
    try:
        info = await store.info(MediaKind.AUDIO, request_id)
    except MediaUnavailable:
        info = None
    if info is None or info.extension == target.extension:  # as stored (or the store's own 404 / 503)
        return await media_response(store, MediaKind.AUDIO, request_id, request)
    try:
        data = await asyncio.to_thread(convert_audio, await store.read_all(info), info.media_type, target)
    except (AudioDecodeError, MediaUnavailable):
        return _not_found(f".{extension} audio")
    return Response(data, media_type=target.media_type)


@router.get("/api/avatar/voices/{voice_id}/preview", responses={404: {"model": ErrorResponse}},
            dependencies=[Depends(speak_access)])
async def voice_preview(voice_id: str, request: Request) -> Response:
    """A short MP3 of one voice (any ``voice_id`` a speak request accepts); 503 when no provider could speak it."""
    mouthpiece = request.app.state.mouthpiece
    line = mouthpiece.prepare(SpeakInput(PREVIEW_TEXT, voice_id=voice_id, output_format="mp3", visemes=False,
                                         blendshapes=False))
    result = await mouthpiece.speak(line)
    if result.audio is None:
        return JSONResponse({"error": "preview_unavailable", "message": "No provider could speak this voice now"},
                            status_code=503, headers={"Retry-After": "5"})
    return Response(result.audio, media_type="audio/mpeg", headers={"Cache-Control": "public, max-age=3600",
                                                                    "X-TTS-Provider": result.provider or ""})
