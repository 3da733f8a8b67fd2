"""Speak endpoints: whole line, NDJSON stream, and rendered audio by request id."""

from __future__ import annotations

import asyncio

import orjson
import structlog
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from gateway.api.access import read_access, speak_access
from gateway.api.batching import BatchedStreamingResponse
from gateway.api.media import media_response
from gateway.api.responses import FastJSONResponse
from gateway.api.schemas import ErrorResponse, SpeakRequest, SpeakResponse
from gateway.core.events import ErrorEvent
from gateway.export.speak import result_body, result_headers
from gateway.export.stream import event_body
from gateway.media.store import MediaKind
from gateway.observability.metrics import REQUESTS, labelled
from gateway.service import Mouthpiece
from gateway.speak.events import LineFinished
from gateway.speak.line import SpeakInput

log = structlog.get_logger(__name__)
router = APIRouter(tags=["speak"])
ERRORS = {400: {"model": ErrorResponse, "description": "Invalid request: malformed JSON, a body not in UTF-8, wrong or "
                                                       "missing fields (validation_error), or bad text (bad_request)"},
          401: {"model": ErrorResponse, "description": "No valid API key"},
          404: {"model": ErrorResponse, "description": "Unknown character or voice"},
          408: {"model": ErrorResponse, "description": "The body did not arrive in time"},
          413: {"model": ErrorResponse, "description": "Body over the limit"},
          429: {"model": ErrorResponse, "description": "Rate limited (Retry-After)"},
          503: {"model": ErrorResponse, "description": "Draining, or at its maximum of lines in flight (Retry-After)"}}


def _mouthpiece(request: Request) -> Mouthpiece:
    return request.app.state.mouthpiece


def _input(body: SpeakRequest) -> SpeakInput:
    return SpeakInput(**body.model_dump())


#: Raw text up to this many characters is prepared on the event loop (a normal line: a few ms); longer input
#: (up to the 20 x limit refused unparsed) is cleaned, parsed and normalized in a worker thread, so one request of
#: e.g. 20,000 characters of numbers (~0.5 s of normalization) never stalls the loop for everyone else.
INLINE_TEXT_CHARS = 1000


async def prepared(mouthpiece: Mouthpiece, inp: SpeakInput):  # noqa: ANN201 - a Line
    """``mouthpiece.prepare(inp)``, off the event loop when the input is long."""
    if len(inp.text or "") <= INLINE_TEXT_CHARS:
        return mouthpiece.prepare(inp)
    return await asyncio.to_thread(mouthpiece.prepare, inp)


@router.post("/api/avatar/speak", response_model=SpeakResponse, responses=ERRORS, dependencies=[Depends(speak_access)])
async def speak(body: SpeakRequest, request: Request) -> JSONResponse:
    """Speak a line; the audio file is at ``audio_url``, lip-sync data is in the body."""
    mouthpiece = _mouthpiece(request)
    line = await prepared(mouthpiece, _input(body))
    structlog.contextvars.bind_contextvars(request_id=line.request_id, character=line.character.id)
    result = await mouthpiece.speak(line)
    REQUESTS.labels("speak", result.provider or "none", "ok" if result.audio is not None else "text_only").inc()
    return FastJSONResponse(result_body(result), headers=result_headers(result))


@router.post("/api/avatar/speak/stream", dependencies=[Depends(speak_access)], responses={**ERRORS, 200: {
    "content": {"application/x-ndjson": {}},
    "description": "One JSON object per line: status, audio, alignment, visemes, segment_end, then final or error."}})
async def speak_stream(body: SpeakRequest, request: Request) -> StreamingResponse:
    """Stream audio and timeline events as NDJSON while the line is synthesized."""
    mouthpiece = _mouthpiece(request)
    line = await prepared(mouthpiece, _input(body))
    structlog.contextvars.bind_contextvars(request_id=line.request_id, character=line.character.id)

    async def lines():
        outcome = "incomplete"
        provider = "none"
        try:
            async for event in mouthpiece.stream(line):
                if isinstance(event, LineFinished):
                    outcome, provider = "ok", event.result.provider or "none"
                elif isinstance(event, ErrorEvent):
                    outcome = "error"
                yield orjson.dumps(event_body(event), option=orjson.OPT_APPEND_NEWLINE)  # no copy for the newline
        except Exception as exc:  # noqa: BLE001 - a stream always ends with final or error, never just stops
            if outcome == "incomplete":
                log.exception("stream_failed", error_type=type(exc).__name__)
                outcome = "error"
                yield orjson.dumps(event_body(ErrorEvent("internal_error", "internal error"))) + b"\n"
        finally:
            labelled(REQUESTS, "stream", provider, outcome).inc()

    return BatchedStreamingResponse(lines(), media_type="application/x-ndjson",
                                    headers={"X-Request-ID": line.request_id, "Cache-Control": "no-store"})


MEDIA_RESPONSES = {206: {"description": "One byte range (Range: bytes=...)"}, 404: {"model": ErrorResponse},
                   416: {"description": "Range past the end"}, 503: {"description": "Media store unreachable"}}


@router.get("/api/avatar/audio/{request_id}", responses=MEDIA_RESPONSES, dependencies=[Depends(read_access)])
async def audio_file(request_id: str, request: Request) -> Response:
    """The audio of a spoken line, by its request id, from any replica while ``GATEWAY_AUDIO_TTL_S`` lasts
    (Range requests: 206; no other path input reaches a store)."""
    return await media_response(_mouthpiece(request).media, MediaKind.AUDIO, request_id, request)


@router.get("/api/avatar/video/{request_id}", responses=MEDIA_RESPONSES, dependencies=[Depends(read_access)])
async def video_file(request_id: str, request: Request) -> Response:
    """The lip-synced MP4 of a spoken line, by its request id (Range requests: 206)."""
    return await media_response(_mouthpiece(request).media, MediaKind.VIDEO, request_id, request)
