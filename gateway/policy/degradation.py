"""Degradation levels: how far from normal service a response is, and the overall level with its hysteresis."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import StrEnum

import structlog

from gateway.core.voices import HealthState
from gateway.policy.health import HealthSignals, ProviderStatus
from gateway.settings import Thresholds

log = structlog.get_logger(__name__)


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
    #: Providers not demoted whose signal background trials cleared (:mod:`gateway.policy.trials`): proven healthy.
    proven: set[str] = field(default_factory=set)


def assess(providers: dict[str, ProviderStatus], order: list[str], signals: HealthSignals, thresholds: Thresholds,
           video: dict | None = None, redis_up: bool | None = None) -> Assessment:
    """The level the health signals call for, with its reasons (no hysteresis here)."""
    reasons: list[str] = []
    warnings: list[str] = []
    demoted: set[str] = set()
    proven: set[str] = set()
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
            if signal.proven:
                proven.add(name)
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
    return Assessment(level, reasons, warnings, demoted, proven)


class LevelController:
    """The overall level with hysteresis: it worsens at once and recovers only after holding ``recovery_s``.

    Except on proof: when every provider whose demotion ended while the worse level held (:attr:`recovering`) has
    been cleared by background trials (``proven``), the better level applies at once; one whose signal merely aged
    out holds it for the hysteresis unless trials prove it meanwhile (:meth:`suspects`: whom to try). A provider
    demoted again within ``flap_window_s`` of a recovery (either way) is **flapping**: its recoveries wait for the
    hysteresis again, and each flap in a row doubles the trials it must pass (:attr:`flaps`), until it has stayed
    undemoted for ``flap_window_s``.
    """

    def __init__(self, recovery_s: float = 10.0, flap_window_s: float = 60.0) -> None:
        self.recovery_s = recovery_s
        self.flap_window_s = flap_window_s
        self.current = Assessment(DegradationLevel.NORMAL)
        self.forced: DegradationLevel | None = None
        self._better_since: float | None = None
        self.changed_at = time.time()
        self._recovered_at: dict[str, float] = {}  #: when the level last recovered with a provider back
        #: flapping providers -> when they left the demoted set (``inf`` while still demoted)
        self.flapping: dict[str, float] = {}
        #: flaps in a row per provider: trials must pass ``2 ** flaps`` times as often to clear it
        self.flaps: dict[str, int] = {}
        #: providers whose demotion ended while the worse level still holds (its hysteresis)
        self.recovering: set[str] = set()

    def suspects(self) -> set[str]:
        """Providers background trials should prove: demoted now, or no longer demoted but unproven while the worse
        level still holds for them."""
        return set(self.current.demoted) | (self.recovering - self.current.proven)

    def _watch_flaps(self, candidate: Assessment, now: float) -> None:
        for name in candidate.demoted - self.current.demoted:
            if now - self._recovered_at.get(name, float("-inf")) < self.flap_window_s:
                self.flaps[name] = self.flaps.get(name, 0) + 1
                log.warning("provider_flapping", provider=name, flaps=self.flaps[name], window_s=self.flap_window_s)
                self.flapping[name] = float("inf")
        for name, left in list(self.flapping.items()):
            if name in candidate.demoted:
                self.flapping[name] = float("inf")
            elif left == float("inf"):
                self.flapping[name] = now
            elif now - left >= self.flap_window_s:
                del self.flapping[name]
                self.flaps.pop(name, None)

    def _proven_recovery(self, candidate: Assessment) -> bool:
        """Whether ``candidate`` (better than the current level) is a recovery proven by trials: every provider
        whose demotion ended since the worse level began to hold is proven, and none of them is flapping."""
        self.recovering = (self.recovering | (self.current.demoted - candidate.demoted)) - candidate.demoted
        restored = self.recovering
        return bool(restored) and restored <= candidate.proven and not restored & self.flapping.keys()

    def update(self, candidate: Assessment, now: float | None = None) -> tuple[Assessment, DegradationLevel | None]:
        """Apply ``candidate``; returns the current assessment and the previous level if it changed."""
        now = time.monotonic() if now is None else now
        if self.forced is not None:
            candidate = Assessment(self.forced, ["forced by admin", *candidate.reasons], candidate.warnings,
                                   candidate.demoted)
        previous = self.current.level
        proven = (self.forced is None and candidate.level.rank < previous.rank
                  and self._proven_recovery(candidate))
        self._watch_flaps(candidate, now)
        held, recovered = False, proven
        if candidate.level.rank > previous.rank or self.forced is not None or proven:
            self._better_since = None
            self.current = candidate
        elif candidate.level.rank < previous.rank:
            if self._better_since is None:
                self._better_since = now
            if now - self._better_since >= self.recovery_s:
                self._better_since = None
                self.current = candidate
                recovered = True
            else:  # keep the worse level, but refresh what is known now
                held = True
                self.current = Assessment(previous, self.current.reasons, candidate.warnings, candidate.demoted,
                                          candidate.proven)
        else:
            self._better_since = None
            self.current = candidate
        if recovered:  # (on proof or after the hysteresis)
            for name in self.recovering:
                self._recovered_at[name] = now
        if not held:
            self.recovering = set()
        if self.current.level is not previous:
            self.changed_at = time.time()
            return self.current, previous
        return self.current, None
