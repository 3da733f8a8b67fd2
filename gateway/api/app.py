"""The FastAPI application: wiring, middleware and error handlers."""

from __future__ import annotations

import os
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from gateway import __version__
from gateway.api import routes_admin, routes_compat, routes_lipsync, routes_meta, routes_speak, routes_ws
from gateway.api.context import RequestContext
from gateway.api.cors import add_cors
from gateway.api.drain import install_sigterm_drain
from gateway.api.ingress import Ingress
from gateway.api.routes_demo import mount_demo
from gateway.core.errors import InputError
from gateway.observability.logging import configure_logging
from gateway.observability.metrics import worker_exited
from gateway.observability.process import ProcessMonitor
from gateway.observability.tracing import configure_tracing
from gateway.service import Mouthpiece
from gateway.settings import Settings

log = structlog.get_logger(__name__)
#: What FastAPI raises (400) for a JSON body it cannot decode, e.g. bytes that are not UTF-8.
BODY_PARSE_ERROR = "There was an error parsing the body"


def validation_message(fields: list[dict]) -> str:
    """The message of a 400 for a body that does not fit the schema; the original contract's own words when the
    line itself is missing."""
    if any(f["field"] == "text" and f["message"] == "Field required" for f in fields):
        return "Text is required"
    return "Invalid request: " + (", ".join(f["field"] for f in fields) or "body")


def _no_422(app: FastAPI) -> None:
    """FastAPI documents a 422 on every operation with a body; this API answers 400 instead (docs/api.md)."""
    generate = app.openapi

    def openapi() -> dict:
        schema = generate()
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                if isinstance(operation, dict):
                    operation.get("responses", {}).pop("422", None)
        return schema

    app.openapi = openapi


def create_app(settings: Settings | None = None) -> FastAPI:
    """The app; with no argument it reads the settings from the environment (the factory each worker process of
    ``gateway serve --workers N`` imports: ``gateway.api.app:create_app``)."""
    settings = settings or Settings()
    configure_logging(settings.observability.log_level, settings.observability.log_json)
    configure_tracing(settings.observability.otel_exporter, settings.observability.otel_endpoint)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        monitor = ProcessMonitor()
        monitor.start()  # lag and process metrics from the start, model loading included
        mouthpiece = Mouthpiece(settings)
        app.state.mouthpiece = mouthpiece
        await mouthpiece.start()
        uninstall_drain = install_sigterm_drain(mouthpiece, settings.drain_delay_s, settings.drain_timeout_s)
        log.info("gateway_started", providers=list(mouthpiece.providers), host=settings.host, port=settings.port,
                 media=mouthpiece.media.backend)
        yield
        uninstall_drain()
        await mouthpiece.close()
        await monitor.stop()
        worker_exited(os.getpid())

    app = FastAPI(title="Mouthpiece", version=__version__, lifespan=lifespan,
                  description="Speech and lip-sync data for game characters, through a resilient provider chain.")
    app.include_router(routes_speak.router)
    app.include_router(routes_meta.router)
    app.include_router(routes_ws.router)
    app.include_router(routes_lipsync.router)
    app.include_router(routes_admin.router)
    app.include_router(routes_compat.router)
    mount_demo(app)  # the web demo's static export at /avatar_demo (503 page until it is built)

    _no_422(app)
    app.add_middleware(Ingress, settings=settings)  # body caps, key before body, body deadline (gateway.api.ingress)
    app.add_middleware(RequestContext)
    add_cors(app, settings.access.cors_origins)  # outermost: preflights are answered before anything else

    @app.exception_handler(InputError)
    async def input_error(request: Request, exc: InputError):
        body = {"error": "bad_request" if exc.status == 400 else "not_found", "message": exc.message,
                "request_id": getattr(request.state, "request_id", None)}
        body.update(exc.detail)
        return JSONResponse(body, status_code=exc.status)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        if exc.status_code == 400 and exc.detail == BODY_PARSE_ERROR:  # FastAPI's words for a body not in UTF-8
            fields = [{"field": "body", "message": "not valid UTF-8 JSON"}]
            return JSONResponse({"error": "validation_error", "message": "Invalid request: the body is not valid "
                                 "UTF-8 JSON", "fields": fields,
                                 "request_id": getattr(request.state, "request_id", None)}, status_code=400)
        body = exc.detail if isinstance(exc.detail, dict) else {"error": "http_error", "message": str(exc.detail)}
        body = {**body, "request_id": getattr(request.state, "request_id", None)}
        return JSONResponse(body, status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        fields = []
        for err in exc.errors():
            if err.get("type") == "json_invalid":
                position = err.get("loc", ("body", "?"))[-1]
                fields.append({"field": "body", "message": f"malformed JSON at character {position}"})
                continue
            loc = [str(p) for p in err.get("loc", ()) if p != "body"]
            fields.append({"field": ".".join(loc) or "body", "message": err.get("msg", "invalid")})
        return JSONResponse({"error": "validation_error", "message": validation_message(fields), "fields": fields,
                             "request_id": getattr(request.state, "request_id", None)}, status_code=400)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception):
        log.exception("unhandled_error", error_type=type(exc).__name__)
        return JSONResponse({"error": "internal_error", "message": "internal error",
                             "request_id": getattr(request.state, "request_id", None)}, status_code=500)

    return app
