"""``openai_speech``: any servers of the OpenAI speech API as one provider, a pool with routing, health and breakers.

Two uses (docs/speech-workers.md):

* **speech workers** (``GATEWAY_SPEECH_WORKERS``): ``gateway speech-worker`` processes serve the local engines;
  the chain's ``piper`` and ``kokoro`` are then pools of them under the same names (:meth:`for_engine`);
* **a studio's own server** (``GATEWAY_OPENAI_SPEECH_URLS``): Kokoro-FastAPI, LocalAI, ... as the provider
  ``openai_speech`` (:meth:`from_settings`).

Routing: each line goes to the least loaded healthy server whose breaker allows a call
(:class:`~gateway.upstream.pool.UpstreamPool`); a server that refuses, errs, stalls for ``read_timeout_s`` or drops
the stream is given up for the next one, which continues from the first sentence not yet finished. Only when
every server failed does the chain hear of it (and fail over to the next provider). Health: every
``health_interval_s`` each server's ``GET /v1/models`` (is the model listed, and ready where the server says),
plus a breaker per server fed by call outcomes.

Timing: a server that offers the extension (:mod:`gateway.upstream.speech_api`) gets the whole line as planned
segments in one request and answers NDJSON events with the engine's own phoneme timing; any other server gets
one plain request per sentence (``response_format`` ``pcm`` or ``wav``), and each sentence is force-aligned to its
text (:mod:`gateway.providers.aligned`). Volume and pauses of the plan are applied here for plain servers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import orjson

from gateway.audio.decode import AudioDecodeError, read_wav_header
from gateway.core.errors import ErrorKind, ProviderError, rejected_kind
from gateway.core.events import AudioEvent, ProviderEvent, SegmentEndEvent
from gateway.core.segments import Segment
from gateway.core.voices import HealthState, ProviderHealth, VoiceInfo
from gateway.providers.aligned import AlignedStream, Alignment
from gateway.providers.base import Provider, SynthesisRequest
from gateway.providers.prosody import segment_gain_db, segment_speed
from gateway.settings import Settings, SpeechPoolSettings
from gateway.timing.aligners import Aligner
from gateway.upstream.breaker import ProviderBreaker
from gateway.upstream.member import Upstream, describe, error_body
from gateway.upstream.pool import UpstreamPool
from gateway.upstream.speech_api import (
    EVENTS,
    EXTENSION,
    MODELS_PATH,
    NDJSON,
    SAMPLE_RATE_HEADER,
    SPEECH_PATH,
    VOICES_PATH,
    EventReader,
    final_event,
    segment_body,
)


@dataclass(eq=False)
class SpeechServer(Upstream):
    """One server of the pool, checked by ``GET /v1/models`` for its model."""

    model: str = ""
    headers: dict = field(default_factory=dict)
    timing: bool = False  #: offers the timing extension for this model
    voices: list[tuple[str, str, str, str | None]] = field(default_factory=list)  #: (id, name, language, gender)
    default_voice: str | None = None
    voices_asked: bool = False  #: ``/v1/audio/voices`` asked once (servers without the extension)

    async def check(self, client: httpx.AsyncClient, timeout: float) -> tuple[str | None, dict | None]:
        resp = await client.get(self.url + MODELS_PATH, headers=self.headers, timeout=timeout)
        if resp.status_code != 200:
            return f"models list: HTTP {resp.status_code}", None
        try:
            body = resp.json()
            models = [m for m in body.get("data") or [] if isinstance(m, dict)]
        except (ValueError, AttributeError):
            return "models list is not JSON", None
        info = {"worker_id": (body.get(EXTENSION) or {}).get("worker_id")}
        entry = next((m for m in models if m.get("id") == self.model), None)
        if entry is None and models:
            return f"model {self.model!r} not served (it serves {', '.join(str(m.get('id')) for m in models[:8])})", info
        ext = (entry or {}).get(EXTENSION)
        self.timing = isinstance(ext, dict) and ext.get("timing") == EVENTS
        if not isinstance(ext, dict):
            return None, info
        self.voices = _voices(ext.get("voices")) or self.voices
        self.default_voice = ext.get("default_voice") or self.default_voice
        slots = ext.get("slots")
        if isinstance(slots, int) and slots > 0:
            info.update(slots=slots, queue_depth=max(0, int(ext.get("in_flight") or 0) - slots))
        if ext.get("ready") is False:
            return f"model {self.model!r} not ready: {ext.get('reason') or 'loading'}", info
        return None, info

    async def ask_voices(self, client: httpx.AsyncClient, timeout: float) -> None:
        """Voices of a server without the extension (Kokoro-FastAPI's ``{"voices": [...]}``), once."""
        self.voices_asked = True
        try:
            resp = await client.get(self.url + VOICES_PATH, headers=self.headers, timeout=timeout)
            items = resp.json().get("voices") if resp.status_code == 200 else None
        except (httpx.HTTPError, ValueError, AttributeError):
            return
        self.voices = _voices(items) or self.voices

    def snapshot(self) -> dict:
        return {**super().snapshot(), "model": self.model, "timing": "engine" if self.timing else "aligner",
                "voices": len(self.voices)}


class SpeechPool(UpstreamPool):
    def __init__(self, name: str, model: str, urls: list[str], settings: SpeechPoolSettings) -> None:
        super().__init__(f"speech:{name}", settings.health_interval_s, settings.health_timeout_s)
        self.model = model
        self.settings = settings
        key = settings.api_key.get_secret_value().strip() if settings.api_key is not None else ""
        self.headers = {"Authorization": f"Bearer {key}"} if key else {}
        for url in urls:
            self.add(url)

    def make(self, url: str, source: str) -> SpeechServer:
        s = self.settings
        return SpeechServer(url=url, source=source, model=self.model, headers=self.headers,
                            breaker=ProviderBreaker(f"{self.kind}@{url.split('://', 1)[-1]}", s.breaker_fail_max,
                                                    s.breaker_reset_s))

    async def health_pass(self) -> None:
        await self.probe_all()
        for server in self.workers.values():
            if server.ready and not server.timing and not server.voices_asked:
                await server.ask_voices(self.client(), self.timeout_s)


class ServerFailed(Exception):
    """One server could not serve (part of) the line: ``error`` for the chain, whether it was the server's
    ``fault`` (its breaker counts it), whether another server may ``serve`` it."""

    def __init__(self, error: ProviderError, *, fault: bool, elsewhere: bool = True) -> None:
        super().__init__(error.message)
        self.error, self.fault, self.elsewhere = error, fault, elsewhere


class OpenAISpeechProvider(Provider):
    def __init__(self, settings: Settings, *, name: str, model: str, urls: list[str], pool: SpeechPoolSettings,
                 family: str | None = None, voices: list[str] | None = None, default_voice: str | None = None,
                 response_format: str = "pcm", sample_rate: int = 24000, timing: str = "auto",
                 exact_timing: bool = False, aligner: Aligner | None = None, levelled: bool = False) -> None:
        self.name, self.family, self.model = name, family or name, model
        self.exact_timing = exact_timing
        self.levelled = levelled  # the project's own speech workers level as in-process engines do
        self.pool = SpeechPool(name, model, urls, pool)
        self.settings = settings
        self._voices = list(voices or [])
        self._default_voice = default_voice
        self.response_format, self.sample_rate, self.timing = response_format, sample_rate, timing
        self._alignment = Alignment(aligner, settings.engine_concurrency)
        s, d = pool, settings.deadlines
        self._timeout = httpx.Timeout(connect=s.connect_timeout_s, read=s.read_timeout_s, write=d.connect_timeout_s,
                                      pool=d.connect_timeout_s)

    @classmethod
    def for_engine(cls, engine: str, settings: Settings, aligner: Aligner | None = None) -> "OpenAISpeechProvider":
        """The local engine ``engine`` served by the speech workers, under its own name."""
        return cls(settings, name=engine, model=engine, urls=settings.speech.workers, pool=settings.speech,
                   exact_timing=True, aligner=aligner, levelled=True)

    @classmethod
    def from_settings(cls, settings: Settings, aligner: Aligner | None = None) -> "OpenAISpeechProvider":
        o = settings.openai_speech
        return cls(settings, name="openai_speech", model=o.model, urls=o.urls, pool=o, voices=o.voices,
                   default_voice=o.default_voice, response_format=o.response_format, sample_rate=o.sample_rate,
                   timing=o.timing, aligner=aligner)

    # ---- lifecycle, health, voices --------------------------------------------------------------------------
    async def start(self) -> None:
        await self.pool.health_pass()
        self.pool.start_health_loop()
        if any(not self._timed(s) for s in self.pool.workers.values()):
            await self._alignment.warm_up()

    async def close(self) -> None:
        await self.pool.close_pool()

    async def health(self) -> ProviderHealth:
        servers = list(self.pool.workers.values())
        detail = {"model": self.model, "servers": [s.snapshot() for s in servers]}
        if not servers:
            return ProviderHealth(HealthState.DOWN, "no servers configured", detail)
        down = [f"{s.name}: {s.health()[1]}" for s in servers if not s.healthy]
        if len(down) == len(servers):
            return ProviderHealth(HealthState.DOWN, "no healthy speech server: " + "; ".join(down), detail)
        if down:
            return ProviderHealth(HealthState.DEGRADED, f"{len(down)} of {len(servers)} speech servers down: "
                                  + "; ".join(down), detail)
        return ProviderHealth(HealthState.UP, "", detail)

    def voices(self) -> list[VoiceInfo]:
        """The configured voices, else every voice a server listed (the last lists seen, kept while it is down)."""
        if self._voices:
            return [VoiceInfo(provider=self.name, voice=v, name=v) for v in self._voices]
        seen: dict[str, VoiceInfo] = {}
        for server in self.pool.workers.values():
            for voice, name, language, gender in server.voices:
                seen.setdefault(voice, VoiceInfo(self.name, voice, name, language, gender))
        return list(seen.values())

    def default_voice(self) -> str:
        if self._default_voice:
            return self._default_voice
        told = next((s.default_voice for s in self.pool.workers.values() if s.default_voice), None)
        return told or super().default_voice()

    def _timed(self, server: SpeechServer) -> bool:
        return self.timing == "auto" and server.timing

    # ---- synthesis ------------------------------------------------------------------------------------------
    async def stream(self, request: SynthesisRequest) -> AsyncIterator[ProviderEvent]:
        if not self.pool.workers:
            raise ProviderError(ErrorKind.UNAVAILABLE, "no servers configured", provider=self.name)
        voice = request.voice or self.default_voice()
        remaining = list(request.segments)
        clock = AlignedStream(self.name, self._alignment)  # the stream clock, for both kinds of server
        tried: set[str] = set()
        failures: list[ServerFailed] = []
        stats: dict = {}
        while remaining:
            server = self.pool.pick(tried)
            if server is None:
                raise self._exhausted(failures)
            server.in_flight += 1
            events = self._timed_events(server, request, voice, remaining, clock, stats) if self._timed(server) \
                else self._plain_events(server, request, voice, remaining, clock)
            try:
                try:
                    async for event in events:
                        if isinstance(event, SegmentEndEvent):
                            remaining = [s for s in remaining if s.index > event.segment]
                        yield event
                finally:
                    await events.aclose()
                if remaining:
                    raise ServerFailed(ProviderError(ErrorKind.RETRYABLE, "stream ended before the line was complete",
                                                     provider=self.name), fault=True)
                server.succeeded()
                stats["server"] = server.name
            except ServerFailed as exc:
                failures.append(exc)
                if exc.fault:
                    server.failed(exc.error.kind.value)
                    self.pool.wake()
                if not exc.elsewhere:
                    raise exc.error from None
            finally:
                server.in_flight -= 1
        yield final_event(self.name, clock.samples, clock.rate, {**stats, "servers_tried": len(tried),
                                                                 **({"alignment": clock.methods} if clock.methods
                                                                    else {})})

    def _exhausted(self, failures: list[ServerFailed]) -> ProviderError:
        if not failures:
            why = "; ".join(f"{s.name}: {s.health()[1]}" for s in self.pool.workers.values())
            return ProviderError(ErrorKind.UNAVAILABLE, f"no healthy speech server ({why})", provider=self.name)
        kinds = [f.error.kind for f in failures]
        kind = next((k for k in (ErrorKind.TIMEOUT, ErrorKind.RETRYABLE, ErrorKind.AUTH, ErrorKind.OVERLOADED)
                     if k in kinds), ErrorKind.UNAVAILABLE)
        return ProviderError(kind, f"every speech server failed: {'; '.join(f.error.message for f in failures[-3:])}",
                             provider=self.name, status=failures[-1].error.status)

    def _body(self, text: str, voice: str, speed: float, response_format: str) -> dict:
        return {"model": self.model, "input": text, "voice": voice, "response_format": response_format,
                "speed": round(float(speed), 4)}

    async def _timed_events(self, server: SpeechServer, request: SynthesisRequest, voice: str,
                            remaining: list[Segment], clock: AlignedStream, stats: dict) -> AsyncIterator[ProviderEvent]:
        """The rest of the line in one request to a server with the timing extension."""
        body = self._body(" ".join(s.text for s in remaining), voice, request.settings.speed or 1.0, "pcm")
        body.update(stream_format=EVENTS, segments=[segment_body(s) for s in remaining])
        reader = EventReader(self.name, clock.samples, clock.rate)
        async with self._call(server, orjson.dumps(body)) as resp:
            if not resp.headers.get("content-type", "").startswith(NDJSON):
                server.timing = False  # it said it would; it did not: plain requests from now on
                raise ServerFailed(self._error(ErrorKind.RETRYABLE, "no timing events in the answer"), fault=False)
            buffer = b""
            async for chunk in self._chunks(resp):
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    try:
                        event = reader.event(line) if line else None
                    except ProviderError as exc:
                        raise self._failed(exc) from None
                    if event is not None:
                        if isinstance(event, AudioEvent):
                            clock.samples, clock.rate = reader.base + reader.samples, reader.rate
                        yield event
            if reader.done is None:
                raise ServerFailed(self._error(ErrorKind.RETRYABLE, "event stream ended without done"), fault=True)
            stats.update({k: v for k, v in reader.done.items() if k not in ("provider", "audio_ms", "sample_rate")})

    async def _plain_events(self, server: SpeechServer, request: SynthesisRequest, voice: str,
                            remaining: list[Segment], clock: AlignedStream) -> AsyncIterator[ProviderEvent]:
        """One plain request per sentence; each sentence aligned once its audio is complete."""
        for segment in remaining:
            speed = segment_speed(request.settings.speed, segment)
            body = self._body(segment.text, voice, speed, self.response_format)
            async with self._call(server, orjson.dumps(body)) as resp:
                rate, chunks = await self._audio(resp)
                try:
                    async for event in clock.segment(segment, rate, chunks, segment_gain_db(segment)):
                        yield event
                except ProviderError as exc:
                    raise self._failed(exc) from None

    async def _audio(self, resp: httpx.Response) -> tuple[int, AsyncIterator[bytes]]:
        """The sample rate and PCM chunks of a plain answer (raw PCM, or a WAV stream's samples)."""
        chunks = self._chunks(resp)
        if self.response_format != "wav":
            return int(resp.headers.get(SAMPLE_RATE_HEADER) or self.sample_rate), chunks
        head = b""
        async for chunk in chunks:
            head += chunk
            try:
                found = read_wav_header(head)
            except AudioDecodeError as exc:
                raise ServerFailed(self._error(ErrorKind.RETRYABLE, exc.message), fault=True) from None
            if found is not None:
                return found[0], _prefixed(head[found[1]:], chunks)
        raise ServerFailed(self._error(ErrorKind.RETRYABLE, "answer ended inside the WAV header"), fault=True)

    def _call(self, server: SpeechServer, body: bytes):  # noqa: ANN202 - an async context manager
        return _Call(self, server, body)

    async def _chunks(self, resp: httpx.Response) -> AsyncIterator[bytes]:
        try:
            async for chunk in resp.aiter_raw():
                if chunk:
                    yield chunk
        except httpx.TimeoutException:
            raise ServerFailed(self._error(ErrorKind.TIMEOUT, "server stalled mid-stream"), fault=True) from None
        except httpx.HTTPError as exc:
            raise ServerFailed(self._error(ErrorKind.RETRYABLE, f"connection lost mid-stream ({type(exc).__name__})"),
                               fault=True) from None

    def _error(self, kind: ErrorKind, message: str, status: int | None = None) -> ProviderError:
        return ProviderError(kind, message, provider=self.name, status=status)

    def _failed(self, exc: ProviderError) -> ServerFailed:
        """A classified failure inside a server's answer (an error event, a broken body)."""
        return ServerFailed(exc, fault=exc.kind.counts_on_breaker, elsewhere=exc.kind.fails_over)

    def classify(self, status: int, raw: bytes) -> ServerFailed:
        """An HTTP error answer: OpenAI's ``{"error": {"message", "code", "param"}}`` or Kokoro-FastAPI's
        ``{"detail": {"error", "message"}}``."""
        message, code = _error_text(raw)
        text = f"HTTP {status}: {message or 'error'}"[:300]
        lowered = f"{code} {message}".lower()
        if status in (401, 403):
            return ServerFailed(self._error(ErrorKind.AUTH, text, status), fault=True)
        if status == 429:
            return ServerFailed(self._error(ErrorKind.OVERLOADED, text, status), fault=False)
        if status == 404 or (status in (400, 422) and ("voice" in lowered or "model" in lowered)):
            return ServerFailed(self._error(ErrorKind.UNAVAILABLE, text, status), fault=False)
        if status in (400, 413, 422):  # the line's own cause (too long) is the client's; else fail over
            return ServerFailed(self._error(rejected_kind(status, lowered), text, status), fault=False,
                                elsewhere=False)
        if status == 503:  # not ready, draining: another server, no mark against this one
            return ServerFailed(self._error(ErrorKind.RETRYABLE, text, status), fault=False)
        return ServerFailed(self._error(ErrorKind.RETRYABLE, text, status), fault=True)


class _Call:
    """``POST /v1/audio/speech`` on one server as ``async with``: the answer once its status is 200, else a
    classified :class:`ServerFailed`; transport failures are the server's fault."""

    def __init__(self, provider: OpenAISpeechProvider, server: SpeechServer, body: bytes) -> None:
        self.provider, self.server, self.body = provider, server, body
        self._cm = None

    async def __aenter__(self) -> httpx.Response:
        p = self.provider
        headers = {**self.server.headers, "Content-Type": "application/json"}
        self._cm = p.pool.client().stream("POST", self.server.url + SPEECH_PATH, content=self.body, headers=headers,
                                          timeout=p._timeout)  # noqa: SLF001
        try:
            resp = await self._cm.__aenter__()
        except httpx.ConnectTimeout:
            raise ServerFailed(p._error(ErrorKind.TIMEOUT, "connect timeout"), fault=True) from None  # noqa: SLF001
        except httpx.TimeoutException:
            raise ServerFailed(p._error(ErrorKind.TIMEOUT, "no answer in time"), fault=True) from None  # noqa: SLF001
        except httpx.HTTPError as exc:
            raise ServerFailed(p._error(ErrorKind.RETRYABLE, describe(exc)), fault=True) from None  # noqa: SLF001
        if resp.status_code != 200:
            raw = await error_body(resp)
            await self._cm.__aexit__(None, None, None)
            raise p.classify(resp.status_code, raw)
        return resp

    async def __aexit__(self, *exc: object) -> None:
        await self._cm.__aexit__(*exc)


def _voices(items: object) -> list[tuple[str, str, str, str | None]]:
    """Voices as servers list them: names, or ``{"id", "name", "language", "gender"}`` objects."""
    out = []
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and item.get("id"):
            out.append((str(item["id"]), str(item.get("name") or item["id"]), str(item.get("language") or "en-US"),
                        item.get("gender")))
        elif isinstance(item, str) and item:
            out.append((item, item, "en-US", None))
    return out


async def _prefixed(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    if first:
        yield first
    async for chunk in rest:
        yield chunk


def _error_text(raw: bytes) -> tuple[str, str]:
    """(message, code) of an error body."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw.decode("utf-8", "replace").strip()[:200], ""
    if isinstance(body, dict):
        inner = body.get("error") if isinstance(body.get("error"), dict) else body.get("detail")
        if isinstance(inner, dict):
            code = f"{inner.get('code') or inner.get('error') or ''} {inner.get('param') or ''}".strip()
            return str(inner.get("message") or ""), code
        for key in ("message", "detail", "error"):
            if isinstance(body.get(key), str):
                return body[key], ""
    return str(body)[:200], ""
