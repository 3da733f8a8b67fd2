"""A strict SSML subset: parsed with expat (no DTD, no entities), checked against an allow-list.

Safety by construction: the parser is :mod:`xml.parsers.expat` with parameter-entity parsing
off and handlers that *raise* on a DOCTYPE, an entity or notation declaration, or an external
entity reference. A document type is needed to declare any entity, so billion-laughs,
quadratic blow-up and external entities (XXE, file or URL) cannot happen: the document is
rejected before any expansion. Only the five predefined entities (``&amp;`` ...) and character
references work. Element count and nesting depth are counted while parsing (a 100 000-deep
document stops at the limit), and the input length is checked before it.

Allowed elements (anything else raises :class:`SsmlError` naming it, or in lenient mode is
stripped to its text with a warning):

=============================  ==================================================================
``<speak>``                    root only; ``version``, ``xml:lang`` (kept in ``ParsedSsml.lang``)
``<p>``, ``<s>``               paragraph / sentence: a segment boundary on each side
``<break>``                    ``time`` ("500ms", "1.5s", <= :attr:`Limits.max_break_ms`) or
                               ``strength`` (none 0, x-weak 250, weak 500, medium 750, strong 1000,
                               x-strong 1250 ms); no attribute = medium
``<emphasis>``                 ``level`` strong | moderate (default) | reduced | none
``<prosody>``                  ``rate`` (x-slow .. x-fast, "80%" = x0.8, "+10%" = x1.1, "0.8"),
                               ``pitch`` ("+2st", "-10%", "+20Hz", x-low .. x-high),
                               ``volume`` ("+6dB", "-50%", "50" of 100, silent .. x-loud); nested
                               rates multiply, dB and semitones add
``<say-as>``                   ``interpret-as`` characters | spell-out | cardinal | number | ordinal |
                               digits | date | telephone; ``format`` (dates: mdy, dmy, ymd, md, dm,
                               ym, my, y, m, d)
``<sub>``                      ``alias``: spoken instead of the content (the content is displayed)
``<phoneme>``                  ``alphabet="ipa"`` (default ipa), ``ph``: pronunciation of the content
``<emotion>``                  ``name`` (see :mod:`gateway.text.emotions`), ``intensity``
                               (0..1 or "70%")
``<mstts:express-as>``         Azure: ``style`` (mapped onto the emotion set), ``styledegree``
                               (0.01..2), ``role`` (ignored, warning)
``<voice>``                    accepted because Azure SSML wraps express-as in it; ``name`` is
                               ignored (the character picks the voice) with a warning
=============================  ==================================================================

``mstts`` namespace: ``http://www.w3.org/2001/mstts`` (Azure's ``https://`` spelling too). The
``mstts:`` prefix is also accepted when undeclared (the declaration is added to ``<speak>``),
because snippets copied out of Azure documents often lose it. The SSML namespace
``http://www.w3.org/2001/10/synthesis`` or no namespace both work; any other namespace is an
unknown element.

Output: :class:`ParsedSsml` with the spoken ``text`` (say-as and sub expanded, whitespace
folded as :func:`gateway.text.clean_text` does), the ``written`` text (what was written: sub
and say-as content), runs with their offsets into ``text``, and a map ``text -> written``.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass, field, replace
from xml.parsers import expat

from gateway.text import emotions as emo
from gateway.text.normalize import (OffsetMap, cardinal, date_words, digit_words, ordinal, spell_characters,
    telephone_words, year_words)
from gateway.core.segments import Prosody

__all__ = ["SsmlError", "Limits", "SayAs", "Run", "ParsedSsml", "is_ssml", "parse_ssml", "ALLOWED_ELEMENTS",
           "SSML_NS", "MSTTS_NS"]

SSML_NS = "http://www.w3.org/2001/10/synthesis"
MSTTS_NS = "http://www.w3.org/2001/mstts"
_MSTTS_NAMESPACES = frozenset({MSTTS_NS, "https://www.w3.org/2001/mstts"})
_XML_NS = "http://www.w3.org/XML/1998/namespace"


class SsmlError(ValueError):
    """Invalid or disallowed SSML. ``element`` names the offending element (``"break"``, ``"!DOCTYPE"``...)."""

    def __init__(self, message: str, element: str | None = None, *, line: int | None = None,
                 column: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.element = element
        self.line = line
        self.column = column

    def to_dict(self) -> dict:
        return {"error": "invalid_ssml", "message": self.message, "element": self.element, "line": self.line,
                "column": self.column}


@dataclass(frozen=True, slots=True)
class Limits:
    """Hard limits (exceeding one is always an error, lenient or not)."""

    max_chars: int = 20_000  #: length of the SSML document
    max_depth: int = 16  #: element nesting (``<speak>`` is depth 1)
    max_elements: int = 512
    max_break_ms: int = 10_000  #: one ``<break>``
    max_total_break_ms: int = 60_000  #: all breaks of the document
    max_attr_chars: int = 512  #: one attribute value


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True, slots=True)
class SayAs:
    interpret_as: str
    format: str | None = None


@dataclass(frozen=True, slots=True)
class Run:
    """A stretch of spoken text with one delivery. ``text == ParsedSsml.text[char_start:char_start+len(text)]``."""

    text: str  #: spoken (alias / say-as expansion applied)
    char_start: int  #: offset into :attr:`ParsedSsml.text`
    prosody: Prosody = Prosody()
    break_before_ms: int = 0  #: silence before this run (sum of the ``<break>`` elements before it)
    boundary_before: bool = False  #: a ``<p>``/``<s>`` edge precedes it: a segment must start here
    phoneme_ipa: str | None = None  #: ``<phoneme ph>`` of this run's text
    say_as: SayAs | None = None
    written: str = ""  #: the text as written (differs from ``text`` for ``<sub>`` / ``<say-as>``)
    written_start: int = 0  #: offset into :attr:`ParsedSsml.written`

    @property
    def char_end(self) -> int:
        return self.char_start + len(self.text)


@dataclass(slots=True)
class ParsedSsml:
    text: str  #: spoken plain text
    written: str  #: displayed plain text
    runs: list[Run]
    offsets: OffsetMap  #: ``text`` positions -> ``written`` positions
    warnings: list[str] = field(default_factory=list)
    trailing_break_ms: int = 0  #: breaks after the last word
    lang: str | None = None  #: ``xml:lang`` of ``<speak>``


_DECL = re.compile(r"^\ufeff?\s*(?:<\?xml[^>]{0,200}\?>\s*)?(?:<!--.{0,2000}?-->\s*)*", re.DOTALL)
_START = re.compile(r"<(?:speak|[A-Za-z_][\w.\-]*:speak)[\s/>]|<!DOCTYPE", re.IGNORECASE)


def is_ssml(text: str) -> bool:
    """Whether ``text`` is an SSML document: starts (after an XML declaration/comments) with ``<speak``.

    A document starting with ``<!DOCTYPE`` also counts, so that it is rejected loudly rather than
    read out as text.
    """
    if not isinstance(text, str):
        return False
    m = _DECL.match(text)
    rest = text[m.end():] if m else text
    return _START.match(rest) is not None


# --------------------------------------------------------------------------------------------
# Attribute values

_BREAK_STRENGTH = {"none": 0, "x-weak": 250, "weak": 500, "medium": 750, "strong": 1000, "x-strong": 1250}
_RATE_LABELS = {"x-slow": 0.6, "slow": 0.8, "medium": 1.0, "default": 1.0, "fast": 1.25, "x-fast": 1.5}
_PITCH_LABELS = {"x-low": -4.0, "low": -2.0, "medium": 0.0, "default": 0.0, "high": 2.0, "x-high": 4.0}
_VOLUME_LABELS = {"silent": -60.0, "x-soft": -12.0, "soft": -6.0, "medium": 0.0, "default": 0.0, "loud": 6.0,
                  "x-loud": 10.0}
RATE_RANGE = (0.5, 2.0)
PITCH_RANGE = (-12.0, 12.0)
VOLUME_RANGE = (-60.0, 12.0)
#: Nominal voice pitch used to turn "+20Hz" into semitones.
NOMINAL_PITCH_HZ = 150.0
_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)"
_TIME_RE = re.compile(rf"^\s*({_NUMBER})\s*(ms|s)\s*$", re.IGNORECASE)
_PERCENT_RE = re.compile(rf"^\s*({_NUMBER})\s*%\s*$")
_PLAIN_RE = re.compile(rf"^\s*({_NUMBER})\s*$")
_ST_RE = re.compile(rf"^\s*({_NUMBER})\s*st\s*$", re.IGNORECASE)
_HZ_RE = re.compile(rf"^\s*({_NUMBER})\s*hz\s*$", re.IGNORECASE)
_DB_RE = re.compile(rf"^\s*({_NUMBER})\s*db\s*$", re.IGNORECASE)
_EMPHASIS_LEVELS = ("strong", "moderate", "reduced", "none")
_SAY_AS = {"characters": "characters", "spell-out": "characters", "verbatim": "characters", "letters": "characters",
           "cardinal": "cardinal", "number": "cardinal", "ordinal": "ordinal", "digits": "digits",
           "number_digit": "digits", "date": "date", "telephone": "telephone"}
_DATE_FORMATS = ("mdy", "dmy", "ymd", "ydm", "md", "dm", "ym", "my", "y", "m", "d")


class _BadValue(ValueError):
    pass


def _parse_break_time(value: str) -> int:
    m = _TIME_RE.match(value)
    if not m:
        raise _BadValue(f'break time {value!r} is not like "500ms" or "1.5s"')
    x = float(m.group(1))
    if x < 0 or not math.isfinite(x):
        raise _BadValue(f"break time {value!r} is negative")
    return int(round(x * (1000 if m.group(2).lower() == "s" else 1)))


def _clamp(x: float, bounds: tuple[float, float], what: str, warnings: list[str]) -> float:
    lo, hi = bounds
    if not math.isfinite(x):
        raise _BadValue(f"{what} is not a finite number")
    if x < lo or x > hi:
        warnings.append(f"{what} {x:g} clamped to [{lo:g}, {hi:g}]")
        return lo if x < lo else hi
    return x


def _parse_rate(value: str, warnings: list[str]) -> float:
    v = value.strip().lower()
    if v in _RATE_LABELS:
        return _RATE_LABELS[v]
    m = _PERCENT_RE.match(v)
    if m:
        p = float(m.group(1))
        rate = 1.0 + p / 100.0 if v.startswith(("+", "-")) else p / 100.0
    else:
        m = _PLAIN_RE.match(v)
        if not m:
            raise _BadValue(f"prosody rate {value!r} is not a label, a percentage or a number")
        rate = float(m.group(1))
    return _clamp(rate, RATE_RANGE, "prosody rate", warnings)


def _parse_pitch(value: str, warnings: list[str]) -> float:
    v = value.strip().lower()
    if v in _PITCH_LABELS:
        return _PITCH_LABELS[v]
    if m := _ST_RE.match(v):
        st = float(m.group(1))
    elif m := _PERCENT_RE.match(v):
        factor = 1.0 + float(m.group(1)) / 100.0
        if factor <= 0:
            raise _BadValue(f"prosody pitch {value!r} is -100% or less")
        st = 12.0 * math.log2(factor)
    elif (m := _HZ_RE.match(v)) and v.startswith(("+", "-")):
        factor = (NOMINAL_PITCH_HZ + float(m.group(1))) / NOMINAL_PITCH_HZ
        if factor <= 0:
            raise _BadValue(f"prosody pitch {value!r} is below 0 Hz")
        st = 12.0 * math.log2(factor)
    else:
        raise _BadValue(f"prosody pitch {value!r} is not like +2st, -10%, +20Hz or a label")
    return _clamp(st, PITCH_RANGE, "prosody pitch (semitones)", warnings)


def _parse_volume(value: str, warnings: list[str]) -> float:
    v = value.strip().lower()
    if v in _VOLUME_LABELS:
        return _VOLUME_LABELS[v]
    if m := _DB_RE.match(v):
        db = float(m.group(1))
    elif m := _PERCENT_RE.match(v):
        factor = 1.0 + float(m.group(1)) / 100.0 if v.startswith(("+", "-")) else float(m.group(1)) / 100.0
        db = 20.0 * math.log10(factor) if factor > 0 else VOLUME_RANGE[0]
    elif (m := _PLAIN_RE.match(v)) and not v.startswith(("+", "-")):
        factor = float(m.group(1)) / 100.0  # Azure: absolute 0..100, 100 = the voice's own volume
        db = 20.0 * math.log10(factor) if factor > 0 else VOLUME_RANGE[0]
    else:
        raise _BadValue(f"prosody volume {value!r} is not like +6dB, -50%, 50 or a label")
    return _clamp(db, VOLUME_RANGE, "prosody volume (dB)", warnings)


def _parse_intensity(value: str, warnings: list[str]) -> float:
    v = value.strip().lower()
    labels = {"low": 0.33, "medium": 0.66, "high": 1.0, "x-low": 0.15, "x-high": 1.0}
    if v in labels:
        return labels[v]
    if m := _PERCENT_RE.match(v):
        x = float(m.group(1)) / 100.0
    elif m := _PLAIN_RE.match(v):
        x = float(m.group(1))
    else:
        raise _BadValue(f"intensity {value!r} is not a number 0..1 or a percentage")
    return _clamp(x, (0.0, 1.0), "intensity", warnings)


def _parse_styledegree(value: str) -> float:
    m = _PLAIN_RE.match(value)
    if not m:
        raise _BadValue(f"styledegree {value!r} is not a number")
    x = float(m.group(1))
    return min(max(x, 0.01), 2.0)


# --------------------------------------------------------------------------------------------
# say-as


def _expand_say_as(kind: str, fmt: str | None, content: str, warnings: list[str]) -> str | None:
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
            return _say_date(text, fmt)
    except (ValueError, OverflowError, IndexError, KeyError):
        pass
    warnings.append(f'say-as interpret-as="{kind}" could not read {text[:40]!r}; read as written')
    return None


def _say_date(text: str, fmt: str | None) -> str:
    parts = [p for p in re.split(r"[\s\-/.,]+", text) if p]
    if fmt is None:
        fmt = "ymd" if re.fullmatch(r"\d{4}-\d{1,2}-\d{1,2}", text) else "mdy"[: len(parts)] if len(parts) < 3 else "mdy"
    fmt = fmt.lower()
    if fmt not in _DATE_FORMATS or len(parts) != len(fmt):
        raise ValueError("date does not match format")
    y = m = d = None
    for letter, part in zip(fmt, parts):
        if letter == "y":
            y = int(part) if len(part) != 2 else 2000 + int(part)
        elif letter == "m":
            m = int(part) if part.isdigit() else _month_number(part)
        else:
            d = int(re.sub(r"(?i)(st|nd|rd|th)$", "", part))
    if m is not None and not 1 <= m <= 12 or d is not None and not 1 <= d <= 31:
        raise ValueError("date out of range")
    if m is None and d is None and y is not None:
        return year_words(y)
    return date_words(y, m, d, day_first=fmt.startswith("d"))


def _month_number(name: str) -> int:
    from gateway.text.normalize import _MONTH_LOOKUP# noqa: PLC0415 - private table, same package

    return _MONTH_LOOKUP[name.lower().rstrip(".")]


# --------------------------------------------------------------------------------------------
# The parser

_ATTRS: dict[str, frozenset[str]] = {
    "speak": frozenset({"version", "xml:lang", "xml:base", "onlangfailure"}),
    "p": frozenset({"xml:lang"}),
    "s": frozenset({"xml:lang"}),
    "break": frozenset({"time", "strength"}),
    "emphasis": frozenset({"level"}),
    "prosody": frozenset({"rate", "pitch", "volume"}),
    "say-as": frozenset({"interpret-as", "format", "detail"}),
    "sub": frozenset({"alias"}),
    "phoneme": frozenset({"alphabet", "ph"}),
    "emotion": frozenset({"name", "intensity"}),
    "mstts:express-as": frozenset({"style", "styledegree", "role"}),
    "voice": frozenset({"name", "xml:lang", "gender", "age", "variant"}),
}
#: Element names (``mstts:`` for the Azure namespace) accepted by :func:`parse_ssml`.
ALLOWED_ELEMENTS: frozenset[str] = frozenset(_ATTRS)
_CAPTURE = frozenset({"say-as", "sub", "phoneme"})


@dataclass(slots=True)
class _Frame:
    name: str
    prosody: Prosody
    allowed: bool = True
    capture: list[str] | None = None  # text of sub / say-as / phoneme
    attrs: dict[str, str] = field(default_factory=dict)
    boundary: bool = False


@dataclass(slots=True)
class _Text:
    text: str
    prosody: Prosody


@dataclass(slots=True)
class _Atom:
    spoken: str
    written: str
    prosody: Prosody
    phoneme_ipa: str | None = None
    say_as: SayAs | None = None
    lead_space: bool = False
    trail_space: bool = False


@dataclass(slots=True)
class _Break:
    ms: int


@dataclass(slots=True)
class _Boundary:
    pass


class _Builder:
    """expat callbacks -> items (text / atom / break / boundary)."""

    def __init__(self, lenient: bool, limits: Limits) -> None:
        self.lenient = lenient
        self.limits = limits
        self.stack: list[_Frame] = []
        self.items: list[_Text | _Atom | _Break | _Boundary] = []
        self.warnings: list[str] = []
        self.count = 0
        self.total_break = 0
        self.lang: str | None = None
        self.seen_root = False
        self.parser: expat.XMLParserType | None = None

    # -- helpers
    def error(self, message: str, element: str | None) -> SsmlError:
        line = col = None
        if self.parser is not None:
            line, col = self.parser.CurrentLineNumber, self.parser.CurrentColumnNumber
        return SsmlError(message, element, line=line, column=col)

    def reject(self, message: str, element: str) -> None:
        """Strict: raise; lenient: warn."""
        if not self.lenient:
            raise self.error(message, element)
        self.warnings.append(message)

    @staticmethod
    def split(qname: str) -> tuple[str | None, str, str | None]:
        parts = qname.split(" ")
        if len(parts) == 1:
            return None, parts[0], None
        if len(parts) == 2:
            return parts[0], parts[1], None
        return parts[0], parts[1], parts[2]

    def display(self, qname: str) -> str:
        ns, local, prefix = self.split(qname)
        if ns is None:
            return local
        if ns in _MSTTS_NAMESPACES:
            return "mstts:" + local
        if ns == SSML_NS:
            return local
        return f"{prefix}:{local}" if prefix else f"{{{ns}}}{local}"

    def canonical(self, qname: str) -> str | None:
        ns, local, _ = self.split(qname)
        if ns in (None, SSML_NS) and local in _ATTRS and not local.startswith("mstts:"):
            return local
        if ns in _MSTTS_NAMESPACES and ("mstts:" + local) in _ATTRS:
            return "mstts:" + local
        return None

    def attr_name(self, qname: str) -> str:
        ns, local, prefix = self.split(qname)
        if ns is None:
            return local
        if ns == _XML_NS:
            return "xml:" + local
        return f"{prefix or ns}:{local}"

    # -- expat handlers
    def start(self, qname: str, raw_attrs: dict[str, str]) -> None:
        self.count += 1
        if self.count > self.limits.max_elements:
            raise self.error(f"more than {self.limits.max_elements} elements", self.display(qname))
        if len(self.stack) + 1 > self.limits.max_depth:
            raise self.error(f"elements nested deeper than {self.limits.max_depth}", self.display(qname))
        shown = self.display(qname)
        name = self.canonical(qname)
        parent = self.stack[-1] if self.stack else None
        if parent is None:
            if name != "speak":
                raise self.error(f"the root element must be <speak>, not <{shown}>", shown)
            self.seen_root = True
        elif name == "speak":
            raise self.error("<speak> may only be the root element", "speak")
        prosody = parent.prosody if parent else Prosody()
        if parent is not None and parent.capture is not None:
            # children of sub / say-as / phoneme: only text is meaningful
            self.reject(f"<{shown}> is not allowed inside <{parent.name}>", shown)
            self.stack.append(_Frame(shown, prosody, allowed=False, capture=parent.capture))
            return
        if name is None:
            self.reject(f"element <{shown}> is not supported", shown)
            self.stack.append(_Frame(shown, prosody, allowed=False))
            return
        attrs: dict[str, str] = {}
        for key, value in raw_attrs.items():
            aname = self.attr_name(key)
            if len(value) > self.limits.max_attr_chars:
                raise self.error(f'attribute "{aname}" of <{name}> is longer than {self.limits.max_attr_chars}', name)
            if aname not in _ATTRS[name]:
                self.reject(f'attribute "{aname}" is not supported on <{name}>', name)
                continue
            attrs[aname] = value
        frame = _Frame(name, prosody, attrs=attrs)
        try:
            self.open(frame)
        except _BadValue as exc:
            self.reject(f"<{name}>: {exc}", name)
        self.stack.append(frame)

    def open(self, frame: _Frame) -> None:
        a, name, w = frame.attrs, frame.name, self.warnings
        if name == "speak":
            self.lang = a.get("xml:lang")
        elif name in ("p", "s"):
            frame.boundary = True
            self.items.append(_Boundary())
        elif name == "voice":
            if "name" in a:
                w.append(f'<voice name="{a["name"][:60]}"> ignored: the character\'s voice is used')
        elif name == "break":
            if "time" in a:
                ms = _parse_break_time(a["time"])
            elif "strength" in a:
                s = a["strength"].strip().lower()
                if s not in _BREAK_STRENGTH:
                    raise _BadValue(f"break strength {a['strength']!r} is not one of {', '.join(_BREAK_STRENGTH)}")
                ms = _BREAK_STRENGTH[s]
            else:
                ms = _BREAK_STRENGTH["medium"]
            if ms > self.limits.max_break_ms:
                raise self.error(f"break of {ms} ms is longer than {self.limits.max_break_ms} ms", "break")
            self.total_break += ms
            if self.total_break > self.limits.max_total_break_ms:
                raise self.error(f"breaks add up to more than {self.limits.max_total_break_ms} ms", "break")
            self.items.append(_Break(ms))
        elif name == "emphasis":
            level = a.get("level", "moderate").strip().lower()
            if level not in _EMPHASIS_LEVELS:
                raise _BadValue(f"emphasis level {a['level']!r} is not one of {', '.join(_EMPHASIS_LEVELS)}")
            frame.prosody = replace(frame.prosody, emphasis=None if level == "none" else level)
        elif name == "prosody":
            p = frame.prosody
            rate, vol, pitch = p.rate, p.volume_db, p.pitch_semitones
            errors = []
            for key, parse in (("rate", _parse_rate), ("volume", _parse_volume), ("pitch", _parse_pitch)):
                if key in a:
                    try:
                        value = parse(a[key], w)
                    except _BadValue as exc:
                        errors.append(str(exc))
                        continue
                    if key == "rate":
                        rate = _clamp(rate * value, RATE_RANGE, "combined prosody rate", w)
                    elif key == "volume":
                        vol = _clamp(vol + value, VOLUME_RANGE, "combined prosody volume", w)
                    else:
                        pitch = _clamp(pitch + value, PITCH_RANGE, "combined prosody pitch", w)
            frame.prosody = replace(p, rate=round(rate, 4), volume_db=round(vol, 3), pitch_semitones=round(pitch, 3))
            if errors:
                raise _BadValue("; ".join(errors))
        elif name == "emotion":
            if "name" not in a:
                raise _BadValue('missing attribute "name"')
            try:
                emotion = emo.resolve_emotion(a["name"])
            except emo.UnknownEmotion as exc:
                raise _BadValue(str(exc)) from None
            intensity = _parse_intensity(a["intensity"], w) if "intensity" in a else 1.0
            frame.prosody = replace(frame.prosody, emotion=emotion.value, intensity=round(intensity, 3))
        elif name == "mstts:express-as":
            if "style" not in a:
                raise _BadValue('missing attribute "style"')
            if "role" in a:
                w.append(f'<mstts:express-as role="{a["role"][:40]}"> ignored')
            degree = _parse_styledegree(a["styledegree"]) if "styledegree" in a else 1.0
            try:
                emotion, intensity = emo.resolve_style(a["style"], degree)
            except emo.UnknownEmotion:
                raise _BadValue(f"unknown style {a['style']!r}") from None
            frame.prosody = replace(frame.prosody, emotion=emotion.value, intensity=round(intensity, 3))
        elif name in _CAPTURE:
            if name == "sub" and "alias" not in a:
                raise _BadValue('missing attribute "alias"')
            if name == "phoneme":
                if "ph" not in a or not a["ph"].strip():
                    raise _BadValue('missing attribute "ph"')
                alphabet = a.get("alphabet", "ipa").strip().lower()
                if alphabet != "ipa":
                    raise _BadValue(f'alphabet {a["alphabet"]!r} is not supported (only "ipa")')
            if name == "say-as":
                kind = a.get("interpret-as", "").strip().lower()
                if kind not in _SAY_AS:
                    raise _BadValue(f'interpret-as {a.get("interpret-as", "")!r} is not one of '
                                    f'{", ".join(sorted(_SAY_AS))}')
                fmt = a.get("format")
                if fmt is not None and _SAY_AS[kind] == "date" and fmt.strip().lower() not in _DATE_FORMATS:
                    raise _BadValue(f"date format {fmt!r} is not one of {', '.join(_DATE_FORMATS)}")
            frame.capture = []

    def end(self, qname: str) -> None:
        frame = self.stack.pop()
        if frame.capture is not None and frame.allowed and frame.name in _CAPTURE:
            self.close_capture(frame)
        if frame.boundary:
            self.items.append(_Boundary())

    def close_capture(self, frame: _Frame) -> None:
        raw = "".join(frame.capture or [])
        written = _fold(raw)
        a = frame.attrs
        lead = raw[:1].isspace()
        trail = raw[-1:].isspace()
        if frame.name == "sub":
            spoken = _fold(a["alias"])
            if not spoken:
                self.warnings.append("<sub> with an empty alias: content read as written")
                spoken = written
            atom = _Atom(spoken, written, frame.prosody)
        elif frame.name == "phoneme":
            if not written:
                self.reject("<phoneme> needs text content", "phoneme")
                return
            atom = _Atom(written, written, frame.prosody, phoneme_ipa=a["ph"].strip())
        else:
            kind = _SAY_AS[a["interpret-as"].strip().lower()]
            fmt = a.get("format")
            spoken = _expand_say_as(kind, fmt.strip() if fmt else None, written, self.warnings) if written else ""
            atom = _Atom(_fold(spoken or written), written, frame.prosody,
                         say_as=SayAs(kind, fmt.strip().lower() if fmt else None))
        atom.lead_space, atom.trail_space = lead, trail
        if atom.spoken:
            self.items.append(atom)

    def chars(self, data: str) -> None:
        if not self.stack:
            return
        top = self.stack[-1]
        if top.capture is not None:
            top.capture.append(data)
        else:
            self.items.append(_Text(data, top.prosody))


def _forbid(what: str):
    def handler(*_args):
        raise SsmlError(f"{what} is not allowed in SSML (no DTDs, no entity declarations)", what)

    return handler


def _forbid_external(*_args):
    raise SsmlError("external entities are not allowed in SSML", "!ENTITY")


def _make_parser(builder: _Builder) -> expat.XMLParserType:
    parser = expat.ParserCreate(encoding="utf-8", namespace_separator=" ")
    parser.namespace_prefixes = True
    parser.buffer_text = True
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = _forbid("!DOCTYPE")
    parser.EntityDeclHandler = _forbid("!ENTITY")
    parser.UnparsedEntityDeclHandler = _forbid("!ENTITY")
    parser.NotationDeclHandler = _forbid("!NOTATION")
    parser.ExternalEntityRefHandler = _forbid_external
    parser.SkippedEntityHandler = _forbid("entity reference")
    parser.StartElementHandler = builder.start
    parser.EndElementHandler = builder.end
    parser.CharacterDataHandler = builder.chars
    builder.parser = parser
    return parser


_MSTTS_USE = re.compile(r"<\s*/?\s*mstts:")
_SPEAK_OPEN = re.compile(r"<speak(?=[\s/>])")


def _declare_mstts(text: str) -> str:
    """Add ``xmlns:mstts`` to ``<speak>`` when the prefix is used but not declared anywhere."""
    if "xmlns:mstts" in text or not _MSTTS_USE.search(text):
        return text
    return _SPEAK_OPEN.sub(f'<speak xmlns:mstts="{MSTTS_NS}"', text, count=1)


_WS = re.compile(r"\s+")
#: Escaped markup in the text (``&lt;b&gt;``) is removed as :func:`gateway.text.clean_text` removes tags.
_TAG = re.compile(r"<[^<>]{0,200}>")


def _fold(text: str) -> str:
    text = _TAG.sub(" ", text)
    text = "".join(ch if (unicodedata.category(ch)[0] != "C" or ch in "\t\n") else " " for ch in text)
    return _WS.sub(" ", text).strip()


def parse_ssml(text: str, *, lenient: bool = False, limits: Limits = DEFAULT_LIMITS) -> ParsedSsml:
    """Parse an SSML document into runs. Raises :class:`SsmlError` (never anything else) when it is invalid.

    ``lenient``: unsupported elements and attributes are dropped (their text is kept), bad
    attribute values ignored, and a document that is not well-formed XML is read as plain text
    (tags removed); each with a warning. Limits and forbidden constructs (DTD, entities) are
    errors either way.
    """
    if not isinstance(text, str):
        raise SsmlError("SSML must be a string")
    if len(text) > limits.max_chars:
        raise SsmlError(f"SSML longer than {limits.max_chars} characters", "speak")
    builder = _Builder(lenient, limits)
    parser = _make_parser(builder)
    try:
        parser.Parse(_declare_mstts(text).encode("utf-8", "surrogatepass"), True)
    except SsmlError:
        raise
    except expat.ExpatError as exc:
        message = expat.ErrorString(exc.code) if exc.code else str(exc)
        if lenient:
            return _plain_fallback(text, f"not well-formed SSML ({message}); read as plain text")
        raise SsmlError(f"not well-formed SSML: {message} (line {exc.lineno}, column {exc.offset})", None,
                        line=exc.lineno, column=exc.offset) from None
    except (UnicodeError, ValueError, RecursionError) as exc:
        if lenient:
            return _plain_fallback(text, f"unreadable SSML ({exc}); read as plain text")
        raise SsmlError(f"unreadable SSML: {exc}") from None
    finally:
        builder.parser = None
    if not builder.seen_root:
        raise SsmlError("no <speak> element", "speak")
    return _assemble(builder)


def _plain_fallback(text: str, warning: str) -> ParsedSsml:
    from gateway.text.clean import clean_text# noqa: PLC0415

    plain = clean_text(text)
    runs = [Run(plain, 0, Prosody(), written=plain)] if plain else []
    return ParsedSsml(plain, plain, runs, OffsetMap.identity(len(plain)), [warning])


_NO_SPACE_BEFORE = frozenset(",.;:!?")


def _assemble(builder: _Builder) -> ParsedSsml:
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

    def emit(s_text: str, w_text: str, prosody: Prosody, atom: _Atom | None = None) -> None:
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

    for item in builder.items:
        if isinstance(item, _Text):
            clean = "".join(ch if (unicodedata.category(ch)[0] != "C" or ch in "\t\n") else " "
                            for ch in _TAG.sub(" ", item.text))
            for tok in re.finditer(r"\s+|\S+", clean):
                if tok.group(0)[0].isspace():
                    pending_space = True
                else:
                    emit(tok.group(0), tok.group(0), item.prosody)
        elif isinstance(item, _Atom):
            if item.lead_space:
                pending_space = True
            emit(item.spoken, item.written, item.prosody, item)
            if item.trail_space:
                pending_space = True
        elif isinstance(item, _Break):
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
    return ParsedSsml(s_text, w_text, runs, OffsetMap.from_pieces(pieces, s_len, w_len), builder.warnings,
                      pending_break, builder.lang)
