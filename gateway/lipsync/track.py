"""Viseme tracks for any vocabulary: the shared timing rules, and the generic span and vocabulary types.

A vocabulary (Oculus, Azure, Rhubarb) implements :class:`VisemeSet`: a ``classify`` from a
normalized phone (:mod:`gateway.lipsync.phonemes`) to labels. :func:`build_track` turns
phones into a labelled track with one implementation of the timing rules (merging, pauses,
minimum span length, coverage). :class:`Vocabulary` is the one :class:`VisemeSet`
implementation (a memoized classify function) and makes tracks of its :class:`Span` type;
each vocabulary's span subclass only names its label and its JSON fields.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from gateway.lipsync.phonemes import SILENCE, Phone

L = TypeVar("L", bound=Hashable)
S = TypeVar("S", bound="Span")
#: ``classify`` result: labels with the share of the phone's time each takes (shares sum to 1).
Parts = tuple[tuple[L, float], ...]


class VisemeSet(Protocol[L]):
    """The one interface of a viseme vocabulary (Oculus, Azure, Rhubarb).

    ``classify`` maps a normalized phone to one or more labels with the fraction of the phone's
    time each takes (a diphthong ``aɪ`` -> ``((aa, 0.6), (ih, 0.4))``); it must accept any
    string and never raise. ``keep`` lists labels that are widened to the minimum span length
    instead of being merged away (lip closures).
    """

    name: str
    silence: L
    keep: frozenset

    def classify(self, phone: str) -> tuple[tuple[L, float], ...]: ...



@dataclass(slots=True)
class _Seg(Generic[L]):
    label: L
    start: int
    end: int


def build_track(
    phones: Sequence[Phone],
    vset: VisemeSet[L],
    *,
    start_ms: int = 0,
    end_ms: int | None = None,
    min_ms: int = 17,
    pause_ms: int = 100,
) -> list[tuple[L, int, int]]:
    """A labelled track ``[(label, start_ms, end_ms), ...]`` covering exactly ``[start_ms, end_ms]``.

    Rules, in order: phones are clipped to the window and gaps become silence; each phone
    becomes its ``classify`` labels; silences shorter than ``pause_ms`` *between* speech are
    shared out to their neighbours (the mouth does not snap shut in a word gap), longer ones
    (and leading/trailing silence) stay silence; adjacent identical labels merge; spans shorter
    than ``min_ms`` (about one frame) merge into a neighbour (the speech one, else the longer),
    except ``vset.keep`` labels, which borrow time from a long enough neighbour instead.
    ``end_ms`` defaults to the last phone's end. Output is contiguous and monotonic.
    """
    if end_ms is None:
        end_ms = phones[-1].end_ms if phones else start_ms
    if end_ms <= start_ms:
        return []
    sil = vset.silence
    classify = vset.classify
    segs: list[_Seg] = []

    def push(label, a: int, b: int) -> None:
        if b <= a:
            return
        if segs and segs[-1].label == label:
            segs[-1].end = b
        else:
            segs.append(_Seg(label, a, b))

    cursor = start_ms
    for ph in phones:
        if ph.end_ms <= cursor:
            continue
        if ph.start_ms >= end_ms:
            break
        a = max(ph.start_ms, cursor)
        b = min(ph.end_ms, end_ms)
        if a > cursor:
            push(sil, cursor, a)
        if ph.phoneme == SILENCE:
            push(sil, a, b)
        else:
            parts = classify(ph.phoneme)
            if len(parts) == 1:
                push(parts[0][0], a, b)
            else:
                width = b - a
                acc = 0.0
                prev = a
                for label, frac in parts:
                    acc += frac
                    nxt = a + int(round(width * acc))
                    push(label, prev, nxt)
                    prev = nxt
                push(parts[-1][0], prev, b)
        cursor = b
    if cursor < end_ms:
        push(sil, cursor, end_ms)

    # Short pauses between speech: share them out to the neighbours.
    if len(segs) > 2:
        kept: list[_Seg] = [segs[0]]
        i = 1
        last = len(segs) - 1
        while i < last:
            seg = segs[i]
            if seg.label == sil and seg.end - seg.start < pause_ms:
                mid = (seg.start + seg.end) // 2
                kept[-1].end = mid
                nxt = segs[i + 1]
                nxt.start = mid
                if kept[-1].label == nxt.label:
                    kept[-1].end = nxt.end
                    i += 2
                    continue
            else:
                kept.append(seg)
            i += 1
        if i == last:
            kept.append(segs[last])
        segs = kept

    # Spans shorter than min_ms: merge into a neighbour (or widen ``keep`` labels).
    out: list[_Seg] = []
    keep = vset.keep
    for seg in segs:
        if out and out[-1].label == seg.label:
            out[-1].end = seg.end
            continue
        out.append(seg)
        while len(out) >= 2 and out[-2].end - out[-2].start < min_ms:
            _resolve_short(out, len(out) - 2, sil, keep, min_ms)
    while len(out) >= 2 and out[-1].end - out[-1].start < min_ms:
        _resolve_short(out, len(out) - 1, sil, keep, min_ms)
    return [(s.label, s.start, s.end) for s in out]


def _resolve_short(out: list[_Seg], i: int, sil, keep: frozenset, min_ms: int) -> None:
    """Fix the short span ``out[i]`` (it has at least one neighbour)."""
    x = out[i]
    left = out[i - 1] if i > 0 else None
    right = out[i + 1] if i + 1 < len(out) else None
    need = min_ms - (x.end - x.start)
    if x.label in keep:
        donors = [d for d in (left, right) if d is not None and d.end - d.start - need >= min_ms]
        if donors:
            donor = max(donors, key=lambda d: d.end - d.start)
            if donor is left:
                left.end -= need
                x.start -= need
            else:
                right.start += need
                x.end += need
            return
    if left is None:
        into_left = False
    elif right is None:
        into_left = True
    elif (left.label == sil) != (right.label == sil):
        into_left = right.label == sil
    else:
        into_left = (left.end - left.start) >= (right.end - right.start)
    if into_left:
        left.end = x.end
        del out[i]
        if right is not None and left.label == right.label:
            left.end = right.end
            del out[i]
    else:
        right.start = x.start
        del out[i]
        if left is not None and left.label == right.label:
            left.end = right.end
            del out[i]


def split_parts(parts: Sequence[tuple[L, float]]) -> tuple[tuple[L, float], ...]:
    """Merge consecutive identical labels of a ``classify`` result and renormalize fractions."""
    merged: list[list] = []
    for label, frac in parts:
        if merged and merged[-1][0] == label:
            merged[-1][1] += frac
        else:
            merged.append([label, frac])
    total = sum(f for _, f in merged) or 1.0
    return tuple((label, f / total) for label, f in merged)


# --------------------------------------------------------------------------- spans and vocabularies


@dataclass(slots=True)
class Span(Generic[L]):
    """One label from ``start_ms`` to ``end_ms`` (utterance milliseconds).

    A vocabulary's subclass sets :attr:`FIELDS`, the JSON fields the label becomes (in order,
    before ``start_ms`` and ``end_ms``), and names the label (a ``viseme`` or ``shape`` property).
    """

    label: L
    start_ms: int
    end_ms: int

    #: ``(key, label -> value)`` per JSON field of the label.
    FIELDS: ClassVar[tuple[tuple[str, Callable[[Any], object]], ...]] = (("label", str),)

    @property
    def duration_ms(self) -> int:
        return self.end_ms - self.start_ms

    def to_dict(self) -> dict:
        out = {key: value(self.label) for key, value in self.FIELDS}
        out["start_ms"] = self.start_ms
        out["end_ms"] = self.end_ms
        return out


class Vocabulary(Generic[L, S]):
    """A :class:`VisemeSet` over a ``classify`` function (memoized per phone) whose tracks are ``span`` lists."""

    def __init__(self, name: str, silence: L, keep: frozenset, classify: Callable[[str], Parts],
                 span: type[S]) -> None:
        self.name = name
        self.silence = silence
        self.keep = keep
        self.span = span
        self._classify = classify
        self._cache: dict[str, Parts] = {}

    def classify(self, phone: str) -> Parts:
        parts = self._cache.get(phone)
        if parts is None:
            parts = self._cache[phone] = self._classify(phone)
        return parts

    def track(
        self,
        phones: Sequence[Phone],
        duration_ms: int | None = None,
        *,
        start_ms: int = 0,
        min_ms: int = 17,
        pause_ms: int = 100,
    ) -> list[S]:
        """Spans covering ``[start_ms, duration_ms]`` (rules: :func:`build_track`)."""
        return [self.span(label, a, b) for label, a, b in build_track(
            phones, self, start_ms=start_ms, end_ms=duration_ms, min_ms=min_ms, pause_ms=pause_ms)]
