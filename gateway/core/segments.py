"""A line's segments and their delivery: the unit every provider synthesizes."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Prosody:
    """How a segment is spoken, relative to the voice's own delivery (from SSML or the request's emotion)."""

    rate: float = 1.0  #: speaking-rate multiplier (on top of the voice settings' speed)
    volume_db: float = 0.0  #: gain in dB
    pitch_semitones: float = 0.0  #: pitch shift (providers that cannot shift pitch ignore it)
    emphasis: str | None = None  #: SSML emphasis level: strong, moderate, reduced
    emotion: str | None = None  #: emotion name from gateway.text.emotions, or None for the line's
    intensity: float = 1.0  #: emotion intensity 0..1


NEUTRAL = Prosody()


@dataclass(frozen=True, slots=True)
class Segment:
    """A piece of the request text that is synthesized as a unit (a sentence or a clause)."""

    index: int
    text: str
    char_start: int  #: offset of ``text`` in the cleaned request text
    prosody: Prosody = NEUTRAL  #: delivery of this segment
    break_before_ms: int = 0  #: silence inserted before this segment (SSML ``<break>``)
    #: IPA for spans of ``text`` (SSML ``<phoneme>``, character pronunciations): (start, end, ipa), segment offsets.
    ipa: tuple[tuple[int, int, str], ...] = ()
