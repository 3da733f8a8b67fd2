"""Items -> :class:`ParsedSsml`: spoken and written text, runs with their offsets, and the map between them.

:func:`assemble` takes the flat items the SSML builder produces (:class:`Text`, :class:`Atom`,
:class:`Break`, :class:`Boundary`) and lays them out: whitespace folded as
:func:`gateway.text.clean_text` does, one run per stretch of one delivery, breaks and
``<p>``/``<s>`` edges carried on the next run, and an :class:`OffsetMap` from the spoken text
(aliases and say-as expanded) back to the written one. It needs no SSML: callers with plain
text and known pronunciations build the items directly.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from gateway.core.segments import Prosody
from gateway.text.normalize.offsets import OffsetMap
from gateway.text.ssml.model import Atom, Break, Item, ParsedSsml, Run, Text

_WS = re.compile(r"\s+")
#: Escaped markup in the text (``&lt;b&gt;``) is removed as :func:`gateway.text.clean_text` removes tags.
_TAG = re.compile(r"<[^<>]{0,200}>")
_NO_SPACE_BEFORE = frozenset(",.;:!?")


def blank_markup(text: str) -> str:
    """Tags and control characters (but tab and newline) replaced by spaces; same length or shorter."""
    text = _TAG.sub(" ", text)
    return "".join(ch if (unicodedata.category(ch)[0] != "C" or ch in "\t\n") else " " for ch in text)


def fold(text: str) -> str:
    """:func:`blank_markup`, then runs of whitespace folded to one space and the ends stripped."""
    return _WS.sub(" ", blank_markup(text)).strip()


def assemble(items: Iterable[Item], warnings: Iterable[str] = (), lang: str | None = None) -> ParsedSsml:
    """Lay ``items`` out as :class:`ParsedSsml` (``warnings`` and ``lang`` are carried over as given)."""
    spoken: list[str] = []
    written: list[str] = []
    s_len = w_len = 0
    pieces: list[tuple[int, int, int, int, bool]] = []
    done: list[dict] = []
    cur: dict | None = None  # the run being built
    pending_space = False
    pending_break = 0
    pending_boundary = False

    def close() -> None:
        nonlocal cur
        if cur is not None:
            cur["end"], cur["wend"] = s_len, w_len
            done.append(cur)
        cur = None

    def put(s_text: str, w_text: str) -> None:
        nonlocal s_len, w_len
        spoken.append(s_text)
        written.append(w_text)
        pieces.append((s_len, s_len + len(s_text), w_len, w_len + len(w_text), s_text != w_text))
        s_len += len(s_text)
        w_len += len(w_text)

    def emit(s_text: str, w_text: str, prosody: Prosody, atom: Atom | None = None) -> None:
        nonlocal cur, pending_space, pending_break, pending_boundary
        if pending_space and s_len > 0 and not (atom is None and s_text[0] in _NO_SPACE_BEFORE):
            put(" ", " ")
        pending_space = False
        new = (cur is None or cur["prosody"] != prosody or pending_break or pending_boundary or atom is not None
               or cur["atom"])
        if new:
            close()
            cur = {"start": s_len, "wstart": w_len, "prosody": prosody,
                   "break": pending_break, "boundary": pending_boundary, "atom": atom is not None,
                   "ipa": atom.phoneme_ipa if atom else None, "say_as": atom.say_as if atom else None}
            pending_break = 0
            pending_boundary = False
        put(s_text, w_text)

    for item in items:
        if isinstance(item, Text):
            for tok in re.finditer(r"\s+|\S+", blank_markup(item.text)):
                if tok.group(0)[0].isspace():
                    pending_space = True
                else:
                    emit(tok.group(0), tok.group(0), item.prosody)
        elif isinstance(item, Atom):
            if item.lead_space:
                pending_space = True
            emit(item.spoken, item.written, item.prosody, item)
            if item.trail_space:
                pending_space = True
        elif isinstance(item, Break):
            pending_break += item.ms
            pending_space = True
        else:
            pending_boundary = True
            pending_space = True
    close()
    s_text, w_text = "".join(spoken), "".join(written)
    runs: list[Run] = []
    for r in done:  # the space that separates a run from the next is not part of it
        text = s_text[r["start"]: r["end"]].rstrip(" ")
        wtext = w_text[r["wstart"]: r["wend"]].rstrip(" ")
        runs.append(Run(text, r["start"], r["prosody"], r["break"], r["boundary"], r["ipa"], r["say_as"], wtext,
                        r["wstart"]))
    return ParsedSsml(s_text, w_text, runs, OffsetMap.from_pieces(pieces, s_len, w_len), list(warnings),
                      pending_break, lang)
