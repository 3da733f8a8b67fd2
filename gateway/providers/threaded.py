"""Run a blocking synthesis generator in a worker thread and consume it as an async iterator; admit it first.

Local engines (ONNX Runtime, libespeak-ng) are blocking C code. A bounded queue carries their
events to the event loop so audio flows to the client while later sentences still synthesize.
Closing the async iterator (client gone, deadline hit) stops the worker at its next event.

Before a synthesis starts, a :class:`Gate` admits it (:func:`run_gated`): every local engine goes through the
same call. The gateway wires one capacity model for all of them (:class:`gateway.policy.capacity_gate.Capacity`:
start now, wait for cores, or refuse with ``capacity``); an engine built on its own gets a
:class:`ConcurrencyGate` (at most ``engine_concurrency`` syntheses at once). The worker thread reports what the
synthesis produced (audio seconds, seconds of work) to its :class:`Slot`, and frees the slot when it stops.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Protocol, TypeVar

from gateway.core.events import AudioEvent, StatusEvent
from gateway.providers.base import SynthesisRequest

T = TypeVar("T")
_DONE = object()


@dataclass(frozen=True, slots=True)
class SynthesisJob:
    """A local synthesis as the gate sees it: which engine, how much text, by when the first audio is due."""

    engine: str
    segment_chars: tuple[int, ...]  #: characters of each segment, in order (engines make audio segment by segment)
    speed: float = 1.0
    first_audio_by: float | None = None  #: ``time.monotonic()`` deadline of the line's first audio
    live: bool = True  #: listened to as it streams: it must keep up (offline work only has to be done)

    @property
    def chars(self) -> int:
        return sum(self.segment_chars)

    @classmethod
    def of(cls, engine: str, request: SynthesisRequest) -> "SynthesisJob":
        return cls(engine, tuple(len(s.text) for s in request.segments), float(request.settings.speed or 1.0),
                   request.first_audio_by, request.live)


class Slot(Protocol):
    """One admitted synthesis. ``produced`` and ``release`` are called from the worker thread."""

    #: Seconds the synthesis waited for its admission.
    waited_s: float

    def produced(self, audio_s: float, busy_s: float) -> None:
        """``audio_s`` more seconds of audio, made in ``busy_s`` seconds of the worker's time."""

    def release(self, finished: bool) -> None:
        """The synthesis stopped (``finished``: it made all its audio). Idempotent."""


class Gate(Protocol):
    async def admit(self, job: SynthesisJob) -> Slot:
        """A slot for ``job``, once it may start; raises ``ProviderError(CAPACITY)`` when it may not."""


class LoopLimiter:
    """At most ``limit`` concurrent syntheses, with one semaphore per event loop (an engine outlives a loop in
    tests and the CLI, and a semaphore is bound to the loop it was first used on). Call it for the semaphore."""

    def __init__(self, limit: int) -> None:
        self.limit = max(1, limit)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sem: asyncio.Semaphore | None = None

    def __call__(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if self._sem is None or self._loop is not loop:
            self._sem, self._loop = asyncio.Semaphore(self.limit), loop
        return self._sem


class _SemaphoreSlot:
    waited_s = 0.0

    def __init__(self, sem: asyncio.Semaphore, loop: asyncio.AbstractEventLoop) -> None:
        self._sem, self._loop, self._released = sem, loop, threading.Event()

    def produced(self, audio_s: float, busy_s: float) -> None:
        pass

    def release(self, finished: bool) -> None:
        if self._released.is_set():
            return
        self._released.set()
        try:
            self._loop.call_soon_threadsafe(self._sem.release)
        except RuntimeError:  # the loop is closed: so is its semaphore
            pass


class ConcurrencyGate:
    """The gate of an engine built without the gateway's capacity model: ``limit`` syntheses at once, the rest
    queue (no budget, no refusal)."""

    def __init__(self, limit: int) -> None:
        self._limiter = LoopLimiter(limit)

    async def admit(self, job: SynthesisJob) -> Slot:
        sem = self._limiter()
        await sem.acquire()
        return _SemaphoreSlot(sem, asyncio.get_running_loop())


async def run_gated(gate: Gate, job: SynthesisJob, factory: Callable[[], Iterator[T]]) -> AsyncIterator[T]:
    """``factory``'s events from a worker thread, once ``gate`` admits ``job``. A wait for admission is reported as
    a ``capacity_wait`` status event before the first audio."""
    slot = await gate.admit(job)
    try:
        if slot.waited_s >= 0.001:
            yield StatusEvent("capacity_wait", job.engine, message=f"waited {slot.waited_s * 1000:.0f} ms for cores",
                              detail={"waited_ms": round(slot.waited_s * 1000)})
    except BaseException:
        slot.release(False)
        raise
    async for item in iterate_in_thread(factory, slot=slot):
        yield item


async def iterate_in_thread(factory: Callable[[], Iterator[T]], limiter: asyncio.Semaphore | None = None,
                            max_buffer: int = 64, slot: Slot | None = None) -> AsyncIterator[T]:
    """``factory``'s items, made in a worker thread. ``limiter``: a semaphore held while it runs. ``slot``: told
    what the worker produced and released when it stops (the worker's time in the generator is measured, not its
    time waiting on a full queue)."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue(max_buffer)
    cancelled = threading.Event()

    def put(item: object) -> None:
        try:
            fut = asyncio.run_coroutine_threadsafe(queue.put(item), loop)
        except RuntimeError:  # the loop is gone: nobody is listening any more
            cancelled.set()
            return
        while not cancelled.is_set():
            try:
                fut.result(timeout=0.2)
                return
            except TimeoutError:
                continue
            except concurrent.futures.CancelledError:  # the consumer's loop is shutting down
                cancelled.set()
                return
        fut.cancel()

    def worker() -> None:
        outcome: object = None  # _DONE, or the exception to re-raise on the loop side
        busy = 0.0
        try:
            items = iter(factory())
            while not cancelled.is_set():
                t0 = time.perf_counter()
                try:
                    item = next(items)
                except StopIteration:
                    outcome = _DONE
                    break
                busy += time.perf_counter() - t0
                if slot is not None and isinstance(item, AudioEvent) and item.num_samples:
                    slot.produced(item.num_samples / item.sample_rate, busy)
                    busy = 0.0
                if not cancelled.is_set():
                    put(item)
        except BaseException as exc:  # noqa: BLE001 - re-raised on the loop side
            outcome = exc
        finally:
            if slot is not None:  # the cores are free before the consumer hears the end
                slot.produced(0.0, busy)
                slot.release(outcome is _DONE)
        if outcome is not None and not cancelled.is_set():
            put(outcome)

    if limiter is not None:
        await limiter.acquire()
    thread = threading.Thread(target=worker, name="synth", daemon=True)
    started = False
    try:
        thread.start()
        started = True
        while True:
            item = await queue.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]
    finally:
        cancelled.set()
        if limiter is not None:
            limiter.release()
        if slot is not None and not started:
            slot.release(False)
