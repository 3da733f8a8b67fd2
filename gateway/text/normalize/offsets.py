"""Offset maps between a derived text and its source, and the :class:`Normalized` result.

:class:`OffsetMap` leads every position of a derived text (normalized, or spoken SSML text)
back to the text it came from; a replaced piece maps as a whole. :class:`Normalized` is what
:func:`gateway.text.normalize.normalize` returns: the new text, the original and the map.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class OffsetMap:
    """Positions of a derived text -> positions of its source text.

    ``starts[p]`` is where a span *starting* at ``p`` starts in the source; ``ends[p]`` where a
    span *ending* at ``p`` ends. Inside a replaced piece both widen to the whole source piece.
    Both lists have ``len(derived) + 1`` entries and never decrease.
    """

    starts: tuple[int, ...]
    ends: tuple[int, ...]

    @classmethod
    def identity(cls, n: int) -> "OffsetMap":
        r = tuple(range(n + 1))
        return cls(r, r)

    @classmethod
    def from_pieces(cls, pieces: Iterable[tuple[int, int, int, int, bool]], new_len: int, old_len: int) -> "OffsetMap":
        """Build from ``(new_start, new_end, old_start, old_end, changed)`` pieces covering the new text in order."""
        starts = [old_len] * (new_len + 1)
        ends = [0] * (new_len + 1)
        for ns, ne, os_, oe, changed in pieces:
            for p in range(ns, ne):
                starts[p] = os_ if changed else os_ + p - ns
            for p in range(ns + 1, ne + 1):
                ends[p] = oe if changed else os_ + p - ns
        return cls(tuple(starts), tuple(ends))

    def __len__(self) -> int:
        return len(self.starts) - 1

    def to_original(self, pos: int) -> int:
        """Source offset of the character at ``pos`` (the start of its replaced piece, if any)."""
        return self.starts[min(max(pos, 0), len(self.starts) - 1)]

    def span_to_original(self, start: int, end: int) -> tuple[int, int]:
        """Source span of ``[start, end)``, widened to whole replaced pieces."""
        n = len(self.starts) - 1
        start, end = min(max(start, 0), n), min(max(end, 0), n)
        if end <= start:
            s = self.starts[start]
            return s, s
        return self.starts[start], self.ends[end]

    def to_normalized(self, original_pos: int) -> int:
        """First derived position whose source is at or after ``original_pos`` (exact at piece edges)."""
        return bisect_left(self.starts, original_pos)

    def then(self, outer: "OffsetMap") -> "OffsetMap":
        """Compose: ``self`` maps C -> B and ``outer`` maps B -> A; the result maps C -> A."""
        return OffsetMap(tuple(outer.starts[p] for p in self.starts), tuple(outer.ends[p] for p in self.ends))


@dataclass(frozen=True, slots=True)
class Normalized:
    """Normalized ``text`` of ``original``, with the map back (``offsets``) and the replacements made."""

    text: str
    original: str
    offsets: OffsetMap
    replacements: tuple[tuple[int, int, str], ...] = ()  #: ``(orig_start, orig_end, new_text)``

    @property
    def changed(self) -> bool:
        return bool(self.replacements)

    def to_original(self, pos: int) -> int:
        return self.offsets.to_original(pos)

    def span_to_original(self, start: int, end: int) -> tuple[int, int]:
        return self.offsets.span_to_original(start, end)

    def to_normalized(self, original_pos: int) -> int:
        return self.offsets.to_normalized(original_pos)

    def original_words(self, start: int, end: int) -> str:
        """The original text behind normalized ``[start, end)``."""
        s, e = self.span_to_original(start, end)
        return self.original[s:e]
