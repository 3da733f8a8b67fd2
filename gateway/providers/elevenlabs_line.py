"""One line over the ElevenLabs WebSocket, whether it has a socket of its own (``stream-input``) or one context of
a shared one (``multi-stream-input``, :mod:`gateway.providers.elevenlabs_mux`): the messages that speak it, and the
events its server messages become.

Segment boundaries: the service does not say which segment a message belongs to, so the
alignment characters are counted against each segment's non-space characters; when a segment's
characters are all spoken the segment ends (a message that straddles two segments is split at
the first character of the next one). Alignment times are ms relative to each message's audio;
they become stream ms here by adding where that audio starts. Both ``charDurationsMs`` and
``charsDurationsMs`` are accepted.
"""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager, suppress

import orjson

from gateway.core.errors import ErrorKind, ProviderError
from gateway.core.events import (
    AlignmentEvent,
    AudioEvent,
    FinalEvent,
    ProviderEvent,
    SegmentEndEvent,
)
from gateway.core.segments import Segment
from gateway.core.timeline import ms_to_samples, samples_to_ms
from gateway.providers.base import SynthesisRequest
from gateway.providers.elevenlabs_common import (
    SAMPLE_RATE,
    CharAlignment,
    PcmAssembler,
    voice_settings_payload,
    ws_alignment,
)
from gateway.providers.prosody import pause
from gateway.timing.chars import CharTimeline


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


def line_messages(request: SynthesisRequest, context_id: str | None = None) -> list[str]:
    """What speaks one line: ``{"text": " "}`` with the voice settings (the first segment's emotion sets them),
    every segment as ``{"text": "<segment> ", "flush": true}``, then the end of input: ``{"text": ""}`` on a
    socket of its own, ``close_context`` on a shared one (the service still flushes what it was asked to)."""
    ctx: dict = {"context_id": context_id} if context_id is not None else {}
    init: dict = {"text": " ", **ctx}
    first = request.segments[0].prosody
    settings_payload = voice_settings_payload(request.settings, first.emotion, first.intensity, first.rate)
    if settings_payload:
        init["voice_settings"] = settings_payload
    messages = [json.dumps(init)]
    messages.extend(json.dumps({"text": segment.text.strip() + " ", **ctx, "flush": True})
                    for segment in request.segments)
    messages.append(json.dumps({**ctx, "close_context": True} if ctx else {"text": ""}))
    return messages


class LineReader:
    """One line's server messages -> events: in-band errors kept, audio and alignment placed by :class:`_Tracker`,
    ``isFinal`` noted. The same for a socket of its own and for one context of a shared socket."""

    def __init__(self, provider: str, request: SynthesisRequest, key: str) -> None:
        self.provider = provider
        self.request = request
        self.key = key
        self.tracker = _Tracker(request.segments)
        self.pcm_in = PcmAssembler(provider)
        self.last_error: dict | None = None
        self.final = False

    def feed(self, message: dict) -> list[ProviderEvent]:
        if message.get("error") or (message.get("message") and not message.get("audio")):
            self.last_error = message
            return []
        events: list[ProviderEvent] = []
        encoded = message.get("audio")
        if encoded:
            events = self.tracker.place(self.pcm_in.feed_base64(encoded), ws_alignment(message.get("alignment")))
        if message.get("isFinal") is True or message.get("is_final") is True:
            self.final = True
        return events

    def finish(self) -> list[ProviderEvent]:
        """After ``isFinal``: the last segment ends, then the final event (an error when no audio came)."""
        tracker = self.tracker
        if tracker.samples == 0:
            raise ProviderError(ErrorKind.RETRYABLE, "final message before any audio", provider=self.provider)
        return [*tracker.finish(), FinalEvent({
            "provider": self.provider, "audio_ms": tracker.now_ms(), "sample_rate": SAMPLE_RATE,
            "characters": sum(len(s.text) for s in self.request.segments)})]


async def json_messages(ws) -> AsyncIterator[dict]:  # noqa: ANN001 - a websockets connection
    """The server's JSON object messages (binary frames and anything else skipped), until the socket closes
    (:class:`~websockets.exceptions.ConnectionClosed` for a close that is not clean)."""
    async for raw in ws:
        if isinstance(raw, bytes):
            continue
        try:
            message = orjson.loads(raw)
        except orjson.JSONDecodeError:
            continue
        if isinstance(message, dict):
            yield message
