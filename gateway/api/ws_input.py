"""What a client may send on the ElevenLabs-protocol WebSocket, checked before any work is done on it.

Each message is bounded before it is parsed (``GATEWAY_WS_MAX_MESSAGE_BYTES``; the server itself closes 1009 on
frames over ``GATEWAY_WS_MAX_FRAME_BYTES`` before they reach the app), its ``text`` by the HTTP limit
(``GATEWAY_MAX_TEXT_CHARS``), and the first message's settings are validated like an HTTP body
(``voice_settings`` by the same schema). A violation is a :class:`WsInputError`: the route sends
``{"error", "message", "code"}`` and closes with ``code`` (docs/api.md, "Errors and close codes").
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from pydantic import ValidationError

from gateway.api.schemas import VoiceSettingsIn

#: Close codes (RFC 6455 §7.4.1).
UNSUPPORTED_DATA = 1003
POLICY = 1008
TOO_BIG = 1009
#: At most this many entries in ``chunk_length_schedule``.
MAX_SCHEDULE_ENTRIES = 32
_MODEL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class WsInputError(Exception):
    def __init__(self, error: str, message: str, code: int = POLICY) -> None:
        super().__init__(message)
        self.error, self.message, self.code = error, message, code


@dataclass(frozen=True)
class ClientMessage:
    """One text message: ``text`` (None: a bare flush), ``flush``, and the raw object (the first message's
    settings are read from it by :func:`session_options`)."""

    text: str | None
    flush: bool
    raw: dict


@dataclass(frozen=True)
class SessionOptions:
    """The first message's settings: chunk-length schedule, voice settings, and a key given in the message."""

    schedule: list[int] | None
    voice_settings: dict | None
    key: str | None


def read_message(message: dict, max_bytes: int, max_text_chars: int) -> ClientMessage:
    """An ASGI ``websocket.receive`` message -> :class:`ClientMessage`, or :class:`WsInputError`."""
    raw = message.get("text")
    if raw is None:
        raise WsInputError("invalid_message", "Binary frames are not part of the protocol: send JSON text messages "
                           "such as {\"text\": \"Hello \"}.", UNSUPPORTED_DATA)
    if len(raw) > max_bytes or len(raw.encode("utf-8", "surrogatepass")) > max_bytes:
        raise WsInputError("message_too_large", f"A message may have at most {max_bytes} bytes.", TOO_BIG)
    try:
        obj = json.loads(raw)
    except ValueError as exc:
        raise WsInputError("invalid_message", f"The message is not valid JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise WsInputError("invalid_message", "A message must be a JSON object such as {\"text\": \"Hello \"}.")
    text, flush = obj.get("text"), obj.get("flush", False)
    if not isinstance(flush, bool) and flush is not None:
        raise WsInputError("invalid_message", "'flush' must be true or false.")
    if text is None and not flush:
        raise WsInputError("invalid_message", "Each message needs a string 'text' (or \"flush\": true).")
    if text is not None and not isinstance(text, str):
        raise WsInputError("invalid_message", "'text' must be a string.")
    if text is not None and len(text) > max_text_chars:
        raise WsInputError("text_too_long", f"Text is too long: {len(text)} characters in one message; the limit "
                           f"is {max_text_chars}.", TOO_BIG)
    return ClientMessage(text, bool(flush), obj)


def session_options(first: dict, max_text_chars: int) -> SessionOptions:
    """The settings of the first message: ``generation_config.chunk_length_schedule`` (integers 1..limit),
    ``voice_settings`` (the HTTP schema), ``xi_api_key`` / ``authorization``."""
    config = first.get("generation_config")
    if config is not None and not isinstance(config, dict):
        raise WsInputError("invalid_message", "'generation_config' must be an object.")
    schedule = (config or {}).get("chunk_length_schedule")
    if schedule is not None:
        if (not isinstance(schedule, list) or not 0 < len(schedule) <= MAX_SCHEDULE_ENTRIES
                or not all(type(x) is int and 1 <= x <= max_text_chars for x in schedule)):
            raise WsInputError("invalid_message", f"'chunk_length_schedule' must be a list of 1 to "
                               f"{MAX_SCHEDULE_ENTRIES} integers from 1 to {max_text_chars}.")
    settings = first.get("voice_settings")
    voice_settings = None
    if settings is not None:
        if not isinstance(settings, dict):
            raise WsInputError("invalid_message", "'voice_settings' must be an object.")
        try:
            voice_settings = VoiceSettingsIn(**settings).model_dump(exclude_none=True) or None
        except (ValidationError, TypeError) as exc:
            fields = ", ".join(".".join(str(p) for p in e.get("loc", ())) or "voice_settings"
                               for e in getattr(exc, "errors", lambda: [])())
            raise WsInputError("invalid_message", f"Invalid voice_settings: {fields or exc}") from None
    bearer = first.get("authorization")
    key = first.get("xi_api_key") or first.get("xi-api-key") or (
        bearer[7:].strip() if isinstance(bearer, str) and bearer.lower().startswith("bearer ") else None)
    return SessionOptions(schedule, voice_settings, key if isinstance(key, str) else None)


def check_model_id(model_id: str | None) -> str | None:
    """The ``model_id`` query parameter, validated like the HTTP field."""
    if model_id is None or model_id == "":
        return None
    if not _MODEL_ID.match(model_id):
        raise WsInputError("invalid_request", "'model_id' must be 1 to 64 letters, digits, '.', '_' or '-'.")
    return model_id
