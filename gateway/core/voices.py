"""Voices and provider health: the shared vocabulary of providers, the chain, the cast and the cache."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum


class HealthState(StrEnum):
    """Health of one provider as it reports it (the breaker adds its own view on top)."""

    UP = "up"
    DEGRADED = "degraded"
    DOWN = "down"


@dataclass(frozen=True, slots=True)
class ProviderHealth:
    state: HealthState
    reason: str = ""
    detail: dict = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class VoiceInfo:
    """A voice one provider serves. ``voice_id`` is ``"<provider>:<voice>"`` across the gateway."""

    provider: str
    voice: str
    name: str
    language: str = "en-US"
    gender: str | None = None
    sample_rate: int | None = None

    @property
    def voice_id(self) -> str:
        return f"{self.provider}:{self.voice}"


@dataclass(frozen=True, slots=True)
class VoiceSettings:
    """Provider-neutral voice settings. Providers map what they support and ignore the rest.

    ``speed`` is honoured by every provider (ElevenLabs and Fish Audio clamp it to their ranges, the local engines
    change their speaking rate); ``stability``, ``similarity_boost``, ``style`` and ``use_speaker_boost`` are
    ElevenLabs' own; ``model_id`` names a vendor model (ElevenLabs ids, or a Fish Audio backend such as ``s1``).
    """

    speed: float = 1.0
    stability: float | None = None
    similarity_boost: float | None = None
    style: float | None = None
    use_speaker_boost: bool | None = None
    model_id: str | None = None
    #: Silence between sentences, (min, max) ms, for the local engines (the character's ``pause_ms``); None: the
    #: gateway's ``GATEWAY_DELIVERY_SENTENCE_PAUSE_MS``.
    pause_ms: tuple[int, int] | None = None

    def key(self) -> str:
        key = f"speed={self.speed:g};stability={self.stability};similarity={self.similarity_boost};style={self.style}"
        # Only when set, so every cache key made before these fields existed stays valid.
        if self.use_speaker_boost is not None:
            key += f";boost={self.use_speaker_boost}"
        if self.model_id is not None:
            key += f";model={self.model_id}"
        if self.pause_ms is not None:
            key += f";pause={self.pause_ms[0]}-{self.pause_ms[1]}"
        return key

    def override(self, **given: object) -> "VoiceSettings":
        """These settings with every field ``given`` a value (not None) replaced: a request's own settings win
        over the character's."""
        return replace(self, **{name: value for name, value in given.items() if value is not None})
