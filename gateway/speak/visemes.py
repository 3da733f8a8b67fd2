"""Step: visemes and curves. Streams get them sentence by sentence; a whole line gets them once at the end.

The mouth comes from the phoneme timeline (:mod:`gateway.lipsync.build`); the face (brows, eyes, cheeks,
smile/frown) from each segment's emotion and emphasis (:mod:`gateway.lipsync.expression`). For a whole line the
two are merged into one set of ARKit curves.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from gateway.core.events import SegmentEndEvent
from gateway.core.timeline import Timeline
from gateway.lipsync.build import LipSyncData, LipSyncStream, build_lipsync
from gateway.lipsync.curves import BlendshapeCurves
from gateway.lipsync.expression import expression_curves, merge_curves, spans_from_segments
from gateway.speak.events import VisemesEvent
from gateway.speak.line import Line
from gateway.speak.run import LineRun


async def stream_visemes(events: AsyncIterator, run: LineRun) -> AsyncIterator:
    """Before each segment end: a :class:`VisemesEvent` for that sentence (when the line asked for visemes)."""
    line = run.line
    lips = LipSyncStream(fps=line.fps, include=("visemes", "azure"))
    last = line.segments[-1].index
    async for event in events:
        if isinstance(event, SegmentEndEvent) and line.visemes:
            start_ms, end_ms = run.segment_times[event.segment]
            final = event.segment == last
            phonemes = [p for p in run.timeline.phonemes if p.start_ms >= start_ms]
            face = expression(line, run.segment_times, start_ms, end_ms, final) if line.blendshapes else None
            yield VisemesEvent(lips.push(phonemes, end_ms, final=final), start_ms, end_ms, face)
        yield event


def line_lipsync(line: Line, timeline: Timeline, segment_times: dict[int, tuple[int, int]]) -> LipSyncData:
    """The whole line's visemes, Azure ids and blendshape curves (mouth and face merged)."""
    include = ("visemes", "azure", "blendshapes") if line.blendshapes else ("visemes", "azure")
    data = build_lipsync(timeline.phonemes, timeline.duration_ms, fps=line.fps, include=include)
    if data.blendshapes is not None:
        face = expression(line, segment_times, 0, timeline.duration_ms, final=True)
        data.blendshapes = merge_curves(data.blendshapes, face)
    return data


def expression(line: Line, segment_times: dict[int, tuple[int, int]], start_ms: int, end_ms: int,
               final: bool) -> BlendshapeCurves:
    """Brows, eyes, cheeks and smile/frown from each segment's emotion and emphasis (ARKit curves)."""
    by_index = {s.index: s for s in line.segments}
    timed = [(by_index[i], t) for i, t in sorted(segment_times.items()) if i in by_index]
    if not timed:  # a whole-line replay (cache, canned): the line's own emotion over all of it
        timed = [(line.segments[-1], (0, end_ms))]
    spans = spans_from_segments([s for s, _ in timed], [t for _, t in timed])
    return expression_curves(spans, end_ms, fps=line.fps, start_ms=start_ms, final=final)
