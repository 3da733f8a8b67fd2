"""CORS for browser front ends on other origins (``GATEWAY_CORS_ORIGINS``; default: none).

Preflights (``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method``) are always answered: 200 with the
allowed methods and headers for a listed origin, 400 ``Disallowed CORS origin`` for any other. Actual responses to a
listed origin carry ``Access-Control-Allow-Origin`` and expose the headers a client reads (provider, level, request
id, ``Retry-After``). No cookies are involved (keys travel in ``Authorization``), so credentials stay off.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

#: Request headers a browser client may send.
ALLOWED_HEADERS = ["Authorization", "Content-Type", "X-Request-ID", "xi-api-key", "X-Admin-Key", "Range"]
#: Response headers a browser client may read.
EXPOSED_HEADERS = ["X-Request-ID", "X-TTS-Provider", "X-TTS-Degradation-Level", "X-TTS-Fallbacks", "Retry-After",
                   "Content-Range", "Accept-Ranges"]
PREFLIGHT_MAX_AGE_S = 600


def add_cors(app: FastAPI, origins: list[str]) -> None:
    """Answer CORS for ``origins`` (``*`` allows any origin); with none, every preflight is refused with 400."""
    app.add_middleware(CORSMiddleware, allow_origins=list(origins), allow_credentials=False,
                       allow_methods=["GET", "POST", "PUT", "DELETE", "OPTIONS"], allow_headers=ALLOWED_HEADERS,
                       expose_headers=EXPOSED_HEADERS, max_age=PREFLIGHT_MAX_AGE_S)
