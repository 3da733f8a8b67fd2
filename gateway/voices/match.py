"""Which voices match, and which is nearest: the rules behind voice continuity (docs/voices.md).

**Match** (:func:`differences` is empty): same gender, same accent family (``gb`` and ``gb-scotland`` are one
family), and a median pitch within :data:`PITCH_TOLERANCE_SEMITONES` of each other. A trait either voice does
not know is not held against it (cloud voices have no measured pitch). When a line falls to a voice that does
not match the one the listener was hearing, the stream says ``voice_changed``.

**Nearest** (:func:`nearest`): the smallest :func:`distance`, which weighs a different gender above a different
accent family, that above age and pitch; ties go to the voice listed first (the catalogue lists each
provider's voices best first).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from gateway.voices.catalogue import CatalogueVoice, VoiceTraits

#: Two voices whose median F0 differ by more than this many semitones do not match (4 semitones is a ratio
#: of 1.26: e.g. 94 Hz against 119 Hz).
PITCH_TOLERANCE_SEMITONES = 4.0
_AGES = {"young": 0, "middle": 1, "old": 2}

# Distance weights: a gender difference outweighs everything else; an unknown trait costs less than a known
# difference and more than a known match, so a described voice wins over an undescribed one.
GENDER_DIFFERS, GENDER_UNKNOWN = 100.0, 30.0
ACCENT_DIFFERS, ACCENT_VARIANT, ACCENT_UNKNOWN = 12.0, 2.0, 5.0
AGE_STEP, AGE_UNKNOWN = 3.0, 1.0
PITCH_PER_SEMITONE, PITCH_UNKNOWN = 1.0, 2.0


def semitones(a_hz: float, b_hz: float) -> float:
    return 12.0 * abs(math.log2(a_hz / b_hz))


def differences(expected: VoiceTraits, actual: VoiceTraits) -> list[str]:
    """The traits on which ``actual`` does not match ``expected`` (empty: the voices match)."""
    out = []
    if expected.gender and actual.gender and expected.gender != actual.gender:
        out.append("gender")
    if expected.accent_family and actual.accent_family and expected.accent_family != actual.accent_family:
        out.append("accent")
    if expected.pitch_hz and actual.pitch_hz and semitones(expected.pitch_hz, actual.pitch_hz) > \
            PITCH_TOLERANCE_SEMITONES:
        out.append("pitch")
    return out


def distance(target: VoiceTraits, candidate: VoiceTraits) -> float:
    """How far ``candidate`` sounds from ``target`` (0: the same on every known trait)."""
    d = 0.0
    if target.gender and candidate.gender:
        d += GENDER_DIFFERS if target.gender != candidate.gender else 0.0
    elif target.gender:
        d += GENDER_UNKNOWN
    if target.accent and candidate.accent:
        if target.accent_family != candidate.accent_family:
            d += ACCENT_DIFFERS
        elif target.accent != candidate.accent:
            d += ACCENT_VARIANT
    elif target.accent:
        d += ACCENT_UNKNOWN
    if target.age and candidate.age:
        d += AGE_STEP * abs(_AGES[target.age] - _AGES[candidate.age])
    elif target.age:
        d += AGE_UNKNOWN
    if target.pitch_hz and candidate.pitch_hz:
        d += PITCH_PER_SEMITONE * semitones(target.pitch_hz, candidate.pitch_hz)
    elif target.pitch_hz:
        d += PITCH_UNKNOWN
    return d


def nearest(target: VoiceTraits, candidates: Iterable[CatalogueVoice]) -> CatalogueVoice | None:
    """The candidate nearest ``target`` (the first listed among equals); None when there is none."""
    best, best_d = None, math.inf
    for candidate in candidates:
        d = distance(target, candidate.traits)
        if d < best_d:
            best, best_d = candidate, d
    return best


@dataclass(frozen=True, slots=True)
class VoiceChange:
    """The listener hears a voice that does not match the one before: ``reasons`` are the traits that differ."""

    before: CatalogueVoice
    after: CatalogueVoice
    reasons: tuple[str, ...]
    provider: str
    at_ms: int = 0
    segment: int = 0

    def to_dict(self) -> dict:
        return {"from": self.before.to_dict(), "to": self.after.to_dict(), "reasons": list(self.reasons),
                "provider": self.provider, "at_ms": self.at_ms, "segment": self.segment}


@dataclass(frozen=True, slots=True)
class VoicePlan:
    """The voices of one line: the voice asked for (``target``) and the one each provider speaks it with."""

    target: CatalogueVoice | None
    by_provider: dict[str, CatalogueVoice] = field(default_factory=dict)
    #: (provider family, provider voice) -> voice, for lines the cache replays (it names only those two).
    by_family: dict[tuple[str, str], CatalogueVoice] = field(default_factory=dict)

    def change(self, heard: CatalogueVoice | None, now: CatalogueVoice, provider: str, at_ms: int = 0,
               segment: int = 0) -> VoiceChange | None:
        """A :class:`VoiceChange` when ``now`` does not match ``heard`` (what the listener expects)."""
        if heard is None or heard.voice_id == now.voice_id:
            return None
        reasons = differences(heard.traits, now.traits)
        return VoiceChange(heard, now, tuple(reasons), provider, at_ms, segment) if reasons else None
