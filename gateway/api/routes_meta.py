"""Voices, health and metrics."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from gateway.api.access import read_access
from gateway.observability.metrics import REGISTRY

router = APIRouter(tags=["meta"])


@router.get("/api/avatar/voices", dependencies=[Depends(read_access)])
async def voices(request: Request) -> dict:
    """Every provider's voices (``voice_id`` = ``provider:voice``) and the cast's voice per provider."""
    gateway = request.app.state.gateway
    return {
        "voices": [{"voice_id": v.voice_id, "provider": v.provider, "voice": v.voice, "name": v.name,
                    "language": v.language, "gender": v.gender, "sample_rate": v.sample_rate}
                   for v in gateway.voices()],
        "characters": [{"id": c.id, "display_name": c.display_name, "voices": c.voices, "emotion": c.emotion,
                        "chain": c.chain or gateway.settings.chain} for c in gateway.cast.characters.values()],
    }


@router.get("/api/avatar/characters", dependencies=[Depends(read_access)])
async def characters(request: Request) -> dict:
    """The cast: each character's voices per provider, settings (per emotion too), pronunciations, chain."""
    gateway = request.app.state.gateway
    return {"characters": [
        {**c.model_dump(mode="json", exclude_none=True), "chain": c.chain or gateway.settings.chain}
        for c in gateway.cast.characters.values()]}


@router.get("/api/health")
async def health(request: Request) -> JSONResponse:
    """Per-provider state (up/degraded/down) with reason and breaker state; the overall level."""
    report = await request.app.state.gateway.health()
    return JSONResponse(report, headers={"X-TTS-Degradation-Level": report["degradation_level"]})


@router.get("/api/health/live")
async def live() -> dict:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/api/health/ready")
async def ready(request: Request) -> JSONResponse:
    """Readiness: 503 while draining, so a load balancer stops sending new work here."""
    gateway = request.app.state.gateway
    if gateway.draining:
        return JSONResponse({"status": "draining"}, status_code=503)
    return JSONResponse({"status": "ready", "degradation_level": gateway.levels.current.level.value})


@router.get("/metrics")
async def metrics() -> Response:
    """Prometheus metrics."""
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
