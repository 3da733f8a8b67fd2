"""Phone boundaries refined with acoustic landmarks, then corrected for measured bias.

Pocketsphinx places boundaries on a 10 ms grid with its own conventions. Two passes fix what
the measurements show it gets systematically wrong (``bench/aligner_set/calibrate.py``):

1. **Landmarks** (:data:`RULES`): where a boundary has a clear acoustic event, the boundary
   moves to the steepest change of the matching level within a window around it (5 ms steps):
   the energy rise of an onset after a pause (not of a stop: its closure is as silent as the
   pause, the rise is its burst) and the fall into a pause; the fall of formant
   energy (400-2500 Hz) where a vowel closes into a nasal and its rise where ``n``/``ng`` opens
   into a vowel; the voicing rise (60-400 Hz) where a vowel follows a fricative. Boundaries
   without a reliable cue (stops, liquids, vowel-to-vowel) are left where the decoder put them:
   the measurements show the decoder is better there than any single cue.
2. **Calibration** (:data:`CALIBRATION`): every boundary moves by the median signed error
   measured for its kind of transition (left class, right class) on the development lines,
   for the kinds where that correction cuts the mean absolute error by 10 % or more.

Classes: ``S`` silence, ``V`` vowel, ``P`` stop, ``M`` m, ``N`` n/ng, ``F`` fricative or
affricate, ``L`` l, ``R`` r, ``W`` w, ``Y`` y. Phones keep at least :data:`MIN_MS`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gateway.timing.aligners.acoustics import HOP_MS, Acoustics

SIL = "SIL"
MIN_MS = 15
_VOWELS = frozenset("AA AE AH AO AW AY EH ER EY IH IY OW OY UH UW".split())
_STOPS = frozenset("P B T D K G".split())
_FRICATIVES = frozenset("F V TH DH S Z SH ZH HH CH JH".split())
_SINGLE = {"M": "M", "N": "N", "NG": "N", "L": "L", "R": "R", "W": "W", "Y": "Y"}


def phone_class(phone: str) -> str:
    """One-letter class of an ARPAbet phone (``S`` for silence and anything unknown)."""
    if phone in _VOWELS:
        return "V"
    if phone in _STOPS:
        return "P"
    if phone in _FRICATIVES:
        return "F"
    return _SINGLE.get(phone, "S")


@dataclass(frozen=True, slots=True)
class Rule:
    cue: str  #: ``energy``, ``low`` or ``mid`` (:class:`~gateway.timing.aligners.acoustics.Acoustics`)
    sign: int  #: +1: the level rises into the right phone; -1: it falls
    window_ms: int  #: search this far either side of the decoder's boundary


#: Landmark rules by (left class, right class); ``*`` matches any class but silence.
RULES: dict[tuple[str, str], Rule] = {
    ("S", "*"): Rule("energy", +1, 50),
    ("*", "S"): Rule("energy", -1, 50),
    ("V", "M"): Rule("mid", -1, 30),
    ("V", "N"): Rule("mid", -1, 30),
    ("N", "V"): Rule("mid", +1, 30),
    ("F", "V"): Rule("low", +1, 30),
}

#: Median signed boundary error (ms, refined minus exact) by transition, measured on the
#: development lines of ``bench/aligner_set`` (Festival HTS voice); subtracted from each boundary.
#: Regenerate with ``python -m bench.aligner_set.calibrate``.
CALIBRATION: dict[str, int] = {"FP": -5, "LF": 8, "LP": 10, "NS": 5, "NV": 8, "PR": -10, "RV": -10, "SF": 20, "SP": -5,
                                "SV": 5, "VL": 10, "VN": 5, "VV": 8, "WV": -15}


def _rule(left: str, right: str) -> Rule | None:
    if left == "S" and right == "P":
        return None  # a stop's closure is as silent as the pause: the energy rise is its burst, not its start
    if left == "S" and right != "S":
        return RULES[("S", "*")]
    if right == "S" and left != "S":
        return RULES[("*", "S")]
    return RULES.get((left, right))


@dataclass(slots=True)
class PhoneSeg:
    """One aligned phone (ARPAbet, or ``SIL``) in ms; ``word`` indexes the text's tokens (-1: none)."""

    phone: str
    start_ms: int
    end_ms: int
    word: int = -1


def _steepest(level: np.ndarray, sign: int, lo_ms: int, hi_ms: int, half: int = 2) -> int | None:
    """Time (ms, a multiple of HOP_MS) in ``[lo_ms, hi_ms]`` where ``level`` changes most in direction ``sign``."""
    lo, hi = -(-lo_ms // HOP_MS), hi_ms // HOP_MS
    lo, hi = max(lo, half), min(hi, level.size - half)
    if hi < lo:
        return None
    sums = np.concatenate(([0.0], np.cumsum(level, dtype=np.float64)))
    k = np.arange(lo, hi + 1)
    change = (sums[k + half] - sums[k]) - (sums[k] - sums[k - half])
    return int(k[int(np.argmax(sign * change))]) * HOP_MS


def refine(segs: list[PhoneSeg], acoustics: Acoustics, *, offset_ms: int = 0,
           calibration: dict[str, int] | None = None, landmarks: bool = True) -> list[PhoneSeg]:
    """Boundaries of ``segs`` moved to landmarks and corrected for bias (new list, same phones).

    ``offset_ms``: where ``acoustics`` frame 0 lies on the timeline of ``segs``.
    """
    out = [PhoneSeg(s.phone, s.start_ms, s.end_ms, s.word) for s in segs]
    table = CALIBRATION if calibration is None else calibration
    for i in range(len(out) - 1):
        a, b = out[i], out[i + 1]
        if a.end_ms != b.start_ms:
            continue
        left, right = phone_class(a.phone), phone_class(b.phone)
        t = a.end_ms
        rule = _rule(left, right) if landmarks else None
        if rule is not None:
            lo = max(a.start_ms + MIN_MS, t - rule.window_ms)
            hi = min(b.end_ms - MIN_MS, t + rule.window_ms)
            found = _steepest(acoustics.cue(rule.cue), rule.sign, lo - offset_ms, hi - offset_ms)
            if found is not None:
                t = found + offset_ms
        t -= table.get(left + right, 0)
        t = max(a.start_ms + MIN_MS, min(b.end_ms - MIN_MS, t))
        if a.start_ms + MIN_MS <= t <= b.end_ms - MIN_MS:
            a.end_ms = b.start_ms = t
    return out


def boundary_kind(left_phone: str, right_phone: str) -> str:
    """The calibration key of a boundary (``"VN"``, ``"SV"``...)."""
    return phone_class(left_phone) + phone_class(right_phone)
