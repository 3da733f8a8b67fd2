"""Answer bodies of ``POST /v1/audio/speech`` from an engine's events: the audio itself (encoded as it comes),
OpenAI's server-sent events, or the extension's NDJSON events with the engine's timing.

Every body starts from the engine's first event, already in hand: the worker fetches it before it answers, so a
failure before any audio is an HTTP error status, not a broken stream. A failure later ends an NDJSON body with an
``error`` event; audio and SSE bodies have no way to say so and are cut (no chunked terminator), which every
client sees as a truncated answer.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import orjson

from gateway.audio.encode import create_encoder, encode_all
from gateway.audio.formats import OutputFormat
from gateway.core.errors import ProviderError
from gateway.core.events import AudioEvent, ProviderEvent
from gateway.upstream.speech_api import EventWriter


class CutStream(Exception):
    """Raised inside an audio body to drop the connection: the engine failed after audio went out."""


async def _all(first: ProviderEvent, rest: AsyncIterator[ProviderEvent]) -> AsyncIterator[ProviderEvent]:
    yield first
    async for event in rest:
        yield event


async def ndjson_body(first: ProviderEvent, rest: AsyncIterator[ProviderEvent]) -> AsyncIterator[bytes]:
    writer = EventWriter()
    try:
        async for event in _all(first, rest):
            yield writer.line(event)
    except ProviderError as exc:
        yield writer.error(exc.kind, exc.message)


async def _encoded(fmt: OutputFormat, first: ProviderEvent, rest: AsyncIterator[ProviderEvent]) -> AsyncIterator[bytes]:
    encoder = None
    try:
        async for event in _all(first, rest):
            if isinstance(event, AudioEvent):
                encoder = encoder or create_encoder(fmt, event.sample_rate)
                data = encoder.feed(event.pcm)
                if data:
                    yield data
    except ProviderError as exc:
        raise CutStream(exc.message) from None
    if encoder is not None:
        tail = encoder.finish()
        if tail:
            yield tail


async def audio_body(fmt: OutputFormat, first: ProviderEvent, rest: AsyncIterator[ProviderEvent]) -> AsyncIterator[bytes]:
    async for data in _encoded(fmt, first, rest):
        yield data


async def sse_body(fmt: OutputFormat, first: ProviderEvent, rest: AsyncIterator[ProviderEvent],
                   input_chars: int) -> AsyncIterator[bytes]:
    """OpenAI's ``stream_format: "sse"``: ``speech.audio.delta`` events with base64 audio, then
    ``speech.audio.done`` with a usage estimate (characters in, audio bytes out)."""
    out = 0
    async for data in _encoded(fmt, first, rest):
        out += len(data)
        yield b"data: " + orjson.dumps({"type": "speech.audio.delta", "audio": base64.b64encode(data).decode()}) \
            + b"\n\n"
    usage = {"input_tokens": input_chars, "output_tokens": out, "total_tokens": input_chars + out}
    yield b"data: " + orjson.dumps({"type": "speech.audio.done", "usage": usage}) + b"\n\n"


async def whole_file(fmt: OutputFormat, first: ProviderEvent, rest: AsyncIterator[ProviderEvent]) -> bytes:
    """The whole answer at once (``stream: false``): exact WAV sizes, MP3 with its Xing/LAME tag."""
    parts: list[bytes] = []
    rate = 0
    async for event in _all(first, rest):
        if isinstance(event, AudioEvent):
            parts.append(event.pcm)
            rate = event.sample_rate
    return encode_all(b"".join(parts), rate or 24000, fmt)
