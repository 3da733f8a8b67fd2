"""The ElevenLabs stand-in's FastAPI app: control, metadata (voices, models, subscription), REST, WebSocket."""

from __future__ import annotations

from fastapi import FastAPI, Request, WebSocket
from fastapi.responses import JSONResponse, Response

from ops.standins.control import account_router
from ops.standins.elevenlabs.errors import error_response, message
from ops.standins.elevenlabs.rest import rest
from ops.standins.elevenlabs.state import StandIn
from ops.standins.elevenlabs.voices import DEFAULT_MODEL, MODELS, VOICE_BY_ID, VOICES, max_chars, voice_json
from ops.standins.elevenlabs.websocket import stream_input
from ops.standins.server import standin_app

DEFAULT_PORT = 8701
#: What ``POST /__control/account`` may set.
ACCOUNT_FIELDS = {"tier": str, "character_limit": int, "character_count": int, "concurrency_limit": int}
#: ``/v1/text-to-speech/{voice_id}`` + suffix: (stream, timestamps).
REST_ROUTES = [("", False, False), ("/stream", True, False), ("/with-timestamps", False, True),
               ("/stream/with-timestamps", True, True)]
#: WebSocket ``/v1/text-to-speech/{voice_id}/`` + suffix: multi (contexts).
WS_ROUTES = [("stream-input", False), ("multi-stream-input", True)]


def create_app(standin: StandIn | None = None) -> FastAPI:
    si = standin or StandIn()
    app = standin_app("ElevenLabs stand-in", si, DEFAULT_PORT)
    app.include_router(account_router(si, ACCOUNT_FIELDS, f"fields: {sorted(ACCOUNT_FIELDS)}"))

    # -- metadata ---------------------------------------------------------------------------------

    async def meta_guard(request: Request) -> Response | None:
        if not si.account.key_ok(request.headers.get("xi-api-key")):
            return error_response("invalid_api_key")
        error = await si.faults.meta_error()
        if error:
            return error_response(error, si.f.retry_after_s, **si.error_values("", 0, DEFAULT_MODEL))
        return None

    @app.get("/v1/voices")
    async def list_voices(request: Request) -> Response:
        si.requests.add(endpoint="voices", method="GET")
        if (denied := await meta_guard(request)) is not None:
            return denied
        return JSONResponse({"voices": [voice_json(v) for v in VOICES]})

    @app.get("/v1/voices/{voice_id}")
    async def get_voice(voice_id: str, request: Request) -> Response:
        if (denied := await meta_guard(request)) is not None:
            return denied
        voice = VOICE_BY_ID.get(voice_id)
        if voice is None:
            return JSONResponse({"detail": {"status": "voice_not_found", "message": message(
                "voice_not_found", voice_id=voice_id)}}, status_code=404)
        return JSONResponse(voice_json(voice))

    @app.get("/v1/models")
    async def list_models(request: Request) -> Response:
        if (denied := await meta_guard(request)) is not None:
            return denied
        return JSONResponse([{"model_id": m, "name": m, "can_do_text_to_speech": True,
                              "max_characters_request_subscribed_user": max_chars(m)}
                             for m in MODELS])

    @app.get("/v1/user/subscription")
    async def subscription(request: Request) -> Response:
        si.requests.add(endpoint="subscription", method="GET")
        if (denied := await meta_guard(request)) is not None:
            return denied
        return JSONResponse(_subscription_json(si))

    # -- REST text-to-speech and WebSocket --------------------------------------------------------

    def rest_endpoint(stream: bool, timestamps: bool):  # noqa: ANN202
        async def endpoint(voice_id: str, request: Request) -> Response:
            return await rest(si, request, voice_id, stream=stream, timestamps=timestamps)
        return endpoint

    def ws_endpoint(multi: bool):  # noqa: ANN202
        async def endpoint(websocket: WebSocket, voice_id: str) -> None:
            await stream_input(si, websocket, voice_id, multi=multi)
        return endpoint

    for suffix, stream, timestamps in REST_ROUTES:
        app.post(f"/v1/text-to-speech/{{voice_id}}{suffix}")(rest_endpoint(stream, timestamps))
    for suffix, multi in WS_ROUTES:
        app.websocket(f"/v1/text-to-speech/{{voice_id}}/{suffix}")(ws_endpoint(multi))

    return app


def _subscription_json(si: StandIn) -> dict:
    a = si.account
    count = a.character_limit if si.f.quota_exhausted else a.character_count
    return {
        "tier": a.tier, "character_count": count, "character_limit": a.character_limit,
        "max_character_limit_extension": None, "max_credit_limit_extension": 0,
        "can_extend_character_limit": False, "allowed_to_extend_character_limit": False,
        "next_character_count_reset_unix": a.reset_unix, "voice_slots_used": 0,
        "professional_voice_slots_used": 0, "professional_voice_slots_used_in_workspace": 0, "voice_limit": 30,
        "max_voice_add_edits": 95, "voice_add_edit_counter": 0, "professional_voice_limit": 1,
        "can_extend_voice_limit": False, "can_use_instant_voice_cloning": True,
        "can_use_professional_voice_cloning": True, "currency": "usd",
        "current_overage": {"amount": "0", "currency": "usd"}, "status": "active",
        "billing_period": "monthly_period", "character_refresh_period": "monthly_period",
    }
