"""Step: the line's timeline (phonemes, words, where each sentence's audio lies) from the chain's events.

Word offsets are mapped onto the text as written (subtitles show what the client sent, not the normalized
text), except for a canned clip, whose words index the clip's own text.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from gateway.core.events import AlignmentEvent, SegmentEndEvent
from gateway.speak.run import LineRun


async def track_timeline(events: AsyncIterator, run: LineRun) -> AsyncIterator:
    segment_start_ms = 0
    async for event in events:
        if isinstance(event, AlignmentEvent):
            run.timeline.extend(list(event.phonemes), list(event.words))
            words = list(event.words) if run.serving == "canned" else run.line.display_words(list(event.words))
            event = AlignmentEvent(event.phonemes, tuple(words), event.segment)
        elif isinstance(event, SegmentEndEvent):
            run.timeline.duration_ms = max(run.timeline.duration_ms, event.end_ms)
            run.segment_times[event.segment] = (segment_start_ms, event.end_ms)
            segment_start_ms = event.end_ms
        yield event
