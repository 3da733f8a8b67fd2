"""ElevenLabs over HTTP: one streaming request per segment, audio with character alignment.

Per segment: ``POST {base}/v1/text-to-speech/{voice}/stream/with-timestamps?output_format=pcm_24000``
with ``previous_text``/``next_text`` (so sentences are stitched with natural prosody) and the
request's voice settings. The response is newline-delimited JSON, one object per chunk:
``audio_base64`` (PCM s16le mono 24 kHz) and ``alignment`` (characters with start/end seconds
from the start of *that request's* audio). Seconds become stream milliseconds here, at the
boundary, by adding where the segment's audio starts in this provider's stream; characters
become words and phonemes through :mod:`gateway.timing.chars`.

Raw ``httpx`` (no vendor SDK, no retries of our own: the chain is the one retry loop).
``connect_timeout_s`` bounds the TCP connect and the wait for the response status line; the
first-audio and chunk-gap deadlines are the chain's.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import quote

import httpx
import structlog

from gateway.core.errors import ErrorKind, ProviderError
from gateway.core.events import AlignmentEvent, AudioEvent, FinalEvent, ProviderEvent, SegmentEndEvent
from gateway.core.timeline import samples_to_ms
from gateway.providers.base import SynthesisRequest
from gateway.providers.elevenlabs_common import (
    OUTPUT_FORMAT,
    SAMPLE_RATE,
    ElevenLabsProvider,
    PcmAssembler,
    context_texts,
    rest_alignment,
    model_id,
    voice_settings_payload,
)
from gateway.providers.elevenlabs_errors import MAX_ERROR_BODY, classify_http_error
from gateway.providers.prosody import pause
from gateway.timing.chars import CharTimeline
from gateway.upstream.member import error_body

log = structlog.get_logger(__name__)


class ElevenLabsRestProvider(ElevenLabsProvider):
    name = "elevenlabs_rest"


    async def stream(self, request: SynthesisRequest) -> AsyncIterator[ProviderEvent]:
        key, voice = self.key_and_voice(request)
        client = self.account.client()
        path = f"/v1/text-to-speech/{quote(voice, safe='')}/stream/with-timestamps"
        samples = 0
        characters = 0
        log.debug("elevenlabs_rest_stream", provider=self.name, voice=voice, segments=len(request.segments))
        for position, segment in enumerate(request.segments):
            silence, added = pause(segment, samples, SAMPLE_RATE)
            for event in silence:
                yield event
            samples += added
            body: dict = {"text": segment.text, "model_id": model_id(self.settings, request.settings)}
            settings_payload = voice_settings_payload(request.settings, segment.prosody.emotion,
                                                      segment.prosody.intensity, segment.prosody.rate)
            if settings_payload:
                body["voice_settings"] = settings_payload
            previous_text, next_text = context_texts(request, position)
            if previous_text:
                body["previous_text"] = previous_text
            if next_text:
                body["next_text"] = next_text
            characters += len(segment.text)
            seg_start_ms = samples_to_ms(samples, SAMPLE_RATE)
            timeline = CharTimeline(segment, start_ms=seg_start_ms)
            pcm_in = PcmAssembler(self.name)
            got_audio = False
            async with self._open(client, path, body, key) as response:
                async for obj in self._objects(response):
                    encoded = obj.get("audio_base64")
                    if encoded:
                        pcm = pcm_in.feed_base64(encoded)
                        if pcm:
                            yield AudioEvent(pcm, SAMPLE_RATE, segment.index, samples_to_ms(samples, SAMPLE_RATE))
                            samples += len(pcm) // 2
                            got_audio = True
                    alignment = rest_alignment(obj.get("alignment"))
                    if alignment is not None and alignment.chars:
                        audio_end = samples_to_ms(samples, SAMPLE_RATE)
                        starts = [min(audio_end, seg_start_ms + s) for s in alignment.starts_ms]
                        ends = [min(audio_end, seg_start_ms + e) for e in alignment.ends_ms]
                        phonemes, words = timeline.add(alignment.chars, starts, ends)
                        if phonemes or words:
                            yield AlignmentEvent(tuple(phonemes), tuple(words), segment.index)
            if not got_audio:
                raise ProviderError(ErrorKind.RETRYABLE, "response carried no audio", provider=self.name)
            end_ms = samples_to_ms(samples, SAMPLE_RATE)
            phonemes, words = timeline.finish(end_ms)
            if phonemes or words:
                yield AlignmentEvent(tuple(phonemes), tuple(words), segment.index)
            yield SegmentEndEvent(segment.index, end_ms)
        yield FinalEvent({"provider": self.name, "audio_ms": samples_to_ms(samples, SAMPLE_RATE),
                          "sample_rate": SAMPLE_RATE, "characters": characters,
                          "requests": len(request.segments)})

    @asynccontextmanager
    async def _open(self, client: httpx.AsyncClient, path: str, body: dict, key: str):
        """POST and wait for the status line (bounded by ``connect_timeout_s``); errors are classified."""
        req = client.build_request("POST", path, params={"output_format": OUTPUT_FORMAT}, json=body,
                                   headers={"xi-api-key": key, "accept": "application/json"})
        timeout = self.settings.deadlines.connect_timeout_s
        try:
            response = await asyncio.wait_for(client.send(req, stream=True), timeout)
        except (TimeoutError, httpx.TimeoutException):
            raise ProviderError(ErrorKind.TIMEOUT, f"no response within the connect timeout ({timeout:g} s)",
                                provider=self.name) from None
        except httpx.HTTPError as exc:
            raise ProviderError(ErrorKind.RETRYABLE, f"connection failed ({type(exc).__name__})",
                                provider=self.name) from None
        try:
            if response.status_code != 200:
                content = await error_body(response, MAX_ERROR_BODY)
                self.account.invalidate_health()
                raise classify_http_error(response.status_code, content, response.headers,
                                          provider=self.name, secret=key)
            yield response
        finally:
            await response.aclose()

    async def _objects(self, response: httpx.Response) -> AsyncIterator[dict]:
        """The NDJSON objects of a response (blank and unparsable lines skipped, as the SDK does)."""
        try:
            async for line in response.aiter_lines():
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except ValueError:
                    continue
                if isinstance(obj, dict):
                    yield obj
        except httpx.TimeoutException:
            raise ProviderError(ErrorKind.TIMEOUT, "read timed out mid-stream", provider=self.name) from None
        except httpx.HTTPError as exc:
            raise ProviderError(ErrorKind.RETRYABLE, f"connection lost mid-stream ({type(exc).__name__})",
                                provider=self.name) from None
