"""The one entry point the pipeline calls: phoneme timeline -> :class:`LipSyncData`.

Stages (one interface each, one file per implementation):

1. :func:`gateway.lipsync.phonemes.normalize`: engine IPA -> :class:`Phone` list;
2. viseme tracks via :func:`gateway.lipsync.phonemes.build_track` and a
   :class:`~gateway.lipsync.phonemes.VisemeSet`: Oculus (``visemes``), Azure (``azure``),
   Rhubarb (``rhubarb``, optional);
3. :func:`gateway.lipsync.curves.sample_curves`: ARKit curves from the Oculus track.

Whole utterance: ``build_lipsync(phonemes, duration_ms)``. Streaming (one call per sentence,
utterance-relative times): :class:`LipSyncStream`, or ``build_lipsync`` with ``start_ms`` and
``final=False``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from gateway.core.timeline import PhonemeSpan
from gateway.lipsync.azure import AzureVisemeSpan, azure_track
from gateway.lipsync.curves import BlendshapeCurves, sample_curves
from gateway.lipsync.oculus import VisemeSpan, viseme_track
from gateway.lipsync.phonemes import normalize
from gateway.lipsync.rhubarb import MouthShapeSpan, rhubarb_track

#: What :func:`build_lipsync` produces unless told otherwise.
DEFAULT_INCLUDE = ("visemes", "azure", "blendshapes")
#: Everything it can produce.
OUTPUTS = frozenset({"visemes", "azure", "blendshapes", "rhubarb"})
#: Silence shorter than this between speech does not close the mouth.
PAUSE_MS = 100
#: How much of the previous segment a stream keeps as coarticulation context.
CONTEXT_MS = 300


@dataclass(slots=True)
class LipSyncData:
    """Lip-sync for ``[start_ms, end_ms]`` of an utterance (utterance ms). Absent outputs are ``None``."""

    start_ms: int
    end_ms: int
    visemes: list[VisemeSpan] | None = None
    azure: list[AzureVisemeSpan] | None = None
    rhubarb: list[MouthShapeSpan] | None = None
    blendshapes: BlendshapeCurves | None = None

    def to_dict(self) -> dict:
        """JSON-ready dict; keys only for the outputs that were built."""
        out: dict = {"start_ms": self.start_ms, "end_ms": self.end_ms}
        if self.visemes is not None:
            out["visemes"] = [s.to_dict() for s in self.visemes]
        if self.azure is not None:
            out["azure_visemes"] = [s.to_dict() for s in self.azure]
        if self.rhubarb is not None:
            out["rhubarb"] = [s.to_dict() for s in self.rhubarb]
        if self.blendshapes is not None:
            out["blendshapes"] = self.blendshapes.to_dict()
        return out


def _check_include(include: Iterable[str]) -> frozenset[str]:
    wanted = frozenset(include)
    unknown = wanted - OUTPUTS
    if unknown:
        raise ValueError(f"unknown lip-sync outputs {sorted(unknown)}; known: {sorted(OUTPUTS)}")
    return wanted


def build_lipsync(
    phonemes: Sequence[PhonemeSpan],
    duration_ms: int | None = None,
    fps: int = 60,
    include: Iterable[str] = DEFAULT_INCLUDE,
    *,
    start_ms: int = 0,
    final: bool = True,
    context: Sequence[VisemeSpan] = (),
) -> LipSyncData:
    """Lip-sync covering ``[start_ms, duration_ms]`` (utterance ms) from an engine phoneme timeline.

    ``duration_ms`` is where the audio ends (defaults to the last phoneme's end); tracks cover
    the window exactly with silence where no phoneme is. For a partial timeline (one sentence
    of a stream) pass ``start_ms`` = where this part's audio starts and ``final=False`` so the
    curves leave the closing frame to the next part; ``context`` = the previous part's last
    Oculus spans, which shape the first frames. ``fps`` is the curve frame rate; the minimum
    span length is one frame (``round(1000 / fps)`` ms).
    """
    if not 1 <= fps <= 1000:
        raise ValueError("fps must be within 1..1000")
    wanted = _check_include(include)
    phones = normalize(phonemes)
    if duration_ms is None:
        duration_ms = max(start_ms, phones[-1].end_ms if phones else start_ms)
    end_ms = max(duration_ms, start_ms)
    min_ms = max(1, round(1000 / fps))
    data = LipSyncData(start_ms, end_ms)
    kw = {"start_ms": start_ms, "min_ms": min_ms, "pause_ms": PAUSE_MS}
    track: list[VisemeSpan] | None = None
    if "visemes" in wanted or "blendshapes" in wanted:
        track = viseme_track(phones, end_ms, **kw)
        if "visemes" in wanted:
            data.visemes = track
    if "azure" in wanted:
        data.azure = azure_track(phones, end_ms, **kw)
    if "rhubarb" in wanted:
        data.rhubarb = rhubarb_track(phones, end_ms, **kw)
    if "blendshapes" in wanted:
        assert track is not None
        ctx = [s for s in context if s.end_ms <= start_ms]
        data.blendshapes = sample_curves(ctx + track, fps, start_ms=start_ms, end_ms=end_ms, final=final)
    return data


class LipSyncStream:
    """Incremental lip-sync for a streamed utterance: one :meth:`push` per segment (sentence).

    Each push covers ``[previous end, end_ms]`` in utterance ms, so consecutive results tile
    the utterance: viseme spans abut and blendshape frames continue the same frame grid
    (``start_frame``) with no duplicate. The previous segment's last spans are kept as
    coarticulation context; the next segment is unknown, so frames just before a boundary do
    not anticipate it (segments end in a pause, where this does not show).
    """

    def __init__(self, fps: int = 60, include: Iterable[str] = DEFAULT_INCLUDE, start_ms: int = 0) -> None:
        self.fps = fps
        self.include = tuple(_check_include(include))
        self.cursor_ms = start_ms
        self._context: list[VisemeSpan] = []

    def push(self, phonemes: Sequence[PhonemeSpan], end_ms: int | None = None, *, final: bool = False) -> LipSyncData:
        """Lip-sync for the next segment; ``final=True`` on the last one adds the closing frame."""
        if end_ms is None:
            end_ms = max([self.cursor_ms] + [p.end_ms for p in phonemes])
        include = set(self.include)
        want_curves = "blendshapes" in include
        if want_curves:
            include.add("visemes")
        data = build_lipsync(phonemes, max(end_ms, self.cursor_ms), self.fps, include,
                             start_ms=self.cursor_ms, final=final, context=self._context)
        if data.visemes:
            self._context = [s for s in self._context + data.visemes if s.end_ms > data.end_ms - CONTEXT_MS]
        if "visemes" not in self.include:
            data.visemes = None
        self.cursor_ms = data.end_ms
        return data
