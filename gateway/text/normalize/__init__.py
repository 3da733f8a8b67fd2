"""Text normalization before synthesis: numbers, dates, money, abbreviations and game units become words.

Every engine and the aligner then see the same words (``"$3.50"`` is "three dollars and fifty
cents" for Piper, ElevenLabs and the forced aligner alike), and an offset map leads from the
normalized text back to the original, so word timings and subtitles point at what was written.

Rules (first match wins where two start at the same place; see ``docs/expressive.md``):

* dates: ``2024-05-01``, ``05/01/2024`` (month first unless the first number is > 12),
  ``1 May 2024``, ``May 1st, 2024``, decades ``1990s``;
* times: ``3:30pm``, ``3 p.m.``, ``15:00``, ``9:05``;
* money: ``$5``, ``£3.50``, ``€2.99``, ``¥100``, ``$2.5k``, ``5€``; game money ``10gp`` / ``5sp``
  / ``3cp`` / ``2pp`` / ``50g`` (gold; ``g`` is never grams here);
* percentages, ordinals (``1st``, ``22nd``), decimals, negatives (``-5``, ``+5``), thousands
  separators, ``10k`` / ``3M`` / ``2bn``, multipliers ``x2`` / ``2x``, fractions ``3/4``, ``#5``,
  temperatures ``20°C``, a few units (``km``, ``kg``, ``mph``, ``fps`` ...);
* game terms: ``lvl 5`` / ``Lv.5`` -> "level five"; ``HP``, ``XP``, ``MP``, ``DPS``, ``NPC``,
  ``PvP``, ``AoE`` ... are spelled out letter by letter (``"H P"``);
* abbreviations: ``Mr.``, ``Mrs.``, ``Dr.`` (Doctor, or Drive after a street name), ``St.``
  (Saint before a name, Street after one), ``Prof.``, ``Capt.``, ``e.g.``, ``i.e.``, ``etc.``,
  ``vs.``, ``approx.``, ``No. 5``, `` & ``. A period that also ends the sentence is kept.

Numbers are read the US way ("one hundred twenty-three", no "and", no commas: a comma would
add a pause and a clause boundary the writer did not put there). Anything no rule matches is
left exactly as it was (case kept); digits glued inside a word (``R2D2``, ``mp3``, ``v1.2.3``)
are left alone too.

Offsets: :class:`OffsetMap` maps every position of the new text to the original. A replaced
piece maps as a whole: a word inside "three dollars and fifty cents" points at all of
``"$3.50"``.

Modules: :mod:`~gateway.text.normalize.offsets` (:class:`OffsetMap`, :class:`Normalized`),
:mod:`~gateway.text.normalize.words` (numbers and dates as words, shared with SSML ``say-as``),
:mod:`~gateway.text.normalize.rules` and :mod:`~gateway.text.normalize.abbreviations` (the
rules); :func:`normalize` itself is here.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Callable, Sequence

from gateway.text.normalize.offsets import Normalized, OffsetMap
from gateway.text.normalize.rules import QUICK, RULES
from gateway.text.normalize.words import (
    MONTHS,
    cardinal,
    date_words,
    decimal_words,
    digit_words,
    ordinal,
    spell_characters,
    telephone_words,
    year_words,
)

__all__ = [
    "Normalized", "OffsetMap", "normalize", "cardinal", "ordinal", "year_words", "decimal_words",
    "digit_words", "spell_characters", "telephone_words", "date_words", "MONTHS",
]


def normalize(text: str, *, protected: Sequence[tuple[int, int]] = (), boundaries: Sequence[int] = (),
              lang: str | None = "en") -> Normalized:
    """Normalize ``text`` for speech; see the module docstring for the rules.

    The rules are English: for any other ``lang`` (BCP 47, e.g. ``"ja"``) the text is returned
    unchanged (``None`` means English).

    ``protected`` spans are left untouched (SSML ``<phoneme>`` content), and no replacement
    straddles a position in ``boundaries`` (SSML run edges), so every boundary maps exactly.
    """
    if (lang is not None and not lang.lower().startswith("en")) or not QUICK.search(text):
        return Normalized(text, text, OffsetMap.identity(len(text)))
    candidates: list[tuple[int, int, int, re.Match[str], Callable]] = []
    for priority, (_name, pattern, handler) in enumerate(RULES):
        for m in pattern.finditer(text):
            if m.end() > m.start():
                candidates.append((m.start(), priority, -m.end(), m, handler))
    candidates.sort(key=lambda c: c[:3])
    bounds = sorted(set(boundaries))
    reps: list[tuple[int, int, str]] = []
    last_end = 0
    for start, _prio, neg_end, m, handler in candidates:
        end = -neg_end
        if start < last_end:
            continue
        if any(ps < end and start < pe for ps, pe in protected):
            continue
        i = bisect_left(bounds, start + 1)
        if i < len(bounds) and bounds[i] < end:
            continue
        new = handler(m, text)
        if new is None or new == m.group(0):
            continue
        reps.append((start, end, new))
        last_end = end
    return _apply(text, reps)


def _apply(text: str, reps: list[tuple[int, int, str]]) -> Normalized:
    out: list[str] = []
    pieces: list[tuple[int, int, int, int, bool]] = []
    pos = npos = 0
    for start, end, new in reps:
        if start > pos:
            out.append(text[pos:start])
            pieces.append((npos, npos + start - pos, pos, start, False))
            npos += start - pos
        out.append(new)
        pieces.append((npos, npos + len(new), start, end, True))
        npos += len(new)
        pos = end
    if pos < len(text):
        out.append(text[pos:])
        pieces.append((npos, npos + len(text) - pos, pos, len(text), False))
        npos += len(text) - pos
    return Normalized("".join(out), text, OffsetMap.from_pieces(pieces, npos, len(text)), tuple(reps))
