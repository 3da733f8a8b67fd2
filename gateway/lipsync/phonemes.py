"""Phoneme timeline normalization: any engine's IPA timeline -> a list of :class:`Phone`.

Engines spell phonemes differently. Piper sends espeak-ng IPA one NFD codepoint per span
(``"oʊ"`` arrives as ``"o"`` then ``"ʊ"``; stress ``ˈ ˌ`` and length ``ː`` are spans of their
own with durations; spaces, punctuation, ``^`` and ``$`` carry pauses and lead-in). Kokoro
(misaki) and espeak send multi-character tokens (``"eɪ"``, ``"tʃ"``, ``"ʧ"``, ``"n̩"``).

:func:`normalize` turns any of these into a list of :class:`Phone`:

* stress marks fold into the **next** phone (their time joins it; its ``stress`` is set);
* length marks, diacritics and modifier letters fold into the **previous** phone (their
  time extends it); a lone tie bar joins the previous and next phone into one (``t͡ʃ``);
* punctuation, spaces, ``^``/``$``/``_``/``#`` and empty spans become :data:`SILENCE`;
* multi-character tokens are split into known units (``"hɛloʊ"`` -> h ɛ l oʊ, time shared
  evenly), affricates and diphthongs stay one unit, and single-codepoint pairs that form one
  (``o``+``ʊ``, ``t``+``ʃ``) are joined (``join_pairs=True``);
* gaps become silence, overlaps are clipped: output spans are contiguous, monotonic and cover
  exactly ``[first start, last end]`` of the input.

Viseme tracks are built from these phones in :mod:`gateway.lipsync.track`.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from gateway.core.timeline import PhonemeSpan

#: Phone spelling of silence in normalized timelines (also a word break for ``words.py``).
SILENCE = "_"

#: Stress marks: fold into the next phone. Value = stress level (2 primary, 1 secondary).
STRESS_MARKS = {"ˈ": 2, "ˌ": 1}
#: Tie bars: join the previous and next symbol into one phone.
TIE_BARS = frozenset("\u0361\u035c\u203f")
#: Symbols that are silence wherever they appear (besides Unicode punctuation/space/symbols).
SILENCE_CHARS = frozenset("^$_#|‖.,;:!?¡¿—–-…\"'()[]{}«»“”‘’ \t\n")
#: Modifier letters that are phones of their own (not diacritics).
PHONE_MODIFIERS = frozenset("ᵊ")

#: Alternative spellings folded to the canonical IPA used by the viseme tables: ligatures,
#: script g, and Kokoro/misaki's one-letter diphthongs (A=eɪ I=aɪ O=oʊ W=aʊ Y=ɔɪ Q=əʊ).
ALIASES: dict[str, str] = {
    "ʧ": "tʃ", "ʤ": "dʒ", "ʦ": "ts", "ʣ": "dz", "ʨ": "tɕ", "ʥ": "dʑ",
    "ɡ": "g", "ᵊ": "ə", "ɘ": "ə",
    "A": "eɪ", "I": "aɪ", "O": "oʊ", "W": "aʊ", "Y": "ɔɪ", "Q": "əʊ",
}

#: Affricates: one phone, one viseme.
AFFRICATES = frozenset({"tʃ", "dʒ", "ts", "dz", "tɕ", "dʑ", "pf", "tθ", "dð"})
#: Diphthongs (and English triphthongs): one phone whose viseme moves from start to end.
DIPHTHONGS: dict[str, tuple[str, ...]] = {
    "aɪ": ("a", "ɪ"), "aʊ": ("a", "ʊ"), "eɪ": ("e", "ɪ"), "oʊ": ("o", "ʊ"), "ɔɪ": ("ɔ", "ɪ"),
    "əʊ": ("ə", "ʊ"), "ɪə": ("ɪ", "ə"), "eə": ("e", "ə"), "ɛə": ("ɛ", "ə"), "ʊə": ("ʊ", "ə"),
    "iə": ("i", "ə"), "uə": ("u", "ə"), "ɑɪ": ("ɑ", "ɪ"), "ɐɪ": ("ɐ", "ɪ"), "ɐʊ": ("ɐ", "ʊ"),
    "oɪ": ("o", "ɪ"), "aɪə": ("a", "ɪ", "ə"), "aʊə": ("a", "ʊ", "ə"),
}
#: Multi-symbol units recognised inside tokens (longest match first).
MULTI_UNITS = frozenset(AFFRICATES | DIPHTHONGS.keys())
#: Single-codepoint pairs that :func:`normalize` joins into one phone (Piper splits them).
JOIN_PAIRS = frozenset({"aɪ", "aʊ", "eɪ", "oʊ", "ɔɪ", "əʊ", "tʃ", "dʒ"})

_MAX_UNIT = max(len(u) for u in MULTI_UNITS)


@dataclass(slots=True)
class Phone:
    """One normalized phone. ``stress``: 0 none, 1 secondary, 2 primary."""

    phoneme: str
    start_ms: int
    end_ms: int
    stress: int = 0

    @property
    def is_silence(self) -> bool:
        return self.phoneme == SILENCE

    @property
    def duration_ms(self) -> int:
        return self.end_ms - self.start_ms


# --------------------------------------------------------------------------- symbol classes

_SIL, _STRESS, _MOD, _TIE, _PHONE = range(5)


def _char_kind(ch: str) -> int:
    if ch in STRESS_MARKS:
        return _STRESS
    if ch in TIE_BARS:
        return _TIE
    if ch in PHONE_MODIFIERS:
        return _PHONE
    if ch in SILENCE_CHARS:
        return _SIL
    cat = unicodedata.category(ch)
    if cat in ("Mn", "Mc", "Me", "Lm", "Sk"):  # combining diacritics, ː ˑ ʰ ʲ ʷ, spacing accents
        return _MOD
    if cat[0] in "LN" and cat != "Nd":
        return _PHONE
    return _SIL  # punctuation, separators, symbols, digits, controls


def strip_marks(symbols: str) -> str:
    """Drop stress marks, diacritics and modifier letters (NFD), keeping phone letters."""
    if symbols.isascii():
        return symbols
    return "".join(ch for ch in unicodedata.normalize("NFD", symbols)
                   if ch in PHONE_MODIFIERS or unicodedata.category(ch) not in ("Mn", "Mc", "Me", "Lm", "Sk"))


def tokenize(symbols: str) -> list[str]:
    """Split a base spelling (no stress/diacritics) into phone units, longest known unit first."""
    text = "".join(ALIASES.get(ch, ch) for ch in symbols)
    units: list[str] = []
    i = 0
    n = len(text)
    while i < n:
        for size in range(min(_MAX_UNIT, n - i), 1, -1):
            if text[i:i + size] in MULTI_UNITS:
                units.append(text[i:i + size])
                i += size
                break
        else:
            units.append(text[i])
            i += 1
    return units


_TOKEN_CACHE: dict[str, tuple[int, tuple[str, ...], int]] = {}
_TOKEN_CACHE_MAX = 4096


def _parse_token(token: str) -> tuple[int, tuple[str, ...], int]:
    """(kind, phone units, stress level) of one input span's spelling, memoized."""
    found = _TOKEN_CACHE.get(token)
    if found is None:
        kind, base, stress = _classify_token(token)
        found = (kind, tuple(tokenize(base)) if base else (), stress)
        if len(_TOKEN_CACHE) < _TOKEN_CACHE_MAX:
            _TOKEN_CACHE[token] = found
    return found


def _classify_token(token: str) -> tuple[int, str, int]:
    """(kind, base letters, stress level) of one input span's spelling."""
    if not token or token.isspace():
        return _SIL, "", 0
    base: list[str] = []
    stress = 0
    kinds = set()
    for ch in token:
        kind = _char_kind(ch)
        kinds.add(kind)
        if kind == _PHONE:
            base.append(ch)
        elif kind == _STRESS:
            stress = max(stress, STRESS_MARKS[ch])
    if base:
        return _PHONE, "".join(base), stress
    if kinds == {_STRESS}:
        return _STRESS, "", stress
    if kinds <= {_MOD, _TIE, _STRESS}:
        return (_TIE if _TIE in kinds else _MOD), "", stress
    return _SIL, "", 0


# --------------------------------------------------------------------------- normalization


def normalize(spans: Iterable[PhonemeSpan], *, join_pairs: bool = True) -> list[Phone]:
    """Normalize an engine's phoneme timeline (see the module docstring for the rules)."""
    out: list[Phone] = []
    cursor: int | None = None
    pending_start: int | None = None  # time of stress marks waiting for the next phone
    pending_stress = 0
    join_next = False

    def emit(phoneme: str, start: int, end: int, stress: int = 0) -> None:
        if out and phoneme == SILENCE and out[-1].phoneme == SILENCE:
            out[-1].end_ms = end
        else:
            out.append(Phone(phoneme, start, end, stress))

    for span in spans:
        s = span.start_ms if cursor is None else max(span.start_ms, cursor)
        e = max(span.end_ms, s)
        if cursor is not None and s > cursor:  # gap: silence (stress waiting keeps waiting)
            if pending_start is not None:
                s = cursor  # the stress mark's time runs on to the next phone
            else:
                emit(SILENCE, cursor, s)
        cursor = e
        kind, units, stress = _parse_token(span.phoneme)
        if kind == _STRESS or (kind in (_MOD, _TIE) and not out):
            if pending_start is None:
                pending_start = s
            pending_stress = max(pending_stress, stress)
            continue
        if kind in (_MOD, _TIE):
            if pending_start is not None:  # e.g. ˈ then ː: keep waiting for the phone
                continue
            prev = out[-1]
            prev.end_ms = e
            if kind == _TIE and not prev.is_silence:
                join_next = True
            elif not prev.is_silence:
                composed = unicodedata.normalize("NFC", prev.phoneme[-1:] + span.phoneme)
                if len(composed) == 1 and composed != prev.phoneme[-1:]:
                    prev.phoneme = prev.phoneme[:-1] + composed  # c + ̧ -> ç
            continue
        start = s if pending_start is None else pending_start
        stress = max(stress, pending_stress)
        pending_start, pending_stress = None, 0
        if kind == _SIL:
            join_next = False
            emit(SILENCE, start, e)
            continue
        if join_next and out and not out[-1].is_silence:
            prev = out[-1]
            prev.phoneme += units[0]
            prev.end_ms = e if len(units) == 1 else prev.end_ms
            prev.stress = max(prev.stress, stress)
            units = units[1:]
            start = prev.end_ms
            stress = 0
        join_next = False
        if not units:
            continue
        n = len(units)
        width = e - start
        for k, unit in enumerate(units):
            a = start + (width * k) // n
            b = start + (width * (k + 1)) // n
            emit(unit, a, b, stress if k == 0 else 0)
    if pending_start is not None and cursor is not None:  # stress with no phone after it
        if out:
            out[-1].end_ms = cursor
        else:
            emit(SILENCE, pending_start, cursor)
    if join_pairs:
        out = _join_pairs(out)
    return [p for p in out if p.end_ms > p.start_ms]


def _join_pairs(phones: list[Phone]) -> list[Phone]:
    joined: list[Phone] = []
    for p in phones:
        if joined and (joined[-1].phoneme + p.phoneme) in JOIN_PAIRS:
            prev = joined[-1]
            prev.phoneme += p.phoneme
            prev.end_ms = p.end_ms
            prev.stress = max(prev.stress, p.stress)
        else:
            joined.append(p)
    return joined
