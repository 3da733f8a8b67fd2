"""The avatar video pool's settings (``GATEWAY_VIDEO_*``), a group of :class:`gateway.settings.Settings`."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings

from gateway.settings.base import CommaList, _config, check_urls


class VideoSettings(BaseSettings):
    """The avatar video pool (``GATEWAY_VIDEO_*``).

    No workers and no Redis: the pool reports itself unhealthy ("no video workers configured") and every render
    returns at once without a video.
    """

    model_config = _config("GATEWAY_VIDEO_")

    workers: CommaList = Field(default_factory=list)
    """Worker base URLs (``http://127.0.0.1:8790``), comma-separated or a JSON list."""
    redis_url: str | None = None
    """Redis for the job queue and worker registration (unset: direct HTTP to the listed workers)."""
    redis_prefix: str = "mouthpiece:video:"
    """Prefix of every Redis key the pool and the workers use."""
    default_avatar: str | None = None
    """Avatar used when a render names none (unset: the worker's default)."""
    embedded: bool = True
    """``gateway serve`` starts the CPU render worker beside the gateway when neither ``workers`` nor ``redis_url``
    is set, and stops it with the gateway; lines naming an ``avatar_id`` get video from it. False: no video unless
    workers are configured."""
    embedded_port: int = 0
    """Port of the embedded render worker on 127.0.0.1 (0: any free port)."""
    embedded_worker: str | None = None
    """URL of the embedded worker, set by ``gateway serve`` when it started one. Its lines get video only when they
    name an ``avatar_id``; with workers you configured, every line of a character with an avatar gets one."""
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
    media_dir: Path | None = None
    """Where rendered MP4 files are kept, named by request id (unset: ``<data_dir>/video``)."""
    media_max_age_s: int = 3600
    """Video files older than this are deleted."""
    media_max_bytes: int = 1024 * 1024 * 1024
    """Total size bound of the video files; the oldest go first."""

    @field_validator("workers")
    @classmethod
    def _urls(cls, value: list[str]) -> list[str]:
        return check_urls(value)

    def job_deadline_s(self, audio_s: float) -> float:
        return min(self.deadline_max_s, self.deadline_base_s + self.deadline_per_audio_s * max(0.0, audio_s))

