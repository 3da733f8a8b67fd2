"""Step: keep a freshly synthesized line in the cache, so the next time it is said it costs a lookup."""

from __future__ import annotations

from gateway.cache.base import LineCache
from gateway.cache.key import delivery_key
from gateway.policy.degradation import CACHED_FAMILIES
from gateway.providers.cache import store_line
from gateway.speak.finish import DEFAULT_RATE
from gateway.speak.result import SpeakResult
from gateway.speak.run import LineRun


async def remember(cache: LineCache | None, run: LineRun, result: SpeakResult) -> None:
    """Store the line when one provider made all of it (a fail-over mid-line mixes voices: not stored)."""
    served, line = result.provider, run.line
    if cache is None or not served or served in CACHED_FAMILIES or len(result.outcome.providers_used) != 1:
        return
    step = next(s for s in line.steps if s.provider.name == served)
    await store_line(cache, text=line.text, family=step.provider.family, voice=step.voice, settings=line.settings,
                     output_format=line.output.name, pcm=run.audio.pcm, sample_rate=result.sample_rate or DEFAULT_RATE,
                     timeline=result.timeline, provider=served, delivery=delivery_key(line.segments))
