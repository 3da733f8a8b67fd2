"""The capacity gate: every local synthesis asks it to start (:class:`Capacity`, a :class:`~gateway.providers.threaded.Gate`).

It drives the model of :mod:`.capacity` with the clock and the worker threads' reports: a line that may start gets
a slot at once; one that may wait queues (bounded by its latest start, then refused); one that may not start raises
``ProviderError(CAPACITY)`` so the chain fails over at once. Waiting lines are looked at again whenever a synthesis
ends or reaches its first audio, first come first served among those that fit. The gauges of ``/metrics`` follow
every change; ``snapshot()`` is what ``/api/health`` shows.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import structlog

from gateway.core.errors import ErrorKind, ProviderError
from gateway.observability.metrics import (CAPACITY_AVAILABLE, CAPACITY_DECISIONS, CAPACITY_HEADROOM_LINES,
                                           CAPACITY_IN_FLIGHT, CAPACITY_LOAD, CAPACITY_USABLE, CAPACITY_WAIT,
                                           CAPACITY_WAITING, ENGINE_RTF)
from gateway.policy.capacity import Action, CapacityModel, Rule, Synthesis
from gateway.policy.capacity_view import CapacitySnapshot
from gateway.providers.threaded import SynthesisJob

log = structlog.get_logger(__name__)
_BUILD = object()  #: the default: read the machine's CPU time from /proc/stat where there is one


def machine_cpu(path: str = "/proc/stat") -> Callable[[], float] | None:
    """A reader of the CPU seconds every process got so far on the cores this one may run on (their ``cpuN`` lines of
    ``/proc/stat``: user, nice, system, irq, softirq, steal); None where there is no such file."""
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    try:
        cpus = {f"cpu{n}" for n in os.sched_getaffinity(0)}
        with open(path, encoding="ascii") as fh:
            fh.read()
    except (AttributeError, OSError):
        return None

    def read() -> float:
        busy = 0
        with open(path, encoding="ascii") as fh:
            for line in fh:
                name, *fields = line.split()
                if name in cpus:
                    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
                    busy += user + nice + system + irq + softirq + steal
        return busy / tick

    return read


@dataclass(eq=False, slots=True)
class _Waiter:
    job: SynthesisJob
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future
    since: float
    latest_start: float | None


class CapacitySlot:
    """A synthesis admitted by :class:`Capacity`; the worker thread reports to it and releases it."""

    def __init__(self, gate: "Capacity", synthesis: Synthesis, waited_s: float) -> None:
        self._gate = gate
        self.synthesis = synthesis
        self.waited_s = waited_s

    def produced(self, audio_s: float, busy_s: float) -> None:
        self._gate._produced(self.synthesis, audio_s, busy_s)  # noqa: SLF001 - the slot is the gate's

    def release(self, finished: bool) -> None:
        self._gate._release(self.synthesis, finished)  # noqa: SLF001


class Capacity:
    """One per gateway, shared by the local engines (``engines``: name -> threads one synthesis keeps busy)."""

    def __init__(self, rule: Rule, engines: Mapping[str, int] | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 cpu: Callable[[], float] | None = time.process_time,
                 machine: Callable[[], float] | None = _BUILD) -> None:  # type: ignore[assignment]
        self.model = CapacityModel(rule, engines, cpu, machine_cpu() if machine is _BUILD else machine)
        self.clock = clock
        self._lock = threading.Lock()
        self._waiters: list[_Waiter] = []
        self._export()

    async def admit(self, job: SynthesisJob) -> CapacitySlot:
        loop = asyncio.get_running_loop()
        with self._lock:
            now = self.clock()
            decision = self.model.decide(job, now)
            CAPACITY_DECISIONS.labels(job.engine, decision.action.value).inc()
            if decision.action is Action.START:
                slot = CapacitySlot(self, self.model.start(job, now), 0.0)
                self._export()
                return slot
            if decision.action is Action.REFUSE:
                log.info("capacity_refused", provider=job.engine, reason=decision.reason,
                         load=round(decision.load, 3))
                raise ProviderError(ErrorKind.CAPACITY, f"no capacity: {decision.reason}", provider=job.engine)
            waiter = _Waiter(job, loop, loop.create_future(), now, decision.latest_start)
            self._waiters.append(waiter)
            self.model.engine(job.engine).waiting += 1
            self._export()
        log.debug("capacity_wait", provider=job.engine, reason=decision.reason, predicted_first_s=decision.first_s)
        timer = None if waiter.latest_start is None else loop.call_later(
            max(0.0, waiter.latest_start - now), self._expire, waiter)
        try:
            return await waiter.future
        except asyncio.CancelledError:  # the chain gave up (deadline, client gone): a slot it got goes back
            with self._lock:
                queued = self._dequeue(waiter) is not None
                self._export()
            future = waiter.future
            if not queued and future.done() and not future.cancelled() and future.exception() is None:
                future.result().release(False)
            raise
        finally:
            if timer is not None:
                timer.cancel()

    def snapshot(self) -> CapacitySnapshot:
        with self._lock:
            self.model.advance(self.clock())
            return self.model.snapshot()

    # -- from the worker threads ----------------------------------------------------------------------------------
    def _produced(self, synthesis: Synthesis, audio_s: float, busy_s: float) -> None:
        with self._lock:
            now = self.clock()
            first = self.model.produced(synthesis, audio_s, busy_s, now)
        if first:
            log.info("capacity_first_audio", provider=synthesis.engine.name,
                     actual_s=round(now - synthesis.started, 3),
                     expected_s=round(synthesis.expected - synthesis.started, 3),
                     contended=synthesis.contended, factor=round(self.model.contention.factor, 3))
        if first and self._waiters:
            self._wake()

    def _release(self, synthesis: Synthesis, finished: bool) -> None:
        with self._lock:
            if synthesis not in self.model.running:
                return
            self.model.finish(synthesis, finished, self.clock())
            self._export()
        self._wake()

    # -- waiting lines ---------------------------------------------------------------------------------------------
    def _wake(self) -> None:
        """Look at the waiting lines again, on their own event loops."""
        with self._lock:
            loops = {w.loop for w in self._waiters}
        for loop in loops:
            try:
                loop.call_soon_threadsafe(self._recheck, loop)
            except RuntimeError:  # that loop is closed; its waiters went with it
                pass

    def _recheck(self, loop: asyncio.AbstractEventLoop) -> None:
        with self._lock:
            now = self.clock()
            self.model.advance(now)
            for waiter in [w for w in self._waiters if w.loop is loop]:
                if waiter.future.done():
                    self._dequeue(waiter)
                    continue
                if waiter.latest_start is not None and now > waiter.latest_start:
                    continue  # its timer refuses it
                if self.model.can_start(waiter.job, now):
                    self._dequeue(waiter)
                    waited = now - waiter.since
                    CAPACITY_WAIT.labels(waiter.job.engine).observe(waited)
                    waiter.future.set_result(CapacitySlot(self, self.model.start(waiter.job, now), waited))
            self._export()

    def _expire(self, waiter: _Waiter) -> None:
        with self._lock:
            if self._dequeue(waiter) is None or waiter.future.done():
                return
            waited = self.clock() - waiter.since
            CAPACITY_DECISIONS.labels(waiter.job.engine, "expired").inc()
            self._export()
        waiter.future.set_exception(ProviderError(
            ErrorKind.CAPACITY, f"no capacity: no cores freed within the budget (waited {waited * 1000:.0f} ms)",
            provider=waiter.job.engine))

    def _dequeue(self, waiter: _Waiter) -> _Waiter | None:
        """Take ``waiter`` off the queue (lock held); None when it was not on it."""
        if waiter not in self._waiters:
            return None
        self._waiters.remove(waiter)
        self.model.engine(waiter.job.engine).waiting -= 1
        return waiter

    def _export(self) -> None:
        """The gauges (lock held)."""
        model = self.model
        CAPACITY_LOAD.set(model.load())
        CAPACITY_AVAILABLE.set(model.available)
        CAPACITY_USABLE.set(model.usable)
        for name, e in model.engines.items():
            CAPACITY_IN_FLIGHT.labels(name).set(e.in_flight)
            CAPACITY_WAITING.labels(name).set(e.waiting)
            CAPACITY_HEADROOM_LINES.labels(name).set(model.headroom_lines(e))
            ENGINE_RTF.labels(name).set(e.cost)
