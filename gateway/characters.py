"""The cast (config/characters.yaml): character -> voice per provider, settings per emotion, pronunciations.

Validated when the gateway starts: unknown providers, emotions, Kokoro voices or malformed entries stop
start-up with a message naming the character and the field (:class:`CastError`).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from gateway.core.errors import validation_problems
from gateway.core.voices import VoiceSettings
from gateway.text.emotions import UnknownEmotion, resolve_emotion
from gateway.text.pronunciations import Pronunciation

#: Provider names a character may map a voice for (cloud ids may be any string).
KNOWN_PROVIDERS = frozenset({"piper", "kokoro", "espeak", "elevenlabs", "elevenlabs_ws", "elevenlabs_rest",
                             "fish_audio", "cache", "canned"})


class CastError(ValueError):
    """The cast file is invalid; the message names the character and field."""


class CharacterSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    speed: float = Field(1.0, ge=0.25, le=4.0, description="Speaking rate (1.0 = the voice's own).")
    stability: float | None = Field(None, ge=0, le=1, description="Cloud voices: stability.")
    similarity_boost: float | None = Field(None, ge=0, le=1, description="Cloud voices: similarity boost.")
    style: float | None = Field(None, ge=0, le=1, description="Cloud voices: style exaggeration.")

    def to_voice_settings(self) -> VoiceSettings:
        return VoiceSettings(self.speed, self.stability, self.similarity_boost, self.style)



class Character(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    display_name: str = ""
    description: str = ""
    voices: dict[str, str] = Field(default_factory=dict, description="provider -> provider-local voice")
    settings: CharacterSettings = Field(default_factory=CharacterSettings)
    emotions: dict[str, CharacterSettings] = Field(default_factory=dict,
                                                   description="emotion -> voice settings when speaking with it")
    pronunciations: dict[str, Pronunciation] = Field(default_factory=dict,
                                                     description="word or name -> how this character says it")
    emotion: str = "neutral"
    avatar: str | None = Field(None, description="Default avatar id for video (a request's avatar_id wins).")
    pause_ms: tuple[int, int] | None = Field(None, description="Silence between sentences on local voices, [min, max] "
                                             "ms (unset: GATEWAY_DELIVERY_SENTENCE_PAUSE_MS).")
    chain: list[str] | None = None

    @field_validator("voices")
    @classmethod
    def _providers(cls, voices: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(voices) - KNOWN_PROVIDERS)
        if unknown:
            raise ValueError(f"unknown providers {unknown}; known: {sorted(KNOWN_PROVIDERS)}")
        return voices

    @field_validator("pause_ms")
    @classmethod
    def _pause(cls, value: tuple[int, int] | None) -> tuple[int, int] | None:
        if value is not None and not 0 <= value[0] <= value[1] <= 5000:
            raise ValueError("pause_ms must be [min, max] ms with 0 <= min <= max <= 5000")
        return value

    @field_validator("emotion")
    @classmethod
    def _emotion(cls, value: str) -> str:
        return resolve_emotion(value).value

    @field_validator("emotions")
    @classmethod
    def _emotions(cls, table: dict[str, CharacterSettings]) -> dict[str, CharacterSettings]:
        return {resolve_emotion(name).value: settings for name, settings in table.items()}

    def settings_for(self, emotion: str | None) -> VoiceSettings:
        """Voice settings for a line spoken with ``emotion`` (the character's own per-emotion entry, if any)."""
        chosen = self.emotions.get(resolve_emotion(emotion).value) if emotion else None
        settings = (chosen or self.settings).to_voice_settings()
        return replace(settings, pause_ms=self.pause_ms) if self.pause_ms is not None else settings



class Cast(BaseModel):
    characters: dict[str, Character]

    def get(self, character_id: str) -> Character | None:
        return self.characters.get(character_id)

    @property
    def ids(self) -> list[str]:
        return sorted(self.characters)


def load_cast(path: Path) -> Cast:
    """Read and validate the cast; raises :class:`CastError` with the character and field at fault."""
    try:
        raw = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise CastError(f"{path}: cannot read the cast: {exc}") from None
    entries = raw.get("characters") if isinstance(raw, dict) else None
    if not isinstance(entries, dict) or not entries:
        raise CastError(f"{path}: defines no characters (expected a 'characters:' mapping)")
    characters = {}
    for cid, body in entries.items():
        try:
            characters[cid] = Character(id=cid, **(body or {}))
        except ValidationError as exc:
            raise CastError(f"{path}: character {cid!r}: {validation_problems(exc)}") from None
        except (TypeError, UnknownEmotion) as exc:
            raise CastError(f"{path}: character {cid!r}: {exc}") from None
    return Cast(characters=characters)


def check_voices(cast: Cast, voices_by_provider: dict[str, set[str]]) -> list[str]:
    """Problems with voices a provider can list locally (e.g. a Kokoro voice that is not installed)."""
    problems = []
    for character in cast.characters.values():
        for provider, voice in character.voices.items():
            known = voices_by_provider.get(provider)
            if known and voice not in known:
                problems.append(f"character {character.id!r}: {provider} has no voice {voice!r} "
                                f"(known: {', '.join(sorted(known)[:12])}{', ...' if len(known) > 12 else ''})")
    return problems


