"""Typed settings: one tree, read once at start-up (:class:`Settings`) and passed down.

Each area is a nested group with its own environment prefix, so every variable keeps the name it has always had
(``GATEWAY_RETRY_ATTEMPTS`` is ``settings.retry.attempts``, ``GATEWAY_VIDEO_WORKERS`` is
``settings.video.workers``). A ``.env`` file in the working directory is read too. Nothing here needs a network,
a key or Redis: every default is the embedded one. The groups of the video pool and of the speech pools live in
:mod:`gateway.settings.video` and :mod:`gateway.settings.pools`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings

from gateway.settings.audio import DeliverySettings
from gateway.settings.base import CommaList, SecretList, _config
from gateway.settings.ingress import IngressSettings
from gateway.settings.pools import SPEECH_ENGINES, OpenAISpeechSettings, SpeechPoolSettings, SpeechWorkerSettings
from gateway.settings.trials import TrialSettings
from gateway.settings.video import VideoSettings

__all__ = ["LOCAL_CHAIN", "REPO_ROOT", "SPEECH_ENGINES", "DeliverySettings", "EngineSettings", "IngressSettings",
           "OpenAISpeechSettings", "Settings", "SpeechPoolSettings", "SpeechWorkerSettings", "TrialSettings",
           "VideoSettings"]

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
#: The chain with no keys: everything runs on this machine.
LOCAL_CHAIN = ("kokoro", "piper", "espeak", "cache", "canned")


class Deadlines(BaseSettings):
    """How long a provider may take (``GATEWAY_*_TIMEOUT_S``)."""

    model_config = _config("GATEWAY_")

    connect_timeout_s: float = 3.0
    """Deadline to open a connection to a provider."""
    first_audio_timeout_s: float = 8.0
    """Deadline from asking a provider to its first audio byte."""
    chunk_gap_timeout_s: float = 8.0
    """Longest allowed silence between two events of a provider's stream."""
    total_timeout_s: float = 60.0
    """Deadline for a whole line, across every provider tried."""
    first_audio_budget_s: float = 1.0
    """A live line's first-audio budget: local engines start a line only when its first audio is predicted within it
    (else it waits for cores or goes on, reason ``capacity``). Offline work (bake) has ``first_audio_timeout_s``."""


class RetrySettings(BaseSettings):
    """Retries before the first audio byte (``GATEWAY_RETRY_*``)."""

    model_config = _config("GATEWAY_RETRY_")

    attempts: int = 4
    """Attempts per provider before failing over: the first try plus 3 retries, as the original contract says
    (retries happen only before the first audio byte, and only while they start within the first-audio deadline)."""
    initial_s: float = 1.0
    """First retry back-off; doubles each retry (1 s -> 2 s -> 4 s)."""
    max_s: float = 4.0
    """Longest retry back-off."""
    budget_percent: float = 0.2
    """Retries in flight may not exceed this share of requests in flight."""
    budget_min: int = 3
    """Retries always allowed in flight, however few requests there are."""


class BreakerSettings(BaseSettings):
    """Circuit breakers of the providers (``GATEWAY_BREAKER_*``)."""

    model_config = _config("GATEWAY_BREAKER_")

    fail_max: int = 5
    """Consecutive failures that open a provider's circuit breaker."""
    reset_s: float = 30.0
    """Seconds an open breaker waits before letting one trial call through (half-open)."""


class Thresholds(BaseSettings):
    """When a provider counts as slow or failing, and how the level moves (``GATEWAY_*``)."""

    model_config = _config("GATEWAY_")

    latency_warn_s: float = 1.5
    """First-audio latency (EWMA) above which a provider is reported slow (streaming threshold)."""
    latency_critical_s: float = 4.0
    """First-audio latency (EWMA) above which the primary is demoted: the next provider goes first."""
    delivery_rtf_warn: float = 1.0
    """Delivery real-time factor (audio seconds per wall second of an attempt, EWMA over the health window) below
    which a provider is reported slow; a demoted provider is restored only once it is back above this."""
    delivery_rtf_critical: float = 0.6
    """Delivery real-time factor below which the provider is demoted: the next provider goes first."""
    error_warn: float = 0.05
    """Error ratio over the health window that is reported as a warning."""
    error_critical: float = 0.20
    """Error ratio over the health window above which a provider is demoted."""
    quota_warn: float = 0.80
    """Share of a cloud provider's quota used above which a warning is raised."""
    min_attempts: int = 5
    """Error ratios over fewer attempts than this are not trusted."""
    health_window_s: float = 60.0
    """Window of the per-provider error ratio and latency p95."""
    health_interval_s: float = 1.0
    """How often the overall degradation level is recomputed."""
    level_recovery_s: float = 10.0
    """How long a better level must hold before the gateway reports it (hysteresis)."""
    storage_probe_interval_s: float = 1.0
    """How often the media store and the line cache are asked to try a small write (health, readiness)."""
    ready_requires_media: bool = True
    """``/api/health/ready`` answers 503 while the media store cannot write (lines are still served, audio inline);
    false: stay ready."""


class EngineSettings(BaseSettings):
    """ONNX Runtime threading of one local engine."""

    intra_threads: int = 2
    """ONNX Runtime intra-op threads."""
    spinning: bool = False
    """Let ONNX Runtime spin-wait (fast only while every core is free)."""
    memory_arena: bool = True
    """Use ONNX Runtime's CPU arena (fast: buffers are reused within a run). Off, each run mallocs afresh: memory
    returns after, but spiked to 4.9 GB with 4 pieces in flight (docs/benchmarks.md, long lines)."""
    arena_shrinkage: bool = True
    """End every run by shrinking the arena (``memory.enable_memory_arena_shrinkage``): the chunks the run no
    longer uses go back, so a session does not keep the largest input's buffers (4 pieces in flight: 1.0 GB peak,
    0.39 GB after, against 1.35 GB kept without it)."""
    memory_pattern: bool = False
    """Let ONNX Runtime pre-plan buffers per input shape (helps fixed shapes; text lengths vary, so it only holds
    memory)."""
    trim_heap: bool = True
    """After each piece, hand memory freed to the C heap back to the OS (glibc ``malloc_trim``): what the engines
    allocate outside the arena (and everything, with the arena off: 2.3 GB kept after six 180-character Kokoro
    pieces without it, 0.27 GB with it)."""


class PiperSettings(EngineSettings):
    """Piper (``GATEWAY_PIPER_*``)."""

    model_config = _config("GATEWAY_PIPER_")


class KokoroSettings(EngineSettings):
    """Kokoro (``GATEWAY_KOKORO_*``; how it streams: docs/providers-local.md#how-kokoro-streams)."""

    model_config = _config("GATEWAY_KOKORO_")

    decode: Literal["windowed", "whole"] = "windowed"
    """``windowed``: durations and prosody for the whole sentence first, then the waveform decoder over overlapping
    windows of frames, cross-faded, so first audio waits for one window, not the sentence. ``whole``: each piece
    decoded in one go, its first clause split off as a piece of its own (the path before windows)."""
    first_window_ms: int = Field(1500, ge=500, le=10000)
    """Audio in the first window. Shorter starts sooner but sounds worse: each window normalises over its own
    frames, and under about 1.5 s those statistics are too few (benchmarks.md#kokoro-streaming)."""
    first_window_at_clause: bool = True
    """A request's first window ends with its first clause (at its pause) when that comes sooner and holds at least
    1 s (shorter windows sound worse): first audio waits for that clause only, as with ``whole``, while prosody still
    comes from the sentence."""
    window_growth: float = Field(2.0, ge=1.0, le=8.0)
    """Each window is this many times longer than the one before (fewer joins, less overlap to decode twice)."""
    context_ms: int = Field(200, ge=0, le=1000)
    """Frames decoded on each side of a window and thrown away, so its edges see their neighbours."""
    crossfade_ms: int = Field(100, ge=0, le=1000)
    """Length of the linear cross-fade at each join (inside the context, so at most twice ``context_ms``)."""

    @model_validator(mode="after")
    def _fade_within_context(self) -> KokoroSettings:
        if self.crossfade_ms > 2 * self.context_ms:
            raise ValueError("kokoro crossfade_ms must be at most twice context_ms")
        return self


class CapacitySettings(BaseSettings):
    """How the local engines share the cores (``GATEWAY_CAPACITY_*``; the rule: docs/resilience.md#capacity)."""

    model_config = _config("GATEWAY_CAPACITY_")

    enabled: bool = True
    """Admit local syntheses by capacity. False: each engine only caps its concurrency (``engine_concurrency``)."""
    cores: float | None = Field(None, gt=0)
    """Cores the local engines share. Unset: the cores this process may run on (``os.sched_getaffinity``)."""
    max_load: float = Field(0.85, gt=0, le=1)
    """Share of the measured available cores the syntheses in flight may count on (the rest is headroom)."""
    margin: float = Field(1.25, ge=1)
    """Safety factor on every predicted time (first audio, each sentence ready)."""
    max_gap_s: float = 0.2
    """A live line keeps up when each sentence is predicted ready before the listener needs it, give or take this."""
    max_nudge_s: float = Field(0.05, ge=0)
    """A new line may delay a line in flight past its promise by this much (a few ms of espeak beside a Kokoro line)."""
    failover_reserve_s: float = 0.3
    """What a waiting line leaves of its first-audio budget for the next provider, if cores do not free up."""
    ewma_alpha: float = Field(0.3, gt=0, le=1)
    """Weight of a new measurement in the moving averages (each engine's costs and audio per character, cores)."""
    prior_rtf: dict[str, float] = Field(default_factory=lambda: {"piper": 0.12, "kokoro": 0.8, "espeak": 0.01})
    """Cost of each engine (CPU seconds per audio second) until it is measured; other engines: 1.0."""
    prior_ms_per_char: float = 65.0
    """Audio per character of text at speed 1 until it is measured."""
    max_in_flight: int = Field(6, ge=1)
    """Syntheses in flight per engine at most, a safety bound (it replaces ``engine_concurrency`` while on)."""
    contention_prior: float = Field(2.0, ge=1, le=4)
    """How much later than the fluid model predicts a line speaks when other syntheses run beside it, until it is
    measured (ONNX Runtime threads outnumbering the cores wait for each other; measured 2-3.5x on 2 cores)."""


class ElevenLabsSettings(BaseSettings):
    """ElevenLabs (``GATEWAY_ELEVENLABS_*``; the key is ``ELEVENLABS_API_KEY``)."""

    model_config = _config("GATEWAY_ELEVENLABS_")

    api_key: SecretStr | None = Field(None, validation_alias=AliasChoices(
        "api_key", "ELEVENLABS_API_KEY", "GATEWAY_ELEVENLABS_API_KEY"))
    """ElevenLabs key. Unset: the ElevenLabs providers stay out of the chain."""
    base_url: str = "https://api.elevenlabs.io"
    """REST base URL (point it at the stand-in to run offline)."""
    ws_url: str = "wss://api.elevenlabs.io"
    """WebSocket base URL."""
    ws_compression: bool = False
    """permessage-deflate on the WebSocket: saves bandwidth, costs about 1 ms of CPU per line."""
    ws_mode: Literal["multi", "per_line"] = "multi"
    """``multi``: lines share sockets (``multi-stream-input``, a context each); ``per_line``: a socket per line."""
    ws_contexts_per_socket: int = Field(5, ge=1, le=5)
    """``multi``: lines on one shared socket at most (the service closes a socket with more than 5 contexts)."""
    ws_idle_s: float = Field(10.0, gt=0)
    """``multi``: a shared socket with no line on it closes after this long (at most half the inactivity timeout)."""
    model_id: str = "eleven_flash_v2_5"
    """ElevenLabs model."""


class FishSettings(BaseSettings):
    """Fish Audio (``GATEWAY_FISH_*``; the key is ``FISH_API_KEY``)."""

    model_config = _config("GATEWAY_FISH_")

    api_key: SecretStr | None = Field(None, validation_alias=AliasChoices(
        "api_key", "FISH_API_KEY", "GATEWAY_FISH_API_KEY"))
    """Fish Audio key. Unset: Fish Audio stays out of the chain."""
    base_url: str = "https://api.fish.audio"
    """HTTP base URL (the live WebSocket derives from it)."""
    model: str = "s1"
    """Backend model, sent in the ``model`` header."""
    transport: Literal["http", "ws"] = "http"
    """``http`` (one request per sentence, msgpack) or ``ws`` (the live WebSocket)."""
    sample_rate: int = 24000
    """PCM sample rate asked of Fish Audio."""
    latency: Literal["normal", "balanced"] = "balanced"
    """Fish Audio's latency mode."""


class CacheSettings(BaseSettings):
    """The line cache (``GATEWAY_CACHE_*``)."""

    model_config = _config("GATEWAY_CACHE_")

    enabled: bool = True
    """Store synthesized lines and serve repeats from the cache."""
    max_bytes: int = 512 * 1024 * 1024
    """Size bound of the disk cache; least recently used lines are evicted past it."""
    ttl_s: int | None = None
    """Expiry of lines in the Redis cache (unset: keep until Redis evicts them)."""


class AccessSettings(BaseSettings):
    """API keys and rate limits (``GATEWAY_API_KEYS``, ``GATEWAY_ADMIN_KEY``, ``GATEWAY_RATE_LIMIT_*``)."""

    model_config = _config("GATEWAY_")

    api_keys: SecretList = Field(default_factory=list)
    """Gateway API keys (Bearer) clients must send; comma-separated or a JSON list. Empty: no auth."""
    admin_key: SecretStr | None = None
    """Key of the admin API (/admin/*). Unset: the admin API is disabled."""
    rate_limit_per_key_per_min: int = 10
    """Speak requests per minute per API key (seed: 10); 0 turns it off. Applies when API keys are set."""
    rate_limit_per_client_per_min: int = 0
    """Speak requests per minute per client address; 0 (default) turns it off (game servers share NAT)."""
    cors_origins: CommaList = Field(default_factory=list)
    """Browser origins allowed to call the API (``https://game.example``; ``*``: any). Empty: none (preflights 400)."""


class ObservabilitySettings(BaseSettings):
    """Logs and traces (``GATEWAY_LOG_*``, ``GATEWAY_OTEL_*``)."""

    model_config = _config("GATEWAY_")

    log_level: str = "INFO"
    """Log level for the structlog JSON logs."""
    log_json: bool = True
    """JSON logs (true) or human-readable console logs (false)."""
    otel_exporter: Literal["none", "console", "otlp"] = "none"
    """Where OpenTelemetry spans go."""
    otel_endpoint: str | None = None
    """OTLP/HTTP endpoint for spans when ``otel_exporter`` is ``otlp``."""


class MediaSettings(BaseSettings):
    """Where rendered audio and video live, so any replica answers any ``audio_url``/``video_url``
    (``GATEWAY_MEDIA_*``; docs/deploy.md).

    Expiry per kind: audio after ``GATEWAY_AUDIO_TTL_S``, video after ``GATEWAY_VIDEO_MEDIA_MAX_AGE_S``.
    """

    model_config = _config("GATEWAY_MEDIA_")

    backend: Literal["auto", "disk", "redis", "s3"] = "auto"
    """``auto``: ``s3`` when ``s3_bucket`` is set, else ``redis`` when a Redis URL is set (``redis_url`` here or
    ``GATEWAY_REDIS_URL``), else ``disk`` (the data dir: shared by the worker processes of one machine only)."""
    redis_url: str | None = None
    """Redis for media (unset: ``GATEWAY_REDIS_URL``)."""
    redis_prefix: str = "mouthpiece:media:"
    """Prefix of every media key in Redis."""
    redis_chunk_bytes: int = Field(512 * 1024, gt=0)
    """Media are stored in Redis in chunks of this size (a Range read fetches only the chunks it needs)."""
    redis_max_bytes: int = 512 * 1024 * 1024
    """Total bytes of media kept in Redis; past it, the items closest to expiry are evicted."""
    max_item_bytes: int = 64 * 1024 * 1024
    """Largest single audio or video kept in Redis or S3 (larger: not stored, the line says why)."""
    s3_bucket: str | None = None
    """S3-compatible bucket for media (unset: no object store)."""
    s3_endpoint_url: str | None = None
    """Endpoint of the object store (``http://minio:9000``); unset: AWS S3."""
    s3_region: str = "us-east-1"
    """Region of the bucket."""
    s3_prefix: str = "mouthpiece/"
    """Key prefix of every media object (``<prefix>audio/<request id>``)."""
    s3_access_key_id: SecretStr | None = None
    """Access key (unset: boto3's default credential chain, e.g. an instance role)."""
    s3_secret_access_key: SecretStr | None = None
    """Secret key, with ``s3_access_key_id``."""
    s3_addressing_style: Literal["auto", "path", "virtual"] = "path"
    """``path`` works with every S3-compatible server; ``virtual`` for AWS buckets that need it."""
    s3_create_bucket: bool = False
    """Create the bucket at start-up when it is missing."""
    cleanup_interval_s: float = 60.0
    """How often expired media are removed (and size caps applied)."""


class Settings(BaseSettings):
    """The gateway's settings (``GATEWAY_*``) with one nested group per area."""

    model_config = _config("GATEWAY_")

    host: str = "127.0.0.1"
    """Interface the HTTP server binds to."""
    port: int = 8080
    """Port the HTTP server listens on."""
    data_dir: Path = REPO_ROOT / "data"
    """The disk cache and rendered media live here."""
    models_dir: Path = REPO_ROOT / "data" / "models"
    """Prepared local models (``python -m gateway.install`` writes them here)."""
    characters_file: Path = REPO_ROOT / "config" / "characters.yaml"
    """The cast: character -> voice per provider, settings, default emotion, optional chain."""
    voices_file: Path = REPO_ROOT / "config" / "voices.yaml"
    """The voice catalogue: every provider's voices with gender, accent, age and pitch (docs/voices.md)."""
    fallback_audio_dir: Path = REPO_ROOT / "fallback_audio"
    """Canned last-resort clips with their phoneme timings."""
    default_character: str = "narrator"
    """Character used when a request names none."""
    chain: CommaList = Field(default_factory=list)
    """Default ordered provider chain (a character may override it). Empty: the cloud providers whose keys are
    set (ElevenLabs WebSocket, ElevenLabs REST, Fish Audio), ``openai_speech`` when its URLs are set, then kokoro,
    piper, espeak, cache, canned."""
    enabled_providers: CommaList = Field(default_factory=list)
    """Providers instantiated at start-up (a chain entry not enabled is skipped). Empty: those of ``chain``."""
    max_text_chars: int = 1000
    """Longest line accepted, in characters after cleaning."""
    default_output_format: str = "wav"
    """Output format when a request names none."""
    blendshape_fps: int = 60
    """Default frame rate of ARKit blendshape curves."""
    audio_ttl_s: int = 3600
    """How long rendered audio stays downloadable by request id (in every media backend)."""
    engine_concurrency: int = 2
    """Concurrent syntheses per local engine when capacity admission is off (``GATEWAY_CAPACITY_ENABLED=false``)
    or the engine is used on its own (more only oversubscribes the CPU)."""
    redis_url: str | None = None
    """Redis URL for the shared cache, breakers, rate limits and media (unset: everything local)."""
    workers: int = Field(1, ge=1)
    """Server processes sharing the port (``gateway serve --workers N``); each loads its own local engines."""
    drain_delay_s: float = Field(0.0, ge=0)
    """On SIGTERM, readiness answers 503 this long before the drain waits for in-flight lines (time for a load
    balancer or Kubernetes to stop sending new work here)."""
    drain_timeout_s: float = Field(30.0, ge=0)
    """On SIGTERM, how long in-flight lines (and responses being written) may take before the process exits."""
    gc_freeze: bool = False
    """Once started, keep what start-up built (engines, catalogues, dictionaries) out of the garbage collector's
    scans (``gc.freeze``): a full collection then walks only what lines made since. ``gateway serve`` turns it on
    unless ``GATEWAY_GC_FREEZE`` is set; off where a process builds many gateways (tests)."""

    deadlines: Deadlines = Field(default_factory=Deadlines)
    retry: RetrySettings = Field(default_factory=RetrySettings)
    breaker: BreakerSettings = Field(default_factory=BreakerSettings)
    thresholds: Thresholds = Field(default_factory=Thresholds)
    trials: TrialSettings = Field(default_factory=TrialSettings)
    piper: PiperSettings = Field(default_factory=PiperSettings)
    kokoro: KokoroSettings = Field(default_factory=KokoroSettings)
    capacity: CapacitySettings = Field(default_factory=CapacitySettings)
    elevenlabs: ElevenLabsSettings = Field(default_factory=ElevenLabsSettings)
    fish: FishSettings = Field(default_factory=FishSettings)
    cache: CacheSettings = Field(default_factory=CacheSettings)
    access: AccessSettings = Field(default_factory=AccessSettings)
    ingress: IngressSettings = Field(default_factory=IngressSettings)
    observability: ObservabilitySettings = Field(default_factory=ObservabilitySettings)
    video: VideoSettings = Field(default_factory=VideoSettings)
    media: MediaSettings = Field(default_factory=MediaSettings)
    speech: SpeechWorkerSettings = Field(default_factory=SpeechWorkerSettings)
    openai_speech: OpenAISpeechSettings = Field(default_factory=OpenAISpeechSettings)
    delivery: DeliverySettings = Field(default_factory=DeliverySettings)

    @model_validator(mode="before")
    @classmethod
    def _flat_names(cls, data: object) -> object:
        """Group fields may also be given by their environment names (``retry_attempts=1``, ``log_level=...``):
        a keyword is the variable's name without ``GATEWAY_``, lowercased. A group given this way takes the
        other fields' defaults."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for group, field in cls.model_fields.items():
            model = field.annotation
            if not (isinstance(model, type) and issubclass(model, BaseSettings)):
                continue
            prefix = model.model_config.get("env_prefix", "").lower().removeprefix("gateway_")
            for name in model.model_fields:
                flat = prefix + name
                if flat in data and flat not in cls.model_fields:
                    target = data.get(group)
                    target = dict(target) if isinstance(target, dict) else (
                        target.model_dump() if isinstance(target, BaseSettings) else {})
                    target[name] = data.pop(flat)
                    data[group] = target
        return data

    @model_validator(mode="after")
    def _derived(self) -> "Settings":
        if not self.chain:
            cloud = []
            if self.elevenlabs.api_key is not None:
                cloud += ["elevenlabs_ws", "elevenlabs_rest"]
            if self.fish.api_key is not None:
                cloud.append("fish_audio")
            if self.openai_speech.urls:
                cloud.append("openai_speech")
            self.chain = cloud + list(LOCAL_CHAIN)
        if not self.enabled_providers:
            self.enabled_providers = list(self.chain)
        if self.video.media_dir is None:
            self.video = self.video.model_copy(update={"media_dir": self.data_dir / "video"})
        return self
