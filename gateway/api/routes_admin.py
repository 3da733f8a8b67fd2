"""Admin API (its own key, ``GATEWAY_ADMIN_KEY``): breakers, levels, drain. Every action is logged."""

from __future__ import annotations

from dataclasses import asdict

import structlog
from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, Field

from gateway.api.access import presented_admin_key, secret_matches
from gateway.export.health import health_json
from gateway.observability.metrics import ADMIN_ACTIONS
from gateway.policy.degradation import DegradationLevel
from gateway.service import Mouthpiece

log = structlog.get_logger(__name__)


def admin_access(request: Request) -> Mouthpiece:
    mouthpiece: Mouthpiece = request.app.state.mouthpiece
    expected = mouthpiece.settings.access.admin_key
    if expected is None:
        raise HTTPException(403, {"error": "admin_disabled", "message": "The admin API is off: set GATEWAY_ADMIN_KEY."})
    # a key with any characters is a wrong key, never a 500
    if not secret_matches(presented_admin_key(request.headers), expected.get_secret_value()):
        raise HTTPException(401, {"error": "unauthorized", "message": "A valid admin key is required."},
                            headers={"WWW-Authenticate": "Bearer"})
    return mouthpiece


router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[Depends(admin_access)])


class BreakerCommand(BaseModel):
    state: str = Field(..., pattern="^(open|closed)$", description="Force the breaker open or closed.")


class LevelCommand(BaseModel):
    level: DegradationLevel | None = Field(None, description="Force a level; null returns to computed levels.")


class DrainCommand(BaseModel):
    draining: bool = Field(..., description="True: refuse new speak requests (503), finish in-flight ones.")


def _audit(request: Request, action: str, **detail) -> None:  # noqa: ANN003
    ADMIN_ACTIONS.labels(action).inc()
    log.warning("admin_action", action=action, client=request.client.host if request.client else None, **detail)


@router.get("/state")
async def state(request: Request) -> dict:
    """Breakers, overall level with reasons, forced level, drain flag, retry budget."""
    return health_json(await request.app.state.mouthpiece.health())


@router.get("/breakers")
async def breakers(request: Request) -> dict:
    return {name: asdict(b.snapshot()) for name, b in request.app.state.mouthpiece.breakers.items()}


@router.post("/breakers/{provider}")
async def force_breaker(provider: str, command: BreakerCommand, request: Request) -> dict:
    mouthpiece: Mouthpiece = request.app.state.mouthpiece
    breaker = mouthpiece.breakers.get(provider)
    if breaker is None:
        raise HTTPException(404, {"error": "not_found", "message": f"Unknown provider {provider!r}",
                                  "valid": sorted(mouthpiece.breakers)})
    breaker.force_open() if command.state == "open" else breaker.force_closed()
    _audit(request, "force_breaker", provider=provider, state=command.state)
    return asdict(breaker.snapshot())


@router.post("/level")
async def force_level(command: LevelCommand, request: Request) -> dict:
    mouthpiece: Mouthpiece = request.app.state.mouthpiece
    mouthpiece.levels.forced = command.level
    _audit(request, "force_level", level=command.level.value if command.level else None)
    return health_json(await mouthpiece.health())


@router.post("/drain")
async def drain(command: DrainCommand, request: Request) -> dict:
    mouthpiece: Mouthpiece = request.app.state.mouthpiece
    mouthpiece.draining = command.draining
    _audit(request, "drain", draining=command.draining)
    return {"draining": mouthpiece.draining}
