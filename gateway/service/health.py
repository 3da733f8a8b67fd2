"""The health report: every provider's state with its breaker and signals, the overall level with hysteresis.

:class:`HealthReporter` computes it (``GET /api/health``, the admin state, and once a second in the health
loop, so level transitions happen and are logged on time); :class:`HealthReport` is the typed result.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

import structlog

from gateway.core.voices import HealthState, ProviderHealth
from gateway.observability.metrics import DEGRADATION_LEVEL, LEVEL_TRANSITIONS, PROVIDER_QUOTA_USED
from gateway.policy.capacity_view import CapacitySnapshot
from gateway.policy.capacity_gate import Capacity
from gateway.policy.degradation import DegradationLevel, LevelController, assess
from gateway.policy.health import HealthSignals, ProviderStatus
from gateway.policy.retry_budget import RetryBudget
from gateway.policy.trials import Trials
from gateway.policy.shared_state import RedisLink
from gateway.providers.base import Provider
from gateway.service.storage import StorageWatch
from gateway.settings import Thresholds
from gateway.upstream.breaker import ProviderBreaker
from gateway.video.pool import VideoPool

log = structlog.get_logger(__name__)
#: Best first: a family's state is that of its best provider.
STATE_ORDER = [HealthState.UP, HealthState.DEGRADED, HealthState.DOWN]
VIDEO_DISABLED = {"healthy": False, "mode": "disabled", "reason": "no video workers configured"}


@dataclass(slots=True)
class HealthReport:
    status: str  #: the original contract's: healthy, degraded or unhealthy (:func:`overall_status`)
    degradation_level: DegradationLevel
    reasons: list[str]
    warnings: list[str]
    forced_level: DegradationLevel | None
    draining: bool
    retry_budget: dict
    redis: dict | None
    video: dict
    media: dict = field(default_factory=dict)  #: the media store: backend, status, ok, error, since, last_error
    cache: dict | None = None  #: the line cache: backend, status, ok, error (None: cache off)
    providers: dict[str, ProviderStatus] = field(default_factory=dict)
    #: The local engines' shared cores (None: capacity admission is off).
    capacity: CapacitySnapshot | None = None
    services: dict[str, str] = field(default_factory=dict)  #: the original contract's map (:func:`service_states`)
    timestamp: str = ""  #: when the report was made, ISO 8601 UTC (``2025-12-10T12:00:00Z``)


class HealthReporter:
    def __init__(self, providers: dict[str, Provider], breakers: dict[str, ProviderBreaker], chain: list[str],
                 signals: HealthSignals, thresholds: Thresholds, levels: LevelController, budget: RetryBudget,
                 redis: RedisLink | None, video: VideoPool, capacity: Capacity | None = None,
                 storage: StorageWatch | None = None, trials: Trials | None = None) -> None:
        self.providers = providers
        self.breakers = breakers
        self.chain = chain
        self.signals = signals
        self.thresholds = thresholds
        self.levels = levels
        self.budget = budget
        self.redis = redis
        self.video = video
        self.capacity = capacity
        self.storage = storage
        self.trials = trials
        self.draining = False
        set_level_gauge(DegradationLevel.NORMAL)

    async def report(self) -> HealthReport:
        reports = await asyncio.gather(*(p.health() for p in self.providers.values()), return_exceptions=True)
        capacity = self.capacity.snapshot() if self.capacity is not None else None
        statuses: dict[str, ProviderStatus] = {}
        for (name, provider), own in zip(self.providers.items(), reports):
            if isinstance(own, BaseException):
                own = ProviderHealth(HealthState.DOWN, f"health check failed: {type(own).__name__}")
            statuses[name] = ProviderStatus.combine(own, self.breakers[name].snapshot(), provider.family,
                                                    self.signals.signal(name),
                                                    capacity.engines.get(name) if capacity else None)
            if self.trials is not None and name in self.trials.states:
                statuses[name].trial = asdict(self.trials.states[name])
            quota = statuses[name].detail.get("quota_used_ratio")
            if isinstance(quota, (int, float)):
                PROVIDER_QUOTA_USED.labels(name).set(quota)
        self.signals.refresh()
        redis_up = None if self.redis is None else await asyncio.to_thread(self.redis.ping)
        video = await self.video.health() if self.video.mode != "disabled" else None
        storage = await self.storage.report() if self.storage is not None else None
        media = storage.media if storage is not None else await self.video.media.health()
        assessment = assess(statuses, self.chain, self.signals, self.thresholds, video, redis_up)
        if storage is not None:
            assessment.warnings.extend(storage.warnings)
        current, previous = self.levels.update(assessment)
        if previous is not None:
            LEVEL_TRANSITIONS.labels(previous.value, current.level.value).inc()
            log.warning("degradation_level_changed", old=previous.value, new=current.level.value,
                        reasons=current.reasons)
        set_level_gauge(current.level)
        services = service_states(statuses, video)
        if storage is not None:
            services["media"] = media.get("status", "up")
            if storage.cache is not None:
                services["cache"] = storage.cache["status"]
        return HealthReport(overall_status(services, current.level, self.draining), current.level, current.reasons,
                            current.warnings, self.levels.forced, self.draining, self.budget.snapshot(),
                            None if self.redis is None else self.redis.snapshot(), video or dict(VIDEO_DISABLED),
                            media, storage.cache if storage is not None else None, statuses, capacity, services,
                            datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))


def service_states(providers: dict[str, ProviderStatus], video: dict | None) -> dict[str, str]:
    """The original contract's ``services``: ``up``/``degraded``/``down`` per provider; a vendor served by several
    providers (ElevenLabs WebSocket and REST) also under its family's name, as its best transport; the video pool
    (when one is configured) under the contract's name ``gpu_server``."""
    services = {name: status.state.value for name, status in providers.items()}
    families: dict[str, list[HealthState]] = {}
    for status in providers.values():
        families.setdefault(status.family, []).append(status.state)
    for family, states in families.items():
        if len(states) > 1 and family not in services:
            services[family] = min(states, key=STATE_ORDER.index).value
    if video is not None:
        services["gpu_server"] = video_state(video).value
    return services


def video_state(video: dict) -> HealthState:
    """The pool: ``up`` while every worker is healthy, ``degraded`` while some are (or Redis is bypassed)."""
    if not video.get("healthy"):
        return HealthState.DOWN
    workers = video.get("workers") or []
    if video.get("reason", "ok") != "ok" or any(not w.get("healthy", True) for w in workers):
        return HealthState.DEGRADED
    return HealthState.UP


def overall_status(services: dict[str, str], level: DegradationLevel, draining: bool) -> str:
    """``unhealthy`` while no TTS provider can speak (``degraded-3``) or the replica drains (new lines get 503),
    ``degraded`` while any service is not up or the level is not normal, else ``healthy``."""
    if draining or level is DegradationLevel.TEXT_ONLY:
        return "unhealthy"
    if level is not DegradationLevel.NORMAL or any(state != HealthState.UP for state in services.values()):
        return "degraded"
    return "healthy"


def set_level_gauge(level: DegradationLevel) -> None:
    for lv in DegradationLevel:
        DEGRADATION_LEVEL.labels(lv.value).set(1 if lv is level else 0)
