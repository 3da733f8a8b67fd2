"""ElevenLabs REST text-to-speech: ``POST /v1/text-to-speech/{voice_id}`` and its ``/stream`` and
``/with-timestamps`` variants, checked like the service checks them, answered as it answers."""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass
from functools import partial

from fastapi import Request
from fastapi.responses import Response
from starlette.requests import ClientDisconnect

from ops.standins.audio import AudioFormat, encode_whole
from ops.standins.control import answered
from ops.standins.elevenlabs.errors import error_response, validation_error
from ops.standins.elevenlabs.formats import DEFAULT_FORMAT, FORMATS
from ops.standins.elevenlabs.state import StandIn
from ops.standins.elevenlabs.voices import DEFAULT_MODEL, VOICE_BY_ID, check_voice_settings, max_chars, voice_speed
from ops.standins.speech import SpokenPiece
from ops.standins.streaming import DroppableStreamingResponse, encoded_chunks


@dataclass
class _Job:
    text: str
    voice: dict
    fmt: AudioFormat
    speed: float
    headers: dict


async def rest(si: StandIn, request: Request, voice_id: str, *, stream: bool, timestamps: bool) -> Response:
    endpoint = ("stream" if stream else "convert") + ("_with_timestamps" if timestamps else "")
    job = await _prepare(si, request, voice_id, endpoint)
    if isinstance(job, Response):
        return job
    if stream:
        body = _stream_body(si, job, timestamps)
        media = "application/x-ndjson" if timestamps else job.fmt.media_type
    else:
        body = _whole_body(si, job, timestamps)
        media = "application/json" if timestamps else job.fmt.media_type
    return DroppableStreamingResponse(body, media, job.headers,  # type: ignore[return-value]
                                      on_close=si.slot_releaser())


async def _prepare(si: StandIn, request: Request, voice_id: str, endpoint: str) -> _Job | Response:
    record = si.record_request(si.account.key_ok(request.headers.get("xi-api-key")), endpoint=endpoint,
                               method="POST", voice_id=voice_id, query=dict(request.query_params))
    done = partial(answered, record)
    try:
        raw = await request.body()
    except ClientDisconnect:
        return done(Response(status_code=499))
    if not record["key_ok"]:
        return done(error_response("invalid_api_key"))
    if await si.faults.hang_on_connect("rest") and await request.is_disconnected():
        return done(Response(status_code=499))
    fmt_name = request.query_params.get("output_format", DEFAULT_FORMAT)
    fmt = FORMATS.get(fmt_name)
    if fmt is None:
        return done(validation_error(["query", "output_format"], f"Input should be one of {sorted(FORMATS)}", "enum"))
    try:
        body = json.loads(raw or b"null")
    except ValueError:
        return done(validation_error(["body"], "JSON decode error", "json_invalid"))
    if not isinstance(body, dict):
        return done(validation_error(["body"], "Input should be a valid dictionary", "dict_type"))
    record.update({k: body.get(k) for k in ("text", "model_id", "voice_settings", "previous_text", "next_text",
                                             "language_code", "seed", "previous_request_ids", "next_request_ids",
                                             "apply_text_normalization")})
    text = body.get("text")
    if "text" not in body:
        return done(validation_error(["body", "text"], "Field required", "missing"))
    if not isinstance(text, str):
        return done(validation_error(["body", "text"], "Input should be a valid string", "string_type"))
    for opt in ("model_id", "previous_text", "next_text", "language_code"):
        if body.get(opt) is not None and not isinstance(body[opt], str):
            return done(validation_error(["body", opt], "Input should be a valid string", "string_type"))
    if (bad := check_voice_settings(body.get("voice_settings"), ["body", "voice_settings"])) is not None:
        return done(bad)
    model = body.get("model_id") or DEFAULT_MODEL
    error = si.faults.take_error("rest")
    if error:
        return done(error_response(error, si.f.retry_after_s, **si.error_values(voice_id, len(text), model)))
    voice = VOICE_BY_ID.get(voice_id)
    if voice is None:
        return done(error_response("voice_not_found", voice_id=voice_id))
    if not text.strip():
        return done(validation_error(["body", "text"], "Text must contain at least one character", "string_too_short"))
    limit = max_chars(model)
    if len(text) > limit:
        return done(error_response("max_character_limit_exceeded", required=len(text), max_chars=limit, model=model))
    if (quota := si.quota_error(len(text), "rest")) is not None:
        return done(error_response("quota_exceeded", **quota))
    if si.account.active >= si.account.concurrency_limit:
        return done(error_response("too_many_concurrent_requests", si.f.retry_after_s,
                                   concurrency=si.account.concurrency_limit))
    si.account.character_count += len(text)
    si.account.active += 1
    record["status"] = 200
    request_id = uuid.uuid4().hex
    headers = {"request-id": request_id, "x-character-count": str(len(text)), "character-cost": str(len(text)),
               "current-concurrent-requests": str(si.account.active),
               "maximum-concurrent-requests": str(si.account.concurrency_limit)}
    return _Job(text, voice, fmt, voice_speed(voice, body.get("voice_settings")), headers)


async def _stream_body(si: StandIn, job: _Job, timestamps: bool):
    pending: list = []
    async for chunk, data in encoded_chunks(si.speech, si.faults, job.text, job.speed, job.fmt):
        if not timestamps:
            if data:
                yield data
            continue
        if chunk is not None:
            pending.extend(chunk.chars)
        if data or (chunk is None and pending):
            yield _ndjson_line(data, pending)
            pending = []


def rest_alignment(chars: list, offset_ms: float = 0.0) -> dict:
    return {"characters": [c.char for c in chars],
            "character_start_times_seconds": [round((c.start_ms - offset_ms) / 1000, 3) for c in chars],
            "character_end_times_seconds": [round((c.end_ms - offset_ms) / 1000, 3) for c in chars]}


def _timestamped(audio: bytes, alignment: dict | None) -> str:
    return json.dumps({"audio_base64": base64.b64encode(audio).decode(), "alignment": alignment,
                       "normalized_alignment": alignment})


def _ndjson_line(audio: bytes, chars: list) -> bytes:
    return (_timestamped(audio, rest_alignment(chars) if chars else None) + "\n").encode()


async def _whole_body(si: StandIn, job: _Job, timestamps: bool):
    from gateway.audio.resample import resample_pcm

    faults = si.faults
    pieces: list[SpokenPiece] = [p async for p in si.speech.sentences(job.text, job.speed)]
    pcm = b"".join(resample_pcm(p.pcm, p.sample_rate, job.fmt.rate) for p in pieces)
    audio = encode_whole(pcm, job.fmt)
    if timestamps:
        payload = _timestamped(audio, rest_alignment([c for p in pieces for c in p.chars])).encode()
    else:
        payload = audio
    await faults.first_byte("rest")
    step = 8192
    total_ms = pieces[-1].end_ms if pieces else 1.0
    first_sentence_bytes = int(len(payload) * (pieces[0].end_ms / total_ms)) if pieces and total_ms else 0
    for n, offset in enumerate(range(0, len(payload), step)):
        faults.cut("rest", n, 1 if offset >= first_sentence_bytes else 0)
        if n:
            await faults.between_chunks("rest")
        yield payload[offset:offset + step]
