"""Numbers, digits, characters, phone numbers and dates as English words (US style).

Shared by the normalization rules and by SSML ``<say-as>``: ``cardinal``, ``ordinal``,
``year_words``, ``decimal_words``, ``digit_words``, ``spell_characters``,
``telephone_words``, ``date_words``, plus the month tables (:data:`MONTHS`,
:data:`MONTH_LOOKUP`) and :func:`valid_date`.
"""

from __future__ import annotations

import re

from num2words import num2words

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
#: Month name or abbreviation (lower case, no period) -> month number.
MONTH_LOOKUP = {m.lower(): i + 1 for i, m in enumerate(MONTHS)} | _MONTH_ABBR


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


def valid_date(y: int | None, m: int, d: int | None) -> bool:
    """Whether month ``m`` (1..12) and day ``d`` (if any) can go together; February 29 always counts."""
    if not 1 <= m <= 12:
        return False
    if d is None:
        return True
    days = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)[m - 1]
    return 1 <= d <= days
