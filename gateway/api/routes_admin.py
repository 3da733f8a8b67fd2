"""Admin API (its own key, ``GATEWAY_ADMIN_KEY``): breakers, levels, drain. Every action is logged."""

from __future__ import annotations

import time
from dataclasses import asdict
from datetime import datetime

import structlog
from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, Field, model_validator

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
    state: str = Field(..., pattern="^(open|closed)$",
                       description="open: hold the breaker open until lifted (or until ttl_s / until); closed: lift "
                                   "a hold and close it.")
    ttl_s: float | None = Field(None, gt=0, le=30 * 86400, description="open: the hold ends by itself after this.")
    until: datetime | None = Field(None, description="open: the hold ends by itself then (ISO 8601, with zone).")

    @model_validator(mode="after")
    def _one_expiry(self) -> "BreakerCommand":
        if self.state == "closed" and (self.ttl_s is not None or self.until is not None):
            raise ValueError("ttl_s and until apply to state open only")
        if self.ttl_s is not None and self.until is not None:
            raise ValueError("give ttl_s or until, not both")
        if self.until is not None and (self.until.tzinfo is None or self.until.timestamp() <= time.time()):
            raise ValueError("until must be a future time with a zone")
        return self

    def expiry(self) -> float | None:
        """Epoch s when the hold ends, or None (until lifted)."""
        if self.ttl_s is not None:
            return time.time() + self.ttl_s
        return self.until.timestamp() if self.until is not None else None


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
    until = command.expiry()
    breaker.hold(until) if command.state == "open" else breaker.release()
    _audit(request, "force_breaker", provider=provider, state=command.state, until=until)
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
