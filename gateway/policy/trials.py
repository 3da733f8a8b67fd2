"""Background trials: a demoted provider proves itself again as soon as its fault is gone.

While the level demotes a provider (slow first audio, slow delivery, a failing error ratio) no client line goes to
it first, so nothing would show it is healthy again until its bad signal aged out of the health window (and the
level's hysteresis passed). Instead the gateway sends it a short trial line of its own every
``GATEWAY_TRIAL_INTERVAL_S``:

* only while it is demoted (or its demotion ended without proof while the worse level still holds for its
  hysteresis: :meth:`~gateway.policy.degradation.LevelController.suspects`), at most one trial in flight per
  provider, never while its breaker is open or half-open (the breaker's own trial call decides then) or held by an
  operator; cloud providers only unless ``GATEWAY_TRIAL_LOCAL_ENGINES`` (a local engine's slowness is mostly this
  machine's load);
* within the provider's deadlines: first audio within the first-audio deadline, no gap longer than the chunk-gap
  deadline, the whole trial within the total deadline;
* judged as the listener would hear it: **passed** when it completes with its first audio within
  ``GATEWAY_LATENCY_CRITICAL_S`` (what demotes a provider) and its listener never runs dry (audio delivered at least
  ``GATEWAY_DELIVERY_RTF_WARN`` times real time from its first chunk on, give or take :data:`STARVE_S`); **slow**
  otherwise (a trial is cut off as soon as it cannot pass: no first audio by the critical latency, or its listener
  would run dry, so a slow trial costs about its first chunk); or the error kind it failed with;
* ``GATEWAY_TRIAL_PASSES`` passes in a row (after a pass the next trial starts at once, not an interval later; for a
  flapping provider twice as many for each flap in a row, at the interval: :meth:`Trials.passes_needed`) clear the
  provider's signal (:meth:`HealthSignals.trial`), and the level may recover at once
  (:class:`~gateway.policy.degradation.LevelController`); a slow or failed trial counts in the signal like a line
  would, so the provider stays demoted while the fault lasts.

Trials are no client's line: they are counted apart (``mouthpiece_provider_trials_total``,
``mouthpiece_provider_trial_chars_total``: what a vendor bills), never touch the breaker or the retry budget, and
``/api/health`` shows each provider's under ``trial``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog

from gateway.core.errors import ErrorKind, ProviderError
from gateway.core.events import AudioEvent, FinalEvent, SegmentEndEvent
from gateway.core.segments import Segment
from gateway.core.voices import VoiceSettings
from gateway.observability.metrics import PROVIDER_TRIAL_CHARS, PROVIDER_TRIALS
from gateway.policy.deadlines import Deadlines
from gateway.policy.degradation import CACHED_FAMILIES
from gateway.policy.health import HealthSignals
from gateway.providers.base import Provider, SynthesisRequest
from gateway.settings import SPEECH_ENGINES, Thresholds, TrialSettings
from gateway.upstream.breaker import ProviderBreaker

log = structlog.get_logger(__name__)
#: How long a trial's listener may wait for audio before the trial counts as slow.
STARVE_S = 0.25
#: A flapping provider needs at most ``2 ** MAX_FLAP_DOUBLINGS`` times the passes.
MAX_FLAP_DOUBLINGS = 5
#: Error kinds that say nothing of the provider's health: the trial is inconclusive (streak reset, nothing counted).
INCONCLUSIVE = frozenset({ErrorKind.UNAVAILABLE, ErrorKind.CAPACITY, ErrorKind.BAD_REQUEST})


@dataclass(slots=True)
class Verdict:
    """One trial's outcome: ``passed``, ``slow``, ``incomplete`` or an error kind."""

    outcome: str
    first_audio_s: float | None = None
    audio_s: float = 0.0
    wall_s: float = 0.0
    #: a slow trial's pace: audio after its first chunk per second since that chunk
    pace: float | None = None
    error: ErrorKind | None = None

    @property
    def passed(self) -> bool:
        return self.outcome == "passed"


@dataclass(slots=True)
class TrialState:
    """One provider's trials, as ``/api/health`` shows them."""

    running: bool = False
    count: int = 0  #: trials sent since start
    streak: int = 0  #: passes in a row
    last: str | None = None  #: the last verdict's outcome
    last_at: float | None = None  #: when it came (epoch s)
    cleared_at: float | None = None  #: when trials last cleared the provider's signal (epoch s)


class Trials:
    """Starts, runs and judges the trials of the providers ``demoted()`` names (the level's suspects)."""

    def __init__(self, providers: dict[str, Provider], breakers: dict[str, ProviderBreaker], signals: HealthSignals,
                 demoted: Callable[[], set[str]], deadlines: Deadlines, thresholds: Thresholds,
                 settings: TrialSettings, on_cleared: Callable[[], Awaitable[object]] | None = None,
                 flaps: Callable[[str], int] | None = None) -> None:
        self.providers = providers
        self.breakers = breakers
        self.signals = signals
        self.demoted = demoted
        self.deadlines = deadlines
        self.thresholds = thresholds
        self.settings = settings
        self.on_cleared = on_cleared
        #: a provider's flaps in a row (the level's flap guard): each doubles the passes it needs
        self.flaps = flaps or (lambda _name: 0)
        self.states: dict[str, TrialState] = {}
        self._tasks: dict[str, asyncio.Task] = {}
        self._next_at: dict[str, float] = {}

    def covers(self, name: str) -> bool:
        """Whether trials prove ``name`` when it is demoted (on, a synthesizing provider, a kind trials are for);
        a demoted provider they do not cover still gets probe lines (:class:`gateway.speak.route.Router`)."""
        provider = self.providers.get(name)
        if not self.settings.enabled or provider is None or provider.family in CACHED_FAMILIES:
            return False
        return name not in SPEECH_ENGINES or self.settings.local_engines

    def eligible(self, name: str) -> bool:
        """Whether ``name`` may be sent a trial at all now (demoted, closed breaker, a kind trials are for)."""
        if not self.covers(name):
            return False
        breaker = self.breakers.get(name)
        return name in self.demoted() and (breaker is None or breaker.state == "closed")

    def due(self, now: float | None = None) -> list[str]:
        """The providers a trial should start for now: eligible, none in flight, the interval passed."""
        now = time.monotonic() if now is None else now
        return [name for name in self.providers if name not in self._tasks and self.eligible(name)
                and now >= self._next_at.get(name, float("-inf"))]

    def tick(self) -> list[str]:
        """Start the trials that are due; returns their providers."""
        started = self.due()
        for name in started:
            self._next_at[name] = time.monotonic() + self.settings.interval_s
            self.state(name).running = True
            task = asyncio.create_task(self.run(name), name=f"trial-{name}")
            self._tasks[name] = task
            task.add_done_callback(lambda _t, n=name: self._done(n))
        return started

    def _done(self, name: str) -> None:
        self._tasks.pop(name, None)
        self.state(name).running = False

    def passes_needed(self, name: str) -> int:
        """Passes in a row that clear ``name``: ``GATEWAY_TRIAL_PASSES``, doubled for each flap in a row (at most
        32 times): a provider that keeps coming back and failing again must prove itself longer each time."""
        return self.settings.passes * 2 ** min(self.flaps(name), MAX_FLAP_DOUBLINGS)

    def state(self, name: str) -> TrialState:
        return self.states.setdefault(name, TrialState())

    async def loop(self) -> None:
        """Start due trials until cancelled."""
        poll = min(0.1, self.settings.interval_s / 2)
        while True:
            try:
                self.tick()
            except Exception as exc:  # noqa: BLE001 - the loop must survive a broken provider or breaker
                log.warning("trial_loop_failed", error_type=type(exc).__name__)
            await asyncio.sleep(poll)

    async def wait(self) -> None:
        """Until the trials in flight have ended."""
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    async def close(self) -> None:
        for task in list(self._tasks.values()):
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    async def run(self, name: str) -> Verdict:
        """One trial of ``name``: send it, judge it, report the verdict to the signals."""
        provider = self.providers[name]
        text = self.settings.text
        voice = self.signals.good_voice.get(name) or provider.default_voice()  # a voice the account has
        request = SynthesisRequest((Segment(0, text, 0),), voice, VoiceSettings(),
                                   f"trial-{uuid.uuid4().hex[:12]}", None, text, "wav", (),
                                   time.monotonic() + self.deadlines.first_audio_budget_s, True)
        started = time.monotonic()
        PROVIDER_TRIAL_CHARS.labels(name).inc(len(text))
        verdict = await self.judge(provider, request)
        self._report(name, verdict, started)
        return verdict

    def _report(self, name: str, verdict: Verdict, started: float) -> None:
        PROVIDER_TRIALS.labels(name, verdict.outcome).inc()
        state = self.state(name)
        state.count += 1
        state.last, state.last_at = verdict.outcome, time.time()
        if verdict.first_audio_s is not None:  # what a line would have waited for first audio
            self.signals.attempt(name, True, verdict.first_audio_s, started)
        elif verdict.outcome == "slow":  # cut off waiting for first audio: at least this long
            self.signals.attempt(name, True, verdict.wall_s, started)
        if verdict.error is not None and verdict.error not in INCONCLUSIVE:
            self.signals.attempt(name, False, None, started)
        needed = self.passes_needed(name)
        cleared = self.signals.trial(name, verdict.passed, needed, verdict.pace if verdict.outcome == "slow" else None)
        state.streak = self.signals.stats[name].trial_streak if not cleared else needed
        if verdict.passed and not cleared and not self.flaps(name):
            self._next_at[name] = time.monotonic()  # confirm a pass at once (a flapping provider: at the interval)
        log.info("provider_trial", provider=name, outcome=verdict.outcome, cleared=cleared,
                 first_audio_s=None if verdict.first_audio_s is None else round(verdict.first_audio_s, 3),
                 audio_s=round(verdict.audio_s, 3), wall_s=round(verdict.wall_s, 3))
        if cleared:
            state.cleared_at = time.time()
            log.warning("provider_cleared_by_trials", provider=name, passes=needed)
            if self.on_cleared is not None:
                self._tasks[f"{name}:report"] = task = asyncio.create_task(self.on_cleared())
                task.add_done_callback(lambda _t, k=f"{name}:report": self._tasks.pop(k, None))

    async def judge(self, provider: Provider, request: SynthesisRequest) -> Verdict:
        """Stream ``request`` from ``provider`` within its deadlines and judge it as its listener would hear it."""
        started = time.monotonic()
        first_at: float | None = None
        head = audio = 0.0
        complete = False
        agen = provider.stream(request).__aiter__()

        def verdict(outcome: str, error: ErrorKind | None = None) -> Verdict:
            now = time.monotonic()
            pace = None if first_at is None else max(0.0, audio - head) / max(now - first_at, 1e-3)
            return Verdict(outcome, None if first_at is None else first_at - started, audio, now - started, pace,
                           error)

        try:
            while not complete:
                now = time.monotonic()
                total_left = started + self.deadlines.total_s - now
                if first_at is None:  # past the critical latency it cannot pass: cut it there
                    deadline = min(self.deadlines.first_audio_s, total_left + now - started)
                    slow_at = self.thresholds.latency_critical_s
                    wait = min(deadline, slow_at) - (now - started)
                    late = "slow" if slow_at < deadline else "timeout"
                else:  # the listener runs dry once it has played what came (at the warning pace)
                    dry = first_at + audio / self.thresholds.delivery_rtf_warn + STARVE_S - now
                    wait = min(self.deadlines.chunk_gap_s, total_left, dry)
                    late = "slow" if wait == dry else "timeout"
                if wait <= 0:
                    return verdict(late, ErrorKind.TIMEOUT if late == "timeout" else None)
                try:
                    event = await asyncio.wait_for(agen.__anext__(), wait)
                except TimeoutError:
                    return verdict(late, ErrorKind.TIMEOUT if late == "timeout" else None)
                except StopAsyncIteration:
                    break
                if isinstance(event, AudioEvent):
                    seconds = event.num_samples / event.sample_rate
                    if first_at is None:
                        first_at, head = time.monotonic(), seconds
                    audio += seconds
                elif isinstance(event, (FinalEvent, SegmentEndEvent)):
                    complete = isinstance(event, FinalEvent) or event.segment == request.segments[-1].index
        except ProviderError as exc:
            return verdict(exc.kind.value, exc.kind)
        except Exception as exc:  # noqa: BLE001 - an unclassified provider bug is a transient failure
            log.warning("trial_failed", provider=provider.name, error_type=type(exc).__name__)
            return verdict(ErrorKind.RETRYABLE.value, ErrorKind.RETRYABLE)
        finally:
            await _close(agen)
        if not complete or first_at is None:
            return verdict("incomplete", ErrorKind.RETRYABLE)
        result = verdict("passed")
        if result.first_audio_s is not None and result.first_audio_s > self.thresholds.latency_critical_s:
            result.outcome = "slow"
        return result


async def _close(agen: object) -> None:
    aclose = getattr(agen, "aclose", None)
    if aclose is not None:
        with contextlib.suppress(Exception):  # closing a broken stream must not mask the verdict
            await aclose()
