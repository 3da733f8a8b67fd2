"""The 15 Oculus/OpenXR visemes (OVRLipSync, ``XR_META_face_tracking_visemes``, Inworld
``OPENXR``, Ready Player Me ``viseme_*`` morphs) and the IPA -> viseme mapping.

Wire spelling: the OVR enum names ``sil PP FF TH DD kk CH SS nn RR aa E ih oh ou``
(:attr:`Viseme.wire`). Avatar morphs spell the last three ``viseme_I``, ``viseme_O``,
``viseme_U`` (:attr:`Viseme.morph`); :meth:`Viseme.from_wire` accepts every spelling.

Mapping (:data:`IPA_TO_VISEME`) covers English espeak-ng / misaki IPA plus common non-English
symbols. Diphthongs map by their start and end (``aɪ`` -> aa then ih, 60/40 of the time);
single-codepoint input (``o`` then ``ʊ``) maps each symbol. Unknown symbols never raise:

1. diacritics and modifier letters are stripped and the base looked up (``ɫ̩`` -> ``ɫ``);
2. a multi-symbol spelling is split into known units and each is mapped;
3. a letter whose Unicode name names a Latin base letter maps like that letter
   (``ø`` LATIN SMALL LETTER O WITH STROKE -> ``o`` -> oh);
4. any other letter maps to :attr:`Viseme.DD` (a neutral, slightly open consonant shape, like
   Rhubarb's default ``B``); digits, punctuation and symbols map to :attr:`Viseme.sil`.
"""

from __future__ import annotations

import re
import unicodedata
from enum import IntEnum
from operator import attrgetter

from gateway.lipsync.phonemes import DIPHTHONGS, strip_marks, tokenize
from gateway.lipsync.track import Span, Vocabulary, split_parts


class Viseme(IntEnum):
    """Oculus/OpenXR viseme. Value = OVR index; see :attr:`phonemes`, :attr:`example`, :attr:`morph`."""

    sil = 0  #: silence, mouth at rest
    PP = 1  #: p, b, m: lips pressed (put, bat, mat)
    FF = 2  #: f, v: lower lip to upper teeth (fat, vat)
    TH = 3  #: θ, ð: tongue between teeth (think, that)
    DD = 4  #: t, d: tongue tip on ridge (tip, doll)
    kk = 5  #: k, g, ŋ: back of tongue (call, gas)
    CH = 6  #: tʃ, dʒ, ʃ, ʒ: lips forward (chair, join, she)
    SS = 7  #: s, z: teeth together, lips spread (sir, zeal)
    nn = 8  #: n, l: (lot, not)
    RR = 9  #: ɹ, ɚ, ɝ: lips slightly rounded (red)
    aa = 10  #: ɑ, a, æ, ʌ, ə: jaw open (car)
    E = 11  #: e, ɛ, ɜ: (bed)
    ih = 12  #: i, ɪ, j: lips spread (tip)
    oh = 13  #: o, ɔ: lips rounded (toe)
    ou = 14  #: u, ʊ, w: lips puckered (book)

    @property
    def wire(self) -> str:
        """Spelling on the wire (the OVR enum name)."""
        return self.name

    @property
    def morph(self) -> str:
        """Ready Player Me / TalkingHead morph target name (``viseme_I`` for ``ih``, ...)."""
        return "viseme_" + _MORPH_SUFFIX.get(self, self.name)

    @property
    def example(self) -> str:
        """Example words from the OVRLipSync header."""
        return _EXAMPLES[self]

    @property
    def description(self) -> str:
        return _DESCRIPTIONS[self]

    @property
    def phonemes(self) -> tuple[str, ...]:
        """IPA symbols that map to this viseme (from :data:`IPA_TO_VISEME`; silence for ``sil``)."""
        return _PHONEMES_BY_VISEME.get(self, ())

    @classmethod
    def from_wire(cls, name: str) -> "Viseme":
        """Parse ``"PP"``, ``"viseme_PP"``, ``"I"``/``"O"``/``"U"``, any case; raise ``ValueError``."""
        key = name.strip()
        if key.lower().startswith("viseme_"):
            key = key[7:]
        found = _BY_WIRE.get(key.lower())
        if found is None:
            raise ValueError(f"unknown Oculus viseme {name!r}")
        return found


_MORPH_SUFFIX = {Viseme.ih: "I", Viseme.oh: "O", Viseme.ou: "U"}
_EXAMPLES = {
    Viseme.sil: "(silence)", Viseme.PP: "put, bat, mat", Viseme.FF: "fat, vat", Viseme.TH: "think, that",
    Viseme.DD: "tip, doll", Viseme.kk: "call, gas", Viseme.CH: "chair, join, she", Viseme.SS: "sir, zeal",
    Viseme.nn: "lot, not", Viseme.RR: "red", Viseme.aa: "car", Viseme.E: "bed", Viseme.ih: "tip",
    Viseme.oh: "toe", Viseme.ou: "book",
}
_DESCRIPTIONS = {
    Viseme.sil: "mouth at rest", Viseme.PP: "lips pressed together", Viseme.FF: "lower lip under upper teeth",
    Viseme.TH: "tongue tip between the teeth", Viseme.DD: "tongue tip on the ridge, jaw slightly open",
    Viseme.kk: "back of the tongue raised, jaw slightly open", Viseme.CH: "lips forward and flared, teeth close",
    Viseme.SS: "teeth together, lips spread", Viseme.nn: "tongue on the ridge, jaw slightly open",
    Viseme.RR: "lips slightly rounded", Viseme.aa: "jaw wide open", Viseme.E: "jaw half open, lips spread",
    Viseme.ih: "jaw nearly closed, lips spread", Viseme.oh: "lips rounded, jaw half open",
    Viseme.ou: "lips puckered",
}
_BY_WIRE = {v.name.lower(): v for v in Viseme} | {"i": Viseme.ih, "o": Viseme.oh, "u": Viseme.ou}

V = Viseme
#: IPA symbol (normalized, see :mod:`gateway.lipsync.phonemes`) -> Oculus viseme.
IPA_TO_VISEME: dict[str, Viseme] = {
    # bilabials and labiodentals
    "p": V.PP, "b": V.PP, "m": V.PP, "ɸ": V.PP, "β": V.PP, "ʙ": V.PP,
    "f": V.FF, "v": V.FF, "ɱ": V.FF, "ʋ": V.FF, "pf": V.FF,
    # dentals, alveolars
    "θ": V.TH, "ð": V.TH, "tθ": V.TH, "dð": V.TH,
    "t": V.DD, "d": V.DD, "ɾ": V.DD, "ʈ": V.DD, "ɖ": V.DD, "ɗ": V.DD,
    "s": V.SS, "z": V.SS, "ts": V.SS, "dz": V.SS,
    "n": V.nn, "l": V.nn, "ɫ": V.nn, "ɲ": V.nn, "ɳ": V.nn, "ʎ": V.nn, "ɬ": V.nn, "ɮ": V.nn,
    "ɭ": V.nn, "ʟ": V.nn,
    # postalveolars
    "ʃ": V.CH, "ʒ": V.CH, "tʃ": V.CH, "dʒ": V.CH, "ɕ": V.CH, "ʑ": V.CH, "tɕ": V.CH, "dʑ": V.CH,
    "ʂ": V.CH, "ʐ": V.CH, "ç": V.CH,
    # velars, uvulars, glottals
    "k": V.kk, "g": V.kk, "ŋ": V.kk, "x": V.kk, "ɣ": V.kk, "c": V.kk, "ɟ": V.kk, "q": V.kk,
    "ɢ": V.kk, "χ": V.kk, "ʁ": V.kk, "ħ": V.kk, "ʕ": V.kk, "h": V.kk, "ɦ": V.kk, "ʔ": V.kk,
    # rhotics
    "ɹ": V.RR, "r": V.RR, "ɻ": V.RR, "ʀ": V.RR, "ɺ": V.RR, "ɚ": V.RR, "ɝ": V.RR,
    # glides
    "j": V.ih, "w": V.ou, "ɥ": V.ou, "ʍ": V.ou, "ɰ": V.ih,
    # open vowels
    "a": V.aa, "ɑ": V.aa, "æ": V.aa, "ɐ": V.aa, "ʌ": V.aa, "ə": V.aa, "ɒ": V.aa, "ɶ": V.aa,
    # mid front / central
    "e": V.E, "ɛ": V.E, "ɜ": V.E, "ɞ": V.E, "ɤ": V.E,
    # close front / central unrounded
    "i": V.ih, "ɪ": V.ih, "ᵻ": V.ih, "ɨ": V.ih, "ɯ": V.ih,
    # rounded mid
    "o": V.oh, "ɔ": V.oh, "ø": V.oh, "œ": V.oh, "ɵ": V.oh,
    # rounded close
    "u": V.ou, "ʊ": V.ou, "y": V.ou, "ʏ": V.ou, "ʉ": V.ou,
}
del V

#: Share of a diphthong's time spent on its first viseme (the rest glides to the end shape).
DIPHTHONG_ONSET = 0.6

_PHONEMES_BY_VISEME: dict[Viseme, tuple[str, ...]] = {}
for _sym, _vis in IPA_TO_VISEME.items():
    _PHONEMES_BY_VISEME[_vis] = _PHONEMES_BY_VISEME.get(_vis, ()) + (_sym,)
del _sym, _vis

_LATIN_NAME = re.compile(r"^LATIN (?:SMALL |CAPITAL )?LETTER (?:SMALL CAPITAL )?([A-Z])\b")


def _fallback_symbol(sym: str) -> Viseme:
    found = IPA_TO_VISEME.get(sym)
    if found is None:
        found = IPA_TO_VISEME.get(sym.lower())
    if found is not None:
        return found
    if len(sym) == 1 and unicodedata.category(sym)[0] == "L":
        match = _LATIN_NAME.match(unicodedata.name(sym, ""))
        if match:
            return IPA_TO_VISEME.get(match.group(1).lower(), Viseme.DD)
        return Viseme.DD
    return Viseme.sil


def _unit_parts(unit: str) -> tuple[tuple[Viseme, float], ...]:
    if unit in DIPHTHONGS:
        ends = DIPHTHONGS[unit]
        if len(ends) == 2:
            fracs = (DIPHTHONG_ONSET, 1.0 - DIPHTHONG_ONSET)
        else:
            fracs = (0.45, 0.25, 0.30)
        return tuple((IPA_TO_VISEME[e], f) for e, f in zip(ends, fracs))
    visemes = IPA_TO_VISEME.get(unit)
    if visemes is not None:
        return ((visemes, 1.0),)
    return ((_fallback_symbol(unit), 1.0),)


def classify_phone(phone: str) -> tuple[tuple[Viseme, float], ...]:
    """Visemes of one phone with the share of its time each takes. Never raises."""
    found = IPA_TO_VISEME.get(phone)
    if found is not None:
        return ((found, 1.0),)
    units = tokenize(strip_marks(phone))
    if not units:
        return ((Viseme.sil, 1.0),)
    parts: list[tuple[Viseme, float]] = []
    for unit in units:
        parts.extend((v, f / len(units)) for v, f in _unit_parts(unit))
    return split_parts(parts)


def viseme_for(phone: str) -> Viseme:
    """The single (onset) viseme of a phone, for lookups that want one value."""
    return classify_phone(phone)[0][0]


class VisemeSpan(Span[Viseme]):
    """One Oculus viseme from ``start_ms`` to ``end_ms`` (utterance milliseconds)."""

    __slots__ = ()
    FIELDS = (("viseme", attrgetter("name")), ("id", int))
    viseme = property(attrgetter("label"), doc="The Oculus viseme (:attr:`label`).")


#: :class:`~gateway.lipsync.track.VisemeSet` for the 15 Oculus visemes (cached lookups).
OCULUS = Vocabulary("oculus", Viseme.sil, frozenset({Viseme.PP, Viseme.FF}), classify_phone, VisemeSpan)
#: ``viseme_track(phones, duration_ms=None, *, start_ms=0, min_ms=17, pause_ms=100)``: Oculus
#: viseme spans covering ``[start_ms, duration_ms]`` (rules: :func:`~gateway.lipsync.track.build_track`).
viseme_track = OCULUS.track
