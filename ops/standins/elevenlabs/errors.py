"""The ElevenLabs stand-in's errors: names for faults, HTTP statuses, WebSocket close codes, bodies."""

from __future__ import annotations

import math
from typing import Any

from starlette.responses import JSONResponse

#: Fault/error name -> (HTTP status, WebSocket close code, message).
ERRORS: dict[str, tuple[int, int, str]] = {
    "invalid_api_key": (401, 1008, "Invalid API key"),
    "quota_exceeded": (401, 1008, "This request exceeds your quota of {limit}. You have {remaining} credits "
                                  "remaining, while {required} credits are required for this request."),
    "too_many_concurrent_requests": (429, 1013, "Too many concurrent requests. Your current subscription is "
                                                "associated with a maximum of {concurrency} concurrent requests "
                                                "running in parallel. Please try again later."),
    "system_busy": (429, 1013, "We are currently experiencing heavy traffic. Please try again later or "
                               "upgrade your subscription for higher priority."),
    "max_character_limit_exceeded": (400, 1008, "You are sending {required} characters in a single request, "
                                                "which exceeds the maximum of {max_chars} characters for {model}."),
    "voice_not_found": (400, 1008, "A voice with the voice_id {voice_id} was not found."),
    "validation_error": (422, 1008, "Field required"),
    "internal_server_error": (500, 1011, "An internal server error occurred. Please try again."),
    "service_unavailable": (503, 1011, "The service is temporarily unavailable."),
}


def message(name: str, **values: Any) -> str:
    template = ERRORS[name][2]
    try:
        return template.format(**values)
    except (KeyError, IndexError):
        return template.split(".")[0] + "."


def error_response(name: str, retry_after_s: float | None = None, **values: Any) -> JSONResponse:
    status = ERRORS[name][0]
    if status == 422:
        body: dict = {"detail": [{"loc": values.get("loc", ["body", "text"]),
                                  "msg": values.get("msg", "Field required"), "type": values.get("type", "missing")}]}
    else:
        body = {"detail": {"status": name, "message": message(name, **values)}}
    headers = {}
    if status == 429 and retry_after_s is not None:
        headers["retry-after"] = str(max(0, math.ceil(retry_after_s)))
    return JSONResponse(body, status_code=status, headers=headers)


def validation_error(loc: list, msg: str, type_: str) -> JSONResponse:
    return error_response("validation_error", loc=loc, msg=msg, type=type_)
