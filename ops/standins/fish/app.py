"""The Fish Audio stand-in's FastAPI app: control, wallet and model look-ups, ``/v1/tts``, ``/v1/tts/live``."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi import FastAPI, Request, WebSocket
from fastapi.responses import JSONResponse, Response

from ops.standins.control import account_router
from ops.standins.fish.errors import error_response, validation_error
from ops.standins.fish.live import live
from ops.standins.fish.rest import tts
from ops.standins.fish.state import StandIn, now
from ops.standins.fish.voices import VOICE_BY_ID, VOICES, model_json
from ops.standins.server import standin_app

DEFAULT_PORT = 8702
#: What ``POST /__control/account`` may set.
ACCOUNT_FIELDS = {"credit": (int, float, str), "package_balance": int, "package_total": int, "concurrency_limit": int}


def _account_value(name: str, value: Any) -> Any:
    return Decimal(str(value)) if name == "credit" else value


def create_app(standin: StandIn | None = None) -> FastAPI:
    si = standin or StandIn()
    app = standin_app("Fish Audio stand-in", si, DEFAULT_PORT)
    app.include_router(account_router(si, ACCOUNT_FIELDS, f"JSON object with any of {sorted(ACCOUNT_FIELDS)}",
                                      _account_value))

    # -- metadata -------------------------------------------------------------------------------------

    async def meta_guard(request: Request, endpoint: str) -> Response | None:
        si.requests.add(endpoint=endpoint, method=request.method, model=request.headers.get("model"))
        if not si.account.key_ok(request.headers.get("authorization")):
            return error_response("invalid_token")
        error = await si.faults.meta_error()
        return error_response(error) if error else None

    @app.get("/wallet/self/api-credit")
    async def api_credit(request: Request) -> Response:
        if (denied := await meta_guard(request, "api_credit")) is not None:
            return denied
        a = si.account
        return JSONResponse({"_id": "credit-" + a.user_id, "user_id": a.user_id, "credit": str(a.credit),
                             "created_at": a.created_at, "updated_at": now(), "has_phone_sha256": False,
                             "has_free_credit": False})

    @app.get("/wallet/self/package")
    async def package(request: Request) -> Response:
        if (denied := await meta_guard(request, "package")) is not None:
            return denied
        a = si.account
        return JSONResponse({"_id": "package-" + a.user_id, "user_id": a.user_id, "type": "standard",
                             "total": a.package_total, "balance": a.package_balance, "created_at": a.created_at,
                             "updated_at": now(), "finished_at": a.finished_at})

    @app.get("/model")
    async def list_models(request: Request) -> Response:
        if (denied := await meta_guard(request, "models")) is not None:
            return denied
        q = request.query_params
        try:
            size = max(1, min(100, int(q.get("page_size", 10))))
            page = max(1, int(q.get("page_number", 1)))
        except ValueError:
            return validation_error("page_size", "Input should be a valid integer", "int_parsing")
        items = VOICES
        if q.get("title"):
            items = [v for v in items if q["title"].lower() in v["title"].lower()]
        chosen = items[(page - 1) * size: page * size]
        return JSONResponse({"total": len(items), "items": [model_json(v, si.account.user_id) for v in chosen]})

    @app.get("/model/{model_id}")
    async def get_model(model_id: str, request: Request) -> Response:
        if (denied := await meta_guard(request, "model")) is not None:
            return denied
        voice = VOICE_BY_ID.get(model_id)
        if voice is None:
            return error_response("not_found")
        return JSONResponse(model_json(voice, si.account.user_id))

    # -- synthesis ------------------------------------------------------------------------------------

    @app.post("/v1/tts")
    async def post_tts(request: Request) -> Response:
        return await tts(si, request)

    @app.websocket("/v1/tts/live")
    async def ws_live(websocket: WebSocket) -> None:
        await live(si, websocket)

    return app
