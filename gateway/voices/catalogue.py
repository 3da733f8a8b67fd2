"""The voice catalogue (``config/voices.yaml``): each provider's voices and their traits.

Read and validated when the gateway starts (:func:`load_catalogue`; a malformed entry raises
:class:`CatalogueError` naming the section, voice and field). Sections are named like the cast's voices: a
provider name (``kokoro``, ``fish_audio``) or a provider family (``elevenlabs`` serves both ElevenLabs
transports). Within a section, voices are listed best first: when several voices fit a target equally well,
the one listed first wins.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from gateway.core.errors import validation_problems
from gateway.core.voices import VoiceInfo

#: Accent codes: a family (``us``, ``gb``, ``ie``, ``029``...) and an optional regional variant (``gb-scotland``).
ACCENT = re.compile(r"^[a-z0-9]{2,3}(-[a-z0-9]+)?$")
#: Language tags of provider voice lists -> accent, for voices the catalogue does not list.
_LANGUAGE_ACCENTS = {"en-us": "us", "en-gb": "gb", "en-029": "029", "en-ie": "ie", "en-au": "au"}


class CatalogueError(ValueError):
    """The catalogue file is invalid; the message names the section, voice and field."""


class VoiceTraits(BaseModel):
    """What a voice sounds like: the traits voices are matched on (None: not known)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    gender: Literal["female", "male"] | None = Field(None, description="female or male")
    accent: str | None = Field(None, description="accent code: family[-variant], e.g. us, gb, gb-scotland")
    age: Literal["young", "middle", "old"] | None = Field(None, description="age band")
    pitch_hz: float | None = Field(None, gt=40, lt=600, description="median F0 in Hz (measured local voices)")

    @field_validator("accent")
    @classmethod
    def _accent(cls, value: str | None) -> str | None:
        if value is not None and not ACCENT.match(value):
            raise ValueError(f"accent {value!r} is not family[-variant] (e.g. us, gb, gb-scotland)")
        return value

    @property
    def accent_family(self) -> str | None:
        return self.accent.split("-", 1)[0] if self.accent else None

    def to_dict(self) -> dict:
        return {"gender": self.gender, "accent": self.accent, "age": self.age,
                "pitch_hz": round(self.pitch_hz) if self.pitch_hz is not None else None}


class _Entry(VoiceTraits):
    name: str = ""


@dataclass(frozen=True, slots=True)
class CatalogueVoice:
    """One voice of one section: ``voice_id`` is ``section:voice``."""

    section: str
    voice: str
    name: str
    traits: VoiceTraits
    listed: bool = True  #: False when described from a provider's voice list only (not in the catalogue)

    @property
    def voice_id(self) -> str:
        return f"{self.section}:{self.voice}"

    def to_dict(self) -> dict:
        return {"voice_id": self.voice_id, "name": self.name, **self.traits.to_dict()}


class VoiceCatalogue:
    def __init__(self, sections: dict[str, dict[str, CatalogueVoice]]) -> None:
        self.sections = sections

    def voices(self, section: str) -> list[CatalogueVoice]:
        return list(self.sections.get(section, {}).values())

    def get(self, section: str, voice: str) -> CatalogueVoice | None:
        return self.sections.get(section, {}).get(voice)

    def section_of(self, provider: str, family: str = "") -> str | None:
        """The section that lists ``provider``'s voices: its own name, else its family (None: no section)."""
        if provider in self.sections:
            return provider
        return family if family in self.sections else None

    def find(self, voice: str) -> CatalogueVoice | None:
        """A voice by its bare id, in whichever section lists it (the first, in file order)."""
        for section in self.sections.values():
            if voice in section:
                return section[voice]
        return None

    def describe(self, section: str, voice: str, infos: Iterable[VoiceInfo] = ()) -> CatalogueVoice:
        """``voice`` of ``section`` as the catalogue lists it, else from a provider's voice list (gender and
        language only), else with unknown traits."""
        listed = self.get(section, voice)
        if listed is not None:
            return listed
        info = next((i for i in infos if i.voice == voice), None)
        if info is None:
            return CatalogueVoice(section, voice, voice, VoiceTraits(), listed=False)
        gender = info.gender if info.gender in ("female", "male") else None
        accent = _LANGUAGE_ACCENTS.get((info.language or "").lower())
        return CatalogueVoice(section, voice, info.name, VoiceTraits(gender=gender, accent=accent), listed=False)


def load_catalogue(path: Path) -> VoiceCatalogue:
    """Read and validate the catalogue; raises :class:`CatalogueError` with the section, voice and field."""
    try:
        raw = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise CatalogueError(f"{path}: cannot read the voice catalogue: {exc}") from None
    entries = raw.get("voices") if isinstance(raw, dict) else None
    if not isinstance(entries, dict) or not entries:
        raise CatalogueError(f"{path}: defines no voices (expected a 'voices:' mapping of sections)")
    sections: dict[str, dict[str, CatalogueVoice]] = {}
    for section, voices in entries.items():
        if not isinstance(voices, dict) or not voices:
            raise CatalogueError(f"{path}: section {section!r}: expected a mapping of voice id -> traits")
        sections[str(section)] = {}
        for voice, body in voices.items():
            try:
                entry = _Entry(**(body or {}))
            except ValidationError as exc:
                raise CatalogueError(f"{path}: {section}:{voice}: {validation_problems(exc)}") from None
            except TypeError as exc:
                raise CatalogueError(f"{path}: {section}:{voice}: {exc}") from None
            traits = VoiceTraits(**entry.model_dump(exclude={"name"}))
            sections[str(section)][str(voice)] = CatalogueVoice(str(section), str(voice), entry.name or str(voice),
                                                                traits)
    return VoiceCatalogue(sections)
