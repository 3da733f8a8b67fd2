"""ElevenLabs errors -> :class:`~gateway.core.errors.ProviderError`: HTTP statuses with their JSON bodies, and
WebSocket close codes with in-band errors (``docs/providers-cloud.md`` has the table). Keys never reach a message."""

from __future__ import annotations

import email.utils
import json
import time
from typing import Any

from gateway.core.errors import ErrorKind, ProviderError, rejected_kind

#: Longest error body read (bytes) and quoted (characters).
MAX_ERROR_BODY = 16_384
MAX_ERROR_TEXT = 300

#: ``detail.status`` values that mean "this provider can't serve this voice" (skip, don't error out).
_UNAVAILABLE_STATUSES = {"voice_not_found", "voice_does_not_exist", "model_not_found"}
#: In-band WebSocket ``error`` values, classified.
_WS_ERRORS = {
    "quota_exceeded": ErrorKind.QUOTA,
    "invalid_api_key": ErrorKind.AUTH,
    "unauthorized": ErrorKind.AUTH,
    "missing_api_key": ErrorKind.AUTH,
    "too_many_concurrent_requests": ErrorKind.OVERLOADED,
    "max_active_conversations": ErrorKind.OVERLOADED,
    "system_busy": ErrorKind.RETRYABLE,
    "input_timeout_exceeded": ErrorKind.RETRYABLE,
    "internal_server_error": ErrorKind.RETRYABLE,
    "voice_not_found": ErrorKind.UNAVAILABLE,
    "max_character_limit_exceeded": ErrorKind.BAD_REQUEST,
    "invalid_request": ErrorKind.REJECTED,
    "invalid_message": ErrorKind.REJECTED,
    "validation_error": ErrorKind.REJECTED,
    "service_unavailable": ErrorKind.RETRYABLE,
}




def scrub(text: str, secret: str | None) -> str:
    """``text`` without ``secret``, shortened for messages."""
    if secret:
        text = text.replace(secret, "***")
    text = " ".join(text.split())
    return text if len(text) <= MAX_ERROR_TEXT else text[: MAX_ERROR_TEXT - 1] + "…"


def parse_retry_after(headers: Any) -> float | None:
    """Seconds from ``retry-after-ms``, ``retry-after`` (seconds or HTTP date) or ``x-ratelimit-reset``."""
    if headers is None:
        return None
    get = headers.get
    try:
        if (ms := get("retry-after-ms")) is not None:
            return max(0.0, float(ms) / 1000)
    except ValueError:
        pass
    value = get("retry-after")
    if value is not None:
        try:
            return max(0.0, float(value))
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(value)
                return max(0.0, when.timestamp() - time.time())
            except (TypeError, ValueError):
                pass
    reset = get("x-ratelimit-reset")
    if reset is not None:
        try:
            seconds = float(reset)
            return max(0.0, seconds - time.time()) if seconds > 1e9 else max(0.0, seconds)
        except ValueError:
            pass
    return None


def _detail(body: Any) -> tuple[str, str]:
    """(status code, message) from an ElevenLabs error body (any of its shapes)."""
    if isinstance(body, (bytes, bytearray)):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError:
            return "", body
    if isinstance(body, dict):
        detail = body.get("detail", body)
        if isinstance(detail, dict):
            return str(detail.get("status") or detail.get("code") or ""), str(detail.get("message") or "")
        if isinstance(detail, list):  # FastAPI validation errors
            parts = []
            for item in detail[:3]:
                if isinstance(item, dict):
                    loc = ".".join(str(x) for x in item.get("loc", []))
                    parts.append(f"{loc}: {item.get('msg', '')}".strip(": "))
            return "validation_error", "; ".join(parts)
        if isinstance(detail, str):
            return "", detail
    return "", ""


def classify_http_error(status: int, body: Any, headers: Any = None, *, provider: str = "",
                        secret: str | None = None) -> ProviderError:
    """An ElevenLabs HTTP error (REST, or a rejected WebSocket handshake) as a classified error."""
    code, message = _detail(body)
    text = scrub(f"HTTP {status}" + (f" {code}" if code else "") + (f": {message}" if message else ""), secret)
    retry_after = parse_retry_after(headers)
    if status == 401:
        kind = ErrorKind.QUOTA if code == "quota_exceeded" else ErrorKind.AUTH
    elif status == 402:
        kind = ErrorKind.QUOTA
    elif status == 403:
        kind = ErrorKind.AUTH
    elif status == 429:
        # Plan concurrency cap: shed/queue, breaker stays closed. Anything else (system_busy): back off.
        kind = ErrorKind.OVERLOADED if code == "too_many_concurrent_requests" else ErrorKind.RETRYABLE
    elif status == 404 or code in _UNAVAILABLE_STATUSES:
        kind = ErrorKind.UNAVAILABLE
    elif status == 408 or status >= 500:
        kind = ErrorKind.RETRYABLE
    elif 400 <= status < 500:  # 400, 413, 422 and the rest: the line's own cause, else the vendor's refusal
        kind = rejected_kind(status, f"{code} {message}")
    else:
        kind = ErrorKind.RETRYABLE
    return ProviderError(kind, text, provider=provider, status=status, retry_after_s=retry_after)


def classify_ws_close(code: int | None, reason: str, last_error: dict | None, *, provider: str = "",
                      secret: str | None = None) -> ProviderError:
    """A WebSocket that closed before its final message, classified by its in-band error or close code."""
    if last_error:
        name = str(last_error.get("error") or "")
        message = str(last_error.get("message") or reason or "")
        kind = _WS_ERRORS.get(name)
        if kind is None:
            kind = rejected_kind(None, f"{name} {message}") if name.startswith("invalid") else ErrorKind.RETRYABLE
        elif kind is ErrorKind.REJECTED:
            kind = rejected_kind(None, f"{name} {message}")
        text = scrub(f"websocket closed {code}" + (f" {name}" if name else "") + (f": {message}" if message else ""),
                     secret)
        return ProviderError(kind, text, provider=provider, status=code)
    lowered = (reason or "").lower()
    if "quota" in lowered:
        kind = ErrorKind.QUOTA
    elif "api key" in lowered or "api_key" in lowered or "unauthor" in lowered:
        kind = ErrorKind.AUTH
    elif code == 1008 and "timeout" in lowered:
        kind = ErrorKind.RETRYABLE
    elif code == 1013:
        kind = ErrorKind.RETRYABLE
    else:
        kind = ErrorKind.RETRYABLE  # 1000 without final, 1006 (dropped), 1011, 1012, unknown
    text = scrub(f"websocket closed {code if code is not None else 'abnormally'} before the final message"
                 + (f": {reason}" if reason else ""), secret)
    return ProviderError(kind, text, provider=provider, status=code)
