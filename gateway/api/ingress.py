"""Where HTTP request bodies enter: size cap, key check before the body, and a deadline for the body.

A plain ASGI middleware in front of the routes (inside CORS and the request context), so it runs before FastAPI
reads and parses a body:

1. ``Content-Length`` over the path's limit (``GATEWAY_MAX_BODY_BYTES``; ``GATEWAY_MAX_UPLOAD_BYTES`` for
   ``POST /api/lipsync``): 413 at once, nothing read.
2. A ``POST``/``PUT``/``PATCH``/``DELETE`` without a valid key (API key, or the admin key under ``/admin/``):
   401 at once, nothing read — authentication before the body.
3. While the body streams in, the bytes are counted: past the limit, 413 (chunked uploads that never declared a
   length); the whole body must arrive within ``GATEWAY_BODY_TIMEOUT_S`` of the headers, else 408.

Every refusal is the usual JSON error (``error``, ``message``, ``request_id``) with ``Connection: close``, so the
server drops the connection instead of reading the rest of an unwanted body. Slow or endless *headers* are the
server's part (:mod:`gateway.api.protocol`).
"""

from __future__ import annotations

import asyncio
import time

import orjson
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.api.access import REFUSED, presented_admin_key, presented_key, secret_matches, unauthorized
from gateway.settings import Settings

#: Paths whose body is an upload (multipart audio), with the larger limit.
UPLOAD_PATHS = frozenset({"/api/lipsync"})
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_DISCONNECT: Message = {"type": "http.disconnect"}


class Ingress:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.limits = settings.ingress
        self.access = settings.access

    def limit_for(self, path: str) -> int:
        return self.limits.max_upload_bytes if path in UPLOAD_PATHS else self.limits.max_body_bytes

    def authorized(self, path: str, headers: Headers) -> bool:
        """The cheap key check done before a body is read (the route's admission checks it again, with drain and
        rate limits). Admin paths take the admin key; with the admin API off the route answers 403 itself."""
        if path.startswith("/admin/"):
            expected = self.access.admin_key
            if expected is None:
                return True
            return secret_matches(presented_admin_key(headers), expected.get_secret_value())
        keys = self.access.api_keys
        key = presented_key(headers)
        return not keys or any(secret_matches(key, k.get_secret_value()) for k in keys)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path, headers = scope.get("path", ""), Headers(scope=scope)
        limit = self.limit_for(path)
        declared = headers.get("content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > limit:
            await refuse(scope, send, 413, "payload_too_large", f"The body is larger than {limit} bytes.")
            return
        if scope.get("method") in _BODY_METHODS and not self.authorized(path, headers):
            refusal = unauthorized()
            await refuse(scope, send, 401, refusal.error, refusal.message, refusal.headers)
            return
        await self.app(scope, BodyGuard(scope, receive, send, limit, self.limits.body_timeout_s).receive,
                       _guarded_send(send, scope))


class BodyGuard:
    """The app's ``receive``: counts body bytes against ``limit`` and holds the body to its deadline; on either,
    answers itself (413 / 408) and tells the app the client left."""

    def __init__(self, scope: Scope, receive: Receive, send: Send, limit: int, timeout_s: float) -> None:
        self.scope, self._receive, self._send = scope, receive, send
        self.limit = limit
        self.deadline = time.monotonic() + timeout_s
        self.timeout_s = timeout_s
        self.received = 0
        self.complete = False

    async def receive(self) -> Message:
        if self.scope.setdefault("state", {}).get("ingress_refused"):
            return _DISCONNECT
        if self.complete:  # the body is in: the app now only listens for a disconnect, with no deadline
            return await self._receive()
        try:
            async with asyncio.timeout(max(0.0, self.deadline - time.monotonic())):
                message = await self._receive()
        except TimeoutError:
            await refuse(self.scope, self._send, 408, "request_timeout",
                         f"The request body did not arrive within {self.timeout_s:g} s.")
            return _DISCONNECT
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self.limit:
                await refuse(self.scope, self._send, 413, "payload_too_large",
                             f"The body is larger than {self.limit} bytes.")
                return _DISCONNECT
            self.complete = not message.get("more_body", False)
        return message


def _guarded_send(send: Send, scope: Scope):  # noqa: ANN202 - an ASGI send
    async def guarded(message: Message) -> None:
        state = scope.setdefault("state", {})
        if state.get("ingress_refused"):
            return  # our refusal went out; whatever the app answers to the "disconnect" is dropped
        if message["type"] == "http.response.start":
            state["ingress_started"] = True
        await send(message)
    return guarded


async def refuse(scope: Scope, send: Send, status: int, error: str, message: str,
                 headers: dict[str, str] | None = None) -> None:
    """Answer ``status`` with the JSON error and close the connection (unless the app already started a
    response: then the connection is just dropped by the server when the app gives up)."""
    state = scope.setdefault("state", {})
    started = state.get("ingress_started")
    state["ingress_refused"] = True
    REFUSED.labels("http", error).inc()
    if started:
        return
    body = orjson.dumps({"error": error, "message": message, "request_id": state.get("request_id")})
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
           (b"connection", b"close")]
    raw += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
