"""The health report: every provider's state with its breaker and signals, the overall level with hysteresis.

:class:`HealthReporter` computes it (``GET /api/health``, the admin state, and once a second in the health
loop, so level transitions happen and are logged on time); :class:`HealthReport` is the typed result.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import structlog

from gateway.core.voices import HealthState, ProviderHealth
from gateway.observability.metrics import DEGRADATION_LEVEL, LEVEL_TRANSITIONS, PROVIDER_QUOTA_USED
from gateway.policy.breakers import ProviderBreaker
from gateway.policy.capacity import CapacitySnapshot
from gateway.policy.capacity_gate import Capacity
from gateway.policy.degradation import DegradationLevel, LevelController, assess
from gateway.policy.health import HealthSignals, ProviderStatus
from gateway.policy.retry_budget import RetryBudget
from gateway.policy.shared_state import RedisLink
from gateway.providers.base import Provider
from gateway.settings import Thresholds
from gateway.video.pool import VideoPool

log = structlog.get_logger(__name__)
VIDEO_DISABLED = {"healthy": False, "mode": "disabled", "reason": "no video workers configured"}


@dataclass(slots=True)
class HealthReport:
    status: str  #: ok, degraded or draining
    degradation_level: DegradationLevel
    reasons: list[str]
    warnings: list[str]
    forced_level: DegradationLevel | None
    draining: bool
    retry_budget: dict
    redis: dict | None
    video: dict
    media: dict = field(default_factory=dict)  #: the media store: backend, ok, error
    providers: dict[str, ProviderStatus] = field(default_factory=dict)
    #: The local engines' shared cores (None: capacity admission is off).
    capacity: CapacitySnapshot | None = None


class HealthReporter:
    def __init__(self, providers: dict[str, Provider], breakers: dict[str, ProviderBreaker], chain: list[str],
                 signals: HealthSignals, thresholds: Thresholds, levels: LevelController, budget: RetryBudget,
                 redis: RedisLink | None, video: VideoPool, capacity: Capacity | None = None) -> None:
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
            quota = statuses[name].detail.get("quota_used_ratio")
            if isinstance(quota, (int, float)):
                PROVIDER_QUOTA_USED.labels(name).set(quota)
        self.signals.refresh()
        redis_up = None if self.redis is None else await asyncio.to_thread(self.redis.ping)
        video = await self.video.health() if self.video.mode != "disabled" else None
        media = await self.video.media.health()
        current, previous = self.levels.update(assess(statuses, self.chain, self.signals, self.thresholds, video,
                                                      redis_up))
        if previous is not None:
            LEVEL_TRANSITIONS.labels(previous.value, current.level.value).inc()
            log.warning("degradation_level_changed", old=previous.value, new=current.level.value,
                        reasons=current.reasons)
        set_level_gauge(current.level)
        status = "draining" if self.draining else ("ok" if current.level is DegradationLevel.NORMAL else "degraded")
        return HealthReport(status, current.level, current.reasons, current.warnings, self.levels.forced,
                            self.draining, self.budget.snapshot(),
                            None if self.redis is None else self.redis.snapshot(), video or dict(VIDEO_DISABLED),
                            media, statuses, capacity)


def set_level_gauge(level: DegradationLevel) -> None:
    for lv in DegradationLevel:
        DEGRADATION_LEVEL.labels(lv.value).set(1 if lv is level else 0)
