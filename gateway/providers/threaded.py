"""Run a blocking synthesis generator in a worker thread and consume it as an async iterator.

Local engines (ONNX Runtime, libespeak-ng) are blocking C code. A bounded queue carries their
events to the event loop so audio flows to the client while later sentences still synthesize,
and a semaphore keeps concurrent syntheses from oversubscribing the CPU. Closing the async
iterator (client gone, deadline hit) stops the worker at its next event.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TypeVar

T = TypeVar("T")
_DONE = object()


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


async def iterate_in_thread(factory: Callable[[], Iterator[T]], limiter: asyncio.Semaphore | None = None,
                            max_buffer: int = 64) -> AsyncIterator[T]:
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
        try:
            for item in factory():
                if cancelled.is_set():
                    return
                put(item)
            put(_DONE)
        except BaseException as exc:  # noqa: BLE001 - re-raised on the loop side
            if not cancelled.is_set():
                put(exc)

    if limiter is not None:
        await limiter.acquire()
    thread = threading.Thread(target=worker, name="synth", daemon=True)
    try:
        thread.start()
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
