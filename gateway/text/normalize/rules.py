"""The normalization rules: one regular expression and one handler per kind of written number or term.

:data:`RULES` lists ``(name, pattern, handler)`` in priority order (where two matches start at
the same place, the earlier rule wins); a handler returns the words, or ``None`` to leave the
match as written. Dates, times, money, percentages, ordinals, game levels and units, fractions
and plain numbers are here; abbreviations and acronyms are in
:mod:`gateway.text.normalize.abbreviations`. :data:`QUICK` finds text no rule can match.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from gateway.text.normalize.abbreviations import ABBREVIATIONS, ACRONYMS, abbreviation, acronym, keep_period, plain_abbr
from gateway.text.normalize.words import (
    MONTH_LOOKUP,
    MONTHS,
    cardinal,
    date_words,
    decimal_words,
    ordinal,
    valid_date,
    year_words,
)

_NUM = r"(?:\d{1,3}(?:,\d{3})+|\d+)"
_DEC = rf"{_NUM}(?:\.\d+)?"
_PRE = r"(?<![\w.,$£€¥₹#])"  # a number does not start inside a word or another number
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

Rule = tuple[str, "re.Pattern[str]", Callable[[re.Match[str], str], "str | None"]]


def _re(pattern: str) -> "re.Pattern[str]":
    """Compile with ``\\d`` meaning ASCII digits only (other scripts' digits are not English numbers)."""
    return re.compile(pattern.replace(r"\d", "[0-9]"))


def _plural(n_text: str, one: str, many: str) -> str:
    return one if n_text.lstrip("+-−") in ("1", "1.0") else many


def _number_words(num: str) -> str:
    return decimal_words(num) if "." in num else cardinal(num)


def _signed(sign: str | None) -> str:
    return {"-": "minus ", "−": "minus ", "+": "plus "}.get(sign or "", "")


def _date_iso(m: re.Match[str], text: str) -> str | None:
    y, mo, d = int(m["y"]), int(m["m"]), int(m["d"])
    return date_words(y, mo, d) if valid_date(y, mo, d) else None


def _date_slash(m: re.Match[str], text: str) -> str | None:
    a, b, y = int(m["a"]), int(m["b"]), m["y"]
    year = int(y) if len(y) == 4 else 2000 + int(y)
    mo, d = (a, b) if a <= 12 else (b, a)
    return date_words(year, mo, d) if valid_date(year, mo, d) else None


def _date_dmy(m: re.Match[str], text: str) -> str | None:
    mo = MONTH_LOOKUP[m["mon"].lower()]
    d = int(m["d"])
    y = int(m["y"]) if m["y"] else None
    if not valid_date(y, mo, d):
        return None
    return date_words(y, mo, d, day_first=True)


def _date_mdy(m: re.Match[str], text: str) -> str | None:
    mo = MONTH_LOOKUP[m["mon"].lower()]
    d = int(m["d"])
    if not valid_date(None, mo, d):
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
        return keep_period(m, text, words)
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


_SIGN = r"(?P<sign>[-−+])?"
RULES: list[Rule] = [
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
    ("acronym", _re(r"(?<![\w'])(?:" + "|".join(sorted((re.escape(a) for a in ACRONYMS), key=len, reverse=True))
                           + r")(?![\w'])"), acronym),
    ("abbreviation", _re(r"(?<![\w.])(?P<abbr>" + "|".join(ABBREVIATIONS) + r")(?P<dot>\.)?(?=\s|$|[,;:!?)])"),
     abbreviation),
    ("plain_abbr", _re(r"(?<![\w.])(?:[eE]\.g\.|[iI]\.e\.|etc\.|vs\.?|[aA]pprox\.)(?=\s|$|[,;:!?)])"
                              r"|(?<=\s)&(?=\s)"), plain_abbr),
]


#: Cheap pre-check: text without any of these needs no rule.
QUICK = re.compile(r"[\d$£€¥₹&#%°]|\b(?:" + "|".join(list(ABBREVIATIONS) + ["e\\.g", "i\\.e", "etc", "vs", "approx",
                    "lvl", "lv", "No", "no"] + [re.escape(a) for a in ACRONYMS]) + r")",
                    re.IGNORECASE)
