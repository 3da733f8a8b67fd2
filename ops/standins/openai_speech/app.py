"""The OpenAI speech stand-in's FastAPI app: models, voices, health and ``POST /v1/audio/speech``."""

from __future__ import annotations

import json
from functools import partial

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError

from gateway.audio.formats import opus_available
from ops.standins.control import answered
from ops.standins.openai_speech.speech import FORMATS, MEDIA_TYPES, MODELS, VOICES, SpeechBody, audio_body
from ops.standins.server import StandinState, standin_app
from ops.standins.streaming import DroppableStreamingResponse

DEFAULT_PORT = 8703
#: Fault/error name -> (HTTP status, message).
ERRORS: dict[str, tuple[int, str]] = {
    "processing_error": (500, "Processing error"),
    "unavailable": (503, "Service Unavailable"),
    "rate_limited": (429, "Too many requests"),
    "validation_error": (400, "Invalid request"),
}


class Keys:
    """The "account": the keys it wants (none: no key needed)."""

    def __init__(self, keys: set[str] | None) -> None:
        self.keys = keys or set()
        self.active = 0

    def key_ok(self, authorization: str | None) -> bool:
        return not self.keys or (authorization or "").removeprefix("Bearer ").strip() in self.keys


class StandIn(StandinState):
    def __init__(self, keys: set[str] | None = None) -> None:
        super().__init__(Keys(keys), ERRORS)


def detail(status: int, error: str, message: str) -> JSONResponse:
    """Kokoro-FastAPI's error shape."""
    kind = "invalid_request_error" if status < 500 else "server_error"
    return JSONResponse({"detail": {"error": error, "message": message, "type": kind}}, status_code=status)


def wrong_key() -> JSONResponse:
    """OpenAI's 401."""
    return JSONResponse({"error": {"message": "Incorrect API key provided.", "type": "invalid_request_error",
                                   "param": None, "code": "invalid_api_key"}}, status_code=401)


def _fields(raw: bytes) -> list[str]:
    try:
        body = json.loads(raw)
    except ValueError:
        return []
    return sorted(body) if isinstance(body, dict) else []


def create_app(standin: StandIn | None = None) -> FastAPI:
    si = standin or StandIn()
    app = standin_app("OpenAI speech stand-in", si, DEFAULT_PORT)

    @app.get("/health")
    async def health() -> dict:
        return {"status": "healthy"}

    @app.get("/v1/models")
    async def models(request: Request) -> Response:
        if not si.account.key_ok(request.headers.get("authorization")):
            return wrong_key()
        if error := await si.faults.meta_error():
            return detail(ERRORS[error][0], error, ERRORS[error][1])
        return JSONResponse({"object": "list", "data": [
            {"id": m, "object": "model", "created": 1686935002, "owned_by": "kokoro"} for m in MODELS]})

    @app.get("/v1/audio/voices")
    async def voices(request: Request) -> Response:
        if not si.account.key_ok(request.headers.get("authorization")):
            return wrong_key()
        return JSONResponse({"voices": [{"id": v, "name": v} for v in VOICES]})

    @app.post("/v1/audio/speech")
    async def speech(request: Request) -> Response:
        raw = await request.body()
        record = si.record_request(si.account.key_ok(request.headers.get("authorization")), endpoint="speech",
                                   fields=_fields(raw))
        done = partial(answered, record)
        if not record["key_ok"]:
            return done(wrong_key())
        await si.faults.hang_on_connect("rest")
        try:
            body = SpeechBody.model_validate_json(raw)
        except ValidationError as exc:
            return done(JSONResponse({"detail": exc.errors(include_url=False, include_context=False)},
                                     status_code=422))
        record.update(model=body.model, voice=body.voice, text=body.input, response_format=body.response_format,
                      speed=body.speed)
        if (error := si.faults.take_error("rest")) is not None:
            return done(detail(ERRORS[error][0], error, ERRORS[error][1]))
        if body.model not in MODELS:
            return done(detail(400, "invalid_model", f"Unsupported model: {body.model}"))
        if body.voice not in VOICES:
            return done(detail(400, "validation_error", f"Voice '{body.voice}' not found. "
                               f"Available: {', '.join(VOICES)}"))
        if not body.input.strip():
            return done(detail(400, "validation_error", "Empty input text"))
        if body.response_format not in FORMATS or (body.response_format == "opus" and not opus_available()):
            return done(detail(400, "validation_error", f"Unsupported response_format: {body.response_format}"))
        record["status"] = 200
        headers = {"Content-Disposition": f"attachment; filename=speech.{body.response_format}",
                   "X-Accel-Buffering": "no", "Cache-Control": "no-cache"}
        audio = audio_body(si.speech, si.faults, body)
        if not body.stream:
            return Response(b"".join([chunk async for chunk in audio]), media_type=MEDIA_TYPES[body.response_format],
                            headers=headers)
        return DroppableStreamingResponse(audio, MEDIA_TYPES[body.response_format], headers)  # type: ignore[return-value]

    return app
