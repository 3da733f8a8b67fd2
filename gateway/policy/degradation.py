"""Degradation levels: how far from normal service a response is."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import StrEnum

from gateway.core.voices import HealthState
from gateway.policy.health import HealthSignals, ProviderStatus
from gateway.settings import Thresholds


class DegradationLevel(StrEnum):
    """Levels from the seed (§10.2). Every response names the level that served it."""

    NORMAL = "normal"  #: the character's first-choice provider served the line
    AUDIO_ONLY = "degraded-1"  #: the GPU video pool is down: audio and visemes, no video
    FALLBACK_PROVIDER = "degraded-2"  #: the primary failed or was slow: a later provider served
    TEXT_ONLY = "degraded-3"  #: every TTS provider is down: text with estimated timings and visemes
    CACHED_ONLY = "offline"  #: only cached or canned audio could be served

    @property
    def rank(self) -> int:
        return list(DegradationLevel).index(self)


#: Providers whose audio is not freshly synthesized for this line.
CACHED_FAMILIES = frozenset({"cache", "canned"})


def level_for(served_by: str | None, first_choice: str | None) -> DegradationLevel:
    """The level of a response from which provider served it."""
    if served_by is None:
        return DegradationLevel.TEXT_ONLY
    if served_by in CACHED_FAMILIES:
        return DegradationLevel.CACHED_ONLY
    if served_by == first_choice:
        return DegradationLevel.NORMAL
    return DegradationLevel.FALLBACK_PROVIDER


@dataclass(slots=True)
class Assessment:
    level: DegradationLevel
    reasons: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: Providers to try after the next one (slow or failing primaries: "primary slow -> next provider").
    demoted: set[str] = field(default_factory=set)


def assess(providers: dict[str, ProviderStatus], order: list[str], signals: HealthSignals, thresholds: Thresholds,
           video: dict | None = None, redis_up: bool | None = None) -> Assessment:
    """The level the health signals call for, with its reasons (no hysteresis here)."""
    reasons: list[str] = []
    warnings: list[str] = []
    demoted: set[str] = set()
    synth = [n for n in order if n in providers and providers[n].family not in CACHED_FAMILIES]
    cached = [n for n in order if n in providers and providers[n].family in CACHED_FAMILIES]
    usable = []
    for name in synth:
        report = providers[name]
        signal = signals.signal(name)
        if report.state is HealthState.DOWN:
            reasons.append(f"{name} down: {report.reason or 'unhealthy'}")
            continue
        if signal.attempts >= thresholds.min_attempts and signal.error_ratio >= thresholds.error_critical:
            reasons.append(f"{name} failing: {signal.error_ratio:.0%} errors")
            demoted.add(name)
        elif signal.ewma_s is not None and signal.ewma_s >= thresholds.latency_critical_s:
            reasons.append(f"{name} slow: first audio {signal.ewma_s:.2f} s (EWMA)")
            demoted.add(name)
        elif signal.slow:  # the listener waits: audio arrives slower than it plays
            reasons.append(f"{name} slow: delivery {signal.delivery_rtf or 0:.2f}x real time (EWMA)")
            demoted.add(name)
        else:
            if signal.delivery_rtf is not None and signal.delivery_rtf < thresholds.delivery_rtf_warn:
                warnings.append(f"{name} slow: delivery {signal.delivery_rtf:.2f}x real time (EWMA)")
            if signal.ewma_s is not None and signal.ewma_s >= thresholds.latency_warn_s:
                warnings.append(f"{name} slow: first audio {signal.ewma_s:.2f} s (EWMA)")
            if signal.attempts >= thresholds.min_attempts and signal.error_ratio >= thresholds.error_warn:
                warnings.append(f"{name} errors: {signal.error_ratio:.0%}")
        quota = report.detail.get("quota_used_ratio")
        if isinstance(quota, (int, float)) and quota >= thresholds.quota_warn:
            warnings.append(f"{name} quota {quota:.0%} used")
        usable.append(name)
    healthy = [n for n in usable if n not in demoted]
    if synth and synth[0] in healthy:
        level = DegradationLevel.NORMAL
    elif usable:
        level = DegradationLevel.FALLBACK_PROVIDER
    elif any(providers[n].state is not HealthState.DOWN for n in cached):
        level = DegradationLevel.CACHED_ONLY
    else:
        level = DegradationLevel.TEXT_ONLY
    if video is not None and not video.get("healthy", True):
        reasons.append(f"video pool unhealthy: {video.get('reason') or 'no healthy worker'}")
        if level is DegradationLevel.NORMAL:
            level = DegradationLevel.AUDIO_ONLY
    if redis_up is False:
        warnings.append("redis unreachable: serving on local breaker and rate-limit state")
    return Assessment(level, reasons, warnings, demoted)


class LevelController:
    """The overall level with hysteresis: it worsens at once and recovers only after holding ``recovery_s``."""

    def __init__(self, recovery_s: float = 10.0) -> None:
        self.recovery_s = recovery_s
        self.current = Assessment(DegradationLevel.NORMAL)
        self.forced: DegradationLevel | None = None
        self._better_since: float | None = None
        self.changed_at = time.time()

    def update(self, candidate: Assessment, now: float | None = None) -> tuple[Assessment, DegradationLevel | None]:
        """Apply ``candidate``; returns the current assessment and the previous level if it changed."""
        now = time.monotonic() if now is None else now
        if self.forced is not None:
            candidate = Assessment(self.forced, ["forced by admin", *candidate.reasons], candidate.warnings,
                                   candidate.demoted)
        previous = self.current.level
        if candidate.level.rank > previous.rank or self.forced is not None:
            self._better_since = None
            self.current = candidate
        elif candidate.level.rank < previous.rank:
            if self._better_since is None:
                self._better_since = now
            if now - self._better_since >= self.recovery_s:
                self._better_since = None
                self.current = candidate
            else:  # keep the worse level, but refresh what is known now
                self.current = Assessment(previous, self.current.reasons, candidate.warnings, candidate.demoted)
        else:
            self._better_since = None
            self.current = candidate
        if self.current.level is not previous:
            self.changed_at = time.time()
            return self.current, previous
        return self.current, None
