"""A light WebSocket stand-in for throughput benchmarks: replays what another stand-in answered, from memory.

    python -m ops.standins.replay --upstream ws://127.0.0.1:8790 --port 8791 [--latency-ms 75]

The ElevenLabs stand-in (:mod:`ops.standins.elevenlabs`) synthesizes, paces and checks every request in a FastAPI
app, which costs it about as much CPU per line as the gateway spends: on a 2-core machine it eats the core a second
gateway worker would use. This server speaks the same wire protocol (RFC 6455 over plain asyncio, no framework) and
does almost nothing per line:

* a connection's handshake is answered (``101``, ``Sec-WebSocket-Accept``; no extensions), its masked client
  frames are read until the end of input (a text message whose ``text`` is empty);
* the request (path with query, API key header and every text message) is the key: the first time, it is forwarded
  to ``--upstream`` over a real WebSocket and the answer's text messages are kept, already framed; every later time
  the kept frames are written at once, ``--latency-ms`` after the end of input;
* then a close frame (1000), as the service closes after ``isFinal``.

``multi-stream-input`` (lines sharing a socket, a context each) is replayed the same way per context: a context's
messages (its id taken out) up to its ``close_context`` are the key, its answer is kept with the id taken out and
written back with the context's own id; the socket stays open until ``close_socket`` or the client's close.

Answers are byte for byte the upstream stand-in's (audio, alignment, ``isFinal``). Faults, quotas and pacing are
the upstream's business on the first request only: this is a benchmark tool, not a second ElevenLabs stand-in.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import struct

from websockets.asyncio.client import connect

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_HEADERS_MAX = 64 * 1024
_CTX = '"@ctx@"'  #: stands for a context's id (a JSON string) in kept messages and answers


def frame(opcode: int, payload: bytes) -> bytes:
    """One unmasked server frame (FIN set)."""
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, n)
    elif n < 1 << 16:
        head = struct.pack("!BBH", 0x80 | opcode, 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 127, n)
    return head + payload


CLOSE_NORMAL = frame(0x8, struct.pack("!H", 1000))


class Replay:
    def __init__(self, upstream: str, latency_ms: float) -> None:
        self.upstream = upstream.rstrip("/")
        self.latency_s = latency_ms / 1000
        self.answers: dict[tuple, bytes | list[str]] = {}  #: framed answers (a line per socket), texts (a context)
        self.hits = 0
        self.misses = 0
        self.recording: set[asyncio.Task] = set()

    async def record(self, path: str, key: str | None, messages: list[str]) -> bytes:
        """The upstream's text messages for this request, framed and joined."""
        headers = {"xi-api-key": key} if key else {}
        out = []
        async with connect(self.upstream + path, additional_headers=headers, max_size=None) as ws:
            for message in messages:
                await ws.send(message)
            async for raw in ws:
                if isinstance(raw, str):
                    out.append(frame(0x1, raw.encode()))
                    if '"isFinal": true' in raw or '"isFinal":true' in raw:
                        break
        return b"".join(out)

    async def record_context(self, path: str, key: str | None, messages: tuple[str, ...]) -> list[str]:
        """The upstream's text messages for one context of a shared socket, its id taken out."""
        headers = {"xi-api-key": key} if key else {}
        out, ctx = [], f'"rec{self.misses}"'
        async with connect(self.upstream + path, additional_headers=headers, max_size=None) as ws:
            for message in messages:
                await ws.send(message.replace(_CTX, ctx))
            async for raw in ws:
                if isinstance(raw, str):
                    out.append(raw.replace(ctx, _CTX))
                    if ('"isFinal": true' in raw or '"isFinal":true' in raw) and ctx in raw:
                        break
            await ws.send(json.dumps({"close_socket": True}))
        return out

    def protocol(self) -> _Connection:
        return _Connection(self)


class _Connection(asyncio.Protocol):
    """One client connection: handshake, masked frames in, the kept answer out (asyncio.Protocol: no stream
    reader or task per connection unless the answer has to be recorded first)."""

    def __init__(self, replay: Replay) -> None:
        self.replay = replay
        self.buf = b""
        self.path: str | None = None
        self.key: str | None = None
        self.messages: list[str] = []
        self.contexts: dict[str, list[str]] = {}  #: a shared socket's open contexts and their messages so far
        self.answered = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buf += data
        try:
            if self.path is None and not self._handshake():
                return
            self._frames()
        except (KeyError, IndexError, ValueError, UnicodeDecodeError):
            self.transport.close()

    def _handshake(self) -> bool:
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            if len(self.buf) > _HEADERS_MAX:
                self.transport.close()
            return False
        request_line, *lines = self.buf[:end].decode("latin-1").split("\r\n")
        self.buf = self.buf[end + 4:]
        self.path = request_line.split(" ")[1]
        headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines if h)}
        self.key = headers.get("xi-api-key")
        accept = base64.b64encode(hashlib.sha1(headers["sec-websocket-key"].encode() + _GUID).digest())
        self.transport.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                             b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n")
        return True

    def _frames(self) -> None:
        buf = self.buf
        while len(buf) >= 2:
            b0, b1 = buf[0], buf[1]
            opcode, n, at = b0 & 0x0F, b1 & 0x7F, 2
            if n == 126:
                if len(buf) < 4:
                    break
                (n,), at = struct.unpack_from("!H", buf, 2), 4
            elif n == 127:
                if len(buf) < 10:
                    break
                (n,), at = struct.unpack_from("!Q", buf, 2), 10
            masked = b1 & 0x80
            if len(buf) < at + (4 if masked else 0) + n:
                break
            mask = buf[at:at + 4] if masked else b""
            at += 4 if masked else 0
            data = buf[at:at + n]
            buf = buf[at + n:]
            if masked:
                data = bytes(b ^ mask[i & 3] for i, b in enumerate(data))
            if opcode == 0x8:  # the client's close (our close frame went out with the answer)
                self.transport.close()
                break
            if opcode == 0x9:
                self.transport.write(frame(0xA, data))
            elif opcode == 0x1 and "/multi-stream-input" in (self.path or ""):
                self._context_message(data.decode())
            elif opcode == 0x1 and not self.answered:
                text = data.decode()
                self.messages.append(text)
                if json.loads(text).get("text") == "":
                    self.answered = True
                    self._answer()
        self.buf = buf

    def _context_message(self, text: str) -> None:
        message = json.loads(text)
        if message.get("close_socket"):
            self.transport.write(CLOSE_NORMAL)
            self.transport.close()
            return
        ctx = message.get("context_id")
        if not isinstance(ctx, str):
            return
        kept = self.contexts.setdefault(ctx, [])
        kept.append(text.replace(json.dumps(ctx), _CTX))
        if message.get("close_context"):
            self._answer_context(ctx, tuple(self.contexts.pop(ctx)))

    def _answer_context(self, ctx: str, messages: tuple[str, ...]) -> None:
        replay, key = self.replay, (self.path, self.key, messages)
        answer = replay.answers.get(key)
        if answer is not None:
            replay.hits += 1
            asyncio.get_running_loop().call_later(replay.latency_s, self._send_context, ctx, answer)
            return
        replay.misses += 1

        async def record() -> None:
            replay.answers[key] = got = await replay.record_context(self.path, self.key, messages)
            self._send_context(ctx, got)

        task = asyncio.ensure_future(record())
        replay.recording.add(task)
        task.add_done_callback(replay.recording.discard)

    def _send_context(self, ctx: str, answer: list[str]) -> None:
        if not self.transport.is_closing():
            quoted = json.dumps(ctx)
            self.transport.write(b"".join(frame(0x1, text.replace(_CTX, quoted).encode()) for text in answer))

    def _answer(self) -> None:
        replay, key = self.replay, (self.path, self.key, tuple(self.messages))
        answer = replay.answers.get(key)
        if answer is not None:
            replay.hits += 1
            asyncio.get_running_loop().call_later(replay.latency_s, self._send, answer)
            return
        replay.misses += 1

        async def record() -> None:
            replay.answers[key] = got = await replay.record(self.path, self.key, self.messages)
            self._send(got)

        task = asyncio.ensure_future(record())
        replay.recording.add(task)
        task.add_done_callback(replay.recording.discard)

    def _send(self, answer: bytes) -> None:
        if not self.transport.is_closing():
            self.transport.write(answer + CLOSE_NORMAL)


async def main(args: argparse.Namespace) -> None:
    replay = Replay(args.upstream, args.latency_ms)
    server = await asyncio.get_running_loop().create_server(replay.protocol, args.host, args.port, backlog=1024)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--upstream", required=True, help="ws:// base URL of the stand-in to record from")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--latency-ms", type=float, default=75.0, help="first byte of a replayed answer")
    asyncio.run(main(parser.parse_args()))
