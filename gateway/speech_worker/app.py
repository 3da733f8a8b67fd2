"""The speech worker's HTTP API: OpenAI's speech API over the local engines, plus health and the timing extension.

``POST /v1/audio/speech``; ``GET /v1/models`` (``/v1/models/{id}``); ``GET /v1/audio/voices`` (Kokoro-FastAPI's
shape, ``?model=`` to pick an engine); ``GET /healthz`` (process up), ``GET /readyz`` (engines loaded; 503 until
then), ``GET /v1/worker`` (load per engine). With API keys set, every ``/v1`` route wants
``Authorization: Bearer <key>``. See docs/speech-workers.md.
"""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import ValidationError
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.audio.formats import opus_available, parse_output_format
from gateway.core.errors import ErrorKind, ProviderError
from gateway.core.events import AudioEvent
from gateway.core.voices import VoiceSettings
from gateway.providers.base import SynthesisRequest
from gateway.speech_worker.bodies import CutStream, audio_body, ndjson_body, sse_body, whole_file
from gateway.speech_worker.engines import Engine, Engines
from gateway.speech_worker.request import FORMATS, SpeechRequest, api_error
from gateway.upstream.speech_api import EXTENSION, NDJSON, SAMPLE_RATE_HEADER

log = structlog.get_logger(__name__)
MAX_BODY_BYTES = 256 * 1024
#: HTTP status for an engine failure before any audio.
STATUS = {ErrorKind.BAD_REQUEST: 400, ErrorKind.OVERLOADED: 429, ErrorKind.UNAVAILABLE: 503}


class CuttableStreamingResponse(StreamingResponse):
    """A streaming answer that a :class:`CutStream` ends without its terminating chunk (a visibly broken body)."""

    async def stream_response(self, send: Send) -> None:
        try:
            await super().stream_response(send)
        except CutStream as exc:
            log.warning("speech_stream_cut", reason=str(exc))


def create_app(engines: Engines, api_keys: list[str] | None = None) -> ASGIApp:
    keys = [k.encode() for k in api_keys or [] if k]

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await engines.start()
        yield
        await engines.close()

    app = FastAPI(title="Mouthpiece speech worker", lifespan=lifespan,
                  description="Local speech engines over the OpenAI speech API, with engine timing as an extension.")

    @app.get("/healthz")
    async def healthz() -> dict:
        return {"ok": True, "worker_id": engines.worker_id}

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        info = engines.info()
        return JSONResponse(info, status_code=200 if engines.ready else 503)

    @app.get("/v1/worker")
    async def worker() -> dict:
        return engines.info()

    @app.get("/v1/models")
    async def models() -> dict:
        return {"object": "list", "data": engines.models(),
                EXTENSION: {"worker_id": engines.worker_id, "slots": engines.slots}}

    @app.get("/v1/models/{model_id}")
    async def model(model_id: str) -> JSONResponse:
        entry = next((m for m in engines.models() if m["id"] == model_id), None)
        if entry is None:
            return api_error(404, f"The model '{model_id}' does not exist", code="model_not_found", param="model")
        return JSONResponse(entry)

    @app.get("/v1/audio/voices")
    async def voices(model: str | None = None) -> JSONResponse:
        chosen = [engines.resolve(model)] if model else list(engines.engines.values())
        if chosen == [None]:
            return api_error(404, f"The model '{model}' does not exist", code="model_not_found", param="model")
        return JSONResponse({"voices": [
            {"id": v.voice, "name": v.name, "model": e.name, "language": v.language, "gender": v.gender}
            for e in chosen for v in e.voice_list]})

    @app.post("/v1/audio/speech")
    async def speech(request: Request) -> Response:
        raw = await request.body()
        if len(raw) > MAX_BODY_BYTES:
            return api_error(413, f"request body over {MAX_BODY_BYTES} bytes", code="request_too_large")
        try:
            req = SpeechRequest.model_validate_json(raw)
        except ValidationError as exc:
            err = exc.errors(include_url=False)[0]
            param = ".".join(str(p) for p in err.get("loc", ())) or None
            return api_error(400, f"{param or 'body'}: {err.get('msg', 'invalid')}", code="invalid_value",
                             param=param)
        engine = engines.resolve(req.model)
        if engine is None:
            return api_error(400, f"Unsupported model: {req.model}", code="model_not_found", param="model")
        if not engine.ready:
            return api_error(503, f"model {engine.name} is not ready: {engine.reason}", code="model_not_ready",
                             param="model", headers={"Retry-After": "5"})
        if req.response_format not in FORMATS or (req.response_format == "opus" and not opus_available()):
            offered = ", ".join(f for f in FORMATS if f != "opus" or opus_available())
            return api_error(400, f"response_format {req.response_format!r} is not offered here ({offered})",
                             code="unsupported_format", param="response_format")
        voice = req.voice_name or engine.provider.default_voice()
        if voice not in engine.voices:
            return api_error(400, f"voice {voice!r} not found for model {engine.name} "
                             f"(voices: {', '.join(engine.voices[:12])})", code="voice_not_found", param="voice")
        text, segments = req.planned()
        if engine.in_flight >= engines.max_pending:
            return api_error(429, f"{engine.name} is busy ({engine.in_flight} lines in progress)", code="busy",
                             headers={"Retry-After": "1"})
        synth = SynthesisRequest(tuple(segments), voice, VoiceSettings(speed=req.speed), text=text)
        return await answer(engine, req, synth)

    async def answer(engine: Engine, req: SpeechRequest, synth: SynthesisRequest) -> Response:
        engine.in_flight += 1
        events = engine.provider.stream(synth).__aiter__()
        try:
            first = await events.__anext__()
        except (ProviderError, StopAsyncIteration) as exc:
            engine.in_flight -= 1
            engine.failed += 1
            await events.aclose()
            if isinstance(exc, StopAsyncIteration):
                return api_error(500, "the engine produced no audio", code="processing_error")
            status = STATUS.get(exc.kind, 500)
            return api_error(status, exc.message, code=exc.kind.value)
        rate = first.sample_rate if isinstance(first, AudioEvent) else engine.sample_rate or 24000
        headers = {"Cache-Control": "no-cache", "X-Worker-Id": engines.worker_id, "X-Engine": engine.name}
        if req.events:
            headers[SAMPLE_RATE_HEADER] = str(rate)
            return StreamingResponse(counted(engine, ndjson_body(first, events)), media_type=NDJSON, headers=headers)
        fmt = parse_output_format(FORMATS[req.response_format][0])
        media_type = "text/event-stream" if req.stream_format == "sse" else FORMATS[req.response_format][1]
        headers[SAMPLE_RATE_HEADER] = str(fmt.output_rate(rate))
        if not req.stream and req.stream_format == "audio":
            try:
                data = await whole_file(fmt, first, events)
            except ProviderError as exc:
                engine.failed += 1
                return api_error(STATUS.get(exc.kind, 500), exc.message, code=exc.kind.value)
            finally:
                engine.in_flight -= 1
            engine.served += 1
            return Response(data, media_type=media_type, headers=headers)
        body = sse_body(fmt, first, events, len(synth.text)) if req.stream_format == "sse" \
            else audio_body(fmt, first, events)
        return CuttableStreamingResponse(counted(engine, body), media_type=media_type, headers=headers)

    return KeyCheck(app, keys) if keys else app


class KeyCheck:
    """``Authorization: Bearer <key>`` on every ``/v1`` route (a plain ASGI wrapper: streamed answers pass as they
    are, a cut one stays cut)."""

    def __init__(self, app: ASGIApp, keys: list[bytes]) -> None:
        self.app, self.keys = app, keys

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/v1/"):
            header = dict(scope["headers"]).get(b"authorization", b"")
            given = header.removeprefix(b"Bearer ").strip()
            if not any(hmac.compare_digest(given, k) for k in self.keys):
                await api_error(401, "Incorrect API key provided.", code="invalid_api_key")(scope, receive, send)
                return
        await self.app(scope, receive, send)


async def counted(engine: Engine, body: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """The body, with the engine's in-flight count and outcome kept."""
    ok = False
    try:
        async for chunk in body:
            yield chunk
        ok = True
    finally:
        engine.in_flight -= 1
        if ok:
            engine.served += 1
        else:
            engine.failed += 1
        await body.aclose()

