"""How much real-time synthesis the local engines have left, and whether a new line may start on them.

One model per gateway, shared by every local engine (Piper, Kokoro, espeak-ng: they share the cores). It knows:

* per engine, measured from its real syntheses: its **cost** (CPU seconds per second of audio, an EWMA), the cost of
  its first audio (per second of the first segment) and its audio per character (to size a line before it speaks);
* the syntheses in flight: their pieces (one per segment), the estimated work to the end of each, the CPU time they
  got so far, when their first audio came, and when the model expected it;
* the cores: ``C`` (CPU affinity or ``GATEWAY_CAPACITY_CORES``), the cores **available** (measured: what the other
  processes on those cores leave, from ``/proc/stat``, or the CPU time the process got while its syntheses could use
  every core) and the cores it counts on, ``usable = available x max_load`` (the rest is headroom).

The cores are shared fairly: with n syntheses in flight each runs at ``min(threads, usable / n)`` cores; that fluid
model (:func:`simulate`) predicts when each piece of each synthesis will be ready. A live line **keeps up** when each
piece is predicted ready before the listener, who started at its first audio, gets to it (give or take
``max_gap_s``). The admission rule for a new line (:meth:`CapacityModel.decide`; predictions times ``margin``):

1. **start** now when its engine has fewer than ``max_in_flight`` syntheses in flight, its first audio is predicted
   within its budget, it keeps up (a live line), starting it makes no line in flight miss its first audio or fall
   behind that was predicted not to (delaying it by more than ``max_nudge_s``: a few milliseconds of espeak beside a
   Kokoro line at its edge are within the predictions' error, and far better than a canned clip), and no line in
   flight is **overdue** (past the first audio the model expected of it: the model is optimistic now) unless the new
   line is too small to delay it by more than ``max_gap_s``.
   The engine's own speed is not capacity: a line is held to its budget, or to what its engine alone would do on an
   idle machine when that is later (so a gateway with nothing in flight on an idle machine always starts a line);
   cores that other processes take are capacity;
2. **wait** when the next synthesis to end frees enough (by the fluid model) for the line's first audio to still come
   within its budget, less ``failover_reserve_s`` for the next provider; a waiting line is looked at again whenever
   a synthesis ends or speaks, and refused at the latest start that keeps that promise;
3. else **refuse**: the chain fails over to the next provider at once, reason ``capacity``.

A line whose budget is already spent (a fail-over) is only held to keeping up, and never waits. Offline work
(``gateway bake``) need not keep up; it only may not make the live lines miss theirs. Everything here takes the time
as an argument (no clock, no threads): the gate (:mod:`.capacity_gate`) drives it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from itertools import accumulate

from gateway.policy.capacity_fit import CostFit, affinity_cores
from gateway.policy.capacity_margin import ContentionMargin
from gateway.policy.capacity_view import CapacitySnapshot, EngineCapacity
from gateway.policy.fluid import EPS, simulate
from gateway.providers.threaded import SynthesisJob
from gateway.settings import Settings

MIN_WORK = 0.005  #: core-seconds a piece not made yet is never predicted below
MIN_PIECE_S = 0.05  #: seconds of audio a piece is never estimated below
SAMPLE_AUDIO_S = 2.0  #: a long synthesis updates its engine's cost every this many seconds of audio
MIN_SAMPLE_AUDIO_S = 0.25  #: less audio than this says too little about the cost


class Action(StrEnum):
    START = "start"
    WAIT = "wait"
    REFUSE = "refuse"


@dataclass(frozen=True, slots=True)
class Rule:
    """The model's constants: ``GATEWAY_CAPACITY_*`` (:class:`gateway.settings.CapacitySettings` says what each is)."""

    cores: float
    max_load: float
    margin: float
    max_gap_s: float
    reserve_s: float
    alpha: float
    limit: int  #: max_in_flight
    prior_rtf: Mapping[str, float]
    prior_ms_per_char: float
    contention_prior: float = 1.0
    max_nudge_s: float = 0.0

    @property
    def usable(self) -> float:
        return self.cores * self.max_load

    @classmethod
    def from_settings(cls, settings: Settings) -> "Rule":
        c = settings.capacity
        return cls(c.cores or affinity_cores(), c.max_load, c.margin, c.max_gap_s, c.failover_reserve_s, c.ewma_alpha,
                   max(1, c.max_in_flight), dict(c.prior_rtf), c.prior_ms_per_char, c.contention_prior,
                   c.max_nudge_s)


@dataclass(slots=True)
class EngineModel:
    """What the model knows of one engine."""

    name: str
    threads: int  #: cores one synthesis can keep busy
    limit: int  #: syntheses at once
    cost: float  #: core-seconds per audio-second (EWMA)
    first: CostFit  #: core-seconds to the first audio, as a line of the first segment's audio seconds
    ms_per_char: float  #: audio per character at speed 1 (EWMA)
    samples: int = 0  #: cost measurements so far
    in_flight: int = 0
    waiting: int = 0

    def audio_s(self, chars: int, speed: float) -> float:
        return chars * self.ms_per_char / 1000.0 / max(0.25, speed)

    def plan(self, job: SynthesisJob) -> tuple[list[float], list[float]]:
        """``job``'s pieces: estimated audio seconds of each, and core-seconds of work to the end of each."""
        audio = [max(MIN_PIECE_S, self.audio_s(c, job.speed)) for c in job.segment_chars] or [MIN_PIECE_S]
        first = max(MIN_WORK, self.first.predict(audio[0]))
        work = [first] + [max(first, audio[0] * self.cost) + self.cost * a for a in accumulate(audio[1:])]
        return audio, work


@dataclass(slots=True)
class Synthesis:
    """One synthesis in flight."""

    job: SynthesisJob
    engine: EngineModel
    started: float
    audio: list[float]  #: estimated audio of each piece
    work: list[float]  #: estimated core-seconds to the end of each piece
    #: When its first audio is due: its budget, or what its engine alone on an idle machine would do (x margin) when
    #: that is later. None: no budget, or one already spent (nothing to protect).
    target: float | None
    #: When the model expected its first audio when it started (margin included): past it with no audio, the model's
    #: estimate was wrong (the machine got busier, a cost was stale) and the line is *overdue*.
    expected: float = math.inf
    predicted: float = 0.0  #: seconds to its first audio predicted when it started (no margin)
    contended: bool = False  #: other syntheses ran beside it before its first audio (at its start, or joined it)
    granted: float = 0.0  #: core-seconds the fair share has given it so far
    first_at: float | None = None
    made_work: float = 0.0  #: measured core-seconds (the worker's busy time x its share)
    made_audio: float = 0.0  #: audio produced
    sampled: tuple[float, float] = (0.0, 0.0)  #: (work, audio) already counted in the engine's cost
    report: tuple[float, float] = (0.0, 0.0)  #: (time, granted) of the last report

    def remaining(self) -> tuple[list[float], list[float]]:
        """The pieces not made yet: core-seconds still to do to the end of each, and the audio before each."""
        work, before = [], []
        done, floor = 0.0, 0.0
        for k, (a, w) in enumerate(zip(self.audio, self.work)):
            made = self.first_at is not None if k == 0 else self.made_audio >= done + a / 2
            if not made:
                floor = max(floor + MIN_WORK, w - self.granted)
                work.append(floor)
                before.append(max(done, self.made_audio))
            done += a
        return work, before


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    reason: str
    load: float  #: cores the syntheses in flight need to keep up (before this one)
    first_s: float | None = None  #: predicted seconds to its first audio (from now)
    latest_start: float | None = None  #: a waiting line is refused at this time (None: no limit)


def _ewma(old: float, new: float, alpha: float, low: float = 1e-4, high: float = 50.0) -> float:
    return min(high, max(low, alpha * new + (1 - alpha) * old))


class CapacityModel:
    """The engines, the syntheses in flight, and the admission rule. Not thread-safe: the gate holds a lock."""

    def __init__(self, rule: Rule, engines: Mapping[str, int] | None = None,
                 cpu: Callable[[], float] | None = None, machine: Callable[[], float] | None = None) -> None:
        self.rule = rule
        self.engines: dict[str, EngineModel] = {}
        self.running: list[Synthesis] = []
        #: The process's CPU time (``time.process_time``): what the syntheses really got. None: assume every
        #: synthesis got its fair share of all the cores (plain inputs, tests).
        self.cpu = cpu
        #: CPU seconds every process got on the model's cores so far (``/proc/stat``): with ``cpu``, what other
        #: processes take. None: the cores available are only measured while the syntheses could use every core.
        self.machine = machine
        #: Cores the syntheses really get when they could use them all (measured; the machine may be shared).
        self.available = rule.cores
        self.contention = ContentionMargin(rule.margin, rule.contention_prior)
        self._t: float | None = None
        self._cpu_t = 0.0
        self._machine_t: tuple[float, float, float] | None = None  #: (time, machine CPU, own CPU) last measured
        for name, threads in (engines or {}).items():
            self.engine(name, threads)

    def engine(self, name: str, threads: int = 1) -> EngineModel:
        e = self.engines.get(name)
        if e is None:
            cost = self.rule.prior_rtf.get(name, 1.0)
            e = self.engines[name] = EngineModel(name, max(1, threads), self.rule.limit, cost,
                                                 CostFit(cost, self.rule.alpha), self.rule.prior_ms_per_char)
        return e

    def load(self) -> float:
        """Cores the syntheses in flight need to keep up in real time (the sum of their engines' costs)."""
        return sum(s.engine.cost for s in self.running)

    @property
    def usable(self) -> float:
        """Cores the model lets the syntheses count on: those available, times ``max_load``."""
        return self.available * self.rule.max_load

    def advance(self, now: float) -> None:
        """Share the CPU time since the last call among the syntheses in flight (by their threads); cores measured."""
        cpu = self.cpu() if self.cpu is not None else None
        if self._t is not None and now > self._t and self.running:
            dt = now - self._t
            weights = sum(s.engine.threads for s in self.running)
            got = (cpu - self._cpu_t) if cpu is not None else dt * min(self.rule.cores, weights)
            for s in self.running:
                s.granted += max(0.0, got) * s.engine.threads / weights
            # Only while clearly more threads want a core than there are cores: a synthesis waiting on a lock (espeak)
            # or the GIL must not read as a busy machine.
            if cpu is not None and weights >= self.rule.cores + 2 and dt >= 0.05:
                self.available = _ewma(self.available, got / dt, self.rule.alpha, 0.1 * self.rule.cores,
                                       self.rule.cores)
        self._t = now if self._t is None else max(self._t, now)
        self.contention.age(now)
        if cpu is not None:
            self._cpu_t = cpu
            self._measure_machine(now, cpu)

    def _measure_machine(self, now: float, cpu: float) -> None:
        """Every half second, unless the syntheses saturate the cores (then what they got is the measurement): the
        cores other processes leave idle, or the fair share the scheduler would give the syntheses' threads next to
        theirs when that is more (``others`` busy cores are at least as many runnable threads)."""
        last = self._machine_t
        if self.machine is None or last is not None and now - last[0] < 0.5:
            return
        total = self.machine()
        self._machine_t = (now, total, cpu)
        threads = max(2.0, sum(s.engine.threads for s in self.running))
        if last is not None and threads < self.rule.cores + 2:
            others = max(0.0, (total - last[1]) - (cpu - last[2])) / (now - last[0])
            share = max(self.rule.cores - others, self.rule.cores * threads / (threads + others))
            self.available = _ewma(self.available, share, self.rule.alpha, 0.1 * self.rule.cores, self.rule.cores)

    # -- the rule ----------------------------------------------------------------------------------------------
    def decide(self, job: SynthesisJob, now: float) -> Decision:
        self.advance(now)
        e = self.engine(job.engine)
        load = self.load()
        problem, first_s = self.problem(job, now)
        if problem is None:
            return Decision(Action.START, "fits", load, first_s)
        deadline = job.first_audio_by
        if deadline is None:
            return Decision(Action.WAIT, problem, load)
        if deadline <= now:
            return Decision(Action.REFUSE, f"{problem}; its first-audio budget is spent", load)
        free = self._free_in(e, e.plan(job)[1][0])
        if free is not None:
            start_in, first_after = free
            latest = deadline - self.rule.reserve_s - first_after * self.rule.margin
            if now + start_in <= latest:
                return Decision(Action.WAIT, problem, load, start_in + first_after, latest)
        return Decision(Action.REFUSE, problem, load)

    def can_start(self, job: SynthesisJob, now: float) -> bool:
        """What a waiting line asks again when cores free up."""
        return self.problem(job, now)[0] is None

    def problem(self, job: SynthesisJob, now: float) -> tuple[str | None, float | None]:
        """Why ``job`` cannot start now (None: it can), and its predicted seconds to the first audio."""
        e = self.engine(job.engine)
        m, factor = self.rule.margin, self.contention.factor
        if e.in_flight >= e.limit:
            return f"{e.name} has {e.in_flight} of {e.limit} syntheses in flight", None
        audio, work = e.plan(job)
        runners = [(s.engine.threads, s.remaining()[0]) for s in self.running]
        before = simulate(runners, self.usable)
        after = simulate([*runners, (e.threads, work)], self.usable)
        ready, alone = after[-1], self.alone(e, work)
        # Load may not push the line past its budget, nor past what its engine alone would do when that is later
        # (the engine's own speed, on the machine's cores with nothing else running, is not capacity; cores that
        # other processes take are).
        by = job.first_audio_by  # a line already late (a spent budget) is only held to keeping up, and never waits
        mc = self.margin(ready[0])
        if by is not None and now < by and not self._in_time(ready[0], by, now + alone[0] * m, mc, now):
            return (f"first audio predicted in {ready[0]:.2f} s (x{mc:.3g}: {ready[0] * mc:.2f} s), "
                    f"{max(0.0, by - now):.2f} s left of its budget"), ready[0]
        before_piece = [0.0, *accumulate(audio[:-1])]
        late = self._late(ready, before_piece, None, now) if job.live else 0.0
        if late > max(0.0, self._late(alone, before_piece, None, now) * m) + EPS:
            return f"it would not keep up: a sentence {late:.2f} s late", ready[0]
        for s, b, a in zip(self.running, before, after):
            if self._on_time(s, a, now, factor):
                continue
            # One on time now may be nudged (max_nudge_s: below what the predictions can tell apart, and far better
            # than the next provider's canned clip); one already late may not be delayed more than max_gap_s.
            delay = max((x - y for x, y in zip(a, b)), default=0.0) * factor
            first = (a[0] - b[0]) * factor if s.first_at is None and a and b else 0.0
            was_on_time = self._on_time(s, b, now, factor)
            if (was_on_time and delay > self.rule.max_nudge_s) or (not was_on_time and first > self.rule.max_gap_s):
                return (f"a {s.engine.name} line in flight would miss its budget or fall behind "
                        f"({delay * 1000:.0f} ms later)"), ready[0]
        # A live line past the first audio the model expected is proof the model is optimistic now: only a line that
        # cannot delay it by more than max_gap_s (all its work taken from the late line's share) starts beside it.
        share = self.usable / (len(self.running) + 1)
        for s in self.running:
            if s.job.live and s.first_at is None and s.target is not None and now > s.expected and \
                    work[-1] * m / min(s.engine.threads, share) > self.rule.max_gap_s:
                return (f"a {s.engine.name} line in flight is {now - s.expected:.2f} s past the first audio "
                        f"expected of it"), ready[0]
        return None, ready[0]

    def alone(self, e: EngineModel, work: list[float]) -> list[float]:
        """When each piece would be ready with ``e`` alone on the machine (every core it may use, nothing else)."""
        return simulate([(e.threads, work)], self.rule.usable)[0]

    def _on_time(self, s: Synthesis, ready: list[float], now: float, factor: float = 1.0) -> bool:
        """Whether ``s`` is predicted to keep its promise: its first audio by its ``target``, and each of its pieces
        ready before the listener gets there. Without the margin (that was its own; the lines after it may use it),
        but times ``factor``: how much later than predicted lines beside others speak (measured)."""
        if not ready:
            return True
        if s.first_at is None and s.target is not None and now + ready[0] * factor > s.target + EPS:
            return False
        return not s.job.live or self._late(ready, s.remaining()[1], s.first_at, now, 1.0) <= 0

    def margin(self, first_s: float) -> float:
        """The margin on a new line's first audio predicted in ``first_s``: the configured one, or the measured one
        beside lines in flight (measured on predictions of ``min_s`` or more: it says nothing of a few milliseconds)."""
        return self.contention.value if self.running and first_s >= self.contention.min_s else self.rule.margin

    def _in_time(self, first_s: float, due: float, alone_by: float, m: float, now: float) -> bool:
        """A new line's first audio predicted in ``first_s`` is in time: within the budget (``due``) with margin ``m``,
        or by when its engine alone would have (``alone_by``, margin included: load may add that much)."""
        return now + first_s * m <= due + EPS or now + first_s <= alone_by + EPS

    def _late(self, ready: list[float], before: list[float], first_at: float | None, now: float,
              margin: float | None = None) -> float:
        """How late (beyond ``max_gap_s``) the worst piece is predicted for its listener, who started at the first
        audio (``first_at``, or the first of ``ready``); ``before``: the audio before each piece."""
        m, worst = self.rule.margin if margin is None else margin, -math.inf
        for k, (t, b) in enumerate(zip(ready, before)):
            if first_at is None:
                if k == 0:
                    continue
                lag = (t - ready[0]) * m
            else:
                lag = (now - first_at) + t * m
            worst = max(worst, lag - b - self.rule.max_gap_s)
        return worst

    def _free_in(self, e: EngineModel, first_work: float) -> tuple[float, float] | None:
        """When the next synthesis in flight ends (of ``e``'s own when it is at its limit), by the fluid model, with
        the line's predicted seconds to first audio from then. The full rule is asked again at that time; the wait
        is bounded by its latest start."""
        ready = simulate([(s.engine.threads, s.remaining()[0]) for s in self.running], self.usable)
        left = sorted(((r[-1] if r else 0.0, s) for r, s in zip(ready, self.running)), key=lambda x: x[0])
        while left:
            t = left[0][0]
            left = [(end, s) for end, s in left if end > t + EPS]
            if sum(1 for _, s in left if s.engine is e) < e.limit:
                return t, first_work / min(e.threads, self.usable / (len(left) + 1))
        return None

    # -- syntheses -----------------------------------------------------------------------------------------------
    def start(self, job: SynthesisJob, now: float) -> Synthesis:
        self.advance(now)
        e = self.engine(job.engine)
        audio, work = e.plan(job)
        m, by = self.rule.margin, job.first_audio_by
        runners = [(r.engine.threads, r.remaining()[0]) for r in self.running]
        first = simulate([*runners, (e.threads, work)], self.usable)[-1][0]
        target = None if by is None or by <= now else max(by, now + self.alone(e, work)[0] * m)
        s = Synthesis(job, e, now, audio, work, target, now + first * self.margin(first), first, bool(runners),
                      report=(now, 0.0))
        for r in self.running:  # company joins the lines still waiting for their first audio
            r.contended = r.contended or r.first_at is None
        self.running.append(s)
        e.in_flight += 1
        return s

    def produced(self, s: Synthesis, audio_s: float, busy_s: float, now: float) -> bool:
        """Record what ``s`` made; True when this was its first audio."""
        self.advance(now)
        t, granted = s.report
        share = (s.granted - granted) / (now - t) if now - t > 1e-6 else min(
            s.engine.threads, self.available / max(1, len(self.running)))
        s.report = (now, s.granted)
        s.made_work += busy_s * share
        s.made_audio += audio_s
        e, first = s.engine, False
        if audio_s > 0 and s.first_at is None:
            s.first_at, first = now, True
            if s.contended:  # what company costs goes to the factor; the engine's own cost is learnt alone
                self.contention.record(s.predicted, now - s.started, now)
            elif s.audio[0] >= MIN_SAMPLE_AUDIO_S / 2:
                e.first.add(s.audio[0], s.made_work)
        if s.made_audio - s.sampled[1] >= SAMPLE_AUDIO_S:
            self._sample(s)
        return first

    def finish(self, s: Synthesis, finished: bool, now: float) -> None:
        self.advance(now)
        if s not in self.running:
            return
        self.running.remove(s)
        e = s.engine
        e.in_flight -= 1
        self._sample(s)
        if finished and s.made_audio >= 2 * MIN_SAMPLE_AUDIO_S and s.job.chars:
            e.ms_per_char = _ewma(e.ms_per_char, s.made_audio * 1000 * max(0.25, s.job.speed) / s.job.chars,
                                  self.rule.alpha, 5.0, 1000.0)

    def _sample(self, s: Synthesis) -> None:
        work, audio = s.made_work - s.sampled[0], s.made_audio - s.sampled[1]
        if audio >= MIN_SAMPLE_AUDIO_S:
            s.engine.cost = _ewma(s.engine.cost, work / audio, self.rule.alpha)
            s.engine.samples += 1
            s.sampled = (s.made_work, s.made_audio)

    # -- what health shows ---------------------------------------------------------------------------------------
    def headroom_lines(self, e: EngineModel) -> int:
        spare = self.usable - self.load()
        return max(0, min(e.limit - e.in_flight, math.floor(spare / e.cost + EPS)))

    def snapshot(self) -> CapacitySnapshot:
        load = self.load()
        engines = {n: EngineCapacity(e.in_flight, e.waiting, e.limit, round(e.cost, 4),
                                     *(round(v, 4) for v in e.first.line), round(e.ms_per_char, 1), e.samples,
                                     self.headroom_lines(e))
                   for n, e in self.engines.items()}
        return CapacitySnapshot(self.rule.cores, round(self.available, 3), round(self.usable, 3),
                                round(self.contention.value, 3), round(load, 4),
                                round(self.usable - load, 4), len(self.running),
                                sum(e.waiting for e in self.engines.values()), engines)
