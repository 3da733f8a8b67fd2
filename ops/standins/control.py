"""The control endpoints every stand-in has (``/__control/...``) and its log of recent requests.

``faults`` (see :mod:`ops.standins.faults`), ``requests`` (never credentials), ``health`` (the
local voice is loaded) and ``account`` (the vendor account's state, fields per stand-in).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from starlette.responses import JSONResponse, Response

from ops.standins.faults import FaultState


def requests_and_health_router(standin: Any, default_port: int) -> APIRouter:
    """``/__control/requests`` (GET lists what was asked, DELETE clears it) and ``/__control/health``
    (200 once the local voice is loaded, else 503), the same on every stand-in."""
    router = APIRouter(prefix="/__control", include_in_schema=False)

    @router.get("/requests")
    async def get_requests() -> list:
        return standin.requests.list()

    @router.delete("/requests")
    async def delete_requests() -> dict:
        standin.requests.items.clear()
        return {"ok": True}

    @router.get("/health")
    async def control_health() -> Response:
        ok, reason = await standin.speech.ready()
        return JSONResponse({"ok": ok, "reason": reason, "port_default": default_port}, status_code=200 if ok else 503)

    return router


def control_router(state: FaultState) -> APIRouter:
    """``/__control/faults``: GET reads, POST merges, PUT replaces, DELETE resets (and frees hangs)."""
    router = APIRouter(prefix="/__control", include_in_schema=False)

    async def _update(request: Request, replace: bool) -> dict:
        try:
            body = await request.json()
        except Exception:  # noqa: BLE001
            raise HTTPException(400, "body must be JSON") from None
        try:
            state.update(body, replace=replace)
        except ValueError as exc:
            raise HTTPException(422, exc.args[0]) from None
        return state.snapshot()

    @router.get("/faults")
    async def get_faults() -> dict:
        return state.snapshot()

    @router.post("/faults")
    async def post_faults(request: Request) -> dict:
        return await _update(request, replace=False)

    @router.put("/faults")
    async def put_faults(request: Request) -> dict:
        return await _update(request, replace=True)

    @router.delete("/faults")
    async def delete_faults() -> dict:
        state.reset()
        return state.snapshot()

    return router


def account_router(standin: Any, fields: dict[str, Any], detail: str,
                   convert: Callable[[str, Any], Any] = lambda _name, value: value) -> APIRouter:
    """``/__control/account``: GET reads the vendor account, POST sets any of ``fields`` (name ->
    accepted types; values pass through ``convert``); anything else is a 422 with ``detail``."""
    router = APIRouter(prefix="/__control", include_in_schema=False)

    @router.get("/account")
    async def get_account() -> dict:
        return standin.account.to_dict()

    @router.post("/account")
    async def post_account(request: Request) -> Response:
        try:
            body = await request.json()
            ok = isinstance(body, dict) and all(k in fields and isinstance(v, fields[k]) for k, v in body.items())
            values = {k: convert(k, v) for k, v in body.items()} if ok else {}
        except (ValueError, ArithmeticError):
            ok = False
        if not ok:
            return JSONResponse({"detail": detail}, status_code=422)
        for k, v in values.items():
            setattr(standin.account, k, v)
        return JSONResponse(standin.account.to_dict())

    return router


class RequestLog:
    """The last requests a stand-in served (never credentials), for tests to inspect."""

    def __init__(self, size: int = 200) -> None:
        self.items: deque[dict] = deque(maxlen=size)

    def add(self, **record: Any) -> dict:
        self.items.append(record)
        return record

    def list(self) -> list[dict]:
        return list(self.items)


def answered(record: dict, response: Response) -> Response:
    """``response``, with its status noted in the request's ``record``."""
    record["status"] = response.status_code
    return response
