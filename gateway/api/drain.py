"""Graceful drain on SIGTERM: readiness 503 at once, in-flight lines finish, then the server stops.

Installed by the app's lifespan in the process that serves it (each worker of ``gateway serve --workers N`` gets
its own; the supervisor forwards SIGTERM to every worker). On the first SIGTERM:

1. the replica drains at once: ``/api/health/ready`` answers 503 and new speak requests get 503 with
   ``Retry-After`` (a load balancer retries them on another replica, and its health check takes this one out);
2. after ``drain_delay_s`` (time for the load balancer / Kubernetes endpoints to notice) it waits up to
   ``drain_timeout_s`` for the lines in flight (speak, stream, WebSocket) to finish;
3. then it hands over to uvicorn's own shutdown: the listener closes, responses being written finish, and the
   process exits.

A second SIGTERM, or SIGINT (Ctrl+C), skips the wait.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import structlog

from gateway.core.sigterm import install_sigterm_drain as install_hook
from gateway.service import Mouthpiece

log = structlog.get_logger(__name__)


def install_sigterm_drain(mouthpiece: Mouthpiece, delay_s: float, timeout_s: float) -> Callable[[], None]:
    """Put the drain in front of the current SIGTERM handler (uvicorn's); returns the function that removes it.

    Does nothing outside the main thread (signal handlers live there), e.g. under a test client.
    """

    def start() -> None:
        mouthpiece.draining = True  # readiness 503 from the next request on

    async def drain() -> None:
        await asyncio.sleep(delay_s)
        drained = await mouthpiece.drain(timeout_s)
        log.warning("drain_done", drained=drained, in_flight=mouthpiece.in_flight)

    return install_hook(start, drain)
