"""Capacity of the local engines: the admission rule with plain inputs, the gate with real threads, the chain.

The rule (gateway/policy/capacity.py) is checked with hand-made engines and times; the gate with a blocking
"engine" in a worker thread (run_gated, as Piper, Kokoro and espeak use it); the chain with a refused engine. The
real engines under load are the chaos test's (tests/chaos/test_capacity.py).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from gateway.core.errors import ErrorKind, ProviderError
from gateway.core.events import AudioEvent, FinalEvent, SegmentEndEvent, StatusEvent
from gateway.core.voices import HealthState, ProviderHealth, VoiceInfo
from gateway.export.health import capacity_json
from gateway.upstream.breaker import ProviderBreaker
from gateway.policy.capacity import Action, CapacityModel, Rule, simulate
from gateway.policy.capacity_fit import CostFit
from gateway.policy.capacity_gate import Capacity
from gateway.policy.chain import ChainOutcome, ChainPlan, ChainStep, ProviderChain, RetryPolicy
from gateway.policy.deadlines import Deadlines
from gateway.policy.health import HealthSignals
from gateway.providers.base import Provider, SynthesisRequest
from gateway.providers.threaded import Gate, SynthesisJob, run_gated
from gateway.service.mouthpiece import engine_threads
from gateway.settings import Settings
from gateway.text.clean import split_sentences
from tests.scripted import ScriptedProvider


def rule(**kw) -> Rule:
    base = dict(cores=2.0, max_load=1.0, margin=1.0, max_gap_s=0.0, reserve_s=0.0, alpha=0.5, limit=4,
                prior_rtf={"slow": 0.9, "wide": 0.9, "fast": 0.1, "heavy": 1.5}, prior_ms_per_char=100.0)
    return Rule(**{**base, **kw})


def job(engine: str, *chars: int, by: float | None = None, live: bool = True) -> SynthesisJob:
    return SynthesisJob(engine, tuple(chars) or (10,), 1.0, by, live)


# -- the fluid model -------------------------------------------------------------------------------------------------

def test_simulate_shares_the_cores_fairly():
    # Alone, a one-thread runner gets one core; two of them on one core get half each; a runner with two threads on
    # two cores gets both. Pieces are ready when their cumulative work is done.
    assert simulate([(1, [1.0, 3.0])], cores=2.0) == [[1.0, 3.0]]
    assert simulate([(2, [1.0])], cores=2.0) == [[0.5]]
    (a,), (b,) = simulate([(1, [1.0]), (1, [1.0])], cores=1.0)
    assert a == b == pytest.approx(2.0)
    # When the short one ends, the long one gets the core back: 0.5 done in 1 s, the other 1.5 in 1.5 s.
    short, long_ = simulate([(1, [0.5]), (1, [2.0])], cores=1.0)
    assert short == [pytest.approx(1.0)] and long_ == [pytest.approx(2.5)]


# -- the rule, with plain inputs -------------------------------------------------------------------------------------

def test_an_idle_gateway_starts_a_line_that_fits():
    model = CapacityModel(rule(), {"slow": 1})
    d = model.decide(job("slow", 10, 10, by=5.0), now=0.0)
    assert d.action is Action.START and d.first_s == pytest.approx(0.9)  # 1 s of audio x 0.9 on one core


def test_a_line_that_would_make_every_line_fall_behind_is_refused():
    # Two lines of a slow engine (0.9 core-s per audio-s) on two cores keep up (each has a core); a third would give
    # each 2/3 of a core: 0.9 / 0.67 = 1.35 s of synthesis per second of audio, behind for all three.
    model = CapacityModel(rule(), {"slow": 1})
    for _ in range(2):
        model.start(job("slow", 10, 10, 10, 10), now=0.0)
    assert model.load() == pytest.approx(1.8)
    d = model.decide(job("slow", 10, 10, 10, 10, by=10.0), now=0.0)
    assert d.action is not Action.START
    assert "keep up" in d.reason or "fall behind" in d.reason
    # A cheap engine's line still fits: it is done in a fraction of a second, nobody falls behind.
    assert model.decide(job("fast", 10, 10, by=10.0), now=0.0).action is Action.START
    # Offline work (bake) is not listened to as it streams: on one core next to a long baking line, a live line
    # would fall behind (half a core for 0.9 core-s per audio-s), a second baking line need not keep up.
    offline = CapacityModel(rule(cores=1.0), {"slow": 1})
    offline.start(job("slow", *[10] * 6, by=10.0, live=False), now=0.0)
    assert "keep up" in offline.decide(job("slow", 10, 10, 10, by=10.0), now=0.0).reason
    assert offline.decide(job("slow", 10, 10, 10, by=10.0, live=False), now=0.0).action is Action.START


def test_a_line_whose_first_audio_would_miss_its_budget_is_refused():
    # Alone, a two-thread engine has both cores: its first piece (0.9 core-s) in 0.45 s, within a 0.5 s budget.
    model = CapacityModel(rule(), {"slow": 1, "wide": 2})
    assert model.decide(job("wide", 10, by=0.5), now=0.0).action is Action.START
    model.start(job("slow", *[10] * 6), now=0.0)  # a long line: next to it the new line gets one core, 0.9 s
    late = model.decide(job("wide", 10, by=0.5), now=0.0)
    assert late.action is Action.REFUSE and "budget" in late.reason
    assert model.decide(job("wide", 10, by=2.0), now=0.0).action is Action.START
    # A line whose budget is already spent (a fail-over after a timeout) is late whatever happens: it starts when it
    # keeps up, at once; it never waits.
    assert model.decide(job("wide", 10, by=0.0), now=0.0).action is Action.START
    model.start(job("slow", *[10] * 6), now=0.0)
    behind = model.decide(job("slow", 10, 10, by=0.0), now=0.0)  # a third line of 0.9 would fall behind
    assert behind.action is Action.REFUSE and "spent" in behind.reason


def test_a_line_waits_when_cores_free_up_in_time():
    model = CapacityModel(rule(limit=1), {"slow": 1})
    model.start(job("slow", 10), now=0.0)  # the engine's one slot; it ends at 0.9 s
    wait = model.decide(job("slow", 10, by=3.0), now=0.0)
    assert wait.action is Action.WAIT and "1 of 1" in wait.reason
    # It would start at 0.9 s and speak 0.9 s later; it waits at most until 3.0 - 0.9 (no reserve, margin 1).
    assert wait.first_s == pytest.approx(1.8) and wait.latest_start == pytest.approx(2.1)
    assert model.decide(job("slow", 10, by=1.5), now=0.0).action is Action.REFUSE
    # The reserve for the next provider shortens the wait.
    reserve = CapacityModel(rule(limit=1, reserve_s=0.5), {"slow": 1})
    reserve.start(job("slow", 10), now=0.0)
    assert reserve.decide(job("slow", 10, by=3.0), now=0.0).latest_start == pytest.approx(1.6)


def test_a_line_in_flight_is_not_pushed_past_its_budget():
    # A two-thread engine alone gets both cores: its first piece (0.9 core-s) in 0.45 s, within its 0.5 s budget.
    # Next to a new line it would get one core.
    model = CapacityModel(rule(), {"wide": 2, "fast": 1})
    model.start(job("wide", 10, by=0.5), now=0.0)
    assert model.decide(job("fast", 10, by=10.0), now=0.0).action is Action.START  # done in 0.1 s: 0.5 s holds
    pushed = model.decide(job("fast", 30, by=10.0), now=0.0)  # 0.3 core-s: the wide line's first audio at 0.6 s
    assert pushed.action is not Action.START and "in flight" in pushed.reason
    # Once that line has spoken, its budget is kept and the new line fits.
    model.produced(model.running[0], 1.0, 0.45, now=0.45)
    assert model.decide(job("fast", 30, by=10.0), now=0.45).action is Action.START


def test_a_line_in_flight_at_its_edge_may_be_nudged_a_little():
    # The wide line's first audio is predicted at 0.45 s, exactly its budget. A 10 ms line of a fast engine beside it
    # (one core each) delays it 5 ms: not started when no nudge is allowed (with Kokoro at its edge, even espeak-ng was
    # then turned away and the chain fell to a canned clip: two lines of a CI run's capacity drill), started within
    # max_nudge_s. One that takes 0.3 core-s (0.15 s later) is still not started.
    for nudge, starts in ((0.0, False), (0.05, True)):
        model = CapacityModel(rule(max_nudge_s=nudge), {"wide": 2, "fast": 1})
        model.start(job("wide", 10, by=0.45), now=0.0)
        d = model.decide(job("fast", 1, by=10.0), now=0.0)
        assert (d.action is Action.START) is starts, d.reason
        if not starts:
            assert "in flight" in d.reason and "(5 ms later)" in d.reason
        assert model.decide(job("fast", 30, by=10.0), now=0.0).action is not Action.START


def test_the_engines_own_speed_is_not_capacity():
    # Alone, the slow engine speaks a 1 s piece in 0.9 s: over a 0.5 s budget, but load is not the cause, so an idle
    # gateway starts it (the line keeps its first-choice voice, and the engine is measured again).
    model = CapacityModel(rule(margin=1.25), {"slow": 1, "fast": 1})
    assert model.decide(job("slow", 10, by=0.5), now=0.0).action is Action.START
    model.start(job("slow", 10, by=0.5), now=0.0)
    # Such a line is held to what its engine alone would do, give or take the margin: on two cores a second one
    # still has a core of its own and starts.
    assert model.decide(job("slow", 10, by=0.5), now=0.0).action is Action.START
    model.start(job("slow", 10, by=0.5), now=0.0)
    assert model.decide(job("fast", 1, by=0.5), now=0.0).action is Action.START
    # A third slow line would get 2/3 of a core: 1.35 s, more than 0.9 s x 1.25.
    third = model.decide(job("slow", 10, by=0.5), now=0.0)
    assert third.action is Action.REFUSE and "budget" in third.reason
    # Those two are late by their engine's own speed: they are held to it (0.9 s x 1.25 = 1.125 s). A line that
    # delays them within that (0.3 core-s: to 1.05 s) starts; one that delays them past it (0.6 core-s: 1.2 s) not.
    assert model.decide(job("fast", 30, by=5.0), now=0.0).action is Action.START
    pushed = model.decide(job("fast", 60, by=5.0), now=0.0)
    assert pushed.action is not Action.START and "in flight" in pushed.reason


def test_cores_that_other_processes_take_are_capacity_not_the_engines_speed():
    # Alone on the machine's two cores the slow engine makes a 0.5 s budget... wide: 0.9 core-s on two threads in
    # 0.45 s. Other processes now leave one core: 0.9 s, past the budget. That is load, not the engine's speed: the
    # line is refused (the next provider speaks it), not started as if the engine were slow by itself.
    busy = [0.0]
    cpu = iter([0.0] * 8)
    model = CapacityModel(rule(margin=1.0, alpha=1.0), {"wide": 2}, cpu=lambda: next(cpu), machine=lambda: busy[0])
    assert model.decide(job("wide", 10, by=0.5), now=0.0).action is Action.START
    busy[0] = 1.0 * 1.0  # in the next second, other processes took 1 core-s of the 2 (own CPU: none)
    model.advance(1.0)
    assert model.available == pytest.approx(max(2.0 - 1.0, 2.0 * 2 / 3))
    refused = model.decide(job("wide", 10, by=1.5), now=1.0)
    assert refused.action is Action.REFUSE and "budget" in refused.reason
    # When they are gone, the cores come back without any synthesis having to saturate them.
    model.advance(2.0)
    assert model.available == pytest.approx(2.0)
    assert model.decide(job("wide", 10, by=2.5), now=2.0).action is Action.START


def test_a_line_overdue_for_its_first_audio_is_not_delayed_further():
    # The wide line was expected to speak by 0.45 s. At 1.0 s it has not (the machine got busier than measured, its
    # cost was stale): the model is optimistic. A line that would take its cores (0.3 core-s) waits or goes on; one
    # too small to delay it by more than max_gap_s (0.01 core-s) still starts.
    model = CapacityModel(rule(max_gap_s=0.2), {"wide": 2, "fast": 1})
    s = model.start(job("wide", 10, by=5.0), now=0.0)
    assert s.expected == pytest.approx(0.45) and s.target == 5.0
    assert model.decide(job("fast", 30, by=6.0), now=0.3).action is Action.START  # not overdue yet
    late = model.decide(job("fast", 30, by=6.0), now=1.0)
    assert late.action is not Action.START and "past the first audio expected" in late.reason
    assert model.decide(job("fast", 1, by=6.0), now=1.0).action is Action.START
    model.produced(s, 1.0, 1.0, now=1.2)  # it spoke: nothing is overdue
    assert model.decide(job("fast", 30, by=6.0), now=1.2).action is Action.START


def test_lines_that_spoke_later_than_predicted_beside_others_raise_the_margin_for_shared_cores():
    # The fluid model leaves out what lines running side by side cost each other; the rule learns it from how late
    # their first audio came. Alone, a wide line is predicted at 0.45 s; beside a slow line at 0.9 s.
    model = CapacityModel(rule(margin=1.1), {"wide": 2, "slow": 1})
    assert model.snapshot().contention_margin == pytest.approx(1.1)
    for k in range(4):
        t = 10.0 * k
        long_ = model.start(job("slow", *[10] * 6), now=t)
        s = model.start(job("wide", 10, by=t + 5.0), now=t)
        assert s.contended and s.predicted == pytest.approx(0.9 if k == 0 else s.predicted)
        model.produced(s, 1.0, 1.0, now=t + 2 * s.predicted)  # twice as late as predicted
        model.finish(s, True, now=t + 2.0)
        model.finish(long_, True, now=t + 2.0)
    assert model.snapshot().contention_margin == pytest.approx(2.0)
    # Beside a slow line a wide one needs its prediction x 2.0: a budget of 1.5 x its prediction no longer holds it.
    model.start(job("slow", *[10] * 6), now=100.0)
    first_s = model.problem(job("wide", 10), now=100.0)[1]
    d = model.decide(job("wide", 10, by=100.0 + 1.5 * first_s), now=100.0)
    assert d.action is not Action.START and "x2" in d.reason
    # Alone, the configured margin: nothing runs beside it to correct for.
    alone = CapacityModel(rule(margin=1.1), {"wide": 2})
    alone.contention = model.contention
    assert alone.decide(job("wide", 10, by=0.5), now=0.0).action is Action.START
    # A line predicted too short to say much (espeak's few ms) does not move it; what is two minutes old is forgotten.
    model.contention.record(0.02, 0.2, now=100.0)
    assert model.snapshot().contention_margin == pytest.approx(2.0)
    model.advance(200.0)
    assert model.contention.factor == 1.0 and model.snapshot().contention_margin == pytest.approx(1.1)


def test_a_line_in_flight_is_held_to_its_promise_with_the_measured_factor():
    # A wide line alone (0.45 s predicted, target its 1.0 s budget). A slow line joining it would push it to 0.9 s:
    # within the budget by the fluid model, not once lines beside others are known to speak 1.5x later than predicted.
    model = CapacityModel(rule(max_gap_s=0.2), {"wide": 2, "slow": 1})
    model.start(job("wide", 10, by=1.0), now=0.0)
    assert model.decide(job("slow", 10, by=5.0), now=0.0).action is Action.START
    for k in range(4):
        model.contention.record(1.0, 1.5, now=0.0)
    d = model.decide(job("slow", 10, by=5.0), now=0.0)
    assert d.action is not Action.START and "miss its budget" in d.reason
    # Already late by the factor (x3: 1.35 s), it may still not be pushed later by more than max_gap_s by a joiner that
    # would take its cores (the slow line: +0.45 s, x3); a joiner too small to delay it (5 ms of a fast engine) starts.
    for k in range(24):
        model.contention.record(1.0, 3.0, now=0.0)
    assert "miss its budget" in model.decide(job("slow", 10, by=5.0), now=0.0).reason
    assert model.decide(job("fast", 1, by=5.0), now=0.0).action is Action.START


def test_first_audio_cost_is_a_fixed_part_plus_a_part_per_second():
    # An engine whose first audio costs 0.5 core-s whatever the sentence, plus 0.2 per second of it: a ratio would
    # call a 0.5 s sentence 0.35 core-s (the mean ratio); the fit finds both parts once lengths have differed.
    fit = CostFit(prior_per_s=0.8, alpha=0.3)
    assert fit.line == (0.0, pytest.approx(0.8))  # the prior, as a ratio
    for _ in range(40):
        for audio in (1.0, 3.0, 2.0):
            fit.add(audio, 0.5 + 0.2 * audio)
    fixed, per_s = fit.line
    assert fixed == pytest.approx(0.5, abs=0.01) and per_s == pytest.approx(0.2, abs=0.01)
    assert fit.predict(0.5) == pytest.approx(0.6, abs=0.01)
    # Sentences all of one length say nothing about the split: the ratio of the means.
    same = CostFit(prior_per_s=0.8, alpha=0.3)
    for _ in range(40):
        same.add(2.0, 1.0)
    assert same.line == (0.0, pytest.approx(0.5, abs=0.01))
    # The model plans a short first sentence with the fixed part.
    model = CapacityModel(rule(), {"wide": 2})
    model.engines["wide"].first = fit
    assert model.engines["wide"].plan(job("wide", 5))[1][0] == pytest.approx(fit.predict(0.5))


def test_cost_is_measured_as_busy_time_times_the_share_of_the_cores():
    model = CapacityModel(rule(alpha=0.5), {"slow": 1})
    s = model.start(job("slow", 10, 10), now=0.0)
    model.produced(s, 2.0, 1.0, now=1.0)  # alone on one core: 1 core-s for 2 s of audio
    e = model.engines["slow"]
    assert e.cost == pytest.approx(0.5 * 0.9 + 0.5 * 0.5)
    # 1 core-s before the first audio, 1 s estimated
    assert e.first.predict(1.0) == pytest.approx(0.5 * 0.9 + 0.5 * 1.0)
    model.finish(s, True, now=1.0)
    assert e.ms_per_char == pytest.approx(0.5 * 100 + 0.5 * 100)
    # Two syntheses on one core each get half of it: 1 s of work there is 0.5 core-s.
    shared = CapacityModel(rule(cores=1.0, alpha=1.0), {"slow": 1})
    a, b = shared.start(job("slow", 10), now=0.0), shared.start(job("slow", 10), now=0.0)
    shared.produced(a, 1.0, 1.0, now=2.0)
    shared.finish(a, True, now=2.0)
    assert shared.engines["slow"].cost == pytest.approx(0.5)
    assert shared.load() == pytest.approx(0.5) and b in shared.running


def test_cpu_time_is_what_the_syntheses_got_and_measures_the_cores_available():
    # Two two-thread syntheses on a two-core machine that others share: in 1 s the process got 1 s of CPU, not 2.
    cpu = iter([0.0, 0.0, 1.0, 1.0])
    model = CapacityModel(rule(alpha=0.5), {"wide": 2, "slow": 1}, cpu=lambda: next(cpu))
    a, b = model.start(job("wide", 10), now=0.0), model.start(job("wide", 10), now=0.0)
    model.advance(1.0)
    assert a.granted == pytest.approx(0.5) and b.granted == pytest.approx(0.5)
    # Measured while more threads wanted a core than there are cores (two one-thread syntheses would not do: one
    # may be waiting on a lock).
    assert model.available == pytest.approx(0.5 * 2.0 + 0.5 * 1.0)
    assert model.snapshot().usable_cores == pytest.approx(1.5)
    # Predictions count on what is available: a third line shares 1.5 cores with the other two (0.5 each) until
    # they end (their 0.4 core-s left take 0.8 s), then has a core to itself: 0.4 + 0.5 core-s in 1.3 s.
    assert model.problem(job("slow", 10), now=1.0)[1] == pytest.approx(1.3)


def test_health_shows_load_headroom_and_each_engine():
    model = CapacityModel(rule(max_load=0.85), {"slow": 1, "fast": 1})
    model.start(job("slow", 10), now=0.0)
    snap = model.snapshot()
    assert snap.usable_cores == pytest.approx(1.7) and snap.load_cores == pytest.approx(0.9)
    assert snap.headroom_cores == pytest.approx(0.8) and snap.in_flight == 1
    assert snap.engines["slow"].headroom_lines == 0 and snap.engines["fast"].headroom_lines == 4  # capped by limit
    assert snap.engines["slow"].in_flight == 1 and snap.engines["slow"].rtf == pytest.approx(0.9)
    body = capacity_json(snap)
    assert body["enabled"] is True and body["load_cores"] == pytest.approx(0.9) and "engines" not in body
    assert capacity_json(None) == {"enabled": False}


# -- the gate, with a blocking engine in a worker thread ---------------------------------------------------------------

def sleepy(seconds: float, pieces: int = 1) -> Iterator:
    """A blocking "engine": each piece takes ``seconds`` of the worker's time and makes 0.1 s of audio."""
    for k in range(pieces):
        time.sleep(seconds)
        yield AudioEvent(bytes(3200), 16000, k, k * 100)


async def collect(gate: Gate, j: SynthesisJob, seconds: float) -> list:
    return [e async for e in run_gated(gate, j, lambda: sleepy(seconds))]


async def test_gate_refuses_with_capacity_and_admits_a_waiting_line_when_a_slot_frees():
    gate = Capacity(rule(limit=1), {"slow": 1}, cpu=None)
    first = asyncio.create_task(collect(gate, job("slow", 10), 0.3))
    await asyncio.sleep(0.05)
    assert gate.snapshot().engines["slow"].in_flight == 1
    with pytest.raises(ProviderError) as refused:  # the slot ends in ~0.9 s by the estimate: too late for 0.2 s
        await collect(gate, job("slow", 10, by=time.monotonic() + 0.2), 0.0)
    assert refused.value.kind is ErrorKind.CAPACITY and refused.value.provider == "slow"
    waited = await collect(gate, job("slow", 10, by=time.monotonic() + 5.0), 0.0)
    assert isinstance(waited[0], StatusEvent) and waited[0].code == "capacity_wait"
    assert waited[0].detail["waited_ms"] >= 150  # until the first synthesis (0.3 s of work) ended
    assert isinstance(waited[1], AudioEvent)
    await first
    snap = gate.snapshot()
    assert snap.in_flight == 0 and snap.waiting == 0


async def test_gate_refuses_a_waiting_line_at_its_latest_start():
    gate = Capacity(rule(limit=1), {"slow": 1}, cpu=None)
    first = asyncio.create_task(collect(gate, job("slow", 1), 1.0))  # estimated 0.09 core-s, really 1 s
    await asyncio.sleep(0.05)
    started = time.monotonic()
    with pytest.raises(ProviderError, match="no cores freed") as refused:
        await collect(gate, job("slow", 1, by=started + 0.5), 0.0)
    assert refused.value.kind is ErrorKind.CAPACITY
    assert time.monotonic() - started > 0.25  # it waited (its latest start: 0.5 - 0.09 s), then gave up
    await first


async def test_a_cancelled_wait_leaves_no_trace():
    gate = Capacity(rule(limit=1), {"slow": 1}, cpu=None)
    first = asyncio.create_task(collect(gate, job("slow", 10), 0.3))
    await asyncio.sleep(0.05)
    waiting = asyncio.create_task(collect(gate, job("slow", 10, by=time.monotonic() + 5.0), 0.0))
    await asyncio.sleep(0.05)
    assert gate.snapshot().waiting == 1
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert gate.snapshot().waiting == 0
    await first
    assert gate.snapshot().in_flight == 0


# -- the chain: a refusal fails over at once, and is nobody's fault ----------------------------------------------------

class GatedEngine(Provider):
    """A local engine stand-in: blocking work in a worker thread, admitted by a gate as Piper, Kokoro and espeak are."""

    def __init__(self, name: str, gate: Gate, seconds: float) -> None:
        self.name = self.family = name
        self.gate = gate
        self.seconds = seconds
        self.requests: list[SynthesisRequest] = []

    def voices(self) -> list[VoiceInfo]:
        return [VoiceInfo(self.name, "v", "Test voice", sample_rate=16000)]

    async def health(self) -> ProviderHealth:
        return ProviderHealth(HealthState.UP)

    async def stream(self, request: SynthesisRequest):
        self.requests.append(request)
        async for event in run_gated(self.gate, SynthesisJob.of(self.name, request), lambda: self._make(request)):
            yield event

    def _make(self, request: SynthesisRequest) -> Iterator:
        for k, segment in enumerate(request.segments):
            time.sleep(self.seconds)
            yield AudioEvent(bytes(3200), 16000, segment.index, k * 100)
            yield SegmentEndEvent(segment.index, (k + 1) * 100)
        yield FinalEvent({"provider": self.name})


async def test_chain_fails_over_at_once_with_reason_capacity():
    gate = Capacity(rule(limit=1), {"slow": 1}, cpu=None)
    engine = GatedEngine("slow", gate, 0.4)
    breaker = ProviderBreaker("slow", 1, 60)
    signals = HealthSignals()
    chain = ProviderChain(Deadlines(1.0, 5.0, 5.0, 10.0, first_audio_budget_s=0.5), RetryPolicy(3, 0.01, 0.04),
                          signals)
    text = "One two three four. Five six seven eight."

    def plan(live: bool = True) -> ChainPlan:
        steps = [ChainStep(engine, "v", breaker), ChainStep(ScriptedProvider("next"), "v", ProviderBreaker("n", 3, 60))]
        return ChainPlan(steps, split_sentences(text), text, live=live)

    busy = asyncio.create_task(collect(gate, job("slow", 80), 1.0))  # holds the engine's one slot for 1 s
    await asyncio.sleep(0.05)
    outcome = ChainOutcome()
    started = time.monotonic()
    events = [e async for e in chain.stream(plan(), outcome)]
    assert outcome.provider == "next" and outcome.fallbacks == 1 and outcome.retries == 0  # no retry, no wait:
    assert not any(isinstance(e, StatusEvent) and e.code == "capacity_wait" for e in events)  # the next one at once
    assert outcome.attempts[0].provider == "slow" and outcome.attempts[0].outcome == "capacity"
    switch = next(e for e in events if isinstance(e, StatusEvent) and e.code == "provider_switch")
    assert switch.detail["reason"] == "capacity" and "at capacity" in switch.message
    assert breaker.state == "closed" and signals.signal("slow").attempts == 0  # not the engine's fault
    # The engine was asked with the line's first-audio budget: 0.5 s from the start of the line.
    assert engine.requests[0].first_audio_by == pytest.approx(started + 0.5, abs=0.05)
    await busy
    # Offline work (bake) has the first-audio timeout as its budget: it waits for the engine instead.
    busy = asyncio.create_task(collect(gate, job("slow", 10), 0.3))
    await asyncio.sleep(0.05)
    outcome = ChainOutcome()
    events = [e async for e in chain.stream(plan(live=False), outcome)]
    assert outcome.provider == "slow"
    assert any(isinstance(e, StatusEvent) and e.code == "capacity_wait" for e in events)
    await busy


def test_settings_and_wiring():
    s = Settings(capacity_max_load=0.5, capacity_cores=4, chain=["piper", "espeak", "canned"])
    r = Rule.from_settings(s)
    assert r.cores == 4 and r.usable == pytest.approx(2.0) and r.limit == s.capacity.max_in_flight
    assert engine_threads(s, "piper") == s.piper.intra_threads and engine_threads(s, "espeak") == 1
    with pytest.raises(ValueError):
        Settings(capacity_max_load=1.5)
