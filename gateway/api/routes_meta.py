"""Voices, health and metrics."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from gateway.api.access import read_access
from gateway.export.health import health_json
from gateway.export.voices import voices_json
from gateway.observability.metrics import exposition

router = APIRouter(tags=["meta"])


@router.get("/api/avatar/voices", dependencies=[Depends(read_access)])
async def voices(request: Request) -> dict:
    """Every provider's voices (``voice_id`` = ``provider:voice``) with their traits, the cast's voice per
    provider, and the vendor voice ids a request may use on any chain (docs/voices.md)."""
    mouthpiece = request.app.state.mouthpiece
    return voices_json(mouthpiece)


@router.get("/api/avatar/characters", dependencies=[Depends(read_access)])
async def characters(request: Request) -> dict:
    """The cast: each character's voices per provider, settings (per emotion too), pronunciations, chain."""
    mouthpiece = request.app.state.mouthpiece
    return {"characters": [
        {**c.model_dump(mode="json", exclude_none=True), "chain": c.chain or mouthpiece.settings.chain}
        for c in mouthpiece.cast.characters.values()]}


@router.get("/api/health")
async def health(request: Request) -> JSONResponse:
    """Per-provider state (up/degraded/down) with reason and breaker state; the overall level."""
    report = await request.app.state.mouthpiece.health()
    return JSONResponse(health_json(report), headers={"X-TTS-Degradation-Level": report.degradation_level.value})


@router.get("/api/health/live")
async def live() -> dict:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/api/health/ready")
async def ready(request: Request) -> JSONResponse:
    """Readiness: 503 while draining, so a load balancer stops sending new work here."""
    mouthpiece = request.app.state.mouthpiece
    if mouthpiece.draining:
        return JSONResponse({"status": "draining"}, status_code=503)
    return JSONResponse({"status": "ready", "degradation_level": mouthpiece.levels.current.level.value})


@router.get("/metrics")
async def metrics() -> Response:
    """Prometheus metrics (every worker's with ``gateway serve --workers N``: docs/observability.md)."""
    return Response(exposition(), media_type=CONTENT_TYPE_LATEST)
