"""Abbreviations and acronyms: which reading fits the context (``Dr.`` Doctor or Drive, ``St.`` Saint or Street).

The tables (:data:`ACRONYMS`, :data:`ABBREVIATIONS`) and the rule handlers :func:`acronym`,
:func:`abbreviation` and :func:`plain_abbr` look at the words around a match; the rule table
in :mod:`gateway.text.normalize.rules` holds their patterns. :func:`keep_period` keeps the
period of an expanded abbreviation that also ends the sentence.
"""

from __future__ import annotations

import re

#: Game and chat acronyms spelled out wherever they stand (exact case).
ACRONYMS = ("HP", "XP", "MP", "DPS", "NPC", "NPCs", "PvP", "PvE", "AoE", "RPG", "MMO", "MMORPG", "FPS",
             "AFK", "NPC's")
#: Abbreviations: ``name -> (expansion, kind)``; kind ``title`` precedes a name, ``post`` follows one,
#: ``plain`` anywhere, ``place`` is Dr./St. decided by context.
ABBREVIATIONS: dict[str, tuple[str, str]] = {
    "Mr": ("Mister", "title"), "Mrs": ("Missus", "title"), "Ms": ("Miz", "title"), "Prof": ("Professor", "title"),
    "Capt": ("Captain", "title"), "Gen": ("General", "title"), "Lt": ("Lieutenant", "title"),
    "Sgt": ("Sergeant", "title"), "Col": ("Colonel", "title"), "Cpl": ("Corporal", "title"),
    "Mt": ("Mount", "title"), "Ft": ("Fort", "title"), "Rev": ("Reverend", "title"),
    "Jr": ("Junior", "post"), "Sr": ("Senior", "post"), "Ave": ("Avenue", "post"), "Rd": ("Road", "post"),
    "Dr": ("Doctor|Drive", "place"), "St": ("Saint|Street", "place"),
}

_END_OF_TEXT = re.compile(r"\s*\Z")
_CAPITAL_NEXT = re.compile(r"\s+[\"'“‘(\[]*[A-Z]")


def _sentence_end_after(text: str, end: int) -> bool:
    """Whether a period just consumed at ``end`` also ends a sentence (end of text, or a capital next)."""
    return _END_OF_TEXT.match(text, end) is not None or _CAPITAL_NEXT.match(text, end) is not None


def keep_period(match: re.Match[str], text: str, words: str) -> str:
    """``words``, with a period when the match ended in one that also ends the sentence."""
    if match.group(0).endswith(".") and _sentence_end_after(text, match.end()):
        return words + "."
    return words


def acronym(m: re.Match[str], text: str) -> str:
    word = m.group(0)
    if word.endswith("'s"):
        return " ".join(word[:-2]) + "'s"
    if word.endswith("s") and word[:-1].isupper():
        return " ".join(word[:-1]) + "s"
    return " ".join(word.upper())


_PREV_WORD = re.compile(r"([\w'’]+)([\"'”’)\]]*)\s*\Z")
_NEXT_WORD = re.compile(r"\s+[\"'“‘(]*([\w'’]+)")


def _prev_word(text: str, start: int) -> tuple[str, bool]:
    """The word before ``start`` and whether it begins a sentence (start of text or after . ! ?)."""
    base = max(0, start - 80)
    window = text[base:start]
    m = _PREV_WORD.search(window)
    if not m:
        return "", True
    k = m.start() - 1
    while k >= 0 and window[k].isspace():
        k -= 1
    if k < 0:
        return m.group(1), base == 0
    return m.group(1), window[k] in ".!?…"


def _next_word(text: str, end: int) -> str:
    m = _NEXT_WORD.match(text, end)
    return m.group(1) if m else ""


#: Capitalized words that start sentences rather than name someone ("Main St. Then ...").
_NOT_NAMES = frozenset(
    "A An And As At But By For From He Her His How I If In It Its My No Now Of On Or Our She So That The Their Then "
    "There These They This Those To We What When Where Which Who Why Yes You Your".split())


def abbreviation(m: re.Match[str], text: str) -> str | None:
    name, period = m["abbr"], m["dot"]
    expansion, kind = ABBREVIATIONS[name]
    nxt = _next_word(text, m.end())
    next_is_name = bool(nxt) and nxt[0].isupper() and nxt not in _NOT_NAMES
    if kind == "title":
        if period or next_is_name:
            return expansion if next_is_name else keep_period(m, text, expansion)
        return None
    if kind == "post":
        if not period and not _prev_word(text, m.start())[0][:1].isupper():
            return None
        return keep_period(m, text, expansion)
    title, place = expansion.split("|")
    prev, prev_starts = _prev_word(text, m.start())
    prev_is_name = bool(prev) and (prev[0].isupper() or prev[0].isdigit())
    after_name = prev_is_name and (not prev_starts or not next_is_name)
    if after_name:
        return keep_period(m, text, place)
    if next_is_name:
        return title
    if period:
        return keep_period(m, text, title)
    return None


_PLAIN_ABBR = {"e.g.": "for example", "i.e.": "that is", "etc.": "et cetera", "vs.": "versus", "vs": "versus",
               "approx.": "approximately", "Approx.": "Approximately", "&": "and", "E.g.": "For example",
               "I.e.": "That is"}


def plain_abbr(m: re.Match[str], text: str) -> str:
    word = m.group(0)
    words = _PLAIN_ABBR[word]
    return keep_period(m, text, words) if word == "etc." else words
