"""Settings of the avatar video pool (environment variables prefixed ``GATEWAY_VIDEO_``).

Embedded default: no workers, no Redis -> the pool reports itself unhealthy ("no video workers
configured") and every render returns at once without a video.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from gateway.settings import REPO_ROOT


class VideoSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_VIDEO_", env_file=".env", extra="ignore",
                                      use_attribute_docstrings=True)

    workers: Annotated[list[str], NoDecode] = []
    """Worker base URLs (``http://127.0.0.1:8790``), comma-separated or a JSON list."""
    redis_url: str | None = None
    """Redis for the job queue and worker registration (unset: direct HTTP to the listed workers)."""
    redis_prefix: str = "mouthpiece:video:"
    """Prefix of every Redis key the pool and the workers use."""
    default_avatar: str | None = None
    """Avatar used when a render names none (unset: the worker's default)."""
    fps: int = 25
    """Video frame rate asked of the workers; a worker rendering slower than this is unhealthy."""
    min_realtime_factor: float = 1.0
    """A worker whose measured fps is below ``fps`` times this is taken out of rotation."""

    deadline_base_s: float = 3.0
    """Per-job deadline = base + per-audio-second x line length, capped by the max (short lines get tight ones)."""
    deadline_per_audio_s: float = 1.0
    """Seconds of deadline per second of audio."""
    deadline_max_s: float = 30.0
    """Longest per-job deadline (a render slower than this is a failure)."""
    max_queue_wait_s: float = 3.0
    """Queue wait above which the pool reports itself unhealthy."""
    max_attempts: int = 3
    """Deliveries of one job before it is given up (a worker dying mid-job costs one)."""
    claim_idle_s: float = 5.0
    """A job held this long without a lease renewal is claimed by another dispatcher (XAUTOCLAIM)."""

    health_interval_s: float = 2.0
    """Active health check period (readyz + /v1/worker per worker, Redis registrations)."""
    health_timeout_s: float = 1.5
    """Timeout of one health probe."""
    connect_timeout_s: float = 1.0
    """Timeout to open a connection to a worker."""
    breaker_fail_max: int = 3
    """Consecutive failed renders that open a worker's circuit breaker."""
    breaker_reset_s: float = 15.0
    """Seconds an open worker breaker waits before a trial render."""

    media_dir: Path = REPO_ROOT / "data" / "video"
    """Where rendered MP4 files are kept, named by request id."""
    media_max_age_s: int = 3600
    """Video files older than this are deleted."""
    media_max_bytes: int = 1024 * 1024 * 1024
    """Total size bound of the video files; the oldest go first."""

    @field_validator("workers", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                import json

                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @field_validator("workers")
    @classmethod
    def _urls(cls, value: list[str]) -> list[str]:
        out = []
        for url in value:
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"worker URL must start with http:// or https://: {url!r}")
            out.append(url.rstrip("/"))
        return out

    def job_deadline_s(self, audio_s: float) -> float:
        return min(self.deadline_max_s, self.deadline_base_s + self.deadline_per_audio_s * max(0.0, audio_s))
