"""Who may call the gateway, how often, and whether it takes new work: one admission path for HTTP and WebSocket.

* API keys (``GATEWAY_API_KEYS``): ``Authorization: Bearer <key>`` or ``xi-api-key: <key>`` (on the WebSocket also
  ``xi_api_key`` in the first message); 401 / close 1008 without. Keys are compared as UTF-8 bytes in constant
  time, so a key with any characters is just a wrong key (never a 500).
* Drain (SIGTERM or admin): new work gets 503 with ``Retry-After`` / close 1013 while in-flight lines finish.
* Rate limits on the speak endpoints and WebSocket sessions: per API key and per client address, per minute; 429
  with ``Retry-After`` / close 1013. Counted in Redis when configured, so every replica shares the window.
* Capacity: lines in flight per process (``GATEWAY_MAX_LINES_IN_FLIGHT``): 503 ``capacity`` / close 1013; and
  WebSocket sessions per process (``GATEWAY_WS_MAX_SESSIONS``): close 1013.

:func:`admit` is the order every entry point goes through (key, drain, capacity, rate); a refusal is a :class:`Refusal`
that HTTP turns into its status and a WebSocket into its close code (docs/api.md, "Errors and close codes").
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field

from fastapi import HTTPException, Request
from prometheus_client import Counter
from starlette.concurrency import run_in_threadpool

from gateway.observability.metrics import REGISTRY
from gateway.service import Mouthpiece

#: Every refusal where input enters (HTTP, WebSocket, the server's protocol), by ``where`` and ``reason`` (the
#: ``error`` code the client got): floods of oversized, slow or unauthenticated input show on dashboards.
REFUSED = Counter("mouthpiece_refused_total", "Requests and WebSocket sessions refused where input enters",
                  ["where", "reason"], registry=REGISTRY)

#: WebSocket close codes (RFC 6455 §7.4.1) a refusal maps to.
WS_POLICY = 1008
WS_TRY_AGAIN = 1013


@dataclass
class Refusal(Exception):
    """Why a request or session is not admitted: an HTTP status and body, or a WebSocket close code."""

    status: int
    error: str
    message: str
    headers: dict[str, str] = field(default_factory=dict)
    retry_after_s: int | None = None

    @property
    def ws_code(self) -> int:
        return WS_POLICY if self.status == 401 else WS_TRY_AGAIN

    def body(self) -> dict:
        body = {"error": self.error, "message": self.message}
        if self.retry_after_s is not None:
            body["retry_after_s"] = self.retry_after_s
        return body

    def http(self) -> HTTPException:
        return HTTPException(self.status, self.body(), headers=self.headers or None)


def unauthorized() -> Refusal:
    return Refusal(401, "unauthorized", "A valid API key is required (Authorization: Bearer <key>).",
                   {"WWW-Authenticate": "Bearer"})


def draining() -> Refusal:
    return Refusal(503, "draining", "This replica is draining; retry on another.", {"Retry-After": "5"}, 5)


def presented_key(headers) -> str | None:  # noqa: ANN001 - any mapping of headers
    auth = headers.get("authorization") or ""
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return headers.get("xi-api-key")


def presented_admin_key(headers) -> str | None:  # noqa: ANN001 - any mapping of headers
    auth = headers.get("authorization") or ""
    return auth[7:].strip() if auth.lower().startswith("bearer ") else headers.get("x-admin-key")


def secret_matches(given: object, expected: str) -> bool:
    """Constant-time comparison of a presented secret with the expected one; any characters (or a non-string)
    are simply no match. ``hmac.compare_digest`` refuses non-ASCII ``str``, so both sides are compared as bytes."""
    if not isinstance(given, str) or not given:
        return False
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode("utf-8"))


def key_valid(mouthpiece: Mouthpiece, key: object) -> bool:
    keys = mouthpiece.settings.access.api_keys
    if not keys:
        return True
    return any(secret_matches(key, k.get_secret_value()) for k in keys)


def check_key(mouthpiece: Mouthpiece, key: object) -> None:
    if not key_valid(mouthpiece, key):
        raise unauthorized().http()


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
            raise Refusal(429, "rate_limited", f"Rate limit of {limit} requests per minute per {scope} reached; "
                          f"retry in {decision.retry_after_s} s.", {"Retry-After": str(decision.retry_after_s)},
                          decision.retry_after_s)


async def admit(mouthpiece: Mouthpiece, key: object, client: str) -> None:
    """Key, drain, capacity, rate limits (in that order) for one speak request or one WebSocket session; raises
    :class:`Refusal`. Runs on the event loop; only limits counted in Redis (a blocking call) take a worker thread."""
    if not key_valid(mouthpiece, key):
        raise unauthorized()
    if mouthpiece.draining:
        raise draining()
    most = mouthpiece.settings.ingress.max_lines_in_flight
    if mouthpiece.in_flight >= most:  # before the rate limit: a request refused here is not counted
        raise Refusal(503, "capacity", f"This replica is speaking {most} lines at once, its maximum; retry shortly "
                      "or on another replica.", {"Retry-After": "1"}, 1)
    checks = rate_checks(mouthpiece, key if isinstance(key, str) else None, client)
    if checks and mouthpiece.rate_limiter.link is not None:
        await run_in_threadpool(check_rate, mouthpiece, checks)
    elif checks:
        check_rate(mouthpiece, checks)


async def speak_access(request: Request) -> None:
    """Dependency of the speak endpoints: :func:`admit` with the request's key and address."""
    try:
        await admit(request.app.state.mouthpiece, presented_key(request.headers),
                    request.client.host if request.client else "unknown")
    except Refusal as refusal:
        REFUSED.labels("http", refusal.error).inc()
        raise refusal.http() from None


async def read_access(request: Request) -> None:
    """Dependency of read-only endpoints that still need a key (voices, audio files)."""
    check_key(request.app.state.mouthpiece, presented_key(request.headers))
