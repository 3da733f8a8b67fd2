"""Which providers speak a line, in which order, with which of their voices (the chain's plan).

The character's chain (or the default) in order, each provider with the character's voice for it; a pinned
voice goes first. While the primary is demoted (slow or failing) the next provider goes first and the primary
right after it, except for one line in :data:`PROBE_EVERY`, which still tries it first so its health signals
refresh and it can come back. :func:`cache_first` puts the first choice's cached line ahead of all of them.
"""

from __future__ import annotations

from collections.abc import Callable

from gateway.characters import Character
from gateway.policy.breakers import ProviderBreaker
from gateway.policy.chain import ChainStep
from gateway.policy.degradation import CACHED_FAMILIES
from gateway.providers.base import Provider

#: While the primary is demoted (slow or failing), one line in this many still tries it first.
PROBE_EVERY = 5


class Router:
    def __init__(self, providers: dict[str, Provider], breakers: dict[str, ProviderBreaker], chain: list[str],
                 demoted: Callable[[], set[str]]) -> None:
        self.providers = providers
        self.breakers = breakers
        self.chain = chain
        self.demoted = demoted
        self._demoted_lines = 0

    def steps(self, character: Character, pinned: tuple[str, str] | None) -> tuple[list[ChainStep], str | None]:
        """The ordered steps for ``character`` (``pinned``: a provider and voice the request named) and the name
        of the first choice among the synthesizing providers."""
        order = list(character.chain or self.chain)
        voices = dict(character.voices)
        if pinned is not None:
            provider, voice = pinned
            order = [provider] + [p for p in order if p != provider]
            voices[provider] = voice
        steps: list[ChainStep] = []
        for name in order:
            provider = self.providers.get(name)
            if provider is None:
                continue
            voice = voices.get(name) or voices.get(provider.family) or provider.default_voice()
            steps.append(ChainStep(provider, voice, self.breakers[name]))
        synthesizers = [s for s in steps if s.provider.family not in CACHED_FAMILIES]
        if (pinned is None and len(synthesizers) > 1 and synthesizers[0].provider.name in self.demoted()
                and not self._probe()):
            slow = synthesizers[0]
            steps.remove(slow)
            steps.insert(steps.index(synthesizers[1]) + 1, slow)
        # The first choice stays the primary even while it is demoted: a line served by the next provider is
        # degraded service, and the cache still answers with the primary's voice.
        return steps, synthesizers[0].provider.name if synthesizers else None

    def _probe(self) -> bool:
        self._demoted_lines += 1
        return self._demoted_lines % PROBE_EVERY == 0

    def cache_first(self, steps: list[ChainStep], first_choice: str | None) -> list[ChainStep]:
        """The cache step that serves the first choice's own cached line, if there is a cache (else nothing)."""
        cache = self.providers.get("cache")
        first = next((s for s in steps if s.provider.name == first_choice), None)
        if cache is None or first is None:
            return []
        return [ChainStep(cache, first.voice, self.breakers["cache"],
                          cache_candidates=((first.provider.family, first.voice),))]
