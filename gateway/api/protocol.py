"""The server's HTTP/1.1 protocol with a deadline and a size cap on request headers (slowloris).

uvicorn times out idle keep-alive connections (``timeout_keep_alive``) but not a connection that opens and then
sends its request line and headers a byte at a time, nor one that opens and sends nothing: each holds a socket and
a parser forever. :class:`GuardedHttpToolsProtocol` gives every request ``header_timeout_s`` from its first byte
(or from the connection's opening) to complete its headers, and ``max_header_bytes`` for them; past either it
answers 408 / 431 and closes the connection. ``gateway serve`` uses it (``GATEWAY_HEADER_TIMEOUT_S``,
``GATEWAY_MAX_HEADER_BYTES``); bodies are the app's part (:mod:`gateway.api.ingress`).
"""

from __future__ import annotations

import asyncio
import functools

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from gateway.api.access import REFUSED
from gateway.settings import IngressSettings

_REASONS = {408: b"Request Timeout", 431: b"Request Header Fields Too Large"}


class _HeadersRefused(Exception):
    """Raised inside a parser callback to stop parsing a request whose headers are too large."""


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(self, *args, header_timeout_s: float = 10.0, max_header_bytes: int = 32 * 1024,  # noqa: ANN002
                 **kwargs) -> None:  # noqa: ANN003 - uvicorn's protocol arguments
        super().__init__(*args, **kwargs)
        self.header_timeout_s = header_timeout_s
        self.max_header_bytes = max_header_bytes
        self._header_timer: asyncio.TimerHandle | None = None
        self._header_bytes = 0
        self._awaiting_headers = True
        self._refusal: int | None = None

    # -- the header deadline ----------------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self.header_timeout_s, self._headers_timed_out)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_timed_out(self) -> None:
        self._header_timer = None
        if self._awaiting_headers and not self.transport.is_closing():
            self._refuse(408, f"request headers not received within {self.header_timeout_s:g} s")

    # -- parser callbacks -------------------------------------------------------------------------------------
    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._awaiting_headers, self._header_bytes = True, 0
        self._arm()  # a keep-alive connection's next request: the clock starts at its first byte

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._awaiting_headers = False
        self._disarm()
        super().on_headers_complete()

    def _count(self, n: int) -> None:
        self._header_bytes += n
        if self._header_bytes > self.max_header_bytes:
            self._refusal = 431
            raise _HeadersRefused

    def send_400_response(self, msg: str) -> None:
        """uvicorn answers a parser error with 400; a callback of ours that stopped the parser answers 431."""
        if self._refusal is not None:
            self._refuse(self._refusal, f"request headers larger than {self.max_header_bytes} bytes")
            return
        super().send_400_response(msg)

    def _refuse(self, status: int, message: str) -> None:
        self._disarm()
        self._awaiting_headers = False
        error = "request_timeout" if status == 408 else "headers_too_large"
        REFUSED.labels("server", error).inc()
        body = orjson.dumps({"error": error, "message": message})
        head = (b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
                b"connection: close\r\n\r\n" % (status, _REASONS[status], len(body)))
        self.transport.write(head + body)
        self.transport.close()


def guarded_protocol(limits: IngressSettings) -> functools.partial:
    """The ``http`` protocol factory for ``uvicorn.run`` (a partial of a module-level class: it pickles, so
    ``--workers N`` hands it to each worker process)."""
    return functools.partial(GuardedHttpToolsProtocol, header_timeout_s=limits.header_timeout_s,
                             max_header_bytes=limits.max_header_bytes)

