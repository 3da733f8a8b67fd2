"""Typed stream events.

Providers yield :data:`ProviderEvent` values; the speak recipe adds lip-sync and the result
(:mod:`gateway.speak.events`) and hands :data:`~gateway.speak.events.StreamEvent` values to clients.
Data (audio, alignment, visemes) and status travel as separate kinds. All times are integer milliseconds from utterance start (see :mod:`gateway.core.timeline`), except
inside a provider's own events, where they are relative to that provider's stream start and
the chain re-bases them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from gateway.core.timeline import PhonemeSpan, WordSpan


class EventKind(StrEnum):
    """The kinds of events on a speak stream."""

    AUDIO = "audio"  #: a chunk of PCM s16le mono audio
    ALIGNMENT = "alignment"  #: phoneme and word timings for audio already sent
    VISEMES = "visemes"  #: viseme spans (and optionally blendshape frames) for audio already sent
    SEGMENT_END = "segment_end"  #: a text segment (sentence) was completely spoken
    STATUS = "status"  #: provider switch, degradation level, retries: never data
    ERROR = "error"  #: the stream failed; it ends without a ``final`` event
    FINAL = "final"  #: the stream completed; carries stats


@dataclass(frozen=True, slots=True)
class AudioEvent:
    """PCM s16le mono audio. ``start_ms`` is the chunk's start within the stream."""

    pcm: bytes
    sample_rate: int
    segment: int
    start_ms: int = 0
    kind: EventKind = EventKind.AUDIO

    @property
    def num_samples(self) -> int:
        return len(self.pcm) // 2


@dataclass(frozen=True, slots=True)
class AlignmentEvent:
    """Phoneme and word timings. Provider events: relative to the provider's stream start."""

    phonemes: tuple[PhonemeSpan, ...]
    words: tuple[WordSpan, ...]
    segment: int
    kind: EventKind = EventKind.ALIGNMENT


@dataclass(frozen=True, slots=True)
class SegmentEndEvent:
    """Segment ``segment`` was fully spoken; ``end_ms`` is where its audio ends."""

    segment: int
    end_ms: int
    kind: EventKind = EventKind.SEGMENT_END


@dataclass(frozen=True, slots=True)
class StatusEvent:
    """A change in how the line is served: ``code`` is e.g. ``provider``, ``provider_switch``, ``retry``."""

    code: str
    provider: str | None = None
    degradation_level: str | None = None
    message: str = ""
    detail: dict = field(default_factory=dict)
    kind: EventKind = EventKind.STATUS


@dataclass(frozen=True, slots=True)
class ErrorEvent:
    """The stream failed and ends incomplete."""

    code: str
    message: str
    kind: EventKind = EventKind.ERROR


@dataclass(frozen=True, slots=True)
class FinalEvent:
    """A provider's stream completed. ``stats``: the provider's own figures (audio_ms, sample_rate, voice, and
    what only it knows: the cache key and source of a cached line, a canned clip's text, characters billed)."""

    stats: dict
    kind: EventKind = EventKind.FINAL


#: What a provider's stream yields. A provider's status event (``capacity_wait``: the line waited for cores) is
#: passed on by the chain as it is.
ProviderEvent = AudioEvent | AlignmentEvent | SegmentEndEvent | StatusEvent | FinalEvent
