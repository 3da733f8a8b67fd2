"""Blocking engines run in a worker thread; a consumer that leaves early stops it."""

from __future__ import annotations

import asyncio


def test_abandoned_stream_stops_its_worker_quietly():
    import threading

    from gateway.providers.threaded import iterate_in_thread

    stopped = threading.Event()

    def endless():
        try:
            n = 0
            while True:
                n += 1
                yield n
        finally:
            stopped.set()

    async def take_one():
        async for item in iterate_in_thread(endless, max_buffer=2):
            return item

    assert asyncio.run(take_one()) == 1
    assert stopped.wait(5), "the worker thread must notice the consumer left and stop"
