"""The provider chain: fail-over, retries before first audio, deadlines, breakers, mid-stream switch."""

from __future__ import annotations

import asyncio
import time

import pytest

from gateway.core.errors import ErrorKind
from gateway.core.events import AlignmentEvent, AudioEvent, ErrorEvent, FinalEvent, SegmentEndEvent, StatusEvent
from gateway.policy.chain import Attempt, ChainOutcome, ChainPlan, ChainStep, ProviderChain, RetryPolicy
from gateway.policy.deadlines import Deadlines
from gateway.settings import RetrySettings
from gateway.text.clean import split_sentences
from gateway.upstream.breaker import ProviderBreaker
from tests.scripted import ScriptedProvider

TEXT = "First sentence here. Second one follows. Third ends it."


def chain(first_audio_s=0.5, gap_s=0.5, total_s=10.0, attempts=3, initial_s=0.01) -> ProviderChain:
    return ProviderChain(Deadlines(1.0, first_audio_s, gap_s, total_s), RetryPolicy(attempts, initial_s, initial_s * 4))


def plan(*providers, breakers=None) -> ChainPlan:
    breakers = breakers or {}
    steps = [ChainStep(p, "v", breakers.get(p.name) or ProviderBreaker(p.name, 3, 60)) for p in providers]
    return ChainPlan(steps, split_sentences(TEXT), TEXT)


async def run(ch: ProviderChain, pl: ChainPlan) -> tuple[list, ChainOutcome]:
    outcome = ChainOutcome()
    events = [e async for e in ch.stream(pl, outcome)]
    return events, outcome


def audio_ms(events) -> int:
    return sum(e.num_samples for e in events if isinstance(e, AudioEvent)) * 1000 // 16000


async def test_first_provider_serves_everything():
    a, b = ScriptedProvider("a"), ScriptedProvider("b")
    events, outcome = await run(chain(), plan(a, b))
    assert isinstance(events[-1], FinalEvent)
    assert outcome.provider == "a" and outcome.complete and b.calls == 0
    assert [e.segment for e in events if isinstance(e, SegmentEndEvent)] == [0, 1, 2]
    assert audio_ms(events) == 600


async def test_retry_before_first_audio_then_success():
    a = ScriptedProvider("a", fail_first=2)
    events, outcome = await run(chain(attempts=3), plan(a))
    assert outcome.provider == "a" and outcome.retries == 2 and a.calls == 3
    assert isinstance(events[-1], FinalEvent)


def test_default_retry_ladder_is_the_original_contracts():
    policy = RetryPolicy.from_settings(RetrySettings())
    assert policy.attempts == 4 and policy.ladder() == [1.0, 2.0, 4.0]  # 3 retries: 1 s -> 2 s -> 4 s
    assert RetryPolicy(5, 0.5, 2.0).ladder() == [0.5, 1.0, 2.0, 2.0]  # capped at max_s


async def test_three_retries_with_the_default_attempts():
    # The defaults' 4 attempts with a fast ladder: a provider failing three times serves on its 4th attempt.
    a = ScriptedProvider("a", fail_first=3)
    events, outcome = await run(chain(attempts=RetrySettings().attempts), plan(a))
    assert outcome.provider == "a" and outcome.retries == 3 and a.calls == 4


async def test_non_retryable_fails_over_without_retry():
    a = ScriptedProvider("a", fail_first=99, fail_kind=ErrorKind.QUOTA)
    b = ScriptedProvider("b")
    events, outcome = await run(chain(), plan(a, b))
    assert a.calls == 1 and outcome.provider == "b" and outcome.fallbacks == 1
    switch = [e for e in events if isinstance(e, StatusEvent) and e.code == "provider_switch"]
    assert switch and switch[0].detail["from"] == "a" and switch[0].detail["reason"] == "quota"


async def test_bad_request_errors_out_without_fail_over():
    a = ScriptedProvider("a", fail_first=99, fail_kind=ErrorKind.BAD_REQUEST)
    b = ScriptedProvider("b")
    events, outcome = await run(chain(), plan(a, b))
    assert isinstance(events[-1], ErrorEvent) and events[-1].code == "bad_request"
    assert b.calls == 0 and not outcome.complete


async def test_upstream_rejected_fails_over_once_and_is_counted():
    a = ScriptedProvider("a", fail_first=99, fail_kind=ErrorKind.REJECTED)
    b = ScriptedProvider("b")
    breaker = ProviderBreaker("a", 3, 60)
    events, outcome = await run(chain(), plan(a, b, breakers={"a": breaker}))
    assert outcome.provider == "b" and outcome.complete and outcome.fallbacks == 1
    assert a.calls == 1 and outcome.retries == 0  # not retried: the same request would be refused again
    assert outcome.attempts[0].outcome == "upstream_rejected"
    switch = [e for e in events if isinstance(e, StatusEvent) and e.code == "provider_switch"]
    assert switch[0].detail["reason"] == "upstream_rejected"
    assert breaker.snapshot().fail_counter == 0  # maybe this line's: not on the breaker


async def test_hanging_provider_hits_first_audio_deadline_and_fails_over():
    a = ScriptedProvider("a", hang_before_audio=True)
    b = ScriptedProvider("b")
    started = time.monotonic()
    events, outcome = await run(chain(first_audio_s=0.2, attempts=1), plan(a, b))
    assert outcome.provider == "b"
    assert time.monotonic() - started < 2.0
    assert outcome.attempts[0].outcome == "timeout"


async def test_mid_stream_failure_continues_from_next_sentence_boundary():
    a = ScriptedProvider("a", die_after_segments=1)
    b = ScriptedProvider("b")
    events, outcome = await run(chain(), plan(a, b))
    assert isinstance(events[-1], FinalEvent) and outcome.complete
    assert outcome.providers_used == ["a", "b"] and outcome.provider == "b"
    # b starts with the sentence a did not finish: segment 1, then 2.
    assert [s.index for s in b.requests[0].segments] == [1, 2]
    switch = next(e for e in events if isinstance(e, StatusEvent) and e.code == "provider_switch")
    assert switch.detail["resume_segment"] == 1
    # Utterance time stays monotonic across the switch: b's first chunk starts where a's audio ended.
    starts = [e.start_ms for e in events if isinstance(e, AudioEvent)]
    assert starts == sorted(starts)
    assert starts[2] == 200 + 100  # one full segment (200 ms) + half a segment from a
    phon = [p for e in events if isinstance(e, AlignmentEvent) for p in e.phonemes]
    assert phon[-1].end_ms == audio_ms(events)


async def test_stall_mid_stream_hits_gap_deadline():
    a = ScriptedProvider("a", stall_after_segments=1)
    b = ScriptedProvider("b")
    events, outcome = await run(chain(gap_s=0.2), plan(a, b))
    assert outcome.provider == "b" and outcome.complete


async def test_every_provider_failing_ends_with_error_never_final():
    a = ScriptedProvider("a", die_after_segments=1)
    b = ScriptedProvider("b", fail_first=99, fail_kind=ErrorKind.AUTH)
    events, outcome = await run(chain(), plan(a, b))
    assert isinstance(events[-1], ErrorEvent) and events[-1].code == "all_providers_failed"
    assert not any(isinstance(e, FinalEvent) for e in events)
    assert not outcome.complete


async def test_total_deadline_bounds_the_whole_line():
    a = ScriptedProvider("a", hang_before_audio=True)
    b = ScriptedProvider("b", hang_before_audio=True)
    started = time.monotonic()
    events, _ = await run(chain(first_audio_s=5, total_s=0.3, attempts=1), plan(a, b))
    assert time.monotonic() - started < 1.5
    assert isinstance(events[-1], ErrorEvent)


async def test_breaker_opens_then_skips_then_half_opens():
    breaker = ProviderBreaker("a", 2, 0.3)
    a = ScriptedProvider("a", fail_first=2, fail_kind=ErrorKind.AUTH)
    b = ScriptedProvider("b")
    for _ in range(2):
        await run(chain(), plan(a, b, breakers={"a": breaker}))
    assert breaker.state == "open"
    _, outcome = await run(chain(), plan(a, b, breakers={"a": breaker}))
    assert a.calls == 2, "an open breaker must skip the provider"
    assert outcome.attempts[0] == Attempt("a", "skipped", reason="breaker_open")
    await asyncio.sleep(0.35)
    assert breaker.state == "half-open"
    _, outcome = await run(chain(), plan(a, b, breakers={"a": breaker}))
    assert a.calls == 3 and outcome.provider == "a"  # the trial call succeeds...
    assert breaker.state == "closed"  # ...and closes the breaker


async def test_overloaded_does_not_trip_breaker():
    breaker = ProviderBreaker("a", 1, 60)
    a = ScriptedProvider("a", fail_first=5, fail_kind=ErrorKind.OVERLOADED)
    await run(chain(), plan(a, ScriptedProvider("b"), breakers={"a": breaker}))
    assert breaker.state == "closed"


@pytest.mark.parametrize("kind", [ErrorKind.UNAVAILABLE])
async def test_unavailable_is_a_skip_not_a_fallback(kind):
    a = ScriptedProvider("a", fail_first=1, fail_kind=kind)
    events, outcome = await run(chain(), plan(a, ScriptedProvider("b")))
    assert outcome.fallbacks == 0 and outcome.provider == "b"
    assert not any(isinstance(e, StatusEvent) and e.code == "provider_switch" for e in events)


async def test_retries_stay_inside_the_first_audio_budget():
    # A dead primary (refused connections) with a 1 s back-off and a 0.5 s first-audio budget: no retry fits,
    # so the chain fails over at once instead of climbing the back-off ladder.
    a = ScriptedProvider("a", fail_first=99, fail_kind=ErrorKind.RETRYABLE)
    started = time.monotonic()
    _, outcome = await run(chain(first_audio_s=0.5, attempts=3, initial_s=1.0), plan(a, ScriptedProvider("b")))
    assert outcome.provider == "b" and a.calls == 1 and outcome.retries == 0
    assert time.monotonic() - started < 0.3


async def test_retry_budget_caps_retries_in_flight():
    from gateway.policy.retry_budget import RetryBudget

    budget = RetryBudget(percent=0.0, min_concurrency=1)
    ch = ProviderChain(Deadlines(1.0, 5.0, 0.5, 10.0), RetryPolicy(3, 0.05, 0.1), budget=budget)
    providers = [ScriptedProvider(f"p{i}", fail_first=99) for i in range(4)]
    outcomes = await asyncio.gather(*(run(ch, plan(p, ScriptedProvider(f"b{i}"))) for i, p in enumerate(providers)))
    retries = sum(o.retries for _, o in outcomes)
    assert budget.exhausted > 0, "four lines retrying at once must hit a budget of one"
    assert budget.retrying == 0, "every slot is given back"
    assert all(o.complete for _, o in outcomes)
    assert retries < 4 * 2


async def test_upstream_retry_after_is_honoured():
    from gateway.core.errors import ProviderError

    class Busy(ScriptedProvider):
        async def stream(self, request):
            self.calls += 1
            raise ProviderError(ErrorKind.RETRYABLE, "system busy", provider=self.name, retry_after_s=30)
            yield  # pragma: no cover

    a, b = Busy("a"), ScriptedProvider("b")
    ch = chain()
    await run(ch, plan(a, b))
    _, outcome = await run(ch, plan(a, b))
    assert a.calls == 1, "no retry and no second call while the provider asked us to wait"
    assert outcome.attempts[0] == Attempt("a", "skipped", reason="retry_after")


async def test_a_hung_vendor_costs_one_deadline_not_one_per_transport():
    ws = ScriptedProvider("vendor_ws", hang_before_audio=True, family="vendor")
    rest = ScriptedProvider("vendor_rest", hang_before_audio=True, family="vendor")
    local = ScriptedProvider("local")
    started = time.monotonic()
    _, outcome = await run(chain(first_audio_s=0.3, attempts=1), plan(ws, rest, local))
    assert outcome.provider == "local" and rest.calls == 0
    assert Attempt("vendor_rest", "skipped", reason="family_timed_out") in outcome.attempts
    assert time.monotonic() - started < 0.6
