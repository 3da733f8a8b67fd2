"""The original service's media URLs: ``GET /static/avatar/<request_id>.mp3|.wav|.ogg|.mp4``.

The same media as ``audio_url`` / ``video_url`` (``/api/avatar/audio|video/<request_id>``), addressed the way clients
of the original contract build them. The audio comes in the format the extension names: as stored when it already
is, else converted once per call (the line was spoken in another ``output_format``).
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, JSONResponse, Response

from gateway.api.access import read_access
from gateway.api.routes_speak import video_file
from gateway.api.schemas import ErrorResponse
from gateway.audio.convert import convert_audio
from gateway.audio.decode import AudioDecodeError
from gateway.audio.formats import parse_output_format
from gateway.media.audio import valid_request_id

router = APIRouter(tags=["compatibility"])
#: Extension -> output format name of the audio served under it.
AUDIO_EXTENSIONS = {"mp3": "mp3", "wav": "wav", "ogg": "opus"}


def _not_found(what: str) -> JSONResponse:
    return JSONResponse({"error": "not_found", "message": f"No {what} for that request id"}, status_code=404)


@router.get("/static/avatar/{name}", responses={404: {"model": ErrorResponse}}, dependencies=[Depends(read_access)])
async def static_avatar(name: str, request: Request) -> Response:
    """``<request_id>.mp3`` (or ``.wav``, ``.ogg``): the line's audio in that format; ``<request_id>.mp4``: its
    video."""
    request_id, _, extension = name.partition(".")
    extension = extension.lower()
    if not valid_request_id(request_id) or extension not in (*AUDIO_EXTENSIONS, "mp4"):
        return _not_found("media")
    if extension == "mp4":
        return await video_file(request_id, request)
    found = request.app.state.mouthpiece.audio_store.find(request_id)
    if found is None:
        return _not_found("audio")
    path, media_type = found
    try:
        target = parse_output_format(AUDIO_EXTENSIONS[extension])
    except ValueError:  # Ogg Opus needs an FFmpeg with libopus
        return _not_found(f".{extension} audio")
    if path.suffix == f".{target.extension}":
        return FileResponse(path, media_type=media_type)
    try:
        data = await asyncio.to_thread(convert_audio, path.read_bytes(), media_type, target)
    except AudioDecodeError:
        return _not_found(f".{extension} audio")
    return Response(data, media_type=target.media_type)
