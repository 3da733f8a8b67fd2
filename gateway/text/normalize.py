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
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from num2words import num2words

__all__ = [
    "Normalized", "OffsetMap", "normalize", "cardinal", "ordinal", "year_words", "decimal_words",
    "digit_words", "spell_characters", "telephone_words", "date_words", "MONTHS",
]

# --------------------------------------------------------------------------------------------
# Offset maps


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


# --------------------------------------------------------------------------------------------
# Number words (shared with SSML say-as)

_MAX_CARDINAL_DIGITS = 15
_DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def _clean_words(words: str) -> str:
    return re.sub(r"\s+", " ", words.replace(",", "").replace(" and ", " ")).strip()


def digit_words(digits: str) -> str:
    """``"007"`` -> ``"zero zero seven"`` (non-digits dropped)."""
    return " ".join(_DIGITS[int(d)] for d in digits if d.isdecimal())


def cardinal(value: int | str) -> str:
    """Cardinal words, US style: ``1999`` -> ``"one thousand nine hundred ninety-nine"``.

    Strings may carry thousands separators; leading zeros or more than 15 digits are read digit
    by digit.
    """
    if isinstance(value, str):
        s = value.replace(",", "").strip()
        neg = s.startswith(("-", "−"))
        s = s.lstrip("-−+")
        if not (s.isdecimal() and s.isascii()):
            raise ValueError(f"not an integer: {value!r}")
        if (len(s) > 1 and s.startswith("0")) or len(s) > _MAX_CARDINAL_DIGITS:
            words = digit_words(s)
        else:
            words = _clean_words(num2words(int(s)))
        return ("minus " + words) if neg else words
    if abs(value) >= 10**_MAX_CARDINAL_DIGITS:
        return ("minus " if value < 0 else "") + digit_words(str(abs(value)))
    return _clean_words(num2words(value))


def ordinal(value: int | str) -> str:
    """``22`` -> ``"twenty-second"``."""
    n = int(str(value).replace(",", ""))
    if n >= 10**_MAX_CARDINAL_DIGITS:
        return digit_words(str(n))
    return _clean_words(num2words(n, to="ordinal"))


def year_words(value: int) -> str:
    """``2024`` -> ``"twenty twenty-four"``, ``1905`` -> ``"nineteen oh five"``, ``2005`` -> ``"two thousand five"``."""
    if not 0 < value < 10000:
        return cardinal(value)
    return _clean_words(num2words(value, to="year")).replace("oh-", "oh ")


def decimal_words(number: str) -> str:
    """``"3.14"`` -> ``"three point one four"`` (every digit after the point, trailing zeros too)."""
    s = number.replace(",", "").strip()
    sign = ""
    if s[:1] in ("-", "−"):
        sign, s = "minus ", s[1:]
    elif s[:1] == "+":
        sign, s = "plus ", s[1:]
    whole, _, frac = s.partition(".")
    head = cardinal(whole) if whole else ""
    words = head + (" point " + digit_words(frac) if frac else "")
    return sign + words.strip()


def spell_characters(text: str) -> str:
    """``"AB-12"`` -> ``"A B one two"``: letters upper-cased one by one, digits as words, the rest dropped."""
    out = []
    for ch in text:
        if ch.isdigit() and ch.isascii():
            out.append(_DIGITS[int(ch)])
        elif ch.isalpha():
            out.append(ch.upper())
    return " ".join(out)


def telephone_words(text: str) -> str:
    """``"+1 555-0123"`` -> ``"plus one, five five five, zero one two three"`` (groups kept)."""
    groups = [g for g in re.split(r"[\s\-./()]+", text.strip()) if g]
    spoken = []
    for g in groups:
        prefix = "plus " if g.startswith("+") else ""
        spoken.append(prefix + spell_characters(g.lstrip("+")))
    return ", ".join(s for s in spoken if s)


MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December")
_MONTH_ABBR = {m[:3].lower(): i + 1 for i, m in enumerate(MONTHS)} | {"sept": 9}
_MONTH_LOOKUP = {m.lower(): i + 1 for i, m in enumerate(MONTHS)} | _MONTH_ABBR


def date_words(year: int | None, month: int | None, day: int | None, *, day_first: bool = False) -> str:
    """``(2024, 5, 1)`` -> ``"May first twenty twenty-four"`` (``day_first``: ``"the first of May ..."``)."""
    parts: list[str] = []
    m = MONTHS[month - 1] if month else None
    if day and m:
        parts.append(f"the {ordinal(day)} of {m}" if day_first else f"{m} {ordinal(day)}")
    elif m:
        parts.append(m)
    elif day:
        parts.append(f"the {ordinal(day)}")
    if year is not None:
        parts.append(year_words(year))
    return " ".join(parts)


def _valid_date(y: int | None, m: int, d: int | None) -> bool:
    if not 1 <= m <= 12:
        return False
    if d is None:
        return True
    days = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)[m - 1]
    return 1 <= d <= days


# --------------------------------------------------------------------------------------------
# Rules

_NUM = r"(?:\d{1,3}(?:,\d{3})+|\d+)"
_DEC = rf"{_NUM}(?:\.\d+)?"
_PRE = r"(?<![\w.,$£€¥₹#])"  # a number does not start inside a word or another number
_POST = r"(?![\w%]|[.,]\d)"  # ... and does not run on into one
_MONTH_RE = (r"(?:January|February|March|April|May|June|July|August|September|October|November|December"
             r"|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec)")

_CURRENCY = {
    "$": ("dollar", "dollars", "cent", "cents"),
    "£": ("pound", "pounds", "penny", "pence"),
    "€": ("euro", "euros", "cent", "cents"),
    "¥": ("yen", "yen", None, None),
    "₹": ("rupee", "rupees", "paisa", "paise"),
}
_SCALE = {"k": "thousand", "K": "thousand", "M": "million", "m": "million", "mil": "million", "b": "billion",
          "B": "billion", "bn": "billion", "thousand": "thousand", "million": "million", "billion": "billion",
          "trillion": "trillion"}
#: Units read after a number: attached or after one space. ``(singular, plural)``.
_UNITS: dict[str, tuple[str, str]] = {
    "gp": ("gold piece", "gold pieces"), "sp": ("silver piece", "silver pieces"),
    "cp": ("copper piece", "copper pieces"), "pp": ("platinum piece", "platinum pieces"),
    "g": ("gold", "gold"),
    "km": ("kilometer", "kilometers"), "kg": ("kilogram", "kilograms"), "cm": ("centimeter", "centimeters"),
    "mm": ("millimeter", "millimeters"), "mph": ("mile per hour", "miles per hour"),
    "kph": ("kilometer per hour", "kilometers per hour"), "km/h": ("kilometer per hour", "kilometers per hour"),
    "lbs": ("pound", "pounds"), "lb": ("pound", "pounds"), "ft": ("foot", "feet"), "hrs": ("hour", "hours"),
    "hr": ("hour", "hours"), "min": ("minute", "minutes"), "mins": ("minute", "minutes"),
    "sec": ("second", "seconds"), "secs": ("second", "seconds"), "ms": ("millisecond", "milliseconds"),
    "fps": ("F P S", "F P S"), "FPS": ("F P S", "F P S"),
    "HP": ("H P", "H P"), "XP": ("X P", "X P"), "MP": ("M P", "M P"), "AP": ("A P", "A P"),
    "SP": ("S P", "S P"), "DPS": ("D P S", "D P S"), "dmg": ("damage", "damage"),
}
#: Game and chat acronyms spelled out wherever they stand (exact case).
_ACRONYMS = ("HP", "XP", "MP", "DPS", "NPC", "NPCs", "PvP", "PvE", "AoE", "RPG", "MMO", "MMORPG", "FPS",
             "AFK", "NPC's")
#: Abbreviations: ``name -> (expansion, kind)``; kind ``title`` precedes a name, ``post`` follows one,
#: ``plain`` anywhere, ``place`` is Dr./St. decided by context.
_ABBREVIATIONS: dict[str, tuple[str, str]] = {
    "Mr": ("Mister", "title"), "Mrs": ("Missus", "title"), "Ms": ("Miz", "title"), "Prof": ("Professor", "title"),
    "Capt": ("Captain", "title"), "Gen": ("General", "title"), "Lt": ("Lieutenant", "title"),
    "Sgt": ("Sergeant", "title"), "Col": ("Colonel", "title"), "Cpl": ("Corporal", "title"),
    "Mt": ("Mount", "title"), "Ft": ("Fort", "title"), "Rev": ("Reverend", "title"),
    "Jr": ("Junior", "post"), "Sr": ("Senior", "post"), "Ave": ("Avenue", "post"), "Rd": ("Road", "post"),
    "Dr": ("Doctor|Drive", "place"), "St": ("Saint|Street", "place"),
}

_Rule = tuple[str, "re.Pattern[str]", Callable[[re.Match[str], str], "str | None"]]


def _re(pattern: str) -> "re.Pattern[str]":
    """Compile with ``\\d`` meaning ASCII digits only (other scripts' digits are not English numbers)."""
    return re.compile(pattern.replace(r"\d", "[0-9]"))


_END_OF_TEXT = re.compile(r"\s*\Z")
_CAPITAL_NEXT = re.compile(r"\s+[\"'“‘(\[]*[A-Z]")


def _sentence_end_after(text: str, end: int) -> bool:
    """Whether a period just consumed at ``end`` also ends a sentence (end of text, or a capital next)."""
    return _END_OF_TEXT.match(text, end) is not None or _CAPITAL_NEXT.match(text, end) is not None


def _keep_period(match: re.Match[str], text: str, words: str) -> str:
    if match.group(0).endswith(".") and _sentence_end_after(text, match.end()):
        return words + "."
    return words


def _plural(n_text: str, one: str, many: str) -> str:
    return one if n_text.lstrip("+-−") in ("1", "1.0") else many


def _number_words(num: str) -> str:
    return decimal_words(num) if "." in num else cardinal(num)


def _signed(sign: str | None) -> str:
    return {"-": "minus ", "−": "minus ", "+": "plus "}.get(sign or "", "")


def _date_iso(m: re.Match[str], text: str) -> str | None:
    y, mo, d = int(m["y"]), int(m["m"]), int(m["d"])
    return date_words(y, mo, d) if _valid_date(y, mo, d) else None


def _date_slash(m: re.Match[str], text: str) -> str | None:
    a, b, y = int(m["a"]), int(m["b"]), m["y"]
    year = int(y) if len(y) == 4 else 2000 + int(y)
    mo, d = (a, b) if a <= 12 else (b, a)
    return date_words(year, mo, d) if _valid_date(year, mo, d) else None


def _date_dmy(m: re.Match[str], text: str) -> str | None:
    mo = _MONTH_LOOKUP[m["mon"].lower()]
    d = int(m["d"])
    y = int(m["y"]) if m["y"] else None
    if not _valid_date(y, mo, d):
        return None
    return date_words(y, mo, d, day_first=True)


def _date_mdy(m: re.Match[str], text: str) -> str | None:
    mo = _MONTH_LOOKUP[m["mon"].lower()]
    d = int(m["d"])
    if not _valid_date(None, mo, d):
        return None
    words = f"{MONTHS[mo - 1]} {ordinal(d)}"
    if m["y"]:
        words += ("," if m["comma"] else "") + " " + year_words(int(m["y"]))
    return words


def _decade(m: re.Match[str], text: str) -> str | None:
    words = year_words(int(m["y"]))
    head, _, last = words.rpartition(" ")
    last = last[:-1] + "ies" if last.endswith("y") else last + "s"
    return (head + " " + last).strip()


def _time(m: re.Match[str], text: str) -> str | None:
    h, mi = int(m["h"]), int(m["mi"] or 0)
    ampm = (m["ap"] or "").lower()
    if mi > 59 or h > 23 or (ampm and not 1 <= h <= 12):
        return None
    if ampm:
        words = cardinal(h) if mi == 0 else f"{cardinal(h)} {'oh ' + cardinal(mi) if mi < 10 else cardinal(mi)}"
        words += " A M" if ampm == "a" else " P M"
        return _keep_period(m, text, words)
    if m["mi"] is None:
        return None
    if mi == 0:
        words = f"{cardinal(h)} o'clock" if 1 <= h <= 12 else f"{cardinal(h)} hundred"
    elif mi < 10:
        words = f"{cardinal(h)} oh {cardinal(mi)}"
    else:
        words = f"{cardinal(h)} {cardinal(mi)}"
    if m["s"]:
        s = int(m["s"])
        if s > 59:
            return None
        words += f" and {cardinal(s)} {'second' if s == 1 else 'seconds'}"
    return words


def _money(m: re.Match[str], text: str) -> str | None:
    sym = m["sym"] or m["sym2"]
    num = m["num"] or m["num2"]
    scale = m["scale"]
    one, many, sub_one, sub_many = _CURRENCY[sym]
    sign = _signed(m["sign"])
    whole, _, frac = num.replace(",", "").partition(".")
    if scale:
        return f"{sign}{_number_words(num)} {_SCALE[scale]} {many}"
    if frac and sub_one and len(frac) <= 2:
        cents = int(frac.ljust(2, "0"))
        unit = one if whole == "1" else many
        if int(whole or 0) == 0:
            return f"{sign}{cardinal(cents)} {sub_one if cents == 1 else sub_many}"
        if cents == 0:
            return f"{sign}{cardinal(whole)} {unit}"
        return f"{sign}{cardinal(whole)} {unit} and {cardinal(cents)} {sub_one if cents == 1 else sub_many}"
    if frac:
        return f"{sign}{decimal_words(num)} {many}"
    return f"{sign}{cardinal(whole)} {one if whole == '1' else many}"


def _percent(m: re.Match[str], text: str) -> str:
    return f"{_signed(m['sign'])}{_number_words(m['num'])} percent"


def _ordinal(m: re.Match[str], text: str) -> str:
    return ordinal(m["num"])


def _level(m: re.Match[str], text: str) -> str:
    word = "Level" if m.group(0)[0].isupper() else "level"
    return f"{word} {cardinal(m['num'])}"


def _times_before(m: re.Match[str], text: str) -> str:
    return f"times {cardinal(m['num'])}"


def _times_after(m: re.Match[str], text: str) -> str:
    return f"{_number_words(m['num'])} times"


def _scaled(m: re.Match[str], text: str) -> str:
    return f"{_signed(m['sign'])}{_number_words(m['num'])} {_SCALE[m['scale']]}"


def _unit(m: re.Match[str], text: str) -> str:
    one, many = _UNITS[m["unit"]]
    num = m["num"]
    words = f"{_signed(m['sign'])}{_number_words(num)} {_plural(num, one, many)}"
    return words


def _degrees(m: re.Match[str], text: str) -> str:
    num = m["num"]
    words = f"{_signed(m['sign'])}{_number_words(num)} {_plural(num, 'degree', 'degrees')}"
    scale = {"C": " Celsius", "F": " Fahrenheit"}.get(m["cf"] or "", "")
    return words + scale


_FRACTIONS = {2: ("half", "halves"), 4: ("quarter", "quarters")}


def _fraction(m: re.Match[str], text: str) -> str | None:
    a, b = int(m["a"]), int(m["b"])
    if not (0 < a < b <= 10):
        return None
    one, many = _FRACTIONS.get(b, (ordinal(b), ordinal(b) + "s"))
    return f"{cardinal(a)} {one if a == 1 else many}"


def _hash_number(m: re.Match[str], text: str) -> str:
    return f"number {cardinal(m['num'])}"


def _number_abbr(m: re.Match[str], text: str) -> str:
    return "Number" if m.group(0)[0] == "N" else "number"


_YEAR_CONTEXT = re.compile(r"(?:\b(?:in|since|year|by|from|until|till|circa|around|of|before|after|during)\s+"
                           rf"|\b{_MONTH_RE}\.?,?\s+)$", re.IGNORECASE)


def _cardinal_rule(m: re.Match[str], text: str) -> str | None:
    num, sign = m["num"], m["sign"]
    if sign is None and "." not in num and "," not in num and len(num) == 4 and 1100 <= int(num) <= 2099:
        before = text[max(0, m.start() - 12): m.start()]
        after = text[m.end(): m.end() + 5]
        if _YEAR_CONTEXT.search(before) or re.match(r"\s?(?:AD|BC|BCE|CE)\b", after):
            return year_words(int(num))
    return _signed(sign) + _number_words(num)


def _acronym(m: re.Match[str], text: str) -> str:
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


def _abbreviation(m: re.Match[str], text: str) -> str | None:
    name, period = m["abbr"], m["dot"]
    expansion, kind = _ABBREVIATIONS[name]
    nxt = _next_word(text, m.end())
    next_is_name = bool(nxt) and nxt[0].isupper() and nxt not in _NOT_NAMES
    if kind == "title":
        if period or next_is_name:
            return expansion if next_is_name else _keep_period(m, text, expansion)
        return None
    if kind == "post":
        if not period and not _prev_word(text, m.start())[0][:1].isupper():
            return None
        return _keep_period(m, text, expansion)
    title, place = expansion.split("|")
    prev, prev_starts = _prev_word(text, m.start())
    prev_is_name = bool(prev) and (prev[0].isupper() or prev[0].isdigit())
    after_name = prev_is_name and (not prev_starts or not next_is_name)
    if after_name:
        return _keep_period(m, text, place)
    if next_is_name:
        return title
    if period:
        return _keep_period(m, text, title)
    return None


_PLAIN_ABBR = {"e.g.": "for example", "i.e.": "that is", "etc.": "et cetera", "vs.": "versus", "vs": "versus",
               "approx.": "approximately", "Approx.": "Approximately", "&": "and", "E.g.": "For example",
               "I.e.": "That is"}


def _plain_abbr(m: re.Match[str], text: str) -> str:
    word = m.group(0)
    words = _PLAIN_ABBR[word]
    return _keep_period(m, text, words) if word == "etc." else words


_SIGN = r"(?P<sign>[-−+])?"
_RULES: list[_Rule] = [
    ("date_iso", _re(rf"{_PRE}(?P<y>\d{{4}})-(?P<m>\d{{2}})-(?P<d>\d{{2}})(?![\w\-]|[.,]\d)"), _date_iso),
    ("date_slash", _re(rf"{_PRE}(?P<a>\d{{1,2}})/(?P<b>\d{{1,2}})/(?P<y>\d{{4}}|\d{{2}})(?![\w/]|[.,]\d)"),
     _date_slash),
    ("date_dmy", _re(rf"{_PRE}(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<mon>{_MONTH_RE})\.?"
                            rf"(?:,?\s+(?P<y>\d{{4}}))?(?![\w]|[.,]\d)"), _date_dmy),
    ("date_mdy", _re(rf"(?<![\w.])(?P<mon>{_MONTH_RE})\.?\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?"
                            rf"(?:(?P<comma>,)?\s+(?P<y>\d{{4}}))?(?![\w%:]|[.,]\d)"), _date_mdy),
    ("decade", _re(rf"{_PRE}(?P<y>1[1-9]\d0|20\d0)s(?!\w)"), _decade),
    ("time", _re(rf"{_PRE}(?P<h>\d{{1,2}})(?::(?P<mi>\d{{2}})(?::(?P<s>\d{{2}}))?)?"
                        rf"(?:\s?(?P<ap>[AaPp])\.?[Mm]\.?(?![\w]))?(?![\w:]|[.,]\d)"), _time),
    ("money", _re(rf"{_PRE}{_SIGN}(?:(?P<sym>[$£€¥₹])\s?(?P<num>{_DEC})"
                         rf"(?:\s?(?P<scale>k|K|M|m|mil|b|B|bn|thousand|million|billion|trillion)(?![\w]))?"
                         rf"|(?P<num2>{_DEC})\s?(?P<sym2>[$£€¥₹]))(?![\w]|[.,]\d)"), _money),
    ("percent", _re(rf"{_PRE}{_SIGN}(?P<num>{_DEC})\s?%"), _percent),
    ("ordinal", _re(rf"{_PRE}(?P<num>{_NUM})(?:st|nd|rd|th|ST|ND|RD|TH)(?!\w)"), _ordinal),
    ("level", _re(r"(?<![\w.])(?:[Ll][Vv][Ll]|[Ll][Vv])\.?\s?(?P<num>\d+)(?![\w]|[.,]\d)"), _level),
    ("times_before", _re(r"(?<![\w.])[xX×]\s?(?P<num>\d+)(?![\w]|[.,]\d)"), _times_before),
    ("times_after", _re(rf"{_PRE}(?P<num>{_DEC})[xX×](?!\w)"), _times_after),
    ("scaled", _re(rf"{_PRE}{_SIGN}(?P<num>{_DEC})\s?(?P<scale>k|K|M|bn|B)(?!\w)"), _scaled),
    ("degrees", _re(rf"{_PRE}{_SIGN}(?P<num>{_DEC})\s?°\s?(?P<cf>[CF](?!\w))?"), _degrees),
    ("unit", _re(rf"{_PRE}{_SIGN}(?P<num>{_DEC})\s?(?P<unit>gp|sp|cp|pp|km/h|mph|kph|km|kg|cm|mm|lbs|lb|ft"
                        rf"|hrs|hr|mins|min|secs|sec|ms|fps|FPS|HP|XP|MP|AP|SP|DPS|dmg|g)(?![\w/])"), _unit),
    ("fraction", _re(rf"{_PRE}(?P<a>\d{{1,2}})/(?P<b>\d{{1,2}})(?![\w/]|[.,]\d)"), _fraction),
    ("hash", _re(r"(?<![\w&])#(?P<num>\d+)(?![\w]|[.,]\d)"), _hash_number),
    ("number_abbr", _re(r"(?<![\w.])(?:No|no)\.(?=\s?\d)"), _number_abbr),
    ("cardinal", _re(rf"{_PRE}{_SIGN}(?P<num>{_DEC})(?![\w%]|[.,]\d)"),
     _cardinal_rule),
    ("acronym", _re(r"(?<![\w'])(?:" + "|".join(sorted((re.escape(a) for a in _ACRONYMS), key=len, reverse=True))
                           + r")(?![\w'])"), _acronym),
    ("abbreviation", _re(r"(?<![\w.])(?P<abbr>" + "|".join(_ABBREVIATIONS) + r")(?P<dot>\.)?(?=\s|$|[,;:!?)])"),
     _abbreviation),
    ("plain_abbr", _re(r"(?<![\w.])(?:[eE]\.g\.|[iI]\.e\.|etc\.|vs\.?|[aA]pprox\.)(?=\s|$|[,;:!?)])"
                              r"|(?<=\s)&(?=\s)"), _plain_abbr),
]


_QUICK = re.compile(r"[\d$£€¥₹&#%°]|\b(?:" + "|".join(list(_ABBREVIATIONS) + ["e\\.g", "i\\.e", "etc", "vs", "approx",
                    "lvl", "lv", "No", "no"] + [re.escape(a) for a in _ACRONYMS]) + r")",
                    re.IGNORECASE)


def normalize(text: str, *, protected: Sequence[tuple[int, int]] = (), boundaries: Sequence[int] = (),
              lang: str | None = "en") -> Normalized:
    """Normalize ``text`` for speech; see the module docstring for the rules.

    The rules are English: for any other ``lang`` (BCP 47, e.g. ``"ja"``) the text is returned
    unchanged (``None`` means English).

    ``protected`` spans are left untouched (SSML ``<phoneme>`` content), and no replacement
    straddles a position in ``boundaries`` (SSML run edges), so every boundary maps exactly.
    """
    if (lang is not None and not lang.lower().startswith("en")) or not _QUICK.search(text):
        return Normalized(text, text, OffsetMap.identity(len(text)))
    candidates: list[tuple[int, int, int, re.Match[str], Callable]] = []
    for priority, (_name, pattern, handler) in enumerate(_RULES):
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
