"""The events a speak stream adds to the provider events: lip-sync per sentence, and the line's result.

A client's stream is :data:`StreamEvent`: audio, alignment and segment ends come from the chain (in utterance
time), :class:`VisemesEvent` from the lip-sync step, status and error from the chain and the recipe, and one
:class:`LineFinished` (kind ``final``) or one :class:`~gateway.core.events.ErrorEvent` ends it.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.core.events import AlignmentEvent, AudioEvent, ErrorEvent, EventKind, SegmentEndEvent, StatusEvent
from gateway.lipsync.build import LipSyncData
from gateway.lipsync.curves import BlendshapeCurves
from gateway.speak.result import SpeakResult


@dataclass(frozen=True, slots=True)
class VisemesEvent:
    """Lip-sync for ``start_ms``..``end_ms`` (one finished sentence): visemes, Azure ids, the face's expression."""

    lipsync: LipSyncData
    start_ms: int
    end_ms: int
    #: Brows, eyes, cheeks, smile/frown curves for the same span (when blendshapes were asked for).
    expression: BlendshapeCurves | None = None
    kind: EventKind = EventKind.VISEMES


@dataclass(frozen=True, slots=True)
class LineFinished:
    """The line was spoken completely; ``result`` is what a speak response carries."""

    result: SpeakResult
    kind: EventKind = EventKind.FINAL


StreamEvent = AudioEvent | AlignmentEvent | VisemesEvent | SegmentEndEvent | StatusEvent | ErrorEvent | LineFinished
