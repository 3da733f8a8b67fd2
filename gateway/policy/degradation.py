"""Degradation levels: how far from normal service a response is."""

from __future__ import annotations

from enum import StrEnum


class DegradationLevel(StrEnum):
    """Levels from the seed (§10.2). Every response names the level that served it."""

    NORMAL = "normal"  #: the character's first-choice provider served the line
    AUDIO_ONLY = "degraded-1"  #: the GPU video pool is down: audio and visemes, no video
    FALLBACK_PROVIDER = "degraded-2"  #: the primary failed or was slow: a later provider served
    TEXT_ONLY = "degraded-3"  #: every TTS provider is down: text with estimated timings and visemes
    CACHED_ONLY = "offline"  #: only cached or canned audio could be served

    @property
    def rank(self) -> int:
        return list(DegradationLevel).index(self)


#: Providers whose audio is not freshly synthesized for this line.
CACHED_FAMILIES = frozenset({"cache", "canned"})


def level_for(served_by: str | None, first_choice: str | None) -> DegradationLevel:
    """The level of a response from which provider served it."""
    if served_by is None:
        return DegradationLevel.TEXT_ONLY
    if served_by in CACHED_FAMILIES:
        return DegradationLevel.CACHED_ONLY
    if served_by == first_choice:
        return DegradationLevel.NORMAL
    return DegradationLevel.FALLBACK_PROVIDER
