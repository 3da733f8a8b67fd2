"""Fish Audio HTTP text-to-speech: ``POST /v1/tts``, raw audio streamed back chunked, no framing."""

from __future__ import annotations

import uuid
from functools import partial

from fastapi import Request
from fastapi.responses import Response

from ops.standins.control import answered
from ops.standins.fish.errors import error_response, validation_error
from ops.standins.fish.request import TTSJob, decode_body, parse_tts_request
from ops.standins.fish.state import StandIn
from ops.standins.streaming import DroppableStreamingResponse, encoded_chunks


async def tts(si: StandIn, request: Request) -> Response:
    record = si.record_request(si.account.key_ok(request.headers.get("authorization")), endpoint="tts",
                               method="POST", model=request.headers.get("model"),
                               content_type=request.headers.get("content-type"))
    done = partial(answered, record)
    if not record["key_ok"]:
        return done(error_response("invalid_token"))
    await si.faults.hang_on_connect("rest")
    try:
        body = decode_body(await request.body(), request.headers.get("content-type", "application/msgpack"))
    except Exception:  # noqa: BLE001 - not msgpack/JSON
        return done(validation_error("body", "Body is not valid msgpack or JSON", "value_error"))
    job = parse_tts_request(body)
    if isinstance(job, Response):
        return done(job)
    record.update(job.fields)
    error = si.faults.take_error("rest")
    if error:
        return done(error_response(error))
    if not job.text.strip():
        return done(validation_error("text", "Text must not be empty", "string_too_short"))
    if (denied := si.admit(job, "rest")) is not None:
        return done(denied)
    si.account.active += 1
    record["status"] = 200
    headers = {"x-request-id": uuid.uuid4().hex}
    return DroppableStreamingResponse(_tts_body(si, job), job.audio_format.media_type, headers,  # type: ignore[return-value]
                                      on_close=si.slot_releaser())


async def _tts_body(si: StandIn, job: TTSJob):
    async for _chunk, data in encoded_chunks(si.speech, si.faults, job.text, si.job_speed(job), job.audio_format):
        if data:
            yield data
