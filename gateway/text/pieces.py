"""Pieces of bounded length: what a local engine synthesizes at once (one place for Piper, Kokoro and espeak).

A sentence longer than ``max_chars`` is cut at the last clause boundary (``, ; : — –``) that leaves a piece of at
least a third of the limit, else before the last phrase word (*and*, *but*, *which*, *with* ...), else at the last
space, else (one enormous word) at the limit. The first piece of a line may have a tighter limit (its synthesis is
the line's first audio). Each window is scanned once and the next starts where the cut was, at least a third of
the limit further on, so cutting is linear in the text's length (a 1 MB unpunctuated line is cut in milliseconds).

>>> from gateway.core.segments import Segment
>>> [p.text for p in bounded_pieces(Segment(0, "one two three four five six", 0), max_chars=12)]
['one two', 'three four', 'five six']
"""

from __future__ import annotations

import re
from dataclasses import replace

from gateway.core.segments import Segment

__all__ = ["PHRASE_WORDS", "bounded_pieces"]

_CLAUSE = re.compile(r"""[,;:—–]["'”’)\]]*\s+""")
#: Words a phrase starts with: a cut goes before them.
PHRASE_WORDS = ("and", "but", "or", "nor", "so", "yet", "because", "although", "though", "while", "whereas",
                "which", "who", "whom", "whose", "that", "where", "when", "if", "unless", "until", "since",
                "after", "before", "with", "without", "for", "from", "into", "onto", "about", "through", "over",
                "under", "between", "against", "towards", "toward", "then", "than", "as")
_PHRASE = re.compile(r"\s+(?=(?:" + "|".join(PHRASE_WORDS) + r")\b)", re.IGNORECASE)
_SPACE = re.compile(r"\s+")


def _last_cut(pattern: re.Pattern[str], text: str, lo: int, hi: int, *, at_end: bool) -> int | None:
    """The last match of ``pattern`` in ``text[lo:hi]``: the position after it (``at_end``) or before it."""
    best = None
    for match in pattern.finditer(text, lo, hi):
        best = match.end() if at_end else match.start()
    return best


def _protected(segment: Segment, cut: int) -> bool:
    """A cut inside an IPA hint (SSML ``<phoneme>``, a character's pronunciation) would split one word's sound."""
    return any(start < cut < end for start, end, _ in segment.ipa)


def _find_cut(segment: Segment, start: int, limit: int) -> int:
    text = segment.text
    hi = min(len(text), start + limit + 1)
    lo = start + max(1, limit // 3)
    for pattern, at_end in ((_CLAUSE, True), (_PHRASE, False), (_SPACE, False)):
        cut = _last_cut(pattern, text, lo, hi, at_end=at_end)
        if cut is not None and start < cut < len(text) and not _protected(segment, cut):
            return cut
    cut = start + limit
    for a, b, _ in segment.ipa:  # never inside a hint: after it (or before it when it starts the piece)
        if a < cut < b:
            cut = b if a <= start else a
    return cut


def bounded_pieces(segment: Segment, max_chars: int, first_max_chars: int | None = None) -> list[Segment]:
    """``segment`` cut into pieces of at most ``max_chars`` characters (``first_max_chars`` for the first).

    Pieces keep the segment's index, prosody and IPA hints (shifted to their own offsets); the break before the
    segment stays with the first piece. Whitespace at a cut is dropped; ``char_start`` stays exact.
    """
    text = segment.text
    first = first_max_chars or max_chars
    if len(text) <= first:
        return [segment]
    pieces: list[Segment] = []
    start = 0
    while start < len(text):
        limit = first if not pieces else max_chars
        if len(text) - start <= limit:
            end = len(text)
        else:
            end = _find_cut(segment, start, limit)
        _add(pieces, segment, start, end)
        start = end
        while start < len(text) and text[start].isspace():
            start += 1
    return pieces or [segment]


def _add(pieces: list[Segment], segment: Segment, start: int, end: int) -> None:
    raw = segment.text[start:end]
    body = raw.strip()
    if not body:
        return
    a = start + len(raw) - len(raw.lstrip())
    b = a + len(body)
    hints = tuple((s - a, e - a, ipa) for s, e, ipa in segment.ipa if a <= s and e <= b)
    pieces.append(replace(segment, text=body, char_start=segment.char_start + a, ipa=hints,
                          break_before_ms=segment.break_before_ms if not pieces else 0))
