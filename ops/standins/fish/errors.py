"""The Fish Audio stand-in's errors: names for faults, HTTP statuses, ``{"status", "message"}`` bodies."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

#: Fault/error name -> (HTTP status, message). Bodies are ``{"status", "message"}`` (422: an array).
ERRORS: dict[str, tuple[int, str]] = {
    "invalid_token": (401, "Invalid Token"),
    "insufficient_credits": (402, "Insufficient API credit balance"),
    "forbidden": (403, "Forbidden"),
    "reference_not_found": (400, "Reference model not found"),
    "bad_request": (400, "Bad Request"),
    "not_found": (404, "Not Found"),
    "validation_error": (422, "Field required"),
    "rate_limited": (429, "Too many requests, please slow down"),
    "internal_error": (500, "Internal Server Error"),
    "bad_gateway": (502, "Bad Gateway"),
    "service_unavailable": (503, "Service Unavailable"),
    "stream_error": (500, "Internal Server Error"),
}


def error_response(name: str, message: str | None = None, **values: Any) -> JSONResponse:
    status, default = ERRORS[name]
    if status == 422:
        body: Any = [{"loc": values.get("loc", ["body", "text"]), "type": values.get("type", "missing"),
                      "msg": message or default, "ctx": values.get("ctx", {}), "in": "body"}]
    else:
        body = {"status": status, "message": message or default}
    return JSONResponse(body, status_code=status)


def validation_error(field_name: str, msg: str, type_: str = "value_error", **ctx: Any) -> JSONResponse:
    return error_response("validation_error", msg, loc=["body", field_name], type=type_, ctx=ctx)
