"""OpenAI speech API stand-in, shaped like Kokoro-FastAPI: the "studio's own speech server" of the docs.

A separate process that speaks the OpenAI-compatible speech API the way Kokoro-FastAPI serves it, with real speech
from the local Piper voice (every Kokoro voice name speaks with Piper at its own pace) and no timing extension, so
the gateway's ``openai_speech`` provider aligns the audio itself. Faults as on every stand-in
(``/__control/faults``, docs/standins.md).

* ``POST /v1/audio/speech`` ``{"model": "kokoro", "input", "voice": "af_heart", "response_format": "mp3",
  "speed": 1.0, "stream": true}`` -> audio streamed sentence by sentence; ``pcm`` is 24 kHz s16le mono
  (OpenAI's), ``wav`` a 24 kHz stream with unknown sizes, ``mp3``, ``opus``. Other fields are ignored.
* ``GET /v1/models`` (``tts-1``, ``tts-1-hd``, ``kokoro``), ``GET /v1/audio/voices`` (``{"voices": [{"id",
  "name"}]}``), ``GET /health``.
* Errors: ``{"detail": {"error", "message", "type"}}`` (400 unknown model or voice), FastAPI's 422 for bodies that
  are not the schema, OpenAI's ``{"error": {...}}`` for a wrong key (``--api-key`` given).
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Literal

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field, ValidationError

from gateway.audio.encode import create_encoder
from gateway.audio.formats import opus_available, parse_output_format
from ops.standins.common import (
    Disconnect,
    DroppableStreamingResponse,
    FaultState,
    LocalSpeech,
    RequestLog,
    base_arg_parser,
    chunk_piece,
    control_router,
    requests_and_health_router,
    serve,
)

DEFAULT_PORT = 8703
RATE = 24000
MODELS = ("tts-1", "tts-1-hd", "kokoro")
#: Kokoro voice name -> pace of the Piper voice that speaks it.
VOICES = {"af_heart": 1.0, "af_bella": 1.05, "af_nicole": 0.95, "am_michael": 0.95, "am_adam": 1.0,
          "bf_emma": 1.05, "bm_george": 0.9}
FORMATS = {"mp3": ("mp3", "audio/mpeg"), "wav": ("wav_24000", "audio/wav"), "pcm": ("pcm_24000", "audio/pcm"),
           "opus": ("opus", "audio/opus")}
#: Fault/error name -> (HTTP status, message).
ERRORS: dict[str, tuple[int, str]] = {
    "processing_error": (500, "Processing error"),
    "unavailable": (503, "Service Unavailable"),
    "rate_limited": (429, "Too many requests"),
    "validation_error": (400, "Invalid request"),
}


class SpeechBody(BaseModel):
    """Kokoro-FastAPI's ``OpenAISpeechRequest`` (the fields a stand-in needs; the rest are ignored)."""

    model: str = "kokoro"
    input: str
    voice: str = "af_heart"
    response_format: Literal["mp3", "opus", "aac", "flac", "wav", "pcm"] = "mp3"
    speed: float = Field(1.0, ge=0.25, le=4.0)
    stream: bool = True


def wrong_key() -> JSONResponse:
    return JSONResponse({"error": {"message": "Incorrect API key provided.", "type": "invalid_request_error",
                                   "param": None, "code": "invalid_api_key"}}, status_code=401)


def detail(status: int, error: str, message: str) -> JSONResponse:
    kind = "invalid_request_error" if status < 500 else "server_error"
    return JSONResponse({"detail": {"error": error, "message": message, "type": kind}}, status_code=status)


class StandIn:
    def __init__(self, keys: set[str] | None = None, speech: LocalSpeech | None = None) -> None:
        self.keys = keys or set()
        self.faults = FaultState(ERRORS)
        self.requests = RequestLog()
        self.speech = speech or LocalSpeech()

    def key_ok(self, header: str | None) -> bool:
        return not self.keys or (header or "").removeprefix("Bearer ").strip() in self.keys


def create_app(standin: StandIn | None = None) -> FastAPI:
    si = standin or StandIn()

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        await si.speech.start()
        yield
        si.faults.release_hangs()

    app = FastAPI(title="OpenAI speech stand-in", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None)
    app.include_router(control_router(si.faults))
    app.include_router(requests_and_health_router(si, DEFAULT_PORT))

    @app.get("/health")
    async def health() -> dict:
        return {"status": "healthy"}

    @app.get("/v1/models")
    async def models(request: Request) -> Response:
        if not si.key_ok(request.headers.get("authorization")):
            return wrong_key()
        if si.faults.hits("meta") and (error := si.faults.take_error("meta")):
            return detail(ERRORS[error][0], error, ERRORS[error][1])
        return JSONResponse({"object": "list", "data": [
            {"id": m, "object": "model", "created": 1686935002, "owned_by": "kokoro"} for m in MODELS]})

    @app.get("/v1/audio/voices")
    async def voices(request: Request) -> Response:
        if not si.key_ok(request.headers.get("authorization")):
            return wrong_key()
        return JSONResponse({"voices": [{"id": v, "name": v} for v in VOICES]})

    @app.post("/v1/audio/speech")
    async def speech(request: Request) -> Response:
        if not si.key_ok(request.headers.get("authorization")):
            return wrong_key()
        si.faults.counters["requests"] += 1
        raw = await request.body()
        try:
            body = SpeechBody.model_validate_json(raw)
        except ValidationError as exc:
            return JSONResponse({"detail": exc.errors(include_url=False, include_context=False)}, status_code=422)
        record = si.requests.add(endpoint="speech", model=body.model, voice=body.voice, text=body.input,
                                 response_format=body.response_format, speed=body.speed,
                                 fields=sorted(_fields(raw)))
        if si.faults.hits("rest") and si.faults.faults.hang == "connect":
            await si.faults.hang()
        if (error := si.faults.take_error("rest")) is not None:
            record["status"] = ERRORS[error][0]
            return detail(ERRORS[error][0], error, ERRORS[error][1])
        if body.model not in MODELS:
            return detail(400, "invalid_model", f"Unsupported model: {body.model}")
        if body.voice not in VOICES:
            return detail(400, "validation_error", f"Voice '{body.voice}' not found. Available: {', '.join(VOICES)}")
        if not body.input.strip():
            return detail(400, "validation_error", "Empty input text")
        if body.response_format not in FORMATS or (body.response_format == "opus" and not opus_available()):
            return detail(400, "validation_error", f"Unsupported response_format: {body.response_format}")
        fmt_name, media_type = FORMATS[body.response_format]
        record["status"] = 200
        headers = {"Content-Disposition": f"attachment; filename=speech.{body.response_format}",
                   "X-Accel-Buffering": "no", "Cache-Control": "no-cache"}
        audio = _audio(si, body, fmt_name)
        if not body.stream:
            return Response(b"".join([chunk async for chunk in audio]), media_type=media_type, headers=headers)
        return DroppableStreamingResponse(audio, media_type, headers)

    return app


def _fields(raw: bytes) -> set[str]:
    try:
        body = json.loads(raw)
    except ValueError:
        return set()
    return set(body) if isinstance(body, dict) else set()


async def _audio(si: StandIn, body: SpeechBody, fmt_name: str) -> AsyncIterator[bytes]:
    faults = si.faults
    encoder = create_encoder(parse_output_format(fmt_name), RATE)
    await faults.first_byte("rest")
    sent = sentences = 0
    async for piece in si.speech.sentences(body.input, max(0.25, min(4.0, body.speed * VOICES[body.voice]))):
        for chunk in chunk_piece(piece, RATE):
            if faults.should_disconnect("rest", sent, sentences):
                faults.counters["disconnects"] += 1
                raise Disconnect
            if sent:
                await faults.between_chunks("rest")
            data = encoder.feed(chunk.pcm)
            sent += 1
            if data:
                yield data
        sentences += 1
    if faults.should_disconnect("rest", sent, sentences):
        faults.counters["disconnects"] += 1
        raise Disconnect
    tail = encoder.finish()
    if tail:
        yield tail


def main(argv: list[str] | None = None) -> None:
    parser = base_arg_parser("OpenAI speech API stand-in shaped like Kokoro-FastAPI (speech by local Piper)",
                             DEFAULT_PORT)
    parser.add_argument("--api-key", action="append", default=[],
                        help="required bearer key (repeatable; env STANDIN_OPENAI_SPEECH_API_KEYS); none: no key")
    args = parser.parse_args(argv)
    keys = set(args.api_key) | {k.strip() for k in os.environ.get("STANDIN_OPENAI_SPEECH_API_KEYS", "").split(",")
                                if k.strip()}
    serve(create_app(StandIn(keys=keys or None)), args.host, args.port, args.log_level)


if __name__ == "__main__":
    main()
