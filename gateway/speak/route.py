"""Which providers speak a line, in which order, with which of their voices (the chain's plan).

The character's chain (or the default) in order. Each provider speaks with a voice chosen to match the line's
**target** voice (docs/voices.md): the voice the cast names for that provider, else the one nearest the target
by traits in the voice catalogue, else the provider's default. The target is the voice a request named
(:class:`~gateway.speak.voice_ids.VoicePin`; the providers that speak it go first), else the cast's voice for the
first provider. Providers that speak the very same voice (ElevenLabs over WebSocket and REST) are kept next to
each other, so a line changes voice only once every same-voice option is gone.

While the primary is demoted (slow or failing) the next provider goes first and the primary right after it.
Where background trials (:mod:`gateway.policy.trials`) prove a demoted provider, no client line is sent to it first;
otherwise (trials off, or a local engine, which trials leave alone by default) one line in :data:`PROBE_EVERY` still
tries it first so its health signals refresh and it can come back. :func:`cache_first` puts the first choice's cached
line ahead of all of them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from gateway.characters import Character
from gateway.policy.chain import ChainStep
from gateway.policy.degradation import CACHED_FAMILIES
from gateway.providers.base import Provider
from gateway.speak.voice_ids import LiveVoices, VoicePin
from gateway.upstream.breaker import ProviderBreaker
from gateway.voices.catalogue import CatalogueVoice, VoiceCatalogue
from gateway.voices.match import VoicePlan, nearest

#: While the primary is demoted (slow or failing) and no trials prove it, one line in this many still tries it first.
PROBE_EVERY = 5


class Route(NamedTuple):
    steps: list[ChainStep]
    first_choice: str | None  #: the first synthesizing provider (its service is "normal")
    voices: VoicePlan


class Router:
    def __init__(self, providers: dict[str, Provider], breakers: dict[str, ProviderBreaker], chain: list[str],
                 demoted: Callable[[], set[str]], catalogue: VoiceCatalogue | None = None,
                 live: LiveVoices | None = None, probe_every: int = PROBE_EVERY,
                 trialled: Callable[[str], bool] | None = None) -> None:
        self.providers = providers
        self.breakers = breakers
        self.chain = chain
        self.demoted = demoted
        self.catalogue = catalogue or VoiceCatalogue({})
        self.live = live or LiveVoices(providers)
        self._demoted_lines = 0
        self.probe_every = probe_every  #: 0: no probe lines
        #: Whether background trials prove a demoted provider (then no client line probes it).
        self.trialled = trialled or (lambda name: False)

    def steps(self, character: Character, pinned: VoicePin | None = None) -> Route:
        """The ordered steps for ``character`` (``pinned``: a voice the request named), the first choice among
        the synthesizing providers, and the voice each provider speaks the line with."""
        steps, plan = self._voiced_steps(character, pinned)
        synthesizers = [s for s in steps if s.provider.family not in CACHED_FAMILIES]
        if (pinned is None and len(synthesizers) > 1 and synthesizers[0].provider.name in self.demoted()
                and not self._probe(synthesizers[0].provider.name)):
            slow = synthesizers[0]
            steps.remove(slow)
            steps.insert(steps.index(synthesizers[1]) + 1, slow)
        # The first choice stays the primary even while it is demoted: a line served by the next provider is
        # degraded service, and the cache still answers with the primary's voice.
        return Route(steps, synthesizers[0].provider.name if synthesizers else None, plan)

    def voice_plan(self, character: Character, pinned: VoicePin | None = None) -> VoicePlan:
        """The voices a line of ``character`` would be spoken with (no side effect on the probe cadence)."""
        return self._voiced_steps(character, pinned)[1]

    def _voiced_steps(self, character: Character, pinned: VoicePin | None) -> tuple[list[ChainStep], VoicePlan]:
        order = [n for n in (character.chain or self.chain) if n in self.providers]
        # A named voice replaces the character's: explicit voices then come only with the pin (a character's).
        explicit = dict(character.voices if pinned is None else pinned.voices or {})
        if pinned is not None and pinned.providers:
            order = [n for n in pinned.providers if n in self.providers] + [
                n for n in order if n not in pinned.providers]
        synth = [n for n in order if self.providers[n].family not in CACHED_FAMILIES]
        target = pinned.target if pinned is not None and pinned.target is not None else self._target(synth, explicit)
        chosen: dict[str, CatalogueVoice] = {}
        steps: list[ChainStep] = []
        for name in order:
            provider = self.providers[name]
            voice = self._voice(name, provider, explicit, target, pinned)
            if voice is not None:
                chosen[name] = voice
            steps.append(ChainStep(provider, voice.voice if voice is not None else (
                explicit.get(name) or explicit.get(provider.family) or provider.default_voice()),
                self.breakers[name]))
        first = next((chosen.get(n) for n in synth), None)
        plan = VoicePlan(target or first, chosen, {(self.providers[n].family, v.voice): v for n, v in chosen.items()})
        return _same_voices_together(steps), plan

    def _section(self, name: str, provider: Provider) -> str | None:
        return self.catalogue.section_of(name, provider.family)

    def _describe(self, name: str, voice: str) -> CatalogueVoice:
        provider = self.providers.get(name)
        section = (self._section(name, provider) if provider is not None else self.catalogue.section_of(name)) or name
        listed = self.catalogue.get(section, voice)  # most voices are: no need to ask the provider for its list
        if listed is not None:
            return listed
        return self.catalogue.describe(section, voice, self.live.of(name))

    def _target(self, synth: list[str], explicit: dict[str, str]) -> CatalogueVoice | None:
        """The voice a line aims for: the cast's voice for the first provider that has one (in chain order,
        then any other provider the cast names)."""
        for name in synth:
            provider = self.providers[name]
            voice = explicit.get(name) or explicit.get(provider.family)
            if voice:
                return self._describe(name, voice)
        for key, voice in explicit.items():
            if self.catalogue.section_of(key) is not None:
                return self._describe(key, voice)
        return None

    def _voice(self, name: str, provider: Provider, explicit: dict[str, str], target: CatalogueVoice | None,
               pinned: VoicePin | None) -> CatalogueVoice | None:
        """The voice ``provider`` speaks the line with (None: it has no voices to choose from, e.g. the cache)."""
        section = self._section(name, provider)
        if pinned is not None and pinned.target is not None and name in pinned.providers:
            return pinned.target
        given = explicit.get(name) or (explicit.get(section) if section else None) or explicit.get(provider.family)
        if given:
            return self._describe(name, given)
        if section is None:
            return None
        live = self.live.of(name)
        candidates = [self.catalogue.describe(section, v.voice, live) for v in live] or self.catalogue.voices(section)
        if target is not None:
            return nearest(target.traits, candidates)
        default = provider.default_voice()
        return next((c for c in candidates if c.voice == default), candidates[0] if candidates else None)

    def _probe(self, name: str) -> bool:
        if not self.probe_every or self.trialled(name):
            return False
        self._demoted_lines += 1
        return self._demoted_lines % self.probe_every == 0

    def cache_first(self, steps: list[ChainStep], first_choice: str | None) -> list[ChainStep]:
        """The cache step that serves the first choice's own cached line, if there is a cache (else nothing)."""
        cache = self.providers.get("cache")
        first = next((s for s in steps if s.provider.name == first_choice), None)
        if cache is None or first is None:
            return []
        return [ChainStep(cache, first.voice, self.breakers["cache"],
                          cache_candidates=((first.provider.family, first.voice),))]


def _same_voices_together(steps: list[ChainStep]) -> list[ChainStep]:
    """Steps in order, each followed by the later steps that speak the same voice of the same family."""
    out: list[ChainStep] = []
    for step in steps:
        if step in out:
            continue
        out.append(step)
        if step.provider.family in CACHED_FAMILIES:
            continue
        out += [s for s in steps if s not in out and s.provider.family == step.provider.family
                and s.voice == step.voice]
    return out
