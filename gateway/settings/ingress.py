"""Where bytes enter: body and message limits, read timeouts, connection caps (``GATEWAY_*``), a group of
:class:`gateway.settings.Settings` (``settings.ingress``). docs/api.md, "Limits", lists what a client sees."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings

from gateway.settings.base import _config


class IngressSettings(BaseSettings):
    """Limits enforced before any work is done on a request (``GATEWAY_MAX_BODY_BYTES``, ``GATEWAY_WS_*``...)."""

    model_config = _config("GATEWAY_")

    max_body_bytes: int = Field(256 * 1024, ge=1024)
    """Largest JSON request body (speak, stream, admin); larger answers 413 before it is read or authenticated
    (``Content-Length``) or as soon as the streamed bytes pass it."""
    max_upload_bytes: int = Field(20 * 1024 * 1024 + 64 * 1024, ge=1024)
    """Largest body of ``POST /api/lipsync`` (a 20 MB audio file and its multipart framing)."""
    body_timeout_s: float = Field(30.0, gt=0)
    """A request body must arrive whole within this many seconds of its headers (408 and the connection closed
    otherwise): a trickling client cannot hold a connection and a buffer open."""
    header_timeout_s: float = Field(10.0, gt=0)
    """A connection must deliver complete request headers within this many seconds of opening (or of its first
    byte after a previous request); otherwise 408 and closed (slow headers, idle connections that never ask)."""
    max_header_bytes: int = Field(32 * 1024, ge=4096)
    """Largest request line plus headers; more answers 431 and the connection is closed."""
    keep_alive_timeout_s: int = Field(5, ge=1)
    """An idle keep-alive connection is closed after this many seconds without a new request."""
    max_connections: int = Field(1000, ge=1)
    """Connections and WebSockets served at once per server process; past it, HTTP answers 503 and a WebSocket
    handshake is refused (the server's own limit, before the app runs)."""
    max_lines_in_flight: int = Field(64, ge=1)
    """Lines being spoken at once per process (speak, stream, WebSocket pieces); past it a new speak request
    answers 503 ``capacity`` with ``Retry-After: 1`` and a new WebSocket session closes 1013 (one admission path)."""
    ws_max_frame_bytes: int = Field(1024 * 1024, ge=1024)
    """Largest WebSocket message the server accepts at all: larger ones close 1009 (message too big) before they
    are buffered whole or reach the app."""
    ws_max_message_bytes: int = Field(64 * 1024, ge=1024)
    """Largest ElevenLabs-protocol message the app reads (bytes); larger: an error message and close 1009."""
    ws_max_pending_chars: int = Field(5000, ge=100)
    """Text a WebSocket session may have received but not yet spoken (characters); more: an error message and
    close 1009. Bounds what a fast sender can pile up on a replica."""
    ws_max_sessions: int = Field(200, ge=1)
    """ElevenLabs-protocol WebSocket sessions at once per process; past it new sessions close 1013 (try again)."""
