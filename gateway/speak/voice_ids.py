"""What a request's ``voice_id`` names: one resolver for HTTP and the WebSocket (part of step 1, prepare).

A ``voice_id`` may be, tried in this order:

1. a **character** of the cast (``innkeeper``): that character speaks (when the request names no other);
2. ``provider:voice`` (``kokoro:af_heart``, ``elevenlabs:21m00Tcm4TlvDq8ikWAM``): ``provider`` is a provider of
   this gateway or a section of the voice catalogue; the voice must be one it lists;
3. a bare **voice id**: a voice a provider here lists (``af_heart``), else a vendor id from the catalogue
   (ElevenLabs premade ids such as Rachel ``21m00Tcm4TlvDq8ikWAM``, the cast's Fish Audio ids).

A vendor voice travels: the providers that speak it go first, and every other provider in the chain speaks
the nearest voice it has (:mod:`gateway.voices.match`), so the id works on the embedded default and keeps working
when its vendor fails. When the cast uses that very voice, that character's own voices serve the other providers,
and the character speaks the line unless the request names another. Anything else answers 404 with a hint and
examples of each form.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from gateway.characters import Cast
from gateway.core.errors import InputError
from gateway.core.voices import VoiceInfo
from gateway.providers.base import Provider
from gateway.voices.catalogue import CatalogueVoice, VoiceCatalogue


class LiveVoices:
    """Each provider's voice list, read again at most every ``ttl_s`` (a provider may check files to list them)."""

    def __init__(self, providers: dict[str, Provider], ttl_s: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.providers = providers
        self.ttl_s = ttl_s
        self.clock = clock
        self._lists: dict[str, tuple[float, list[VoiceInfo]]] = {}

    def of(self, name: str) -> list[VoiceInfo]:
        now = self.clock()
        cached = self._lists.get(name)
        if cached is None or now - cached[0] > self.ttl_s:
            provider = self.providers.get(name)
            cached = self._lists[name] = (now, provider.voices() if provider is not None else [])
        return cached[1]

    def all(self) -> list[VoiceInfo]:
        return [v for name in self.providers for v in self.of(name)]


@dataclass(frozen=True, slots=True)
class VoicePin:
    """A voice a request named. ``target`` is the voice asked for (None: a character's own choice);
    ``providers`` speak it as it is (they go first); ``voices`` are explicit voices per provider (a character's)."""

    target: CatalogueVoice | None = None
    providers: tuple[str, ...] = ()
    voices: dict[str, str] | None = None
    character: str | None = None  #: the character a character id names


class VoiceIds:
    def __init__(self, cast: Cast, catalogue: VoiceCatalogue, providers: dict[str, Provider],
                 live: LiveVoices | None = None) -> None:
        self.cast = cast
        self.catalogue = catalogue
        self.providers = providers
        self.live = live or LiveVoices(providers)

    def resolve(self, voice_id: str) -> VoicePin:
        """``voice_id`` -> :class:`VoicePin`; :class:`InputError` 404 with a hint when it names nothing."""
        voice_id = voice_id.strip()
        character = self.cast.get(voice_id)
        if character is not None:
            return VoicePin(voices=dict(character.voices), character=character.id)
        live = self.live.all()
        if ":" in voice_id:
            name, _, voice = voice_id.partition(":")
            pin = self._qualified(name, voice, live)
        else:
            pin = self._bare(voice_id, live)
        if pin is None:
            raise self.unknown(voice_id, live)
        return pin

    def _section(self, provider: str) -> str | None:
        p = self.providers.get(provider)
        return self.catalogue.section_of(provider, p.family if p is not None else "")

    def _qualified(self, name: str, voice: str, live: list[VoiceInfo]) -> VoicePin | None:
        section = self._section(name)
        listed = [v for v in live if v.provider == name and v.voice == voice]
        if listed or (section is not None and self.catalogue.get(section, voice) is not None):
            section = section or name
            target = self.catalogue.describe(section, voice, listed)
            speakers = (name,) if name in self.providers else self._speakers(section)
            return self._pin(target, speakers)
        return None

    def _bare(self, voice: str, live: list[VoiceInfo]) -> VoicePin | None:
        listed = next((v for v in live if v.voice == voice), None)
        if listed is not None:
            section = self._section(listed.provider) or listed.provider
            return self._pin(self.catalogue.describe(section, voice, [listed]), self._speakers(section) or
                             (listed.provider,))
        found = self.catalogue.find(voice)
        if found is None:
            return None
        return self._pin(found, self._speakers(found.section))

    def _speakers(self, section: str) -> tuple[str, ...]:
        """This gateway's providers that speak the voices of ``section``."""
        return tuple(name for name, p in self.providers.items()
                     if self.catalogue.section_of(name, p.family) == section)

    def _pin(self, target: CatalogueVoice, speakers: tuple[str, ...]) -> VoicePin:
        """When a character of the cast speaks with ``target``, its own voices serve the other providers (and it
        speaks the line when the request names no character, as the WebSocket cannot)."""
        for character in self.cast.characters.values():
            if character.voices.get(target.section) == target.voice:
                return VoicePin(target, speakers, dict(character.voices), character.id)
        return VoicePin(target, speakers)

    def unknown(self, voice_id: str, live: list[VoiceInfo]) -> InputError:
        vendors = self.catalogue.voices("elevenlabs")[:2] + self.catalogue.voices("fish_audio")[:1]
        firsts = {v.provider: v.voice_id for v in reversed(live)}  # each provider's first voice
        examples = {"character": self.cast.ids,
                    "provider_voice": list(reversed(firsts.values()))[:3] + [v.voice_id for v in vendors[:1]],
                    "vendor_id": [f"{v.voice} ({v.name})" for v in vendors]}
        hint = ("A voice_id is a character id (" + ", ".join(examples["character"]) + "), provider:voice ("
                + ", ".join(examples["provider_voice"]) + ") or a vendor voice id ("
                + ", ".join(examples["vendor_id"]) + "); GET /api/avatar/voices lists them all.")
        return InputError(404, f"Unknown voice_id {voice_id!r}. {hint}", hint=hint, examples=examples,
                          valid=sorted(v.voice_id for v in live))
