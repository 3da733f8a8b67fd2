"""Attribute values of the SSML subset: break times, prosody rate / pitch / volume, emotion intensity.

Each parser takes the attribute's text and returns a number in the unit the pipeline uses
(milliseconds, rate factor, semitones, dB, 0..1), clamping it to its range with a warning.
A value that cannot be read raises :class:`BadValue`; the builder turns that into an
:class:`~gateway.text.ssml.SsmlError` (strict) or a warning (lenient). The element-level
helpers (:func:`break_ms`, :func:`emphasis`, :func:`prosody_of`, :func:`emotion`,
:func:`express_as`, :func:`check_capture`) read one element's attributes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import replace

from gateway.core.segments import Prosody
from gateway.text import emotions as emo

BREAK_STRENGTH = {"none": 0, "x-weak": 250, "weak": 500, "medium": 750, "strong": 1000, "x-strong": 1250}
_RATE_LABELS = {"x-slow": 0.6, "slow": 0.8, "medium": 1.0, "default": 1.0, "fast": 1.25, "x-fast": 1.5}
_PITCH_LABELS = {"x-low": -4.0, "low": -2.0, "medium": 0.0, "default": 0.0, "high": 2.0, "x-high": 4.0}
_VOLUME_LABELS = {"silent": -60.0, "x-soft": -12.0, "soft": -6.0, "medium": 0.0, "default": 0.0, "loud": 6.0,
                  "x-loud": 10.0}
_INTENSITY_LABELS = {"low": 0.33, "medium": 0.66, "high": 1.0, "x-low": 0.15, "x-high": 1.0}
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
EMPHASIS_LEVELS = ("strong", "moderate", "reduced", "none")
#: ``interpret-as`` spellings -> the expansion kind (see :mod:`gateway.text.ssml.say_as`).
SAY_AS = {"characters": "characters", "spell-out": "characters", "verbatim": "characters", "letters": "characters",
          "cardinal": "cardinal", "number": "cardinal", "ordinal": "ordinal", "digits": "digits",
          "number_digit": "digits", "date": "date", "telephone": "telephone"}
DATE_FORMATS = ("mdy", "dmy", "ymd", "ydm", "md", "dm", "ym", "my", "y", "m", "d")


class BadValue(ValueError):
    """An attribute value that cannot be read (strict: an error; lenient: a warning)."""


def parse_break_time(value: str) -> int:
    m = _TIME_RE.match(value)
    if not m:
        raise BadValue(f'break time {value!r} is not like "500ms" or "1.5s"')
    x = float(m.group(1))
    if x < 0 or not math.isfinite(x):
        raise BadValue(f"break time {value!r} is negative")
    return int(round(x * (1000 if m.group(2).lower() == "s" else 1)))


def clamp(x: float, bounds: tuple[float, float], what: str, warnings: list[str]) -> float:
    lo, hi = bounds
    if not math.isfinite(x):
        raise BadValue(f"{what} is not a finite number")
    if x < lo or x > hi:
        warnings.append(f"{what} {x:g} clamped to [{lo:g}, {hi:g}]")
        return lo if x < lo else hi
    return x


def _measure(value: str, labels: Mapping[str, float], number: Callable[[str, str], float], bounds: tuple[float, float],
             what: str, warnings: list[str]) -> float:
    """A label's value as is, else ``number(stripped lower-cased value, value)`` clamped to ``bounds``."""
    v = value.strip().lower()
    if v in labels:
        return labels[v]
    return clamp(number(v, value), bounds, what, warnings)


def _relative(v: str, m: re.Match[str]) -> float:
    """Factor of a percentage: ``"+10%"`` / ``"-10%"`` are relative (1.1, 0.9), ``"80%"`` absolute (0.8)."""
    p = float(m.group(1))
    return 1.0 + p / 100.0 if v.startswith(("+", "-")) else p / 100.0


def _db(factor: float) -> float:
    return 20.0 * math.log10(factor) if factor > 0 else VOLUME_RANGE[0]


def _rate_number(v: str, value: str) -> float:
    if m := _PERCENT_RE.match(v):
        return _relative(v, m)
    if m := _PLAIN_RE.match(v):
        return float(m.group(1))
    raise BadValue(f"prosody rate {value!r} is not a label, a percentage or a number")


def _semitones(factor: float, value: str, below: str) -> float:
    if factor <= 0:
        raise BadValue(f"prosody pitch {value!r} is {below}")
    return 12.0 * math.log2(factor)


def _pitch_number(v: str, value: str) -> float:
    if m := _ST_RE.match(v):
        return float(m.group(1))
    if m := _PERCENT_RE.match(v):
        return _semitones(1.0 + float(m.group(1)) / 100.0, value, "-100% or less")
    if (m := _HZ_RE.match(v)) and v.startswith(("+", "-")):
        return _semitones((NOMINAL_PITCH_HZ + float(m.group(1))) / NOMINAL_PITCH_HZ, value, "below 0 Hz")
    raise BadValue(f"prosody pitch {value!r} is not like +2st, -10%, +20Hz or a label")


def _volume_number(v: str, value: str) -> float:
    if m := _DB_RE.match(v):
        return float(m.group(1))
    if m := _PERCENT_RE.match(v):
        return _db(_relative(v, m))
    if (m := _PLAIN_RE.match(v)) and not v.startswith(("+", "-")):
        return _db(float(m.group(1)) / 100.0)  # Azure: absolute 0..100, 100 = the voice's own volume
    raise BadValue(f"prosody volume {value!r} is not like +6dB, -50%, 50 or a label")


def _intensity_number(v: str, value: str) -> float:
    if m := _PERCENT_RE.match(v):
        return float(m.group(1)) / 100.0
    if m := _PLAIN_RE.match(v):
        return float(m.group(1))
    raise BadValue(f"intensity {value!r} is not a number 0..1 or a percentage")


def parse_rate(value: str, warnings: list[str]) -> float:
    return _measure(value, _RATE_LABELS, _rate_number, RATE_RANGE, "prosody rate", warnings)


def parse_pitch(value: str, warnings: list[str]) -> float:
    return _measure(value, _PITCH_LABELS, _pitch_number, PITCH_RANGE, "prosody pitch (semitones)", warnings)


def parse_volume(value: str, warnings: list[str]) -> float:
    return _measure(value, _VOLUME_LABELS, _volume_number, VOLUME_RANGE, "prosody volume (dB)", warnings)


def parse_intensity(value: str, warnings: list[str]) -> float:
    return _measure(value, _INTENSITY_LABELS, _intensity_number, (0.0, 1.0), "intensity", warnings)


def parse_styledegree(value: str) -> float:
    m = _PLAIN_RE.match(value)
    if not m:
        raise BadValue(f"styledegree {value!r} is not a number")
    x = float(m.group(1))
    return min(max(x, 0.01), 2.0)


# --------------------------------------------------------------------------------------------
# Elements: an element's attributes applied (``a`` = its allowed attributes)


def break_ms(a: Mapping[str, str]) -> int:
    """Length of a ``<break>``: ``time``, else ``strength``, else medium (limits are the caller's)."""
    if "time" in a:
        return parse_break_time(a["time"])
    if "strength" in a:
        s = a["strength"].strip().lower()
        if s not in BREAK_STRENGTH:
            raise BadValue(f"break strength {a['strength']!r} is not one of {', '.join(BREAK_STRENGTH)}")
        return BREAK_STRENGTH[s]
    return BREAK_STRENGTH["medium"]


def emphasis(prosody: Prosody, a: Mapping[str, str]) -> Prosody:
    level = a.get("level", "moderate").strip().lower()
    if level not in EMPHASIS_LEVELS:
        raise BadValue(f"emphasis level {a['level']!r} is not one of {', '.join(EMPHASIS_LEVELS)}")
    return replace(prosody, emphasis=None if level == "none" else level)


def prosody_of(p: Prosody, a: Mapping[str, str], w: list[str]) -> tuple[Prosody, list[str]]:
    """``<prosody>`` inside ``p``: rates multiply, dB and semitones add. Also returns the unreadable values' errors.

    The readable attributes apply even when another one is unreadable (lenient mode keeps them).
    """
    rate, vol, pitch = p.rate, p.volume_db, p.pitch_semitones
    errors = []
    for key, parse in (("rate", parse_rate), ("volume", parse_volume), ("pitch", parse_pitch)):
        if key in a:
            try:
                value = parse(a[key], w)
            except BadValue as exc:
                errors.append(str(exc))
                continue
            if key == "rate":
                rate = clamp(rate * value, RATE_RANGE, "combined prosody rate", w)
            elif key == "volume":
                vol = clamp(vol + value, VOLUME_RANGE, "combined prosody volume", w)
            else:
                pitch = clamp(pitch + value, PITCH_RANGE, "combined prosody pitch", w)
    return replace(p, rate=round(rate, 4), volume_db=round(vol, 3), pitch_semitones=round(pitch, 3)), errors


def emotion(p: Prosody, a: Mapping[str, str], w: list[str]) -> Prosody:
    if "name" not in a:
        raise BadValue('missing attribute "name"')
    try:
        found = emo.resolve_emotion(a["name"])
    except emo.UnknownEmotion as exc:
        raise BadValue(str(exc)) from None
    intensity = parse_intensity(a["intensity"], w) if "intensity" in a else 1.0
    return replace(p, emotion=found.value, intensity=round(intensity, 3))


def express_as(p: Prosody, a: Mapping[str, str], w: list[str]) -> Prosody:
    """Azure ``<mstts:express-as>``: the style mapped onto the emotion set, ``styledegree`` its intensity."""
    if "style" not in a:
        raise BadValue('missing attribute "style"')
    if "role" in a:
        w.append(f'<mstts:express-as role="{a["role"][:40]}"> ignored')
    degree = parse_styledegree(a["styledegree"]) if "styledegree" in a else 1.0
    try:
        found, intensity = emo.resolve_style(a["style"], degree)
    except emo.UnknownEmotion:
        raise BadValue(f"unknown style {a['style']!r}") from None
    return replace(p, emotion=found.value, intensity=round(intensity, 3))


def check_capture(name: str, a: Mapping[str, str]) -> None:
    """The required attributes of ``<sub>``, ``<phoneme>`` and ``<say-as>`` are there and readable."""
    if name == "sub" and "alias" not in a:
        raise BadValue('missing attribute "alias"')
    if name == "phoneme":
        if "ph" not in a or not a["ph"].strip():
            raise BadValue('missing attribute "ph"')
        alphabet = a.get("alphabet", "ipa").strip().lower()
        if alphabet != "ipa":
            raise BadValue(f'alphabet {a["alphabet"]!r} is not supported (only "ipa")')
    if name == "say-as":
        kind = a.get("interpret-as", "").strip().lower()
        if kind not in SAY_AS:
            raise BadValue(f'interpret-as {a.get("interpret-as", "")!r} is not one of '
                           f'{", ".join(sorted(SAY_AS))}')
        fmt = a.get("format")
        if fmt is not None and SAY_AS[kind] == "date" and fmt.strip().lower() not in DATE_FORMATS:
            raise BadValue(f"date format {fmt!r} is not one of {', '.join(DATE_FORMATS)}")
