"""Health signals per provider: first-audio latency (EWMA and p95 over a window) and error ratio.

The chain reports every attempt here (:meth:`HealthSignals.attempt`); the degradation controller reads
the signals. Windows are time-based so a quiet provider's old failures age out.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

from gateway.core.voices import HealthState, ProviderHealth
from gateway.observability.metrics import PROVIDER_ERROR_RATIO, PROVIDER_LATENCY
from gateway.policy.capacity import EngineCapacity
from gateway.upstream.breaker import BreakerSnapshot


@dataclass(slots=True)
class ProviderSignal:
    """What the chain saw of a provider over the health window."""

    ewma_s: float | None  #: first-audio latency, exponentially weighted
    p95_s: float | None  #: first-audio latency, 95th percentile
    error_ratio: float
    attempts: int


@dataclass(slots=True)
class ProviderStatus:
    """One provider in the health report: its own state (with its breaker's view on top) and the chain's signal."""

    state: HealthState
    reason: str
    family: str
    breaker: BreakerSnapshot
    signal: ProviderSignal
    #: What the provider reports of itself (model, library, quota_used_ratio, ...).
    detail: dict = field(default_factory=dict)
    #: A local engine's share of the cores: in flight, waiting, measured cost, headroom.
    capacity: EngineCapacity | None = None

    @classmethod
    def combine(cls, own: ProviderHealth, breaker: BreakerSnapshot, family: str, signal: ProviderSignal,
                capacity: EngineCapacity | None = None) -> "ProviderStatus":
        """An open breaker means down; a half-open one makes an up provider degraded."""
        state = own.state
        if breaker.state == "open":
            state = HealthState.DOWN
        elif breaker.state == "half-open" and state is HealthState.UP:
            state = HealthState.DEGRADED
        reason = own.reason or (f"breaker {breaker.state}" if breaker.state != "closed" else "")
        if breaker.held:
            reason = "breaker held open by an operator" + (
                f" until {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(breaker.held_until))}"
                if breaker.held_until else " until lifted")
        return cls(state, reason, family, breaker, signal, dict(own.detail or {}), capacity)


class ProviderStats:
    def __init__(self, window_s: float, alpha: float = 0.3) -> None:
        self.window_s = window_s
        self.alpha = alpha
        self.ewma_s: float | None = None
        self._events: deque[tuple[float, bool, float | None]] = deque()
        self._errors = 0  # failed attempts in the window, kept as events come and go
        self._latencies = 0  # attempts with a first-audio time in the window

    def record(self, ok: bool, first_audio_s: float | None, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self._events.append((now, ok, first_audio_s))
        self._errors += not ok
        if first_audio_s is not None:
            self._latencies += 1
            self.ewma_s = first_audio_s if self.ewma_s is None else (
                self.alpha * first_audio_s + (1 - self.alpha) * self.ewma_s)
        self._trim(now)

    def _trim(self, now: float) -> None:
        while self._events and now - self._events[0][0] > self.window_s:
            _, ok, latency = self._events.popleft()
            self._errors -= not ok
            self._latencies -= latency is not None
        if not self._latencies:
            self.ewma_s = None  # no first audio in the window: an old slowness ages out

    def quick(self, now: float | None = None) -> ProviderSignal:
        """EWMA and error ratio in O(1) amortized (no p95): what every attempt updates."""
        self._trim(time.monotonic() if now is None else now)
        n = len(self._events)
        return ProviderSignal(self.ewma_s, None, self._errors / n if n else 0.0, n)

    def signal(self, now: float | None = None) -> ProviderSignal:
        """The full signal, p95 included (sorts the window: for the health loop, not the request path)."""
        quick = self.quick(now)
        latencies = sorted(lat for _, _, lat in self._events if lat is not None)
        p95 = latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))] if latencies else None
        return ProviderSignal(quick.ewma_s, p95, quick.error_ratio, quick.attempts)


class HealthSignals:
    """Per-provider stats, fed by the chain."""

    def __init__(self, window_s: float = 60.0) -> None:
        self.window_s = window_s
        self.stats: dict[str, ProviderStats] = {}

    def attempt(self, provider: str, ok: bool, first_audio_s: float | None) -> None:
        stats = self.stats.setdefault(provider, ProviderStats(self.window_s))
        stats.record(ok, first_audio_s)
        self._export(provider, stats.quick())

    def refresh(self) -> None:
        """Re-export every provider's gauges, so a quiet provider's window ages out in the metrics too."""
        for provider, stats in self.stats.items():
            self._export(provider, stats.signal())

    @staticmethod
    def _export(provider: str, signal: ProviderSignal) -> None:
        PROVIDER_ERROR_RATIO.labels(provider).set(signal.error_ratio)
        if signal.ewma_s is not None:
            PROVIDER_LATENCY.labels(provider, "ewma").set(signal.ewma_s)
        if signal.p95_s is not None:
            PROVIDER_LATENCY.labels(provider, "p95").set(signal.p95_s)

    def signal(self, provider: str) -> ProviderSignal:
        stats = self.stats.get(provider)
        return stats.signal() if stats else ProviderSignal(None, None, 0.0, 0)
