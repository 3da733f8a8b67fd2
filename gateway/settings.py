"""Typed settings for the gateway (environment variables prefixed ``GATEWAY_``, or a ``.env`` file)."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Every setting has a safe embedded default: no network, no keys, no Redis needed."""

    model_config = SettingsConfigDict(env_prefix="GATEWAY_", env_file=".env", extra="ignore",
                                      use_attribute_docstrings=True)

    host: str = "127.0.0.1"
    """Interface the HTTP server binds to."""
    port: int = 8080
    """Port the HTTP server listens on."""
    data_dir: Path = REPO_ROOT / "data"
    """The disk cache and rendered audio files live here."""
    models_dir: Path = REPO_ROOT / "data" / "models"
    """Prepared local models (``python -m gateway.install`` writes them here)."""
    characters_file: Path = REPO_ROOT / "config" / "characters.yaml"
    """The cast: character -> voice per provider, settings, default emotion, optional chain."""
    fallback_audio_dir: Path = REPO_ROOT / "fallback_audio"
    """Canned last-resort clips with their phoneme timings."""
    default_character: str = "narrator"
    """Character used when a request names none."""
    chain: list[str] = Field(default_factory=list)
    """Default ordered provider chain (a character may override it). Empty: the cloud providers whose keys are
    set (ElevenLabs WebSocket, ElevenLabs REST, Fish Audio), then piper, kokoro, espeak, cache, canned."""
    enabled_providers: list[str] = Field(default_factory=list)
    """Providers instantiated at start-up (a chain entry not enabled is skipped). Empty: those of ``chain``."""

    max_text_chars: int = 1000
    """Longest line accepted, in characters after cleaning."""
    default_output_format: str = "wav"
    """Output format when a request names none."""

    retry_attempts: int = 3
    """Attempts per provider before failing over (retries happen only before the first audio byte)."""
    retry_initial_s: float = 1.0
    """First retry back-off; doubles each attempt (1 s -> 2 s -> 4 s)."""
    retry_max_s: float = 4.0
    """Longest retry back-off."""
    breaker_fail_max: int = 5
    """Consecutive failures that open a provider's circuit breaker."""
    breaker_reset_s: float = 30.0
    """Seconds an open breaker waits before letting one trial call through (half-open)."""

    connect_timeout_s: float = 3.0
    """Deadline to open a connection to a provider."""
    first_audio_timeout_s: float = 8.0
    """Deadline from asking a provider to its first audio byte."""
    chunk_gap_timeout_s: float = 8.0
    """Longest allowed silence between two events of a provider's stream."""
    total_timeout_s: float = 60.0
    """Deadline for a whole line, across every provider tried."""

    piper_intra_threads: int = 2
    """ONNX Runtime intra-op threads for Piper."""
    piper_spinning: bool = False
    """Let ONNX Runtime spin-wait in Piper (fast only while every core is free)."""
    kokoro_intra_threads: int = 2
    """ONNX Runtime intra-op threads for Kokoro."""
    kokoro_spinning: bool = False
    """Let ONNX Runtime spin-wait in Kokoro."""
    engine_concurrency: int = 2
    """Concurrent syntheses per local engine (more only oversubscribes the CPU)."""

    redis_url: str | None = None
    """Redis URL for the shared cache (unset: cache on local disk in the data dir)."""
    cache_enabled: bool = True
    """Store synthesized lines and serve repeats from the cache."""
    cache_max_bytes: int = 512 * 1024 * 1024
    """Size bound of the disk cache; least recently used lines are evicted past it."""
    cache_ttl_s: int | None = None
    """Expiry of lines in the Redis cache (unset: keep until Redis evicts them)."""
    audio_ttl_s: int = 3600
    """How long rendered audio files stay downloadable by request id."""
    blendshape_fps: int = 60
    """Default frame rate of ARKit blendshape curves."""

    elevenlabs_api_key: SecretStr | None = Field(None, validation_alias=AliasChoices(
        "ELEVENLABS_API_KEY", "GATEWAY_ELEVENLABS_API_KEY"))
    """ElevenLabs key (env ``ELEVENLABS_API_KEY``). Unset: the ElevenLabs providers stay out of the chain."""
    elevenlabs_base_url: str = "https://api.elevenlabs.io"
    """ElevenLabs REST base URL (point it at the stand-in to run offline)."""
    elevenlabs_ws_url: str = "wss://api.elevenlabs.io"
    """ElevenLabs WebSocket base URL."""
    elevenlabs_ws_compression: bool = False
    """permessage-deflate on the ElevenLabs WebSocket: saves bandwidth, costs about 1 ms of CPU per line."""
    elevenlabs_model_id: str = "eleven_flash_v2_5"
    """ElevenLabs model."""
    fish_api_key: SecretStr | None = Field(None, validation_alias=AliasChoices("FISH_API_KEY",
                                                                               "GATEWAY_FISH_API_KEY"))
    """Fish Audio key (env ``FISH_API_KEY``). Unset: Fish Audio stays out of the chain."""
    fish_base_url: str = "https://api.fish.audio"
    """Fish Audio base URL (HTTP; the live WebSocket derives from it)."""
    fish_model: str = "s1"
    """Fish Audio backend model, sent in the ``model`` header."""

    api_keys: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    """Gateway API keys (Bearer) clients must send; comma-separated or a JSON list. Empty: no auth."""
    admin_key: SecretStr | None = None
    """Key of the admin API (/admin/*). Unset: the admin API is disabled."""
    rate_limit_per_key_per_min: int = 10
    """Speak requests per minute per API key (seed: 10); 0 turns it off. Applies when API keys are set."""
    rate_limit_per_client_per_min: int = 0
    """Speak requests per minute per client address; 0 (default) turns it off (game servers share NAT)."""
    retry_budget_percent: float = 0.2
    """Retries in flight may not exceed this share of requests in flight."""
    retry_budget_min: int = 3
    """Retries always allowed in flight, however few requests there are."""

    latency_warn_s: float = 1.5
    """First-audio latency (EWMA) above which a provider is reported slow (streaming threshold)."""
    latency_critical_s: float = 4.0
    """First-audio latency (EWMA) above which the primary is demoted: the next provider goes first."""
    error_warn: float = 0.05
    """Error ratio over the health window that is reported as a warning."""
    error_critical: float = 0.20
    """Error ratio over the health window above which a provider is demoted."""
    quota_warn: float = 0.80
    """Share of a cloud provider's quota used above which a warning is raised."""
    health_window_s: float = 60.0
    """Window of the per-provider error ratio and latency p95."""
    health_interval_s: float = 1.0
    """How often the overall degradation level is recomputed."""
    level_recovery_s: float = 10.0
    """How long a better level must hold before the gateway reports it (hysteresis)."""

    log_level: str = "INFO"
    """Log level for the structlog JSON logs."""
    log_json: bool = True
    """JSON logs (true) or human-readable console logs (false)."""
    otel_exporter: Literal["none", "console", "otlp"] = "none"
    """Where OpenTelemetry spans go."""
    otel_endpoint: str | None = None
    """OTLP/HTTP endpoint for spans when ``otel_exporter`` is ``otlp``."""



    @field_validator("api_keys", mode="before")
    @classmethod
    def _split_keys(cls, value):  # noqa: ANN001, ANN206
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [k.strip() for k in text.split(",") if k.strip()]
        return value

    @model_validator(mode="after")
    def _default_chain(self) -> "Settings":
        if not self.chain:
            cloud = []
            if self.elevenlabs_api_key is not None:
                cloud += ["elevenlabs_ws", "elevenlabs_rest"]
            if self.fish_api_key is not None:
                cloud.append("fish_audio")
            self.chain = cloud + list(LOCAL_CHAIN)
        if not self.enabled_providers:
            self.enabled_providers = list(self.chain)
        return self


#: The chain with no keys: everything runs on this machine.
LOCAL_CHAIN = ("piper", "kokoro", "espeak", "cache", "canned")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
