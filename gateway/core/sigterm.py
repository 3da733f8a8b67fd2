"""A drain in front of the server's SIGTERM handler, shared by the gateway (gateway/api/drain.py) and the render
worker (render_worker/drain.py).

The first SIGTERM calls ``start`` at once (in the signal handler: set a flag, nothing more) and runs ``drain`` on the
event loop; when it returns, the signal is handed over to the handler that was there before (uvicorn's shutdown) or,
with none, to the default action. A second SIGTERM hands over at once.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Awaitable, Callable


def install_sigterm_drain(start: Callable[[], None], drain: Callable[[], Awaitable[None]]) -> Callable[[], None]:
    """Put the drain in front of the current SIGTERM handler; returns the function that removes it. Does nothing
    outside the main thread (signal handlers live there), e.g. under a test client."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    loop = asyncio.get_running_loop()
    previous = signal.getsignal(signal.SIGTERM)
    started = False

    def hand_over() -> None:
        if callable(previous):
            previous(signal.SIGTERM, None)
        else:  # no server handler: the default action, as if the drain had not been there
            signal.signal(signal.SIGTERM, previous)
            signal.raise_signal(signal.SIGTERM)

    async def run() -> None:
        try:
            await drain()
        finally:
            hand_over()

    def on_sigterm(sig: int, frame: object) -> None:
        nonlocal started
        if started:
            hand_over()
            return
        started = True
        start()
        loop.call_soon_threadsafe(lambda: loop.create_task(run(), name="drain"))

    signal.signal(signal.SIGTERM, on_sigterm)

    def uninstall() -> None:
        if signal.getsignal(signal.SIGTERM) is on_sigterm:
            signal.signal(signal.SIGTERM, previous)

    return uninstall
