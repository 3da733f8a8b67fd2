"""``<say-as>`` expansion: the content of the element as spoken words (characters, numbers, dates, phones).

The words come from :mod:`gateway.text.normalize` (the same as plain-text normalization says
them). Content that does not fit its ``interpret-as`` is read as written, with a warning.
"""

from __future__ import annotations

import re

from gateway.text.normalize.words import (
    MONTH_LOOKUP,
    cardinal,
    date_words,
    digit_words,
    ordinal,
    spell_characters,
    telephone_words,
    year_words,
)
from gateway.text.ssml.values import DATE_FORMATS


def expand_say_as(kind: str, fmt: str | None, content: str, warnings: list[str]) -> str | None:
    """Spoken words for ``<say-as>``; ``None`` when the content does not fit (then it is read as written)."""
    text = content.strip()
    try:
        if kind == "characters":
            return spell_characters(text) or None
        if kind == "digits":
            return digit_words(text) or None
        if kind == "cardinal":
            return cardinal(re.sub(r"[\s,]", "", text))
        if kind == "ordinal":
            return ordinal(re.sub(r"(?i)(st|nd|rd|th)$", "", re.sub(r"[\s,]", "", text)))
        if kind == "telephone":
            return telephone_words(text) or None
        if kind == "date":
            return say_date(text, fmt)
    except (ValueError, OverflowError, IndexError, KeyError):
        pass
    warnings.append(f'say-as interpret-as="{kind}" could not read {text[:40]!r}; read as written')
    return None


def say_date(text: str, fmt: str | None) -> str:
    """A date written in ``fmt`` order (``"dmy"``, ``"ym"``...; guessed when ``None``) as words."""
    parts = [p for p in re.split(r"[\s\-/.,]+", text) if p]
    if fmt is None:
        fmt = "ymd" if re.fullmatch(r"\d{4}-\d{1,2}-\d{1,2}", text) else "mdy"[: len(parts)] if len(parts) < 3 else "mdy"
    fmt = fmt.lower()
    if fmt not in DATE_FORMATS or len(parts) != len(fmt):
        raise ValueError("date does not match format")
    y = m = d = None
    for letter, part in zip(fmt, parts):
        if letter == "y":
            y = int(part) if len(part) != 2 else 2000 + int(part)
        elif letter == "m":
            m = int(part) if part.isdigit() else MONTH_LOOKUP[part.lower().rstrip(".")]
        else:
            d = int(re.sub(r"(?i)(st|nd|rd|th)$", "", part))
    if m is not None and not 1 <= m <= 12 or d is not None and not 1 <= d <= 31:
        raise ValueError("date out of range")
    if m is None and d is None and y is not None:
        return year_words(y)
    return date_words(y, m, d, day_first=fmt.startswith("d"))
