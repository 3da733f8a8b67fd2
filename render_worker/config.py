"""Worker settings: environment variables prefixed ``RENDER_WORKER_``; command-line flags override them."""

from __future__ import annotations

import socket

from pydantic_settings import BaseSettings, SettingsConfigDict

#: Version of the worker HTTP contract this worker serves (the path prefix ``/v1``).
CONTRACT = "v1"
VERSION = "mouthpiece-cpu-worker/1.0"


class WorkerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RENDER_WORKER_", extra="ignore", use_attribute_docstrings=True)

    host: str = "127.0.0.1"
    """Interface to bind."""
    port: int = 8790
    """Port to listen on."""
    worker_id: str | None = None
    """Name in the pool (default: ``<hostname>:<port>``)."""
    slots: int = 1
    """Renders at once (each uses about one core)."""
    queue_max: int = 4
    """Requests allowed to wait for a slot; beyond that a render is answered 503 + Retry-After."""
    size: int = 384
    """Output width and height in pixels for the built-in avatars."""
    fps: int = 25
    """Default frame rate."""
    threads: int = 1
    """libx264 threads per render."""
    crf: int = 23
    """libx264 quality (lower is better and bigger)."""
    preset: str = "veryfast"
    """libx264 speed preset."""
    max_audio_s: float = 120.0
    """Longest audio accepted per render."""
    max_upload_bytes: int = 32 * 1024 * 1024
    """Largest request body accepted."""
    redis_url: str | None = None
    """Register in the pool through this Redis (heartbeat key with a TTL); unset: no registration."""
    redis_prefix: str = "mouthpiece:video:"
    """Key prefix shared with the gateway's video pool."""
    advertise_url: str | None = None
    """URL the gateway should use to reach this worker (default ``http://<host>:<port>``)."""
    heartbeat_ttl_s: float = 10.0
    """Registration TTL; refreshed every third of it."""
    drain_timeout_s: float = 30.0
    """On SIGTERM, how long renders in flight (and queued) may take to finish before the worker stops anyway."""
    test_frame_delay_ms: float = 0.0
    """Testing only: sleep this long per frame (simulates a slow device)."""

    def resolved_id(self) -> str:
        return self.worker_id or f"{socket.gethostname()}:{self.port}"

    def resolved_url(self) -> str:
        if self.advertise_url:
            return self.advertise_url.rstrip("/")
        host = self.host if self.host not in ("0.0.0.0", "::", "") else socket.gethostname()
        return f"http://{host}:{self.port}"
