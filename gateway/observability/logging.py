"""structlog JSON logs. Every line of a request carries its ``request_id`` (bound via contextvars).

Secrets never reach the logs: values of known secret names and any configured secret values are
masked by :func:`redact` before rendering.
"""

from __future__ import annotations

import logging
import os
import sys

import structlog

SECRET_ENV_NAMES = ("ELEVENLABS_API_KEY", "FISH_API_KEY", "GATEWAY_API_KEYS", "GATEWAY_ADMIN_KEY")
_SECRET_KEYS = {"api_key", "xi-api-key", "xi_api_key", "authorization", "password", "token", "secret"}


def _secret_values() -> list[str]:
    values = []
    for name in SECRET_ENV_NAMES:
        for part in (os.environ.get(name) or "").split(","):
            if len(part.strip()) >= 6:
                values.append(part.strip())
    return values


def redact(_logger, _method, event_dict: dict) -> dict:  # noqa: ANN001 - structlog processor signature
    secrets = _secret_values()
    for key, value in list(event_dict.items()):
        if key.lower() in _SECRET_KEYS:
            event_dict[key] = "***"
        elif isinstance(value, str) and secrets:
            for secret in secrets:
                if secret in value:
                    value = value.replace(secret, "***")
            event_dict[key] = value
    return event_dict


def configure_logging(level: str = "INFO", json_logs: bool = True) -> None:
    renderer = structlog.processors.JSONRenderer() if json_logs else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(level=level.upper(), stream=sys.stderr, format="%(levelname)s %(name)s %(message)s")
