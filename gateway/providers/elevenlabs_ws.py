"""ElevenLabs over WebSocket: one socket per line (``stream-input``), or lines sharing sockets
(``multi-stream-input``, :mod:`gateway.providers.elevenlabs_mux`) as ``GATEWAY_ELEVENLABS_WS_MODE`` says.

Our own ``websockets`` client (the SDK's helper forces ``wss``, drops alignment and is sync):

1. connect ``{ws_url}/v1/text-to-speech/{voice}/stream-input?model_id&output_format=pcm_24000&inactivity_timeout``
   with the key in the ``xi-api-key`` handshake header (bounded by ``connect_timeout_s``);
2. send ``{"text": " ", "voice_settings": …}``, then every segment as ``{"text": "<segment> ", "flush": true}``
   (each chunk ends with a space; the flush makes the service generate that segment now), then
   ``{"text": ""}`` (end of input);
3. receive ``{"audio", "alignment", "normalizedAlignment", "isFinal": null}`` messages until
   ``{"isFinal": true}``.

What the messages are and what the replies become: :mod:`gateway.providers.elevenlabs_line` (the same for a shared
socket). A close before ``isFinal`` is an error, classified by the in-band ``{"message", "error", "code"}``
that preceded it or by the close code (1008 ``input_timeout_exceeded``, 1011: retryable).
"""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator
from urllib.parse import quote, urlencode

import structlog
from websockets.asyncio.client import connect
from websockets.exceptions import (
    ConnectionClosed,
    InvalidHandshake,
    InvalidStatus,
    InvalidURI,
)
from websockets.proxy import get_proxy
from websockets.uri import parse_uri

from gateway.core.errors import ErrorKind, ProviderError
from gateway.core.events import FinalEvent, ProviderEvent
from gateway.providers.base import SynthesisRequest
from gateway.providers.elevenlabs_common import (
    OUTPUT_FORMAT,
    SAMPLE_RATE,
    ElevenLabsProvider,
    model_id,
)
from gateway.providers.elevenlabs_errors import classify_http_error, classify_ws_close
from gateway.providers.elevenlabs_line import LineReader, corked, json_messages, line_messages
from gateway.providers.elevenlabs_mux import MultiRefused, MuxPool
from gateway.settings import Settings

log = structlog.get_logger(__name__)

#: Largest message accepted from the service (bytes).
MAX_MESSAGE = 16 * 1024 * 1024
_SECRET_HEADERS = frozenset({"xi-api-key", "authorization"})


class _RedactingLogger(logging.LoggerAdapter):
    """The ``websockets`` logger, minus secrets: its DEBUG level logs every handshake header."""

    def __init__(self, secret: str) -> None:
        super().__init__(logging.getLogger("websockets.client"), {})
        self._secret = secret

    def log(self, level, msg, *args, **kwargs):  # noqa: ANN001, ANN201 - logging signature
        if args:
            redact_next = False
            clean = []
            for arg in args:
                text = arg if isinstance(arg, str) else None
                if redact_next or (text is not None and self._secret and self._secret in text):
                    arg = "***" if text is not None else arg
                redact_next = text is not None and text.lower() in _SECRET_HEADERS
                clean.append(arg)
            args = tuple(clean)
        super().log(level, msg, *args, **kwargs)


class ElevenLabsWsProvider(ElevenLabsProvider):
    name = "elevenlabs_ws"

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        #: The proxy for the WebSocket host (``HTTPS_PROXY``, ``NO_PROXY``, ...), looked up once: websockets would
        #: otherwise read the whole environment again on every connect.
        try:
            self._proxy: str | bool | None = get_proxy(parse_uri(self.settings.elevenlabs.ws_url.rstrip("/") + "/"))
        except InvalidURI:
            self._proxy = True  # connect() reports the bad URL
        el = self.settings.elevenlabs
        #: Shared sockets (``ws_mode = "multi"``); idle ones close well before the service's inactivity timeout.
        self.mux = MuxPool(self.name, self._connect_multi, el.ws_contexts_per_socket,
                           min(el.ws_idle_s, self._inactivity() / 2)) if el.ws_mode == "multi" else None

    def _inactivity(self) -> int:
        return min(180, max(20, math.ceil(self.settings.deadlines.total_timeout_s)))

    def _url(self, voice: str, model: str | None = None, path: str = "stream-input") -> str:
        query = urlencode({"model_id": model or self.settings.elevenlabs.model_id, "output_format": OUTPUT_FORMAT,
                           "inactivity_timeout": self._inactivity()})
        base = self.settings.elevenlabs.ws_url.rstrip("/")
        return f"{base}/v1/text-to-speech/{quote(voice, safe='')}/{path}?{query}"

    async def _connect_multi(self, voice: str, key: str, model: str):  # noqa: ANN202
        return await self._connect(voice, key, model, "multi-stream-input")

    async def _connect(self, voice: str, key: str, model: str | None = None,  # noqa: ANN202
                       path: str = "stream-input"):
        timeout = self.settings.deadlines.connect_timeout_s
        try:
            return await connect(self._url(voice, model, path), additional_headers={"xi-api-key": key},
                                 open_timeout=timeout, max_size=MAX_MESSAGE, close_timeout=2, ping_interval=20,
                                 ping_timeout=20, user_agent_header="mouthpiece", logger=_RedactingLogger(key),
                                 proxy=self._proxy,
                                 compression="deflate" if self.settings.elevenlabs.ws_compression else None)
        except InvalidStatus as exc:
            response = exc.response
            self.account.invalidate_health()
            raise classify_http_error(response.status_code, response.body or b"", response.headers,
                                      provider=self.name, secret=key) from None
        except TimeoutError:
            raise ProviderError(ErrorKind.TIMEOUT, f"websocket not open within the connect timeout ({timeout:g} s)",
                                provider=self.name) from None
        except InvalidURI:
            raise ProviderError(ErrorKind.UNAVAILABLE, "invalid ElevenLabs WebSocket URL", provider=self.name) from None
        except (OSError, InvalidHandshake) as exc:
            raise ProviderError(ErrorKind.RETRYABLE, f"websocket connect failed ({type(exc).__name__})",
                                provider=self.name) from None

    async def stream(self, request: SynthesisRequest) -> AsyncIterator[ProviderEvent]:
        key, voice = self.key_and_voice(request)
        if not request.segments:
            yield FinalEvent({"provider": self.name, "audio_ms": 0, "sample_rate": SAMPLE_RATE})
            return
        model = model_id(self.settings, request.settings)
        if self.mux is not None and self.mux.accepts(model):
            events = self.mux.stream(request, voice, model, key)
            try:
                async for event in events:
                    yield event
                return
            except MultiRefused:
                pass  # refused before any event: this model goes per line from now on
            finally:
                await events.aclose()  # a line left early frees its context now, not when collected
        log.debug("elevenlabs_ws_stream", provider=self.name, voice=voice, segments=len(request.segments))
        ws = await self._connect(voice, key, model)
        line = LineReader(self.name, request, key)
        try:
            try:
                try:
                    with corked(ws):  # the whole input leaves in one TCP segment, not one per message
                        for message in line_messages(request):
                            await ws.send(message)
                except ConnectionClosed:
                    pass  # still read what arrived before the close (an in-band error, usually)
                async for message in json_messages(ws):
                    for event in line.feed(message):
                        yield event
                    if line.final:
                        break
            except ConnectionClosed:
                pass  # classified below from the close frame and the last in-band error
            if not line.final:
                raise classify_ws_close(ws.close_code, ws.close_reason or "", line.last_error, provider=self.name,
                                        secret=key)
            for event in line.finish():
                yield event
        finally:
            await ws.close()

    async def close(self) -> None:
        if self.mux is not None:
            await self.mux.close()
        await super().close()
