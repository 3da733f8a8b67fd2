"""Bursts of a streamed body go out together (gateway.api.batching) and a stream is awaited only where it waits
(gateway.core.aio): same bytes in the same order, errors, timeouts, cancellation and clean-up as before."""

from __future__ import annotations

import asyncio

import pytest

from gateway.api.batching import Batched, BatchedStreamingResponse
from gateway.core.aio import Resume, start


async def collect(source, **kw) -> list[bytes]:  # noqa: ANN001, ANN003
    return [chunk async for chunk in Batched(source, **kw)]


async def bursts():
    yield b"a"
    yield b"b"
    await asyncio.sleep(0.01)
    yield b"c"
    await asyncio.sleep(0)  # a bare yield to the loop is a wait too
    yield b"d"
    yield b"e"
    await asyncio.sleep(0.01)


def test_ready_chunks_are_joined_and_nothing_else_changes():
    assert asyncio.run(collect(bursts())) == [b"ab", b"c", b"de"]

    async def many():
        for _ in range(10):
            yield b"x" * 10

    assert asyncio.run(collect(many(), max_bytes=30)) == [b"x" * 30, b"x" * 30, b"x" * 30, b"x" * 10]


def test_finished_is_set_before_the_last_burst():
    async def ends_ready():
        yield b"a"
        await asyncio.sleep(0.01)
        yield b"b"
        yield b"c"

    async def run(source) -> list[tuple[bytes, bool]]:  # noqa: ANN001
        batches = Batched(source)
        return [(chunk, batches.finished) async for chunk in batches]

    assert asyncio.run(run(ends_ready())) == [(b"a", False), (b"bc", True)]
    assert asyncio.run(run(bursts())) == [(b"ab", False), (b"c", False), (b"de", False)]  # it waited, then ended


def test_errors_and_timeouts_reach_the_consumer():
    async def boom():
        yield b"x"
        await asyncio.sleep(0.01)
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        asyncio.run(collect(boom()))

    async def slow():
        yield b"1"
        async with asyncio.timeout(0.05):
            await asyncio.sleep(5)
        yield b"2"

    with pytest.raises(TimeoutError):
        asyncio.run(collect(slow()))


def test_cancelled_or_abandoned_streams_are_cleaned_up():
    cleaned: list[str] = []

    async def forever(name: str):
        try:
            yield b"q"
            await asyncio.sleep(10)
            yield b"r"
        finally:
            await asyncio.sleep(0.01)  # clean-up that itself awaits (closing a socket)
            cleaned.append(name)

    async def run() -> None:
        task = asyncio.create_task(collect(forever("cancelled")))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        batches = Batched(forever("closed"))
        assert await aiter(batches).__anext__() == b"q"
        await batches.aclose()
        dropped = aiter(Batched(forever("dropped")))
        assert await dropped.__anext__() == b"q"
        del dropped
        await asyncio.sleep(0.1)

    asyncio.run(run())
    assert sorted(cleaned) == ["cancelled", "closed", "dropped"]


def test_start_and_resume():
    async def now() -> int:
        return 1

    async def later() -> int:
        await asyncio.sleep(0.01)
        return 2

    async def run() -> tuple:
        first = start(now())
        ready, pending = start(step := later())
        return first, ready, await Resume(step, pending)

    assert asyncio.run(run()) == ((True, 1), False, 2)


def test_response_sends_bursts_ends_with_the_last_and_stops_when_the_client_goes():
    async def run(source, disconnect_after: float | None) -> tuple[list[dict], float]:  # noqa: ANN001
        sent: list[dict] = []
        gone = asyncio.Event()

        async def receive() -> dict:
            if disconnect_after is None:
                await gone.wait()  # never, while the body streams
            await asyncio.sleep(disconnect_after)
            return {"type": "http.disconnect"}

        async def send(message: dict) -> None:
            sent.append(message)

        started = asyncio.get_running_loop().time()
        await BatchedStreamingResponse(source, media_type="application/x-ndjson")(
            {"type": "http", "asgi": {"spec_version": "2.3"}}, receive, send)
        return sent, asyncio.get_running_loop().time() - started

    async def ends_ready():
        yield b"a"
        await asyncio.sleep(0.01)
        yield b"b"
        yield b"c"

    sent, _ = asyncio.run(run(ends_ready(), None))
    bodies = [(m["body"], m["more_body"]) for m in sent if m["type"] == "http.response.body"]
    assert sent[0]["type"] == "http.response.start" and bodies == [(b"a", True), (b"bc", False)]

    closed: list[bool] = []

    async def endless():
        try:
            while True:
                yield b"x"
                await asyncio.sleep(0.01)
        finally:
            closed.append(True)

    sent, took = asyncio.run(run(endless(), 0.05))
    assert closed == [True] and took < 1.0 and all(m.get("more_body", True) for m in sent[1:])
