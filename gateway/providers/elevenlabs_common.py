"""What the ElevenLabs REST and WebSocket providers share.

* error classification (:mod:`gateway.providers.elevenlabs_errors`);
* alignment parsing (REST seconds per request, WebSocket ms per chunk, both duration spellings);
* the account side: voices (``GET /v1/voices``) and health from ``GET /v1/user/subscription``
  (free: no credits spent), cached;
* request building: voice settings, the API key (never logged, never in a message).
"""

from __future__ import annotations

import asyncio
import binascii
import time
from dataclasses import dataclass
from typing import Any

import httpx
import structlog

from gateway.core import b64
from gateway.core.errors import ErrorKind, ProviderError
from gateway.core.voices import HealthState, ProviderHealth, VoiceInfo, VoiceSettings
from gateway.providers.base import Provider, SynthesisRequest
from gateway.providers.elevenlabs_errors import MAX_ERROR_BODY, classify_http_error
from gateway.settings import Settings
from gateway.text.emotions import elevenlabs_settings

log = structlog.get_logger(__name__)

FAMILY = "elevenlabs"
#: PCM rate we ask for (``output_format=pcm_24000``): what the models generate natively.
SAMPLE_RATE = 24000
OUTPUT_FORMAT = f"pcm_{SAMPLE_RATE}"
#: A healthy probe result is reused this long (seconds)...
HEALTH_TTL_S = 30.0
#: ...an unhealthy one only this long, so a recovered provider is seen as up within seconds.
UNHEALTHY_TTL_S = 2.0
#: Usage share of the character quota above which health is DEGRADED.
QUOTA_DEGRADED_SHARE = 0.8
#: ElevenLabs accepts speed in this range.
SPEED_RANGE = (0.7, 1.2)


def api_key(settings: Settings) -> str | None:
    secret = settings.elevenlabs.api_key
    value = secret.get_secret_value().strip() if secret is not None else ""
    return value or None


def _ttl(health: ProviderHealth) -> float:
    return HEALTH_TTL_S if health.state is HealthState.UP else UNHEALTHY_TTL_S


def model_id(settings: Settings, voice: VoiceSettings) -> str:
    """The ElevenLabs model of a request: the one it names, else ``GATEWAY_ELEVENLABS_MODEL_ID``."""
    return voice.model_id or settings.elevenlabs.model_id


def voice_settings_payload(settings: VoiceSettings, emotion: str | None = None, intensity: float | None = None,
                           rate: float = 1.0) -> dict | None:
    """ElevenLabs ``voice_settings`` for our settings, a segment's emotion and its SSML rate (None: the voice's own).

    The emotion moves stability/style/speed toward its hint (:func:`gateway.text.emotions.elevenlabs_settings`);
    the SSML rate multiplies the speed. Pitch and volume have no ElevenLabs setting and are not rendered.
    """
    out: dict[str, float | bool] = {}
    if settings.stability is not None:
        out["stability"] = min(1.0, max(0.0, float(settings.stability)))
    if settings.similarity_boost is not None:
        out["similarity_boost"] = min(1.0, max(0.0, float(settings.similarity_boost)))
    if settings.style is not None:
        out["style"] = min(1.0, max(0.0, float(settings.style)))
    if settings.use_speaker_boost is not None:
        out["use_speaker_boost"] = bool(settings.use_speaker_boost)
    speed = float(settings.speed or 1.0)
    if abs(speed - 1.0) > 1e-6:
        out["speed"] = speed
    if emotion and emotion != "neutral":
        out = elevenlabs_settings(emotion, intensity, base=out)
    if abs(rate - 1.0) > 1e-6:
        out["speed"] = float(out.get("speed", 1.0)) * rate
    if "speed" in out:
        out["speed"] = round(min(SPEED_RANGE[1], max(SPEED_RANGE[0], float(out["speed"]))), 3)
    return out or None


@dataclass(frozen=True, slots=True)
class CharAlignment:
    chars: list[str]
    starts_ms: list[int]
    ends_ms: list[int]


def rest_alignment(obj: Any) -> CharAlignment | None:
    """REST alignment (``characters``, ``character_start/end_times_seconds``) in ms."""
    if not isinstance(obj, dict):
        return None
    chars = obj.get("characters") or obj.get("chars")
    starts = obj.get("character_start_times_seconds")
    ends = obj.get("character_end_times_seconds")
    if not isinstance(chars, list) or not isinstance(starts, list) or not isinstance(ends, list):
        return None
    n = min(len(chars), len(starts), len(ends))
    try:
        s = [round(float(x) * 1000) for x in starts[:n]]
        e = [round(float(x) * 1000) for x in ends[:n]]
    except (TypeError, ValueError):
        return None
    return CharAlignment([str(c) for c in chars[:n]], s, e)


def ws_alignment(obj: Any) -> CharAlignment | None:
    """WebSocket alignment (``chars``, ``charStartTimesMs``, ``charDurationsMs``/``charsDurationsMs``), ms per chunk."""
    if not isinstance(obj, dict):
        return None
    chars = obj.get("chars") or obj.get("characters")
    starts = obj.get("charStartTimesMs", obj.get("char_start_times_ms"))
    durations = None
    for key in ("charDurationsMs", "charsDurationsMs", "char_durations_ms", "chars_durations_ms"):
        if isinstance(obj.get(key), list):
            durations = obj[key]
            break
    if not isinstance(chars, list) or not isinstance(starts, list) or durations is None:
        return None
    n = min(len(chars), len(starts), len(durations))
    try:
        s = [round(float(x)) for x in starts[:n]]
        e = [st + max(0, round(float(d))) for st, d in zip(s, durations[:n])]
    except (TypeError, ValueError):
        return None
    return CharAlignment([str(c) for c in chars[:n]], s, e)


def http_timeout(settings: Settings) -> httpx.Timeout:
    """Connect/write/pool bounded by ``connect_timeout_s``; reads only by the line's total deadline.

    First-audio and chunk-gap deadlines belong to the chain; the read timeout here is a backstop.
    """
    c = settings.deadlines.connect_timeout_s
    return httpx.Timeout(connect=c, read=max(c, settings.deadlines.total_timeout_s), write=c, pool=c)


class ElevenLabsAccount:
    """Voices and health of one ElevenLabs account (one instance per provider)."""

    def __init__(self, settings: Settings, provider: str) -> None:
        self.settings = settings
        self.provider = provider
        self._client: httpx.AsyncClient | None = None
        self._voices: list[VoiceInfo] = []
        self._health: tuple[float, ProviderHealth] | None = None
        self._health_lock = asyncio.Lock()

    @property
    def key(self) -> str | None:
        return api_key(self.settings)

    def client(self) -> httpx.AsyncClient:
        if self._client is None or self._client.is_closed:
            self._client = httpx.AsyncClient(base_url=self.settings.elevenlabs.base_url.rstrip("/"),
                                             timeout=http_timeout(self.settings), follow_redirects=False,
                                             headers={"accept": "application/json"})
        return self._client

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def headers(self) -> dict[str, str]:
        key = self.key
        return {"xi-api-key": key} if key else {}

    def voices(self) -> list[VoiceInfo]:
        return list(self._voices)

    async def load_voices(self) -> list[VoiceInfo]:
        """``GET /v1/voices`` (best effort: keeps the previous list, empty at first, on any failure)."""
        if not self.key:
            return self.voices()
        try:
            resp = await asyncio.wait_for(self.client().get("/v1/voices", headers=self.headers()),
                                          self.settings.deadlines.connect_timeout_s * 2)
            if resp.status_code != 200:
                log.info("elevenlabs_voices_unavailable", provider=self.provider, status=resp.status_code)
                return self.voices()
            data = resp.json()
        except (httpx.HTTPError, TimeoutError, ValueError) as exc:
            log.info("elevenlabs_voices_unavailable", provider=self.provider, error=type(exc).__name__)
            return self.voices()
        voices = []
        for v in data.get("voices", []) if isinstance(data, dict) else []:
            if not isinstance(v, dict) or not v.get("voice_id"):
                continue
            labels = v.get("labels") if isinstance(v.get("labels"), dict) else {}
            language = "en-US"
            verified = v.get("verified_languages")
            if isinstance(verified, list) and verified and isinstance(verified[0], dict):
                language = verified[0].get("locale") or verified[0].get("language") or language
            voices.append(VoiceInfo(provider=self.provider, voice=str(v["voice_id"]),
                                    name=str(v.get("name") or v["voice_id"]), language=str(language),
                                    gender=labels.get("gender"), sample_rate=SAMPLE_RATE))
        self._voices = voices
        return self.voices()

    async def health(self) -> ProviderHealth:
        """From ``GET /v1/user/subscription`` (no credits spent), cached for :data:`HEALTH_TTL_S`."""
        if not self.key:
            return ProviderHealth(HealthState.DOWN, "no API key (set ELEVENLABS_API_KEY)")
        cached = self._health
        if cached is not None and time.monotonic() - cached[0] < _ttl(cached[1]):
            return cached[1]
        async with self._health_lock:
            cached = self._health
            if cached is not None and time.monotonic() - cached[0] < _ttl(cached[1]):
                return cached[1]
            health = await self._probe()
            self._health = (time.monotonic(), health)
            return health

    def invalidate_health(self) -> None:
        """Forget the cached probe (after an error status, or a success that contradicts a cached 'down')."""
        self._health = None

    async def _probe(self) -> ProviderHealth:
        try:
            resp = await asyncio.wait_for(self.client().get("/v1/user/subscription", headers=self.headers()),
                                          self.settings.deadlines.connect_timeout_s * 2)
        except (httpx.HTTPError, TimeoutError, OSError) as exc:
            return ProviderHealth(HealthState.DOWN, f"unreachable ({type(exc).__name__})")
        if resp.status_code != 200:
            err = classify_http_error(resp.status_code, resp.content[:MAX_ERROR_BODY], resp.headers,
                                      provider=self.provider, secret=self.key)
            if err.kind is ErrorKind.QUOTA:
                return ProviderHealth(HealthState.DOWN, "quota exhausted", {"status": resp.status_code})
            if err.kind is ErrorKind.AUTH:
                return ProviderHealth(HealthState.DOWN, "authentication failed", {"status": resp.status_code})
            return ProviderHealth(HealthState.DOWN, f"subscription check failed: {err.message}",
                                  {"status": resp.status_code})
        try:
            data = resp.json()
            count = int(data["character_count"])
            limit = int(data["character_limit"])
        except (ValueError, KeyError, TypeError):
            return ProviderHealth(HealthState.UP, "subscription without usage figures")
        headroom = max(0, limit - count)
        detail = {"character_count": count, "character_limit": limit, "headroom": headroom,
                  "usage": round(count / limit, 4) if limit else 1.0, "tier": data.get("tier"),
                  "quota_used_ratio": round(count / limit, 4) if limit else 1.0}
        if limit <= 0 or headroom <= 0:
            return ProviderHealth(HealthState.DOWN, "quota exhausted", detail)
        if count > QUOTA_DEGRADED_SHARE * limit:
            return ProviderHealth(HealthState.DEGRADED,
                                  f"quota {100 * count / limit:.0f}% used ({headroom} characters left)", detail)
        return ProviderHealth(HealthState.UP, "", detail)


def context_texts(request, position: int, limit: int = 1000) -> tuple[str, str]:  # noqa: ANN001
    """``previous_text`` / ``next_text`` for ``request.segments[position]`` (for prosody across requests)."""
    segments = request.segments
    seg = segments[position]
    text = request.text or ""
    if text[seg.char_start: seg.char_start + len(seg.text)] == seg.text:
        before = text[: seg.char_start].strip()
        after = text[seg.char_start + len(seg.text):].strip()
    else:
        before = " ".join(s.text for s in segments[:position])
        after = " ".join(s.text for s in segments[position + 1:])
    return before[-limit:], after[:limit]


class PcmAssembler:
    """Base64 PCM s16le chunks -> whole samples (a dangling odd byte waits for the next chunk)."""

    def __init__(self, provider: str = "") -> None:
        self.provider = provider
        self._carry = b""

    def feed_base64(self, encoded: str) -> bytes:
        """Whole samples of one base64 chunk; an undecodable chunk is a transient vendor failure."""
        try:
            return self.feed(b64.decode(encoded))
        except (binascii.Error, ValueError):
            raise ProviderError(ErrorKind.RETRYABLE, "undecodable audio chunk", provider=self.provider) from None

    def feed(self, data: bytes) -> bytes:
        data = self._carry + data
        if len(data) & 1:
            self._carry, data = data[-1:], data[:-1]
        else:
            self._carry = b""
        return data


class ElevenLabsProvider(Provider):
    """What both ElevenLabs transports share: the account (key, voices, quota health) and its lifecycle."""

    family = FAMILY
    levelled = False
    exact_timing = False  #: vendor character times; words and phonemes are derived from them

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.account = ElevenLabsAccount(settings, self.name)

    async def start(self) -> None:
        await self.account.load_voices()

    def key_and_voice(self, request: SynthesisRequest) -> tuple[str, str]:
        """The account key and the voice to speak ``request`` with; unavailable (skip) without either."""
        key = self.account.key
        if not key:
            raise ProviderError(ErrorKind.UNAVAILABLE, "no API key configured", provider=self.name)
        voice = request.voice or self.default_voice()
        if not voice:
            raise ProviderError(ErrorKind.UNAVAILABLE, "no voice (voice list unavailable)", provider=self.name)
        return key, voice

    async def close(self) -> None:
        await self.account.close()

    async def health(self) -> ProviderHealth:
        return await self.account.health()

    def voices(self) -> list[VoiceInfo]:
        return self.account.voices()
