"""Pieces every provider stand-in shares: the fault model and its control endpoint, local speech.

Fault model (one per stand-in process, changed at run time through ``/__control/faults``):

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

Local speech: :class:`LocalSpeech` speaks with the embedded Piper voice
(:class:`gateway.providers.piper.PiperProvider`) sentence by sentence and gives every input
character a start/end time derived from Piper's word timings (a word's span is shared by its
letters; spaces and punctuation take the gaps), which is what vendors with character alignment
report. :func:`chunk_piece` cuts a spoken sentence into stream chunks at word starts.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

log = logging.getLogger("standin")

#: Longest a hung request waits before giving up on its own (seconds).
HANG_CAP_S = 3600.0


# -- faults ----------------------------------------------------------------------------------------

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

    def snapshot(self) -> dict:
        return {"faults": self.faults.model_dump(), "counters": dict(self.counters), "errors": sorted(self.errors)}


def requests_and_health_router(standin: Any, default_port: int) -> APIRouter:
    """``/__control/requests`` (GET lists what was asked, DELETE clears it) and ``/__control/health``
    (200 once the local voice is loaded, else 503), the same on every stand-in."""
    router = APIRouter(prefix="/__control", include_in_schema=False)

    @router.get("/requests")
    async def get_requests() -> list:
        return standin.requests.list()

    @router.delete("/requests")
    async def delete_requests() -> dict:
        standin.requests.items.clear()
        return {"ok": True}

    @router.get("/health")
    async def control_health() -> Response:
        ok, reason = await standin.speech.ready()
        return JSONResponse({"ok": ok, "reason": reason, "port_default": default_port}, status_code=200 if ok else 503)

    return router


def control_router(state: FaultState, extra: dict[str, Any] | None = None) -> APIRouter:
    """``/__control/faults``: GET reads, POST merges, PUT replaces, DELETE resets (and frees hangs)."""
    router = APIRouter(prefix="/__control", include_in_schema=False)

    async def _body(request: Request) -> dict:
        try:
            body = await request.json()
        except Exception:  # noqa: BLE001
            raise HTTPException(400, "body must be JSON") from None
        return body

    @router.get("/faults")
    async def get_faults() -> dict:
        return state.snapshot()

    @router.post("/faults")
    async def post_faults(request: Request) -> dict:
        try:
            state.update(await _body(request))
        except ValueError as exc:
            raise HTTPException(422, exc.args[0]) from None
        return state.snapshot()

    @router.put("/faults")
    async def put_faults(request: Request) -> dict:
        try:
            state.update(await _body(request), replace=True)
        except ValueError as exc:
            raise HTTPException(422, exc.args[0]) from None
        return state.snapshot()

    @router.delete("/faults")
    async def delete_faults() -> dict:
        state.reset()
        return state.snapshot()

    return router


class Disconnect(Exception):
    """Raised inside a streamed body to cut the connection (fault injection)."""


class DroppableStreamingResponse(Response):
    """A chunked streaming response whose body iterator may raise :class:`Disconnect`.

    Then the ASGI app returns without finishing the response: the server closes the connection
    with no chunked terminator, which clients see as a peer that went away mid-body.
    """

    def __init__(self, body: AsyncIterator[bytes], media_type: str, headers: dict[str, str] | None = None,
                 on_close: Any = None) -> None:
        self.status_code = 200
        self.background = None
        self.stream = body
        self.media_type = media_type
        self.extra_headers = headers or {}
        self.on_close = on_close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", self.media_type.encode())]
        headers += [(k.lower().encode(), str(v).encode()) for k, v in self.extra_headers.items()]
        disconnected = asyncio.Event()

        async def watch() -> None:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    disconnected.set()
                    return

        watcher = asyncio.create_task(watch())
        try:
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            async for chunk in self.stream:
                if disconnected.is_set():
                    return
                if chunk:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except Disconnect:
            return  # leave the response unfinished: the server drops the connection
        except OSError:
            return  # client went away
        finally:
            watcher.cancel()
            aclose = getattr(self.stream, "aclose", None)
            if aclose is not None:
                try:
                    await aclose()
                except Exception:  # noqa: BLE001
                    pass
            if self.on_close is not None:
                self.on_close()


# -- local speech ----------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class CharTime:
    char: str
    start_ms: float  #: from the start of the whole response's audio
    end_ms: float


@dataclass(frozen=True, slots=True)
class SpokenPiece:
    """One spoken sentence: PCM s16le mono, where it starts, and times for its characters."""

    pcm: bytes
    sample_rate: int
    start_ms: float
    end_ms: float
    chars: tuple[CharTime, ...]  #: the input characters this piece covers (spaces included)


@dataclass(frozen=True, slots=True)
class Chunk:
    pcm: bytes  #: at the requested output rate
    sample_rate: int
    start_ms: float
    end_ms: float
    chars: tuple[CharTime, ...]


MEMO_LINES = 256


class LocalSpeech:
    """Real speech from the embedded Piper voice, loaded once per stand-in process."""

    def __init__(self, settings=None) -> None:  # noqa: ANN001
        from gateway.providers.piper import PiperProvider
        from gateway.settings import Settings

        if settings is None:
            settings = Settings(piper_intra_threads=1, engine_concurrency=2, log_json=False)
        self.provider = PiperProvider(settings)
        #: Recently spoken texts, replayed as-is: a repeated line costs the stand-in no CPU, so load tests
        #: measure the gateway, not the stand-in's own synthesis.
        self._memo: OrderedDict[tuple[str, float], list[SpokenPiece]] = OrderedDict()

    async def start(self) -> None:
        await self.provider.start()

    async def ready(self) -> tuple[bool, str]:
        health = await self.provider.health()
        return health.state.value == "up", health.reason

    async def sentences(self, text: str, speed: float = 1.0) -> AsyncIterator[SpokenPiece]:
        """Speak ``text`` sentence by sentence; every character of ``text`` lands in exactly one piece."""
        key = (text, speed)
        if key in self._memo:
            self._memo.move_to_end(key)
            for piece in self._memo[key]:
                yield piece
            return
        pieces = []
        async for piece in self._synthesize(text, speed):
            pieces.append(piece)
            yield piece
        self._memo[key] = pieces
        while len(self._memo) > MEMO_LINES:
            self._memo.popitem(last=False)

    async def _synthesize(self, text: str, speed: float) -> AsyncIterator[SpokenPiece]:
        from gateway.core.events import AlignmentEvent, AudioEvent, SegmentEndEvent
        from gateway.providers.base import SynthesisRequest
        from gateway.core.voices import VoiceSettings
        from gateway.text.clean import split_sentences

        segments = split_sentences(text)
        if not segments:
            # Nothing speakable (only spaces/punctuation): a short silence carrying the characters.
            rate = 22050
            pcm = bytes(2 * rate // 5)
            yield SpokenPiece(pcm, rate, 0.0, 400.0, tuple(_spread_chars(text, 0, len(text), 0.0, 400.0, [])))
            return
        request = SynthesisRequest(tuple(segments), "", VoiceSettings(speed=speed), text=text)
        parts: list[bytes] = []
        words = []
        rate = 22050
        start_ms = 0.0
        prev_char_end = 0
        async for event in self.provider.stream(request):
            if isinstance(event, AudioEvent):
                parts.append(event.pcm)
                rate = event.sample_rate
            elif isinstance(event, AlignmentEvent):
                words.extend(event.words)
            elif isinstance(event, SegmentEndEvent):
                segment = segments[event.segment]
                last = event.segment == len(segments) - 1
                char_end = len(text) if last else segment.char_start + len(segment.text)
                end_ms = float(event.end_ms)
                chars = _spread_chars(text, prev_char_end, char_end, start_ms, end_ms, words)
                yield SpokenPiece(b"".join(parts), rate, start_ms, end_ms, tuple(chars))
                parts, words = [], []
                start_ms = end_ms
                prev_char_end = char_end


def _spread_chars(text: str, char_start: int, char_end: int, start_ms: float, end_ms: float,
                  words: list) -> list[CharTime]:
    """Times for ``text[char_start:char_end]``: word letters share their word's span, the rest the gaps."""
    anchors = sorted((w.char_start, w.char_end, float(w.start_ms), float(w.end_ms)) for w in words
                     if w.char_start is not None and w.char_end is not None
                     and char_start <= w.char_start < w.char_end <= char_end)
    times: list[tuple[float, float]] = [(0.0, 0.0)] * (char_end - char_start)

    def fill(a: int, b: int, t0: float, t1: float) -> None:
        n = b - a
        if n <= 0:
            return
        t1 = max(t0, t1)
        step = (t1 - t0) / n
        for k in range(n):
            times[a - char_start + k] = (t0 + k * step, t0 + (k + 1) * step)

    cursor_char, cursor_ms = char_start, start_ms
    for cs, ce, t0, t1 in anchors:
        if cs < cursor_char:
            continue
        t0 = max(t0, cursor_ms)
        fill(cursor_char, cs, cursor_ms, t0)
        fill(cs, ce, t0, max(t0, t1))
        cursor_char, cursor_ms = ce, max(t0, t1)
    fill(cursor_char, char_end, cursor_ms, max(cursor_ms, end_ms))
    return [CharTime(text[i], round(times[i - char_start][0], 3), round(times[i - char_start][1], 3))
            for i in range(char_start, char_end)]


def chunk_piece(piece: SpokenPiece, out_rate: int, min_ms: float = 250.0) -> list[Chunk]:
    """Resample a piece to ``out_rate`` and cut it at word starts into chunks of at least ``min_ms``."""
    from gateway.audio.resample import resample_pcm

    pcm = resample_pcm(piece.pcm, piece.sample_rate, out_rate)
    total = len(pcm) // 2
    cuts: list[int] = [0]  # char indices where chunks start
    chunk_start_ms = piece.start_ms
    for i in range(1, len(piece.chars)):
        c, prev = piece.chars[i], piece.chars[i - 1]
        if prev.char.isspace() and not c.char.isspace() and c.start_ms - chunk_start_ms >= min_ms \
                and piece.end_ms - c.start_ms >= min_ms / 2:
            cuts.append(i)
            chunk_start_ms = c.start_ms
    chunks: list[Chunk] = []
    for k, ci in enumerate(cuts):
        cj = cuts[k + 1] if k + 1 < len(cuts) else len(piece.chars)
        t0 = piece.start_ms if k == 0 else piece.chars[ci].start_ms
        t1 = piece.end_ms if cj == len(piece.chars) else piece.chars[cj].start_ms
        s0 = 0 if k == 0 else min(total, round((t0 - piece.start_ms) * out_rate / 1000))
        s1 = total if cj == len(piece.chars) else min(total, round((t1 - piece.start_ms) * out_rate / 1000))
        chunks.append(Chunk(pcm[2 * s0:2 * s1], out_rate, t0, t1, tuple(piece.chars[ci:cj])))
    return chunks


# -- G.711 -----------------------------------------------------------------------------------------

def pcm_to_ulaw(pcm: bytes) -> bytes:
    """PCM s16le -> G.711 mu-law bytes."""
    x = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2").astype(np.int32)
    sign = np.where(x < 0, 0x80, 0)
    mag = np.minimum(np.abs(x), 32635) + 0x84
    exponent = np.floor(np.log2(mag)).astype(np.int32) - 7
    exponent = np.clip(exponent, 0, 7)
    mantissa = (mag >> (exponent + 3)) & 0x0F
    return (~(sign | (exponent << 4) | mantissa) & 0xFF).astype(np.uint8).tobytes()


def pcm_to_alaw(pcm: bytes) -> bytes:
    """PCM s16le -> G.711 A-law bytes."""
    x = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2").astype(np.int32) >> 3
    sign = np.where(x >= 0, 0x80, 0)
    mag = np.minimum(np.where(x < 0, -x - 1, x), 0xFFF)
    exponent = np.where(mag < 32, 0, np.floor(np.log2(np.maximum(mag, 1))).astype(np.int32) - 4)
    exponent = np.clip(exponent, 0, 7)
    mantissa = np.where(exponent == 0, mag >> 1, mag >> exponent) & 0x0F
    return (((sign | (exponent << 4) | mantissa) ^ 0x55) & 0xFF).astype(np.uint8).tobytes()


# -- misc ------------------------------------------------------------------------------------------

class RequestLog:
    """The last requests a stand-in served (never credentials), for tests to inspect."""

    def __init__(self, size: int = 200) -> None:
        self.items: deque[dict] = deque(maxlen=size)

    def add(self, **record: Any) -> dict:
        self.items.append(record)
        return record

    def list(self) -> list[dict]:
        return list(self.items)


def base_arg_parser(description: str, default_port: int) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=default_port, help=f"port (default {default_port})")
    parser.add_argument("--log-level", default="warning", help="uvicorn log level (default warning)")
    return parser


def serve(app, host: str, port: int, log_level: str = "warning") -> None:  # noqa: ANN001
    import importlib.util

    import uvicorn

    # uvicorn >= 0.35 has the sans-I/O websockets protocol (the legacy one warns it is deprecated).
    sansio = importlib.util.find_spec("uvicorn.protocols.websockets.websockets_sansio_impl") is not None
    uvicorn.run(app, host=host, port=port, log_level=log_level, ws="websockets-sansio" if sansio else "websockets",
                lifespan="on", timeout_graceful_shutdown=2)


# -- running a stand-in as a subprocess (tests, local demos) ---------------------------------------

class StandinProcess:
    """A stand-in started as a real subprocess on a free port, with helpers for its control endpoint."""

    def __init__(self, module: str, args: Iterable[str] = (), env: dict[str, str] | None = None,
                 log_path: str | None = None) -> None:
        import os
        import socket
        import subprocess
        import sys
        import tempfile
        from pathlib import Path

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}"
        root = Path(__file__).resolve().parents[2]
        self.log_path = Path(log_path) if log_path else Path(tempfile.mkstemp(prefix="standin-", suffix=".log")[1])
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([sys.executable, "-m", module, "--port", str(self.port), *args], cwd=root,
                                     env={**os.environ, **(env or {})}, stdout=self._log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 90.0) -> "StandinProcess":
        import time

        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"stand-in exited: {self.logs()[-3000:]}")
            try:
                if httpx.get(self.url + "/__control/health", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"stand-in not ready: {self.logs()[-3000:]}")

    def control(self, method: str, path: str, body: Any = None) -> Any:
        import httpx

        resp = httpx.request(method, f"{self.url}/__control/{path}", json=body, timeout=10)
        resp.raise_for_status()
        return resp.json()

    def set_faults(self, **faults: Any) -> dict:
        return self.control("POST", "faults", faults)

    def reset(self) -> None:
        self.control("DELETE", "faults")
        self.control("DELETE", "requests")

    def requests(self) -> list[dict]:
        return self.control("GET", "requests")

    def logs(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        import subprocess

        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self._log.close()
