"""Step 3's voice watch: a ``voice_changed`` status event whenever the line falls to a voice that does not match.

An async-generator filter on the chain's events. The listener expects the line's target voice (the cast's
first choice, or the voice the request named). When a provider starts serving with a voice that does not match
what the listener has been hearing (:func:`gateway.voices.match.differences`: gender, accent family, pitch), the
filter yields ``voice_changed`` right after the chain's ``provider`` event, before that provider's audio, with
both voices and their traits, the reasons, and where in the line the new voice starts. A matching voice passes
silently. The cache names the voice it replays only when its line ends, so a cached line served after a
fail-over is checked then. Every change is kept on the :class:`~gateway.speak.run.LineRun` for the response.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from gateway.core.events import FinalEvent, StatusEvent
from gateway.speak.run import LineRun
from gateway.voices.catalogue import CatalogueVoice


async def watch_voice(events: AsyncIterator, run: LineRun) -> AsyncIterator:
    plan = run.line.voices
    heard = plan.target
    at_ms, segment = 0, 0
    async for event in events:
        voice = None
        if isinstance(event, StatusEvent) and event.code == "provider_switch":
            at_ms, segment = int(event.detail.get("at_ms") or 0), int(event.detail.get("resume_segment") or 0)
        elif isinstance(event, StatusEvent) and event.code == "provider" and event.provider:
            voice = plan.by_provider.get(event.provider)
        elif isinstance(event, FinalEvent) and event.stats.get("source_family"):
            voice = plan.by_family.get((event.stats["source_family"], event.stats.get("source_voice") or ""))
        if voice is None:
            yield event
            continue
        if not isinstance(event, FinalEvent):
            yield event
        run.voice = voice
        change = _changed(run, heard, voice, event, at_ms, segment)
        if change is not None:
            heard = voice
            yield change
        if isinstance(event, FinalEvent):
            yield event


def _changed(run: LineRun, heard: CatalogueVoice | None, voice: CatalogueVoice, event: StatusEvent | FinalEvent,
             at_ms: int, segment: int) -> StatusEvent | None:
    provider = event.provider if isinstance(event, StatusEvent) else str(event.stats.get("provider") or "cache")
    change = run.line.voices.change(heard, voice, provider, at_ms, segment)
    if change is None:
        return None
    run.voice_changes.append(change)
    why = ", ".join(change.reasons)
    return StatusEvent("voice_changed", provider, message=f"voice changed from {change.before.voice_id} to "
                       f"{change.after.voice_id} ({why} differ)", detail=change.to_dict())
