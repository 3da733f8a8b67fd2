"""Graceful drain on SIGTERM for the render worker (as the gateway's, gateway/api/drain.py): readiness 503 at once,
renders in flight finish, then the server stops.

On the first SIGTERM the worker drains: ``/readyz`` answers 503 (``reason: draining``), its Redis registration is
removed (the pool stops sending it work), and a new render is answered 503 ``draining`` with ``Retry-After`` (the
gateway's pool sends it to another worker). Renders already running or queued for a slot finish, for up to
``drain_timeout_s``; then uvicorn's own shutdown closes the listener and the process exits. A second SIGTERM, or
SIGINT, skips the wait.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from gateway.core.sigterm import install_sigterm_drain as install_hook

log = logging.getLogger("render_worker.drain")


def install_sigterm_drain(begin: Callable[[], None], idle: Callable[[], bool],
                          timeout_s: float) -> Callable[[], None]:
    """Put the drain in front of the current SIGTERM handler (uvicorn's); returns the function that removes it.
    ``begin``: the worker stops taking work (called on the loop); ``idle``: nothing is rendering or queued.
    Does nothing outside the main thread (signal handlers live there)."""

    async def drain() -> None:
        begin()
        deadline = time.monotonic() + timeout_s
        while not idle() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        log.warning("drain done: drained=%s", idle())

    return install_hook(lambda: None, drain)
