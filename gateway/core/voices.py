"""Voices and provider health: the shared vocabulary of providers, the chain, the cast and the cache."""

from __future__ import annotations

from dataclasses import dataclass, field
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
    """Provider-neutral voice settings. Providers map what they support and ignore the rest."""

    speed: float = 1.0
    stability: float | None = None
    similarity_boost: float | None = None
    style: float | None = None

    def key(self) -> str:
        return f"speed={self.speed:g};stability={self.stability};similarity={self.similarity_boost};style={self.style}"
