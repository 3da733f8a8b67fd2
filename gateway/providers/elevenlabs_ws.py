"""ElevenLabs over WebSocket (``stream-input``): one socket per line, one flush per segment.

Our own ``websockets`` client (the SDK's helper forces ``wss``, drops alignment and is sync):

1. connect ``{ws_url}/v1/text-to-speech/{voice}/stream-input?model_id&output_format=pcm_24000&inactivity_timeout``
   with the key in the ``xi-api-key`` handshake header (bounded by ``connect_timeout_s``);
2. send ``{"text": " ", "voice_settings": …}``, then every segment as ``{"text": "<segment> ", "flush": true}``
   (each chunk ends with a space; the flush makes the service generate that segment now), then
   ``{"text": ""}`` (end of input);
3. receive ``{"audio", "alignment", "normalizedAlignment", "isFinal": null}`` messages until
   ``{"isFinal": true}``.

Segment boundaries: the service does not say which segment a message belongs to, so the
alignment characters are counted against each segment's non-space characters; when a segment's
characters are all spoken the segment ends (a message that straddles two segments is split at
the first character of the next one). Alignment times are ms relative to each message's audio;
they become stream ms here by adding where that audio starts. Both ``charDurationsMs`` and
``charsDurationsMs`` are accepted.

A close before ``isFinal`` is an error, classified by the in-band ``{"message", "error", "code"}``
that preceded it or by the close code (1008 ``input_timeout_exceeded``, 1011: retryable).
"""

from __future__ import annotations

import json
import logging
import math
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager, suppress
from urllib.parse import quote, urlencode

import orjson
import structlog
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI
from websockets.proxy import get_proxy
from websockets.uri import parse_uri

from gateway.core.errors import ErrorKind, ProviderError
from gateway.core.events import AlignmentEvent, AudioEvent, FinalEvent, ProviderEvent, SegmentEndEvent
from gateway.core.segments import Segment
from gateway.core.timeline import ms_to_samples, samples_to_ms
from gateway.providers.base import SynthesisRequest
from gateway.providers.elevenlabs_common import (
    OUTPUT_FORMAT,
    SAMPLE_RATE,
    CharAlignment,
    ElevenLabsProvider,
    PcmAssembler,
    model_id,
    voice_settings_payload,
    ws_alignment,
)
from gateway.providers.elevenlabs_errors import classify_http_error, classify_ws_close
from gateway.providers.prosody import pause
from gateway.settings import Settings
from gateway.timing.chars import CharTimeline

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


def _speakable(text: str) -> int:
    return sum(1 for ch in text if not ch.isspace())


class _Tracker:
    """Which segment the audio belongs to, and the stream clock (samples at 24 kHz)."""

    def __init__(self, segments: tuple[Segment, ...]) -> None:
        self.segments = segments
        self.position = 0
        self.samples = 0
        self.timeline = CharTimeline(segments[0], start_ms=0)
        self.remaining = _speakable(segments[0].text)
        self.audio_in_segment = False
        self.inserted = 0  #: samples of break silence inserted so far (not in any audio message)
        self._opening_pause = segments[0].break_before_ms > 0

    @property
    def segment(self) -> Segment:
        return self.segments[self.position]

    @property
    def last(self) -> bool:
        return self.position == len(self.segments) - 1

    def now_ms(self) -> int:
        return samples_to_ms(self.samples, SAMPLE_RATE)

    def place(self, pcm: bytes, alignment: CharAlignment | None) -> list[ProviderEvent]:
        """Events for one audio message (split across segments when it straddles a boundary)."""
        events: list[ProviderEvent] = []
        if self._opening_pause:
            self._opening_pause = False
            events.extend(self._pause())
            self.timeline = CharTimeline(self.segment, start_ms=self.now_ms())
        chars = list(zip(alignment.chars, alignment.starts_ms, alignment.ends_ms)) if alignment else []
        total_samples = len(pcm) // 2
        part_start = 0  # sample offset in this message where the current part starts
        part_chars: list[tuple[str, int, int]] = []
        message_start = self.samples
        for ch, start, end in chars:
            if not ch.isspace() and self.remaining <= 0 and not self.last:
                # This character opens the next segment: cut the audio here.
                cut = min(total_samples, max(part_start, ms_to_samples(start, SAMPLE_RATE)))
                events.extend(self._emit_part(pcm[2 * part_start: 2 * cut], part_chars, message_start))
                inserted = self.inserted
                events.extend(self._end_segment())
                message_start += self.inserted - inserted  # a break was inserted inside this message
                part_start, part_chars = cut, []
            part_chars.append((ch, start, end))
            if not ch.isspace():
                self.remaining -= 1
        events.extend(self._emit_part(pcm[2 * part_start:], part_chars, message_start))
        if self.remaining <= 0 and not self.last:
            events.extend(self._end_segment())
        return events

    def _pause(self) -> list[ProviderEvent]:
        """The current segment's ``<break>`` as real silence on this stream's clock."""
        events, added = pause(self.segment, self.samples, SAMPLE_RATE)
        self.samples += added
        self.inserted += added
        return events

    def _emit_part(self, pcm: bytes, chars: list[tuple[str, int, int]], message_start: int) -> list[ProviderEvent]:
        events: list[ProviderEvent] = []
        segment = self.segment
        if pcm:
            events.append(AudioEvent(pcm, SAMPLE_RATE, segment.index, self.now_ms()))
            self.samples += len(pcm) // 2
            self.audio_in_segment = True
        if chars:
            base = samples_to_ms(message_start, SAMPLE_RATE)
            audio_end = self.now_ms()
            starts = [min(audio_end, base + s) for _, s, _ in chars]
            ends = [min(audio_end, base + e) for _, _, e in chars]
            phonemes, words = self.timeline.add([c for c, _, _ in chars], starts, ends)
            if phonemes or words:
                events.append(AlignmentEvent(tuple(phonemes), tuple(words), segment.index))
        return events

    def _end_segment(self) -> list[ProviderEvent]:
        end_ms = self.now_ms()
        events: list[ProviderEvent] = []
        phonemes, words = self.timeline.finish(end_ms)
        if phonemes or words:
            events.append(AlignmentEvent(tuple(phonemes), tuple(words), self.segment.index))
        events.append(SegmentEndEvent(self.segment.index, end_ms))
        if not self.last:
            self.position += 1
            events.extend(self._pause())
            self.timeline = CharTimeline(self.segment, start_ms=self.now_ms())
            self.remaining = _speakable(self.segment.text)
            self.audio_in_segment = False
        else:
            self.position = len(self.segments)  # past the end: nothing left
        return events

    def finish(self) -> list[ProviderEvent]:
        """At ``isFinal``: end the current segment and any the service merged into it."""
        events: list[ProviderEvent] = []
        while self.position < len(self.segments):
            events.extend(self._end_segment())
        return events


@contextmanager
def corked(ws) -> Iterator[None]:  # noqa: ANN001 - a websockets connection
    """Hold the socket's outgoing segments (Linux ``TCP_CORK``) while several messages are written back to back,
    then send them together: fewer segments for both ends to process. Elsewhere: a no-op."""
    sock = ws.transport.get_extra_info("socket") if hasattr(socket, "TCP_CORK") else None
    try:
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
    except (OSError, ValueError):
        sock = None
    try:
        yield
    finally:
        if sock is not None:
            with suppress(OSError, ValueError):  # the connection may already be gone
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 0)


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

    def _url(self, voice: str, model: str | None = None) -> str:
        inactivity = min(180, max(20, math.ceil(self.settings.deadlines.total_timeout_s)))
        query = urlencode({"model_id": model or self.settings.elevenlabs.model_id, "output_format": OUTPUT_FORMAT,
                           "inactivity_timeout": inactivity})
        base = self.settings.elevenlabs.ws_url.rstrip("/")
        return f"{base}/v1/text-to-speech/{quote(voice, safe='')}/stream-input?{query}"

    async def _connect(self, voice: str, key: str, model: str | None = None):  # noqa: ANN202
        timeout = self.settings.deadlines.connect_timeout_s
        try:
            return await connect(self._url(voice, model), additional_headers={"xi-api-key": key}, open_timeout=timeout,
                                 max_size=MAX_MESSAGE, close_timeout=2, ping_interval=20, ping_timeout=20,
                                 user_agent_header="mouthpiece", logger=_RedactingLogger(key), proxy=self._proxy,
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
        log.debug("elevenlabs_ws_stream", provider=self.name, voice=voice, segments=len(request.segments))
        ws = await self._connect(voice, key, model_id(self.settings, request.settings))
        tracker = _Tracker(request.segments)
        pcm_in = PcmAssembler(self.name)
        last_error: dict | None = None
        final = False
        try:
            try:
                init: dict = {"text": " "}
                # Voice settings go in the first message only: the line's emotion (first segment) sets them.
                first = request.segments[0].prosody
                settings_payload = voice_settings_payload(request.settings, first.emotion, first.intensity,
                                                          first.rate)
                if settings_payload:
                    init["voice_settings"] = settings_payload
                try:
                    with corked(ws):  # the whole input leaves in one TCP segment, not one per message
                        await ws.send(json.dumps(init))
                        for segment in request.segments:
                            await ws.send(json.dumps({"text": segment.text.strip() + " ", "flush": True}))
                        await ws.send(json.dumps({"text": ""}))
                except ConnectionClosed:
                    pass  # still read what arrived before the close (an in-band error, usually)
                async for raw in ws:
                    if isinstance(raw, bytes):
                        continue
                    try:
                        message = orjson.loads(raw)
                    except orjson.JSONDecodeError:
                        continue
                    if not isinstance(message, dict):
                        continue
                    if message.get("error") or (message.get("message") and not message.get("audio")):
                        last_error = message
                        continue
                    encoded = message.get("audio")
                    if encoded:
                        pcm = pcm_in.feed_base64(encoded)
                        for event in tracker.place(pcm, ws_alignment(message.get("alignment"))):
                            yield event
                    if message.get("isFinal") is True or message.get("is_final") is True:
                        final = True
                        break
            except ConnectionClosed:
                pass  # classified below from the close frame and the last in-band error
            if not final:
                raise classify_ws_close(ws.close_code, ws.close_reason or "", last_error, provider=self.name,
                                        secret=key)
            if tracker.samples == 0:
                raise ProviderError(ErrorKind.RETRYABLE, "final message before any audio", provider=self.name)
            for event in tracker.finish():
                yield event
            yield FinalEvent({"provider": self.name, "audio_ms": tracker.now_ms(), "sample_rate": SAMPLE_RATE,
                              "characters": sum(len(s.text) for s in request.segments)})
        finally:
            await ws.close()
