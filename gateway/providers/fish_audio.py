"""Fish Audio: cloud TTS over HTTP (msgpack body, raw chunked PCM back) or the live WebSocket.

Wire protocol (``docs/providers-cloud.md``, reference §2c): ``POST {base}/v1/tts`` with
``Authorization: Bearer <key>``, ``model: <backend>`` and an msgpack TTSRequest; the answer is
raw audio bytes, chunked, with no timing. We ask for ``format: pcm`` at :data:`SAMPLE_RATE`
(24 kHz: Fish's voices carry nothing above 12 kHz worth the doubled bytes of 44.1 kHz, the
resampler to the aligner's 16 kHz is cheaper, and 24 kHz is a native rate of every output
format we offer), read with raw httpx streaming so the first bytes reach the chain as they
arrive.

One request per segment (sentence): the chain can fail over at any sentence boundary, and each
sentence's audio is force-aligned to its text (:mod:`gateway.timing.aligners`, in a thread)
as soon as it is complete, giving :class:`AlignmentEvent` (utterance-relative ms) and then
:class:`SegmentEndEvent`. ``transport="ws"`` speaks each segment over ``/v1/tts/live``
(``start``/``text``/``stop`` -> ``audio``*/``finish``) instead: one socket per segment, because
the live API marks no sentence boundaries inside a session.

Errors (HTTP status or WebSocket handshake status):

=========  ==============  ================================================================
401, 403   AUTH            bad key / no access: fail over and alert, breaker opens
402        QUOTA           credit exhausted: fail over, breaker opens, no page
429        OVERLOADED      concurrency cap (Fish sends no Retry-After): fail over now; the
                           provider is healthy, so the breaker stays closed
400, 422   REJECTED        Fish refused a line the gateway validated: no retry, fail over —
413        BAD_REQUEST     but a cause of the line's own (413, "too long") is a 4xx to the client,
                           and an unknown ``reference_id`` (a voice problem, 400 naming the
                           reference, or 404) is UNAVAILABLE: the next provider speaks the line
5xx        RETRYABLE       back off and retry before the first byte, then fail over
network    RETRYABLE/TIMEOUT  connection refused/reset, truncated body; connect/read timeouts
=========  ==============  ================================================================

No key: :meth:`health` is DOWN "no API key" and :meth:`stream` raises UNAVAILABLE. The key is
only ever placed in request headers: never in messages, logs, errors or responses.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from decimal import Decimal, InvalidOperation

import httpx

from gateway.characters import Cast
from gateway.core.errors import ErrorKind, ProviderError, rejected_kind
from gateway.core.events import ProviderEvent
from gateway.core.segments import Segment
from gateway.core.voices import HealthState, ProviderHealth, VoiceInfo
from gateway.providers.aligned import AlignedStream, Alignment
from gateway.providers.base import Provider, SynthesisRequest
from gateway.settings import Settings
from gateway.text.emotions import fish_prosody
from gateway.timing.aligners import Aligner
from gateway.upstream.member import error_body

log = logging.getLogger(__name__)


class _NoCredentials(logging.Filter):
    """Drops websockets' handshake debug lines (they print request headers, the key among them)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            text = record.getMessage()
        except Exception:  # noqa: BLE001
            return False
        return "authorization" not in text.lower()


#: Logger handed to the websockets client: its DEBUG output would include the Authorization header.
_ws_log = logging.getLogger(__name__ + ".ws")
_ws_log.setLevel(logging.INFO)
_ws_log.addFilter(_NoCredentials())

#: PCM sample rate asked of Fish (see the module doc).
SAMPLE_RATE = 24000
#: Credit (USD) below which health reports DEGRADED.
LOW_CREDIT = Decimal("1")
#: Seconds a health result is reused (the credit endpoint is free but not for hammering).
HEALTH_TTL_S = 15.0
USER_AGENT = "mouthpiece-gateway (fish-audio)"
TRANSPORTS = ("http", "ws")
#: Fish Audio backends a request's ``model_id`` may name (the SDK's ``Model`` literal); others keep the setting.
FISH_MODELS = frozenset({"s1", "s1-mini", "s2-pro", "speech-1.5", "speech-1.6"})


def fish_temperature(stability: float | None) -> float:
    """ElevenLabs' ``stability`` as Fish's sampling ``temperature``: 0 -> 0.9, the neutral 0.5 -> 0.7, 1 -> 0.5."""
    if stability is None:
        return 0.7
    return round(0.9 - 0.4 * min(1.0, max(0.0, float(stability))), 3)


class FishAudioProvider(Provider):
    """Fish Audio TTS (``name`` ``fish_audio``, family ``fish``); timings by forced alignment."""

    name = "fish_audio"
    family = "fish"
    levelled = False
    exact_timing = False

    def __init__(self, settings: Settings, *, transport: str | None = None, sample_rate: int | None = None,
                 aligner: Aligner | None = None, latency: str | None = None, cast: Cast | None = None) -> None:
        self.settings = settings
        self.base_url = str(settings.fish.base_url).rstrip("/")
        self.model = settings.fish.model
        self.transport = transport or settings.fish.transport
        if self.transport not in TRANSPORTS:
            raise ValueError(f"fish transport must be one of {TRANSPORTS}, not {self.transport!r}")
        self.sample_rate = int(sample_rate or settings.fish.sample_rate)
        self.latency = latency or settings.fish.latency
        self._key = settings.fish.api_key
        self._alignment = Alignment(aligner, settings.engine_concurrency)
        self._client: httpx.AsyncClient | None = None
        self._client_loop: asyncio.AbstractEventLoop | None = None
        self._health: tuple[float, ProviderHealth] | None = None
        self._voices = self._cast_voices(cast)

    # ---- configuration --------------------------------------------------------------------------------------
    @property
    def configured(self) -> bool:
        return self._key is not None and bool(self._key.get_secret_value().strip())

    def _headers(self, **extra: str) -> dict[str, str]:
        assert self._key is not None
        return {"Authorization": f"Bearer {self._key.get_secret_value().strip()}", "User-Agent": USER_AGENT,
                **extra}

    def _redact(self, text: str) -> str:
        if self._key is not None:
            secret = self._key.get_secret_value().strip()
            if secret:
                text = text.replace(secret, "***")
        return text

    def _cast_voices(self, cast: Cast | None) -> list[VoiceInfo]:
        """The reference voices the cast names for this provider (any other reference id works too)."""
        if cast is None:
            return []
        seen: dict[str, VoiceInfo] = {}
        for character in cast.characters.values():
            ref = character.voices.get(self.name)
            if ref and ref not in seen:
                seen[ref] = VoiceInfo(provider=self.name, voice=ref, name=character.display_name or character.id,
                                      language="en-US", sample_rate=self.sample_rate)
        return list(seen.values())

    def voices(self) -> list[VoiceInfo]:
        return list(self._voices)

    def _client_for_loop(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        if self._client is None or self._client_loop is not loop or self._client.is_closed:
            s = self.settings
            timeout = httpx.Timeout(connect=s.deadlines.connect_timeout_s, read=max(s.deadlines.first_audio_timeout_s,
                                                                          s.deadlines.chunk_gap_timeout_s) + 2.0,
                                    write=10.0, pool=s.deadlines.connect_timeout_s)
            self._client = httpx.AsyncClient(timeout=timeout, follow_redirects=False,
                                             limits=httpx.Limits(max_connections=32, max_keepalive_connections=8))
            self._client_loop = loop
        return self._client

    # ---- lifecycle ------------------------------------------------------------------------------------------
    async def start(self) -> None:
        if self.configured:
            await self._alignment.warm_up()

    async def close(self) -> None:
        if self._client is not None:
            try:
                await self._client.aclose()
            except RuntimeError:  # created on a loop that is gone
                pass
            self._client = None

    # ---- health ---------------------------------------------------------------------------------------------
    async def health(self) -> ProviderHealth:
        if not self.configured:
            return ProviderHealth(HealthState.DOWN, "no API key")
        now = time.monotonic()
        if self._health is not None and now - self._health[0] < HEALTH_TTL_S:
            return self._health[1]
        result = await self._probe()
        self._health = (now, result)
        return result

    async def _probe(self) -> ProviderHealth:
        """``GET /wallet/self/api-credit``: free, and says whether synthesis would be paid for."""
        try:
            resp = await self._client_for_loop().get(f"{self.base_url}/wallet/self/api-credit",
                                                     headers=self._headers(), timeout=self.settings.deadlines.connect_timeout_s
                                                     + 2.0)
        except httpx.TimeoutException:
            return ProviderHealth(HealthState.DOWN, "credit check timed out")
        except httpx.HTTPError as exc:
            return ProviderHealth(HealthState.DOWN, f"unreachable ({type(exc).__name__})")
        if resp.status_code in (401, 403):
            return ProviderHealth(HealthState.DOWN, "API key rejected")
        if resp.status_code == 402:
            return ProviderHealth(HealthState.DOWN, "no API credit left")
        if resp.status_code == 429:
            return ProviderHealth(HealthState.DEGRADED, "rate limited")
        if resp.status_code != 200:
            return ProviderHealth(HealthState.DOWN, f"credit check failed (HTTP {resp.status_code})")
        try:
            credit = Decimal(str(resp.json()["credit"]))
        except (ValueError, KeyError, TypeError, InvalidOperation):
            return ProviderHealth(HealthState.DEGRADED, "credit check returned an unexpected body")
        detail = {"credit": float(credit), "transport": self.transport, "model": self.model}
        if credit <= 0:
            return ProviderHealth(HealthState.DOWN, "no API credit left", detail)
        if credit < LOW_CREDIT:
            return ProviderHealth(HealthState.DEGRADED, f"low API credit ({credit:.2f})", detail)
        return ProviderHealth(HealthState.UP, "", detail)

    # ---- synthesis ------------------------------------------------------------------------------------------
    def tts_request(self, text: str, request: SynthesisRequest, segment: Segment | None = None) -> dict:
        """The TTSRequest body, every field explicit (what the legacy SDK sends).

        Prosody: the voice's speed times the segment's SSML rate and its emotion's hint (speed, volume in dB).
        """
        prosody = segment.prosody if segment is not None else None
        emotion = fish_prosody(prosody.emotion, prosody.intensity) if prosody and prosody.emotion else \
            {"speed": 1.0, "volume": 0.0}
        speed = (request.settings.speed or 1.0) * emotion["speed"] * (prosody.rate if prosody else 1.0)
        volume = emotion["volume"] + (prosody.volume_db if prosody else 0.0)
        return {
            "text": text,
            "chunk_length": 200,
            "format": "pcm",
            "sample_rate": self.sample_rate,
            "mp3_bitrate": 128,
            "opus_bitrate": 32,
            "references": [],
            "reference_id": request.voice or None,
            "normalize": True,
            "latency": self.latency,
            "prosody": None if abs(speed - 1.0) < 1e-6 and abs(volume) < 0.01 else
            {"speed": round(max(0.5, min(2.0, speed)), 3), "volume": round(volume, 2)},
            "top_p": 0.7,
            "temperature": fish_temperature(request.settings.stability),
        }

    def model_for(self, request: SynthesisRequest) -> str:
        """The backend (``model`` header): the request's ``model_id`` when it names a Fish Audio backend."""
        asked = request.settings.model_id
        return asked if asked in FISH_MODELS else self.model

    async def stream(self, request: SynthesisRequest) -> AsyncIterator[ProviderEvent]:
        if not self.configured:
            raise ProviderError(ErrorKind.UNAVAILABLE, "no API key configured", provider=self.name)
        clock = AlignedStream(self.name, self._alignment)
        for segment in request.segments:
            chunks = self._http_audio(segment.text, request, segment) if self.transport == "http" \
                else self._ws_audio(segment.text, request, segment)
            async for event in clock.segment(segment, self.sample_rate, chunks):
                yield event
        yield clock.final(transport=self.transport)

    # ---- HTTP -----------------------------------------------------------------------------------------------
    async def _http_audio(self, text: str, request: SynthesisRequest,
                          segment: Segment | None = None) -> AsyncIterator[bytes]:
        import ormsgpack

        body = ormsgpack.packb(self.tts_request(text, request, segment))
        headers = self._headers(**{"Content-Type": "application/msgpack", "model": self.model_for(request)})
        client = self._client_for_loop()
        try:
            async with client.stream("POST", f"{self.base_url}/v1/tts", content=body, headers=headers) as resp:
                if resp.status_code != 200:
                    raise self._classify(resp.status_code, await error_body(resp))
                async for chunk in resp.aiter_raw():
                    if chunk:
                        yield chunk
        except ProviderError:
            raise
        except httpx.ConnectTimeout:
            raise ProviderError(ErrorKind.TIMEOUT, "connect timeout", provider=self.name) from None
        except httpx.TimeoutException as exc:
            raise ProviderError(ErrorKind.TIMEOUT, f"timed out ({type(exc).__name__})", provider=self.name) from None
        except httpx.HTTPError as exc:
            raise ProviderError(ErrorKind.RETRYABLE, f"connection failed ({type(exc).__name__})",
                                provider=self.name) from None

    # ---- live WebSocket -------------------------------------------------------------------------------------
    def _ws_url(self) -> str:
        base = self.base_url
        if base.startswith("https://"):
            base = "wss://" + base[len("https://"):]
        elif base.startswith("http://"):
            base = "ws://" + base[len("http://"):]
        return f"{base}/v1/tts/live"

    async def _ws_audio(self, text: str, request: SynthesisRequest,
                        segment: Segment | None = None) -> AsyncIterator[bytes]:
        import ormsgpack
        import websockets
        from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

        start = {"event": "start", "request": {**self.tts_request("", request, segment)}}
        try:
            async with websockets.connect(self._ws_url(), additional_headers=self._headers(model=self.model_for(request)),
                                          open_timeout=self.settings.deadlines.connect_timeout_s, max_size=2 ** 24,
                                          ping_interval=None, user_agent_header=USER_AGENT,
                                          logger=_ws_log) as ws:
                await ws.send(ormsgpack.packb(start))
                await ws.send(ormsgpack.packb({"event": "text", "text": text}))
                await ws.send(ormsgpack.packb({"event": "stop"}))
                async for message in ws:
                    if isinstance(message, str):
                        continue
                    try:
                        data = ormsgpack.unpackb(message)
                    except Exception:  # noqa: BLE001
                        raise ProviderError(ErrorKind.RETRYABLE, "undecodable live message",
                                            provider=self.name) from None
                    event = data.get("event") if isinstance(data, dict) else None
                    if event == "audio":
                        audio = data.get("audio")
                        if isinstance(audio, (bytes, bytearray)) and audio:
                            yield bytes(audio)
                    elif event == "finish":
                        if data.get("reason") == "error":
                            raise ProviderError(ErrorKind.RETRYABLE, "live stream finished with an error",
                                                provider=self.name)
                        return
                raise ProviderError(ErrorKind.RETRYABLE, "live stream closed before finish", provider=self.name)
        except ProviderError:
            raise
        except InvalidStatus as exc:
            response = exc.response
            raise self._classify(response.status_code, bytes(response.body or b"")) from None
        except ConnectionClosed as exc:
            raise ProviderError(ErrorKind.RETRYABLE, f"live stream closed (code {exc.rcvd.code if exc.rcvd else 1006})",
                                provider=self.name) from None
        except TimeoutError:
            raise ProviderError(ErrorKind.TIMEOUT, "live connect timeout", provider=self.name) from None
        except (OSError, WebSocketException) as exc:
            raise ProviderError(ErrorKind.RETRYABLE, f"live connection failed ({type(exc).__name__})",
                                provider=self.name) from None

    # ---- errors ---------------------------------------------------------------------------------------------
    def _classify(self, status: int, raw: bytes) -> ProviderError:
        message = _error_message(raw) or f"HTTP {status}"
        message = self._redact(message)[:300]
        if status in (401, 403):
            kind = ErrorKind.AUTH
        elif status == 402:
            kind = ErrorKind.QUOTA
        elif status == 429:
            kind = ErrorKind.OVERLOADED
        elif status == 404 or (status == 400 and "reference" in message.lower()):
            kind = ErrorKind.UNAVAILABLE  # unknown voice: let the next provider speak the line
        elif 400 <= status < 500:
            kind = rejected_kind(status, message)
        else:
            kind = ErrorKind.RETRYABLE
        if kind in (ErrorKind.AUTH, ErrorKind.QUOTA):
            self._health = None  # the next health probe looks again instead of reporting a stale UP
        log.warning("fish_audio error: status=%s kind=%s", status, kind.value)
        return ProviderError(kind, f"HTTP {status}: {message}", provider=self.name, status=status)


def _error_message(raw: bytes) -> str:
    """The human part of a Fish error body: ``{"status","message"}``, ``{"detail"}`` or a 422 array."""
    try:
        body = json.loads(raw.decode("utf-8", "replace"))
    except ValueError:
        return raw.decode("utf-8", "replace").strip()[:200]
    if isinstance(body, dict):
        for key in ("message", "detail"):
            value = body.get(key)
            if isinstance(value, str):
                return value
            if value is not None:
                return json.dumps(value)[:200]
        return ""
    if isinstance(body, list):
        parts = []
        for item in body[:3]:
            if isinstance(item, dict):
                loc = ".".join(str(p) for p in item.get("loc", []) if p != "body")
                parts.append(f"{loc}: {item.get('msg', '')}".strip(": "))
        return "; ".join(parts)
    return str(body)[:200]
