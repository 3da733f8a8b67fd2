"""Text cleaning and segmentation (sentences, clauses) with character offsets into the request text."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import replace

from gateway.core.segments import Segment

_TAG = re.compile(r"<[^<>]{0,200}>")
_WS = re.compile(r"\s+")
_SPACE_BEFORE_PUNCT = re.compile(r" ([,.;:!?])")
# A sentence ends at . ! ? … (plus closing quotes/brackets) followed by whitespace or end of text.
_SENTENCE_END = re.compile(r"""[.!?…]+["'”’)\]]*(?=\s|$)""")
_CLAUSE_END = re.compile(r"""[,;:—–]["'”’)\]]*(?=\s)""")


def clean_text(text: str) -> str:
    """Strip control characters and markup-like tags; fold runs of whitespace. Case is kept."""
    text = _TAG.sub(" ", text)
    text = "".join(ch if (unicodedata.category(ch)[0] != "C" or ch in "\t\n") else " " for ch in text)
    return _SPACE_BEFORE_PUNCT.sub(r"\1", _WS.sub(" ", text)).strip()


def split_sentences(text: str) -> list[Segment]:
    """Split cleaned text into sentences, keeping their character offsets."""
    segments: list[Segment] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        _append(segments, text, start, match.end())
        start = match.end()
    _append(segments, text, start, len(text))
    return segments


def split_first_clause(segment: Segment, min_chars: int = 24) -> list[Segment]:
    """Split a segment at its first clause boundary after ``min_chars`` characters (for early first audio).

    Returned segments keep the original index space by being re-indexed by the caller.
    """
    for match in _CLAUSE_END.finditer(segment.text):
        if match.end() >= min_chars and len(segment.text) - match.end() >= min_chars // 2:
            head = segment.text[: match.end()]
            tail_raw = segment.text[match.end():]
            tail = tail_raw.lstrip()
            return [
                replace(segment, text=head),
                replace(segment, text=tail, char_start=segment.char_start + match.end() + (len(tail_raw) - len(tail)),
                        break_before_ms=0),
            ]
    return [segment]


def _append(segments: list[Segment], text: str, start: int, end: int) -> None:
    raw = text[start:end]
    stripped = raw.strip()
    if not stripped:
        return
    offset = start + (len(raw) - len(raw.lstrip()))
    segments.append(Segment(len(segments), stripped, offset))


_WORD = re.compile(r"[\w'’-]+", re.UNICODE)


def words_with_offsets(text: str) -> list[tuple[str, int, int]]:
    """Words of ``text`` with (start, end) character offsets: what subtitles and word timings index."""
    return [(m.group(0), m.start(), m.end()) for m in _WORD.finditer(text)]
