"""Health signals per provider: first-audio latency (EWMA and p95 over a window), error ratio, and the delivery's
real-time factor (audio seconds delivered per wall second of the attempt, EWMA): what the listener gets. A
provider inside every deadline can still deliver 2 s of audio in 6 s; the delivery RTF catches it.

A demoted provider gets background trials (:mod:`gateway.policy.trials`): their verdicts come here too
(:meth:`HealthSignals.trial`). Enough clean, fast trials in a row **clear** the provider's window: what it held
no longer counts, nor do attempts that started before (a slow line still in flight), and the signal is marked
``proven`` so the level may recover without its hysteresis.

The chain reports every attempt here (:meth:`HealthSignals.attempt`); the degradation controller reads
the signals. Windows are time-based so a quiet provider's old failures age out.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

from gateway.core.voices import HealthState, ProviderHealth
from gateway.observability.metrics import PROVIDER_DELIVERY_RTF, PROVIDER_ERROR_RATIO, PROVIDER_LATENCY, labelled
from gateway.policy.capacity_view import EngineCapacity
from gateway.upstream.breaker import BreakerSnapshot


@dataclass(slots=True)
class ProviderSignal:
    """What the chain saw of a provider over the health window."""

    ewma_s: float | None  #: first-audio latency, exponentially weighted
    p95_s: float | None  #: first-audio latency, 95th percentile
    error_ratio: float
    attempts: int
    #: audio seconds per wall second of the attempts that delivered a line (EWMA): below 1 the listener waits
    delivery_rtf: float | None = None
    #: slow delivery, with hysteresis: set below the critical RTF, cleared only at the warning RTF (or no data)
    slow: bool = False
    #: trials cleared the window and nothing bad was seen since (the level may recover at once)
    proven: bool = False


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
    #: Its background trials (:class:`gateway.policy.trials.TrialState` as a dict; None: never tried).
    trial: dict | None = None

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


#: Lines shorter than this say little about a delivery's pace (their first audio dominates): not counted.
MIN_DELIVERY_AUDIO_S = 0.5
#: A finished delivery counts as at most this fast (a cached replay is 100x real time: it would take an EWMA many
#: slow lines to come down from there).
RTF_CAP = 2.0
#: A delivery still in flight is judged once its listener has been playing this long (so a slow one shows before it
#: ends): audio delivered after its first chunk over the time since that chunk; below 1 the listener is catching up.
LIVE_MIN_WALL_S = 1.0
#: ... or sooner, once its listener has played all it was sent (a gap heard now) and at least this long (a vendor's
#: tiny first chunk and a short wait for the next are not yet a pace). A stall right after a short first chunk shows
#: half a second earlier this way.
LIVE_STARVED_MIN_S = 0.5
#: ... and only when at least this many are (their median): one line's momentary gap is not the provider's pace.
LIVE_MIN_DELIVERIES = 2


class ProviderStats:
    def __init__(self, window_s: float, alpha: float = 0.3, rtf_warn: float = 1.0, rtf_critical: float = 0.6,
                 latency_critical_s: float = float("inf")) -> None:
        self.window_s = window_s
        self.latency_critical_s = latency_critical_s  #: a first-audio EWMA at or above it ends ``proven``
        self.alpha = alpha
        self.rtf_warn = rtf_warn
        self.rtf_critical = rtf_critical
        self.rtf_ewma: float | None = None
        self.slow = False
        self._deliveries: deque[float] = deque()  # when each counted delivery ended
        #: deliveries in flight: key -> (first audio at, its first chunk's seconds, seconds out so far)
        self._live: dict[int, tuple[float, float, float]] = {}
        self.ewma_s: float | None = None
        self._events: deque[tuple[float, bool, float | None]] = deque()
        self._errors = 0  # failed attempts in the window, kept as events come and go
        self._latencies = 0  # attempts with a first-audio time in the window
        #: attempts that started before this (monotonic) are not counted: trials proved the provider since
        self.floor = float("-inf")
        self.proven = False
        self.trial_streak = 0  #: clean, fast trials in a row

    def record(self, ok: bool, first_audio_s: float | None, now: float | None = None,
               started: float | None = None) -> None:
        """An attempt's first audio (``ok``, after ``first_audio_s``) or failure; ``started``: when it began (an
        attempt that began before the last proof is not counted)."""
        now = time.monotonic() if now is None else now
        if started is None and first_audio_s is not None:
            started = now - first_audio_s
        if started is not None and started < self.floor:
            return
        self._events.append((now, ok, first_audio_s))
        self._errors += not ok
        if not ok:
            self.proven = False
        if first_audio_s is not None:
            self._latencies += 1
            self.ewma_s = first_audio_s if self.ewma_s is None else (
                self.alpha * first_audio_s + (1 - self.alpha) * self.ewma_s)
            if self.ewma_s >= self.latency_critical_s:
                self.proven = False
        self._trim(now)

    def progress(self, key: int, first_audio_at: float, audio_s: float) -> None:
        """A delivery in flight (``key``: the attempt) has ``audio_s`` out; its first audio came at
        ``first_audio_at`` (monotonic)."""
        if first_audio_at < self.floor:
            return
        head = self._live[key][1] if key in self._live else audio_s  # the first chunk: the listener's head start
        self._live[key] = (first_audio_at, head, audio_s)

    def live_rtf(self, now: float) -> float | None:
        """The median pace of the deliveries in flight whose listeners have played long enough to judge, or all
        they were sent (audio out over time since first audio), when there are enough of them; else None."""
        rtfs = sorted((audio - head) / (now - since) for since, head, audio in self._live.values()
                      if now - since >= min(LIVE_MIN_WALL_S, max(LIVE_STARVED_MIN_S, audio)))
        return rtfs[len(rtfs) // 2] if len(rtfs) >= LIVE_MIN_DELIVERIES else None

    def delivered(self, audio_s: float, wall_s: float, now: float | None = None, key: int | None = None) -> None:
        """One attempt delivered ``audio_s`` of audio in ``wall_s`` (from its start to its last chunk)."""
        self._live.pop(key, None)
        if audio_s < MIN_DELIVERY_AUDIO_S or wall_s <= 0:
            return
        now = time.monotonic() if now is None else now
        if now - wall_s < self.floor:
            return
        self._pace(min(audio_s / wall_s, RTF_CAP), now)

    def _pace(self, rtf: float, now: float) -> None:
        self.rtf_ewma = rtf if self.rtf_ewma is None else self.alpha * rtf + (1 - self.alpha) * self.rtf_ewma
        self._deliveries.append(now)
        self._trim(now)
        if self.slow:
            self.proven = False

    def trial(self, passed: bool, needed: int, pace: float | None = None, now: float | None = None) -> bool:
        """A background trial's verdict: ``passed`` (clean and fast), else failed; ``pace``: a slow trial's
        delivery pace (counted like a delivery, so the provider stays demoted while the fault lasts). After
        ``needed`` passes in a row the window is cleared (:meth:`clear`); returns True then."""
        now = time.monotonic() if now is None else now
        if not passed:
            self.trial_streak = 0
            if pace is not None:
                self._pace(max(0.0, min(pace, RTF_CAP)), now)
            return False
        self.trial_streak += 1
        if self.trial_streak < needed:
            return False
        self.clear(now)
        return True

    def clear(self, now: float) -> None:
        """The provider proved itself: forget the window (errors, latencies, paces) and every attempt that began
        before ``now``; the signal reads ``proven`` until something bad is seen again."""
        self._events.clear()
        self._errors = self._latencies = 0
        self.ewma_s = self.rtf_ewma = None
        self._deliveries.clear()
        self._live.clear()
        self.slow = False
        self.floor = now
        self.proven = True
        self.trial_streak = 0

    def _trim(self, now: float) -> None:
        while self._events and now - self._events[0][0] > self.window_s:
            _, ok, latency = self._events.popleft()
            self._errors -= not ok
            self._latencies -= latency is not None
        if not self._latencies:
            self.ewma_s = None  # no first audio in the window: an old slowness ages out
        while self._deliveries and now - self._deliveries[0] > self.window_s:
            self._deliveries.popleft()
        if not self._deliveries:
            self.rtf_ewma = None  # nothing delivered in the window: an old slowness ages out (and is tried again)
        rtf = self.delivery_rtf(now)
        if rtf is None or rtf >= self.rtf_warn:
            self.slow = False
        elif rtf < self.rtf_critical:
            self.slow = True
            self.proven = False

    def delivery_rtf(self, now: float) -> float | None:
        """The EWMA of finished deliveries, or the median pace in flight when that is slower."""
        live = self.live_rtf(now)
        if live is None or (self.rtf_ewma is not None and self.rtf_ewma <= live):
            return self.rtf_ewma
        return live

    def quick(self, now: float | None = None) -> ProviderSignal:
        """EWMA and error ratio in O(1) amortized (no p95): what every attempt updates."""
        now = time.monotonic() if now is None else now
        self._trim(now)
        n = len(self._events)
        return ProviderSignal(self.ewma_s, None, self._errors / n if n else 0.0, n, self.delivery_rtf(now), self.slow,
                              self.proven)

    def signal(self, now: float | None = None) -> ProviderSignal:
        """The full signal, p95 included (sorts the window: for the health loop, not the request path)."""
        quick = self.quick(now)
        latencies = sorted(lat for _, _, lat in self._events if lat is not None)
        p95 = latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))] if latencies else None
        return ProviderSignal(quick.ewma_s, p95, quick.error_ratio, quick.attempts, quick.delivery_rtf, quick.slow,
                              quick.proven)


class HealthSignals:
    """Per-provider stats, fed by the chain."""

    def __init__(self, window_s: float = 60.0, rtf_warn: float = 1.0, rtf_critical: float = 0.6,
                 latency_critical_s: float = float("inf")) -> None:
        self.window_s = window_s
        self.rtf_warn = rtf_warn
        self.rtf_critical = rtf_critical
        self.latency_critical_s = latency_critical_s
        self.stats: dict[str, ProviderStats] = {}
        #: per provider, the voice of the last line it delivered whole: a voice the account is known to have,
        #: which background trials speak with (the provider's default voice may not exist on every account)
        self.good_voice: dict[str, str] = {}

    def _stats(self, provider: str) -> ProviderStats:
        stats = self.stats.get(provider)
        if stats is None:
            stats = self.stats[provider] = ProviderStats(self.window_s, rtf_warn=self.rtf_warn,
                                                         rtf_critical=self.rtf_critical,
                                                         latency_critical_s=self.latency_critical_s)
        return stats

    def attempt(self, provider: str, ok: bool, first_audio_s: float | None, started: float | None = None) -> None:
        stats = self._stats(provider)
        stats.record(ok, first_audio_s, started=started)
        self._export(provider, stats.quick())

    def trial(self, provider: str, passed: bool, needed: int, pace: float | None = None) -> bool:
        """A background trial's verdict (:meth:`ProviderStats.trial`); True when it cleared the provider."""
        stats = self._stats(provider)
        cleared = stats.trial(passed, needed, pace)
        self._export(provider, stats.quick())
        return cleared

    def progress(self, provider: str, key: int, started: float, audio_s: float) -> None:
        """An attempt in flight (``key``) has delivered ``audio_s`` since ``started`` (monotonic)."""
        self._stats(provider).progress(key, started, audio_s)

    def delivered(self, provider: str, audio_s: float | None, wall_s: float, key: int | None = None,
                  voice: str | None = None) -> None:
        """A provider's attempt ended: ``audio_s`` of audio in ``wall_s`` since it began (None: it failed, not
        counted), with ``voice``."""
        if audio_s is not None and voice:
            self.good_voice[provider] = voice
        stats = self._stats(provider)
        stats.delivered(audio_s or 0.0, wall_s, key=key)
        self._export(provider, stats.quick())

    def refresh(self) -> None:
        """Re-export every provider's gauges, so a quiet provider's window ages out in the metrics too."""
        for provider, stats in self.stats.items():
            self._export(provider, stats.signal())

    @staticmethod
    def _export(provider: str, signal: ProviderSignal) -> None:
        labelled(PROVIDER_ERROR_RATIO, provider).set(signal.error_ratio)
        if signal.ewma_s is not None:
            labelled(PROVIDER_LATENCY, provider, "ewma").set(signal.ewma_s)
        if signal.p95_s is not None:
            labelled(PROVIDER_LATENCY, provider, "p95").set(signal.p95_s)
        labelled(PROVIDER_DELIVERY_RTF, provider).set(signal.delivery_rtf if signal.delivery_rtf is not None else 0)

    def signal(self, provider: str) -> ProviderSignal:
        stats = self.stats.get(provider)
        return stats.signal() if stats else ProviderSignal(None, None, 0.0, 0)
