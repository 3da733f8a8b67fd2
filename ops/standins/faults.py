"""The fault model every stand-in shares, changed at run time through ``/__control/faults``.

One :class:`FaultState` per stand-in process:

* ``latency_ms``: delay before the first audio byte (HTTP: headers go out at once, the body
  waits; WebSocket: before the first audio message);
* ``stall_ms``: delay before every later chunk/message (a slow drip);
* ``error`` + ``error_count``: answer the next N requests (``error_count`` null: every request)
  with a vendor error by name (each stand-in lists its names), after letting ``error_after``
  requests through first; ``retry_after_s`` sets ``Retry-After`` on 429s;
* ``disconnect_after_chunks`` / ``disconnect_after_sentence``: cut the stream mid-way (HTTP: the
  connection closes without the chunked terminator; WebSocket: close with
  ``disconnect_close_code``, default 1011, and no final message);
* ``hang``: ``"connect"`` never answers (no HTTP status line, no WebSocket upgrade),
  ``"first_byte"`` answers and then sends nothing; hung requests are released by ``DELETE``;
* ``quota_exhausted``: every synthesis fails with the vendor's quota error;
* ``targets``: which traffic the faults hit: ``rest`` (HTTP synthesis), ``ws`` (WebSocket
  synthesis), ``meta`` (voices, subscription/credit look-ups). Default ``["rest", "ws"]``.

:class:`Pace` applies the timing and disconnect faults to one stream, chunk by chunk.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

#: Longest a hung request waits before giving up on its own (seconds).
HANG_CAP_S = 3600.0

Target = Literal["rest", "ws", "meta"]


class Faults(BaseModel):
    """The fault knobs of one stand-in (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")

    latency_ms: int = Field(0, ge=0, le=3_600_000)
    stall_ms: int = Field(0, ge=0, le=3_600_000)
    error: str | None = None
    error_count: int | None = Field(None, ge=1)
    error_after: int = Field(0, ge=0)
    retry_after_s: float | None = Field(None, ge=0)
    disconnect_after_chunks: int | None = Field(None, ge=0)
    disconnect_after_sentence: bool = False
    disconnect_close_code: int = Field(1011, ge=1000, le=4999)
    hang: Literal["connect", "first_byte"] | None = None
    quota_exhausted: bool = False
    targets: list[Target] = Field(default_factory=lambda: ["rest", "ws"])


class Disconnect(Exception):
    """Raised inside a stream to cut the connection (fault injection)."""


class FaultState:
    """Current faults plus request counters; ``errors`` are the error names the stand-in knows."""

    def __init__(self, errors: Iterable[str], model: type[Faults] = Faults) -> None:
        self.model = model
        self.errors = frozenset(errors)
        self.faults: Faults = model()
        self._release = asyncio.Event()
        self.counters: dict[str, int] = {"requests": 0, "errors_injected": 0, "disconnects": 0, "hangs": 0}

    def update(self, patch: dict[str, Any], replace: bool = False) -> Faults:
        """Merge ``patch`` into the faults (or replace them); raises ``ValueError`` when invalid."""
        if not isinstance(patch, dict):
            raise ValueError("faults must be a JSON object")
        data = patch if replace else {**self.faults.model_dump(), **patch}
        try:
            faults = self.model.model_validate(data)
        except ValidationError as exc:
            raise ValueError(exc.errors(include_url=False, include_context=False)) from None
        if faults.error is not None and faults.error not in self.errors:
            raise ValueError(f"unknown error {faults.error!r}; known: {sorted(self.errors)}")
        self.faults = faults
        return faults

    def reset(self) -> None:
        self.faults = self.model()
        self.release_hangs()

    def release_hangs(self) -> None:
        self._release.set()
        self._release = asyncio.Event()

    def hits(self, target: str) -> bool:
        return target in self.faults.targets

    def take_error(self, target: str) -> str | None:
        """The error to inject into this request (consuming one of ``error_count``), if any."""
        f = self.faults
        if f.error is None or not self.hits(target):
            return None
        if f.error_after:
            self.faults = f.model_copy(update={"error_after": f.error_after - 1})
            return None
        if f.error_count is not None:
            left = f.error_count - 1
            self.faults = f.model_copy(update={"error_count": left or None, "error": f.error if left else None})
        self.counters["errors_injected"] += 1
        return f.error

    async def hang(self) -> None:
        """Wait until the faults are reset (or :data:`HANG_CAP_S`)."""
        self.counters["hangs"] += 1
        try:
            await asyncio.wait_for(self._release.wait(), HANG_CAP_S)
        except TimeoutError:
            pass

    async def hang_on_connect(self, target: str) -> bool:
        """``hang: "connect"`` on ``target``: wait until released; True when it hung."""
        if self.hits(target) and self.faults.hang == "connect":
            await self.hang()
            return True
        return False

    async def meta_error(self) -> str | None:
        """Faults on a metadata look-up: a hang on connect, then the error to answer with, if any;
        otherwise the first-byte delay."""
        if not self.hits("meta"):
            return None
        await self.hang_on_connect("meta")
        error = self.take_error("meta")
        if error is None:
            await self.first_byte("meta")
        return error

    async def first_byte(self, target: str) -> None:
        """Apply ``latency_ms`` and ``hang: first_byte`` before the first audio byte."""
        f = self.faults
        if not self.hits(target):
            return
        if f.latency_ms:
            await asyncio.sleep(f.latency_ms / 1000)
        if f.hang == "first_byte":
            await self.hang()

    async def between_chunks(self, target: str) -> None:
        if self.hits(target) and self.faults.stall_ms:
            await asyncio.sleep(self.faults.stall_ms / 1000)

    def should_disconnect(self, target: str, chunks_sent: int, sentences_done: int) -> bool:
        f = self.faults
        if not self.hits(target):
            return False
        if f.disconnect_after_chunks is not None and chunks_sent >= f.disconnect_after_chunks:
            return True
        return f.disconnect_after_sentence and sentences_done >= 1

    def cut(self, target: str, chunks_sent: int, sentences_done: int) -> None:
        """Raise :class:`Disconnect` (and count it) when the stream is due to be cut here."""
        if self.should_disconnect(target, chunks_sent, sentences_done):
            self.counters["disconnects"] += 1
            raise Disconnect

    def snapshot(self) -> dict:
        return {"faults": self.faults.model_dump(), "counters": dict(self.counters), "errors": sorted(self.errors)}


class Pace:
    """One stream as the faults see it: what it has sent, and the waits before its chunks.

    ``chunks`` is what ``disconnect_after_chunks`` counts (the owner counts what it sends);
    ``sentences`` counts the sentences spoken. The first chunk waits the first-byte delay unless
    :meth:`first_byte` ran already (HTTP bodies wait before synthesis starts); later chunks wait
    ``stall_ms``. One pace may serve several streams at once (WebSocket contexts).
    """

    def __init__(self, faults: FaultState, target: str) -> None:
        self.faults = faults
        self.target = target
        self.chunks = 0
        self.sentences = 0
        self.waited = False  #: the first-byte delay is over
        self.started = False  #: a chunk has been paced

    async def first_byte(self) -> None:
        if not self.waited:
            await self.faults.first_byte(self.target)
            self.waited = True

    async def before_chunk(self) -> None:
        """Cut the stream (:class:`Disconnect`) or wait as the faults say before the next chunk."""
        self.faults.cut(self.target, self.chunks, self.sentences)
        if not self.waited:
            await self.first_byte()
        elif self.started:
            await self.faults.between_chunks(self.target)
        self.started = True


class SharedPace(Pace):
    """One context of a multiplexed WebSocket: its own first-byte wait and stalls, but the connection's chunk and
    sentence counts, so ``disconnect_after_*`` cuts the socket (every context on it) where one stream would be cut."""

    def __init__(self, shared: Pace) -> None:
        self.shared = shared
        self.faults = shared.faults
        self.target = shared.target
        self.waited = False
        self.started = False

    @property
    def chunks(self) -> int:  # type: ignore[override]
        return self.shared.chunks

    @chunks.setter
    def chunks(self, value: int) -> None:
        self.shared.chunks = value

    @property
    def sentences(self) -> int:  # type: ignore[override]
        return self.shared.sentences

    @sentences.setter
    def sentences(self, value: int) -> None:
        self.shared.sentences = value
