"""The cast (config/characters.yaml): character -> voice per provider, settings, default emotion, chain."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, Field

from gateway.providers.base import VoiceSettings


class CharacterSettings(BaseModel):
    speed: float = Field(1.0, ge=0.25, le=4.0, description="Speaking rate (1.0 = the voice's own).")
    stability: float | None = Field(None, ge=0, le=1, description="Cloud voices: stability.")
    similarity_boost: float | None = Field(None, ge=0, le=1, description="Cloud voices: similarity boost.")
    style: float | None = Field(None, ge=0, le=1, description="Cloud voices: style exaggeration.")

    def to_voice_settings(self) -> VoiceSettings:
        return VoiceSettings(self.speed, self.stability, self.similarity_boost, self.style)


class Character(BaseModel):
    id: str
    display_name: str = ""
    description: str = ""
    voices: dict[str, str] = Field(default_factory=dict, description="provider -> provider-local voice")
    settings: CharacterSettings = Field(default_factory=CharacterSettings)
    emotion: str = "neutral"
    chain: list[str] | None = None


class Cast(BaseModel):
    characters: dict[str, Character]

    def get(self, character_id: str) -> Character | None:
        return self.characters.get(character_id)

    @property
    def ids(self) -> list[str]:
        return sorted(self.characters)


def load_cast(path: Path) -> Cast:
    raw = yaml.safe_load(Path(path).read_text()) or {}
    chars = {cid: Character(id=cid, **(body or {})) for cid, body in (raw.get("characters") or {}).items()}
    if not chars:
        raise ValueError(f"{path} defines no characters")
    return Cast(characters=chars)
