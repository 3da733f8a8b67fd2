"""The ordered provider chain: breakers, retries before first audio, deadlines, mid-stream fail-over.

``ProviderChain.stream(plan)`` yields utterance-timed events. Rules:

* A provider whose breaker is open is skipped.
* Until a provider's first audio byte, retryable failures are retried with back-off (tenacity);
  other failures fail over at once (a vendor's ``upstream_rejected`` 400/422 included); ``bad_request`` (a
  cause of the line's own, such as its length) errors out.
* After audio started, a failure fails over to the next provider, which continues from the first
  segment (sentence) that was not finished; a ``provider_switch`` status event marks the switch.
* A stream that ends without every segment spoken ends with an ``error`` event, never a ``final``.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import structlog
from opentelemetry import trace
from opentelemetry.context import Context
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, stop_before_delay

from gateway.core.aio import Resume, start
from gateway.core.errors import ErrorKind, ProviderError
from gateway.core.events import AlignmentEvent, AudioEvent, ErrorEvent, FinalEvent, SegmentEndEvent, StatusEvent
from gateway.core.segments import Segment
from gateway.core.timeline import samples_to_ms
from gateway.core.voices import VoiceSettings
from gateway.observability.metrics import FALLBACKS, PROVIDER_ATTEMPTS, RETRIES, TIME_TO_FIRST_AUDIO, labelled
from gateway.policy.deadlines import Clock, Deadlines
from gateway.policy.health import HealthSignals
from gateway.policy.retry_budget import RetryBudget
from gateway.providers.base import Provider, SynthesisRequest
from gateway.settings import RetrySettings
from gateway.upstream.breaker import ProviderBreaker

log = structlog.get_logger(__name__)
tracer = trace.get_tracer("mouthpiece.chain")


@dataclass(frozen=True, slots=True)
class ChainStep:
    provider: Provider
    voice: str
    breaker: ProviderBreaker
    #: For the cache step: which (family, voice) entries it may serve; None = every synthesizing step.
    cache_candidates: tuple[tuple[str, str], ...] | None = None


@dataclass(slots=True)
class ChainPlan:
    """What to speak and with which providers, in order."""

    steps: list[ChainStep]
    segments: list[Segment]
    text: str
    settings: VoiceSettings = VoiceSettings()
    request_id: str = ""
    character: str | None = None
    output_format: str = "wav"
    #: OpenTelemetry context of the request span; attempt spans are its children.
    trace_context: Context | None = None
    #: A live line's first audio is due within the first-audio budget; offline work (bake) within the timeout.
    live: bool = True


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Attempts per provider before failing over, and the back-off between them (doubling from ``initial_s``)."""

    attempts: int
    initial_s: float
    max_s: float

    @classmethod
    def from_settings(cls, retry: RetrySettings) -> "RetryPolicy":
        return cls(retry.attempts, retry.initial_s, retry.max_s)

    def backoff_s(self, retry: int) -> float:
        """The wait before retry number ``retry`` (1, 2, ...): doubling from ``initial_s``, at most ``max_s``."""
        return min(self.max_s, self.initial_s * 2 ** (retry - 1))

    def ladder(self) -> list[float]:
        """Every wait, in order: ``[1.0, 2.0, 4.0]`` with the defaults (the original contract's 3 retries)."""
        return [self.backoff_s(n) for n in range(1, max(1, self.attempts))]


@dataclass(frozen=True, slots=True)
class Attempt:
    """One provider tried for a line: ``ok``, ``skipped`` (``reason`` says why) or an error kind (``message``)."""

    provider: str
    outcome: str
    reason: str | None = None
    message: str | None = None
    after_audio: bool = False


@dataclass(slots=True)
class ChainOutcome:
    """Filled in while the chain runs; read by the pipeline for the response."""

    provider: str | None = None
    step_index: int | None = None  #: index in the plan of the step that finished the line
    providers_used: list[str] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)
    retries: int = 0
    fallbacks: int = 0
    first_audio_s: float | None = None
    audio_ms: int = 0
    complete: bool = False
    stats: dict = field(default_factory=dict)


class _Attempt:
    """One provider's stream with its first event already pulled (so retries cover the first byte)."""

    def __init__(self, agen: AsyncIterator, first: list) -> None:
        self.agen = agen
        self.buffered = first


class ProviderChain:
    def __init__(self, deadlines: Deadlines, retry: RetryPolicy, signals: HealthSignals | None = None,
                 budget: RetryBudget | None = None) -> None:
        self.deadlines = deadlines
        self.retry = retry
        self.signals = signals or HealthSignals()
        self.budget = budget or RetryBudget.from_settings(RetrySettings.model_construct())  # the defaults
        self._attempt_keys = itertools.count()  #: one key per attempt (the signals follow deliveries in flight)
        #: Providers that asked us to wait (upstream Retry-After): skipped until the time given.
        self.cooldown_until: dict[str, float] = {}

    async def stream(self, plan: ChainPlan, outcome: ChainOutcome) -> AsyncIterator:
        clock = Clock(self.deadlines.total_s)
        remaining = list(plan.segments)
        base_ms = 0  # utterance time at which the current provider's stream starts
        last_error: ProviderError | None = None
        previous: str | None = None
        timed_out_families: set[str] = set()
        candidates = tuple((s.provider.family, s.voice) for s in plan.steps
                           if s.provider.family not in ("cache", "canned"))
        first_audio_by = clock.due(self.deadlines.first_audio_budget_s if plan.live else self.deadlines.first_audio_s)
        for index, step in enumerate(plan.steps):
            if not remaining:
                break
            name = step.provider.name
            if step.provider.family in timed_out_families:
                # Same vendor, same host, most likely the same hang: one first-audio deadline per vendor.
                outcome.attempts.append(Attempt(name, "skipped", reason="family_timed_out"))
                PROVIDER_ATTEMPTS.labels(name, "skipped_family_timeout").inc()
                continue
            if self.cooldown_until.get(name, 0.0) > time.monotonic():
                outcome.attempts.append(Attempt(name, "skipped", reason="retry_after"))
                PROVIDER_ATTEMPTS.labels(name, "skipped_retry_after").inc()
                continue
            if not step.breaker.allow():
                outcome.attempts.append(Attempt(name, "skipped", reason="breaker_open"))
                PROVIDER_ATTEMPTS.labels(name, "skipped_open").inc()
                continue
            if clock.remaining() <= 0:
                break
            request = SynthesisRequest(tuple(remaining), step.voice, plan.settings, plan.request_id,
                                       plan.character, plan.text, plan.output_format,
                                       candidates if step.cache_candidates is None else step.cache_candidates,
                                       first_audio_by, plan.live)
            if previous is not None:
                FALLBACKS.labels(previous, name, last_error.kind.value if last_error else "unknown").inc()
                outcome.fallbacks += 1
                yield StatusEvent("provider_switch", provider=name,
                                  message=f"{previous} {_failed(last_error)}; continuing with {name}",
                                  detail={"from": previous, "resume_segment": remaining[0].index,
                                          "at_ms": base_ms,
                                          "reason": last_error.kind.value if last_error else None})
            samples_done = 0
            sample_rate = 0
            audio_started, first_audio_at = False, 0.0
            span = tracer.start_span("provider_attempt", context=plan.trace_context, attributes={"provider": name})
            attempt_started, attempt_key = time.monotonic(), next(self._attempt_keys)
            try:
                try:
                    attempt = await self._first_event(step, request, clock, outcome)
                    if not outcome.providers_used or outcome.providers_used[-1] != name:
                        outcome.providers_used.append(name)
                    yield StatusEvent("provider", provider=name, message=f"served by {name}")
                    async for event in self._rest(attempt, clock):
                        if isinstance(event, AudioEvent):
                            if not audio_started:
                                audio_started, first_audio_at = True, time.monotonic()
                                self.signals.attempt(name, True, first_audio_at - attempt_started)
                                if outcome.first_audio_s is None:
                                    outcome.first_audio_s = clock.elapsed()
                                    labelled(TIME_TO_FIRST_AUDIO, name).observe(outcome.first_audio_s)
                            sample_rate = event.sample_rate
                            start = base_ms + samples_to_ms(samples_done, sample_rate)
                            samples_done += event.num_samples
                            self.signals.progress(name, attempt_key, first_audio_at, samples_done / sample_rate)
                            yield AudioEvent(event.pcm, event.sample_rate, event.segment, start)
                        elif isinstance(event, AlignmentEvent):
                            yield event if not base_ms else AlignmentEvent(
                                tuple(p.shifted(base_ms) for p in event.phonemes),
                                tuple(w.shifted(base_ms) for w in event.words), event.segment)
                        elif isinstance(event, SegmentEndEvent):
                            remaining = [s for s in remaining if s.index > event.segment]
                            yield SegmentEndEvent(event.segment, base_ms + event.end_ms)
                        elif isinstance(event, FinalEvent):
                            outcome.stats = dict(event.stats)
                        elif isinstance(event, StatusEvent):  # the provider's own (capacity_wait)
                            yield event
                    if remaining:
                        raise ProviderError(ErrorKind.RETRYABLE, "stream ended before the line was complete",
                                            provider=name)
                    step.breaker.success()
                    self.signals.delivered(name, samples_done / (sample_rate or 1), time.monotonic() - attempt_started,
                                           attempt_key, step.voice)
                    labelled(PROVIDER_ATTEMPTS, name, "ok").inc()
                    outcome.attempts.append(Attempt(name, "ok"))
                    outcome.provider = name
                    outcome.step_index = index
                    outcome.audio_ms = base_ms + samples_to_ms(samples_done, sample_rate or 1)
                    outcome.complete = True
                    span.set_attribute("outcome", "ok")
                    yield FinalEvent({**outcome.stats, "provider": name})
                    return
                except ProviderError as exc:
                    last_error = exc
                    span.set_attribute("outcome", exc.kind.value)
                    self._record_failure(step, exc, outcome, audio_started, attempt_started)
                    if exc.kind is ErrorKind.BAD_REQUEST:  # the line's own cause: every provider would refuse it
                        yield ErrorEvent("bad_request", f"{name} refused the line: {exc.message}")
                        return
                    if exc.kind is not ErrorKind.UNAVAILABLE or audio_started:
                        previous = name  # a skip (no voice, cache miss) is not a fail-over
                    if exc.kind is ErrorKind.TIMEOUT and not audio_started:
                        timed_out_families.add(step.provider.family)
                finally:
                    if samples_done:
                        base_ms += samples_to_ms(samples_done, sample_rate)
                        if not outcome.complete:  # failed or cut off: its pace is not counted, only forgotten
                            self.signals.delivered(name, None, 0.0, attempt_key)
                    outcome.audio_ms = base_ms
            finally:
                span.end()
        outcome.complete = False
        message = "every provider failed" if last_error is None else f"every provider failed; last: {last_error}"
        yield ErrorEvent("all_providers_failed", message)

    def _record_failure(self, step: ChainStep, exc: ProviderError, outcome: ChainOutcome, audio_started: bool,
                        started: float) -> None:
        name = step.provider.name
        if exc.kind.counts_on_breaker:
            step.breaker.failure()
        if exc.kind not in (ErrorKind.UNAVAILABLE, ErrorKind.CAPACITY):  # neither is the provider's fault
            self.signals.attempt(name, False, None, started)
        if exc.retry_after_s:
            self.cooldown_until[name] = time.monotonic() + exc.retry_after_s
        PROVIDER_ATTEMPTS.labels(name, exc.kind.value).inc()
        outcome.attempts.append(Attempt(name, exc.kind.value, message=exc.message, after_audio=audio_started))
        log_fn = log.debug if exc.kind in (ErrorKind.UNAVAILABLE, ErrorKind.CAPACITY) else log.warning
        log_fn("provider_failed", provider=name, kind=exc.kind.value, error=exc.message, after_audio=audio_started)

    async def _first_event(self, step: ChainStep, request: SynthesisRequest, clock: Clock,
                           outcome: ChainOutcome) -> _Attempt:
        """Open the provider's stream and wait for its first audio byte, retrying retryable failures."""
        # Retries live inside the provider's first-audio budget: an attempt that would start after it is not
        # made, the chain fails over instead (a dead primary costs milliseconds, not the back-off ladder).
        retrying = AsyncRetrying(
            # The budget is asked last, so a slot is taken only for a retry that will really be made.
            stop=(stop_after_attempt(max(1, self.retry.attempts)) | stop_before_delay(self.deadlines.first_audio_s)
                  | (lambda _state: not self.budget.try_acquire())),
            wait=lambda state: self.retry.backoff_s(state.attempt_number),
            retry=retry_if_exception(lambda e: isinstance(e, ProviderError) and e.kind.retryable
                                     and not e.retry_after_s and clock.remaining() > self.retry.initial_s),
            reraise=True,
        )
        attempt_no = 0
        async for attempt in retrying:
            with attempt:
                attempt_no += 1
                if attempt_no == 1:
                    return await self._open(step, request, clock)
                outcome.retries += 1
                RETRIES.labels(step.provider.name).inc()
                try:
                    return await self._open(step, request, clock)
                finally:
                    self.budget.release()  # the retry's slot in the budget, taken by the stop condition
        raise AssertionError("unreachable")

    async def _open(self, step: ChainStep, request: SynthesisRequest, clock: Clock) -> _Attempt:
        agen = step.provider.stream(request).__aiter__()
        buffered: list = []
        timeout = clock.bound(self.deadlines.first_audio_s)
        try:
            async with asyncio.timeout(timeout):
                while True:
                    event = await agen.__anext__()
                    buffered.append(event)
                    if isinstance(event, (AudioEvent, FinalEvent)):
                        return _Attempt(agen, buffered)
        except TimeoutError:
            await _close(agen)
            raise ProviderError(ErrorKind.TIMEOUT, f"no audio within {timeout:.2f} s", provider=step.provider.name)
        except StopAsyncIteration:
            raise ProviderError(ErrorKind.RETRYABLE, "stream ended before any audio", provider=step.provider.name)
        except ProviderError:
            await _close(agen)
            raise
        except Exception as exc:  # noqa: BLE001 - an unclassified provider bug is a transient failure
            await _close(agen)
            raise ProviderError(ErrorKind.RETRYABLE, f"unexpected {type(exc).__name__}",
                                provider=step.provider.name) from exc

    async def _rest(self, attempt: _Attempt, clock: Clock) -> AsyncIterator:
        for event in attempt.buffered:
            yield event
        agen = attempt.agen
        try:
            while True:
                gap = clock.bound(self.deadlines.chunk_gap_s)
                try:
                    step = agen.__anext__()
                    ready, event = start(step)
                    if not ready:  # the gap deadline matters only while the provider is waiting (not in a burst)
                        async with asyncio.timeout(gap):
                            event = await Resume(step, event)
                except StopAsyncIteration:
                    return
                except TimeoutError:
                    raise ProviderError(ErrorKind.TIMEOUT, f"stalled for {gap:.2f} s mid-stream") from None
                except ProviderError:
                    raise
                except Exception as exc:  # noqa: BLE001
                    raise ProviderError(ErrorKind.RETRYABLE, f"unexpected {type(exc).__name__}") from exc
                yield event
        finally:
            await _close(agen)


def _failed(error: ProviderError | None) -> str:
    return "is at capacity" if error is not None and error.kind is ErrorKind.CAPACITY else "failed"


async def _close(agen) -> None:  # noqa: ANN001
    aclose = getattr(agen, "aclose", None)
    if aclose is not None:
        try:
            await aclose()
        except Exception:  # noqa: BLE001 - closing a broken stream must not mask the real error
            pass


