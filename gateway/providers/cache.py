"""The cache provider: serves a whole line another provider already synthesized.

The cache is exact-match and whole-line: it can only serve a request that covers the whole
line (nothing spoken yet, ``request.segments[0].index == 0``). Which entries to look for comes
from ``request.cache_candidates``: ``(family, voice)`` pairs in chain order (the voices the
character would get from each provider in its chain). The first candidate with an entry wins.

:func:`store_line` is what the pipeline calls after a provider finished a line on its own.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Iterable

from gateway.cache.base import CachedLine, LineCache
from gateway.cache.key import delivery_key, line_key
from gateway.core.errors import ErrorKind, ProviderError
from gateway.core.events import AlignmentEvent, AudioEvent, FinalEvent, ProviderEvent, SegmentEndEvent
from gateway.core.timeline import Timeline, ms_to_samples, samples_to_ms
from gateway.core.voices import HealthState, ProviderHealth, VoiceInfo, VoiceSettings
from gateway.providers.base import Provider, SynthesisRequest

log = logging.getLogger(__name__)

#: Families whose output is never stored (serving from the cache / canned clips is not synthesis).
NOT_STORED_FAMILIES = frozenset({"cache", "canned"})


class CacheProvider(Provider):
    """Serves cached whole lines. ``chunk_ms`` is the size of the audio chunks it yields.

    The cache is shared with the pipeline (for :func:`store_line`), so closing it is the owner's job.
    """

    name = "cache"
    family = "cache"
    exact_timing = True  # timings are replayed exactly as the source provider produced them

    def __init__(self, cache: LineCache, *, chunk_ms: int = 100) -> None:
        if chunk_ms <= 0:
            raise ValueError("chunk_ms must be positive")
        self.cache = cache
        self.chunk_ms = chunk_ms

    async def lookup(self, request: SynthesisRequest) -> tuple[str, str, str, CachedLine] | None:
        """``(family, voice, key, line)`` of the first candidate with an entry, or ``None``."""
        candidates = _candidates(request.cache_candidates)
        if not candidates:
            return None
        text = request.text or request.joined_text
        delivery = delivery_key(request.segments)
        keys = [line_key(text=text, family=family, voice=voice, settings=request.settings,
                         output_format=request.output_format, delivery=delivery) for family, voice in candidates]
        lines = await asyncio.gather(*(self.cache.get(key) for key in keys))
        for (family, voice), key, line in zip(candidates, keys, lines):
            if line is not None:
                return family, voice, key, line
        return None

    async def stream(self, request: SynthesisRequest) -> AsyncIterator[ProviderEvent]:
        if not request.segments or request.segments[0].index != 0:
            raise ProviderError(ErrorKind.UNAVAILABLE, "cache serves whole lines only (line partly spoken)",
                                provider=self.name)
        found = await self.lookup(request)
        if found is None:
            raise ProviderError(ErrorKind.UNAVAILABLE, "no cached line", provider=self.name)
        family, voice, key, line = found
        segment = request.segments[-1].index
        total_samples = line.num_samples
        chunk_samples = max(1, ms_to_samples(self.chunk_ms, line.sample_rate))
        for pos in range(0, total_samples, chunk_samples):
            end = min(pos + chunk_samples, total_samples)
            yield AudioEvent(pcm=line.pcm[pos * 2:end * 2], sample_rate=line.sample_rate, segment=segment,
                             start_ms=samples_to_ms(pos, line.sample_rate))
        yield AlignmentEvent(phonemes=tuple(line.timeline.phonemes), words=tuple(line.timeline.words),
                             segment=segment)
        duration_ms = samples_to_ms(total_samples, line.sample_rate)
        yield SegmentEndEvent(segment=segment, end_ms=duration_ms)
        yield FinalEvent(stats={
            "provider": self.name,
            "source_provider": line.provider,
            "source_family": family,
            "source_voice": voice,
            "cache_key": key,
            "cache_backend": self.cache.backend,
            "duration_ms": duration_ms,
            "sample_rate": line.sample_rate,
            "cached_at": line.created_at,
        })

    async def health(self) -> ProviderHealth:
        h = await self.cache.health()
        return ProviderHealth(HealthState.UP if h.ok else HealthState.DOWN, h.reason,
                              {"backend": h.backend, **h.detail})

    def voices(self) -> list[VoiceInfo]:
        return []  # it replays other providers' voices


async def store_line(cache: LineCache, *, text: str, family: str, voice: str, settings: VoiceSettings | None,
                     output_format: str, pcm: bytes, sample_rate: int, timeline: Timeline, provider: str,
                     meta: dict | None = None, delivery: str = "") -> str | None:
    """Store one finished line under its key; return the key, or ``None`` when not stored.

    Call it only when a single provider (``provider`` of ``family``, speaking ``voice``) produced
    the whole line. Lines from the cache itself or canned clips, empty audio and failed writes are
    not stored. Never raises.
    """
    if family in NOT_STORED_FAMILIES or not pcm or sample_rate <= 0:
        return None
    try:
        key = line_key(text=text, family=family, voice=voice, settings=settings, output_format=output_format,
                       delivery=delivery)
        line = CachedLine(pcm=bytes(pcm), sample_rate=sample_rate, timeline=timeline, provider=provider,
                          created_at=time.time(), meta={"family": family, "voice": voice, **(meta or {})})
        stored = await cache.put(key, line)
    except Exception as exc:  # noqa: BLE001 - storing is best effort
        log.warning("cache store failed for %s/%s: %s", family, voice, exc)
        return None
    return key if stored else None


def _candidates(raw: Iterable) -> list[tuple[str, str]]:
    seen: set[tuple[str, str]] = set()
    out: list[tuple[str, str]] = []
    for item in raw:
        try:
            family, voice = item
        except (TypeError, ValueError):
            continue
        pair = (str(family), str(voice))
        if pair[0] in NOT_STORED_FAMILIES or pair in seen:
            continue
        seen.add(pair)
        out.append(pair)
    return out
