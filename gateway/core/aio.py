"""Awaiting only what has to wait: start a coroutine by hand, and if it suspends, await it where it stopped.

Many steps of a stream finish without waiting (the next event of a burst is already decoded). Knowing that lets a
caller skip work that only matters when it waits (arming a timeout, flushing what it has). :func:`start` runs a
coroutine until it returns or first suspends; :class:`Resume` awaits a suspended one from there, exactly as awaiting
it would have (its future goes to the running task; cancellation and errors reach it as usual).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine, Generator
from typing import Any

#: What :func:`start` gives back when the coroutine suspended: pass it to :class:`Resume`.
Suspended = tuple[Coroutine, Any]


def start(step: Coroutine) -> tuple[bool, Any]:
    """Run ``step`` until it returns or suspends: ``(True, its result)`` or ``(False, what it waits on)``.
    Its exceptions (``StopAsyncIteration`` of an ``__anext__`` too) propagate."""
    try:
        return False, step.send(None)
    except StopIteration as done:
        return True, done.value


class Resume:
    """Await ``step``, started by :func:`start` and suspended on ``pending``."""

    def __init__(self, step: Coroutine, pending: Any) -> None:
        self.step, self.pending = step, pending

    def __await__(self) -> Generator[Any, Any, Any]:
        value = self.pending
        while True:
            try:
                sent = yield value
            except BaseException as exc:  # noqa: BLE001 - cancellation and errors go where they would have gone
                try:
                    value = self.step.throw(exc)
                except StopIteration as done:
                    return done.value
                continue
            try:
                value = self.step.send(sent)
            except StopIteration as done:
                return done.value


async def cancel(step: Coroutine, pending: Any) -> None:
    """Cancel a suspended step the way a task cancels what it awaits, letting its clean-up run (and await)."""
    try:
        pending = step.throw(asyncio.CancelledError())
    except BaseException:  # noqa: BLE001 - it finished (cancelled, or its generator ended): nothing left to run
        return
    with contextlib.suppress(BaseException):
        await Resume(step, pending)
