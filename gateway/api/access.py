"""Who may call the gateway, how often, and whether it takes new work (drain).

* API keys (``GATEWAY_API_KEYS``): ``Authorization: Bearer <key>`` or ``xi-api-key: <key>``; 401 without.
* Rate limits on the speak endpoints: per API key and per client address, per minute; 429 with
  ``Retry-After``. Counted in Redis when configured, so every replica shares the window.
* Drain (admin): new speak requests get 503 with ``Retry-After`` while in-flight lines finish.
"""

from __future__ import annotations

import hmac

from fastapi import HTTPException, Request
from starlette.concurrency import run_in_threadpool

from gateway.service import Mouthpiece


def presented_key(headers) -> str | None:  # noqa: ANN001 - any mapping of headers
    auth = headers.get("authorization") or ""
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return headers.get("xi-api-key")


def key_valid(mouthpiece: Mouthpiece, key: str | None) -> bool:
    keys = mouthpiece.settings.access.api_keys
    if not keys:
        return True
    return key is not None and any(hmac.compare_digest(key, k.get_secret_value()) for k in keys)


def check_key(mouthpiece: Mouthpiece, key: str | None) -> None:
    if not key_valid(mouthpiece, key):
        raise HTTPException(401, {"error": "unauthorized", "message": "A valid API key is required "
                                  "(Authorization: Bearer <key>)."}, headers={"WWW-Authenticate": "Bearer"})


def rate_checks(mouthpiece: Mouthpiece, key: str | None, client: str) -> list[tuple[str, str, int]]:
    """(scope, who, limit per minute) of every limit that applies to this request."""
    access = mouthpiece.settings.access
    checks = [("key", key, access.rate_limit_per_key_per_min)] if access.api_keys and key else []
    checks.append(("client", client, access.rate_limit_per_client_per_min))
    return [c for c in checks if c[2] > 0]


def check_rate(mouthpiece: Mouthpiece, checks: list[tuple[str, str, int]]) -> None:
    for scope, ident, limit in checks:
        decision = mouthpiece.rate_limiter.check(scope, ident, limit)
        if not decision.allowed:
            raise HTTPException(429, {"error": "rate_limited", "message": f"Rate limit of {limit} requests per "
                                      f"minute per {scope} reached; retry in {decision.retry_after_s} s.",
                                      "retry_after_s": decision.retry_after_s},
                                headers={"Retry-After": str(decision.retry_after_s)})


async def speak_access(request: Request) -> None:
    """Dependency of the speak endpoints: key, drain, rate limits (in that order). Runs on the event loop; only
    limits counted in Redis (a blocking call) take a worker thread."""
    mouthpiece: Mouthpiece = request.app.state.mouthpiece
    key = presented_key(request.headers)
    check_key(mouthpiece, key)
    if mouthpiece.draining:
        raise HTTPException(503, {"error": "draining", "message": "This replica is draining; retry on another."},
                            headers={"Retry-After": "5"})
    checks = rate_checks(mouthpiece, key, request.client.host if request.client else "unknown")
    if checks and mouthpiece.rate_limiter.link is not None:
        await run_in_threadpool(check_rate, mouthpiece, checks)
    elif checks:
        check_rate(mouthpiece, checks)


async def read_access(request: Request) -> None:
    """Dependency of read-only endpoints that still need a key (voices, audio files)."""
    check_key(request.app.state.mouthpiece, presented_key(request.headers))
