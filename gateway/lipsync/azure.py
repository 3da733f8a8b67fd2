"""The 22 Azure Speech viseme ids (``VisemeReceived.VisemeId``), IPA -> id, and the Azure <-> Oculus table.

Ids and their IPA follow Microsoft's ``how-to-speech-synthesis-viseme`` (en-US); the Oculus
column is the conversion TalkingHead uses (``examples/azure-audio-streaming.html``). Azure puts
``θ`` with t/d/n (19) while Oculus has a TH shape, and ``ʊ`` with ``ɛ`` (4) while Oculus puts it
in ``ou``: converting IPA directly is more precise than going IPA -> Azure -> Oculus.

Unknown symbols go through the Oculus fallback (see :mod:`gateway.lipsync.oculus`) and then
:data:`AZURE_FROM_OCULUS`, so they never raise.
"""

from __future__ import annotations

from enum import IntEnum
from operator import attrgetter

from gateway.lipsync.oculus import DIPHTHONG_ONSET, Viseme
from gateway.lipsync.oculus import classify_phone as classify_phone_oculus
from gateway.lipsync.phonemes import DIPHTHONGS, strip_marks, tokenize
from gateway.lipsync.track import Span, Vocabulary, split_parts


class AzureViseme(IntEnum):
    """Azure viseme id; :attr:`ipa` lists its phonemes, :attr:`oculus` its Oculus equivalent."""

    SILENCE = 0  #: silence
    AE_AX_AH = 1  #: æ ə ʌ
    AA = 2  #: ɑ
    AO = 3  #: ɔ
    EY_EH_UH = 4  #: ɛ ʊ (and eɪ)
    ER = 5  #: ɝ
    Y_IY_IH = 6  #: j i ɪ
    W_UW = 7  #: w u
    OW = 8  #: o
    AW = 9  #: aʊ
    OY = 10  #: ɔɪ
    AY = 11  #: aɪ
    H = 12  #: h
    R = 13  #: ɹ
    L = 14  #: l
    S_Z = 15  #: s z
    SH_CH_JH_ZH = 16  #: ʃ tʃ dʒ ʒ
    TH = 17  #: ð
    F_V = 18  #: f v
    D_T_N_TH = 19  #: d t n θ
    K_G_NG = 20  #: k g ŋ
    P_B_M = 21  #: p b m

    @property
    def ipa(self) -> tuple[str, ...]:
        """The IPA of Microsoft's table for this id."""
        return REFERENCE_IPA[self]

    @property
    def oculus(self) -> Viseme:
        """Oculus equivalent (TalkingHead's conversion table)."""
        return OCULUS_FROM_AZURE[self]

    @property
    def rhubarb(self) -> str:
        """Rhubarb mouth shape (A-H, X) proposed in the reference."""
        return RHUBARB_FROM_AZURE[self]


A = AzureViseme
#: Microsoft's IPA per id (reference table, en-US).
REFERENCE_IPA: dict[AzureViseme, tuple[str, ...]] = {
    A(0): ("silence",), A(1): ("æ", "ə", "ʌ"), A(2): ("ɑ",), A(3): ("ɔ",), A(4): ("ɛ", "ʊ"),
    A(5): ("ɝ",), A(6): ("j", "i", "ɪ"), A(7): ("w", "u"), A(8): ("o",), A(9): ("aʊ",),
    A(10): ("ɔɪ",), A(11): ("aɪ",), A(12): ("h",), A(13): ("ɹ",), A(14): ("l",), A(15): ("s", "z"),
    A(16): ("ʃ", "tʃ", "dʒ", "ʒ"), A(17): ("ð",), A(18): ("f", "v"), A(19): ("d", "t", "n", "θ"),
    A(20): ("k", "g", "ŋ"), A(21): ("p", "b", "m"),
}

#: Azure id -> Oculus viseme (reference table; "I/O/U" are ih/oh/ou).
OCULUS_FROM_AZURE: dict[AzureViseme, Viseme] = {
    A(0): Viseme.sil, A(1): Viseme.aa, A(2): Viseme.aa, A(3): Viseme.oh, A(4): Viseme.E,
    A(5): Viseme.RR, A(6): Viseme.ih, A(7): Viseme.ou, A(8): Viseme.oh, A(9): Viseme.oh,
    A(10): Viseme.oh, A(11): Viseme.ih, A(12): Viseme.kk, A(13): Viseme.RR, A(14): Viseme.nn,
    A(15): Viseme.SS, A(16): Viseme.CH, A(17): Viseme.TH, A(18): Viseme.FF, A(19): Viseme.DD,
    A(20): Viseme.kk, A(21): Viseme.PP,
}

#: Azure id -> Rhubarb shape (reference's proposal).
RHUBARB_FROM_AZURE: dict[AzureViseme, str] = {
    A(0): "X", A(1): "C", A(2): "D", A(3): "E", A(4): "C", A(5): "E", A(6): "B", A(7): "F",
    A(8): "F", A(9): "D", A(10): "E", A(11): "D", A(12): "B", A(13): "B", A(14): "H", A(15): "B",
    A(16): "B", A(17): "B", A(18): "G", A(19): "B", A(20): "B", A(21): "A",
}

#: Oculus viseme -> representative Azure id (the inverse is many-to-one: this picks one).
AZURE_FROM_OCULUS: dict[Viseme, AzureViseme] = {
    Viseme.sil: A(0), Viseme.PP: A(21), Viseme.FF: A(18), Viseme.TH: A(17), Viseme.DD: A(19),
    Viseme.kk: A(20), Viseme.CH: A(16), Viseme.SS: A(15), Viseme.nn: A(14), Viseme.RR: A(13),
    Viseme.aa: A(2), Viseme.E: A(4), Viseme.ih: A(6), Viseme.oh: A(8), Viseme.ou: A(7),
}

#: IPA (normalized) -> Azure id: the reference table plus espeak/misaki symbols it leaves out.
IPA_TO_AZURE: dict[str, AzureViseme] = {sym: vid for vid, syms in REFERENCE_IPA.items() for sym in syms if vid}
IPA_TO_AZURE.update({
    "ɐ": A(1), "a": A(2), "ɒ": A(3), "e": A(4), "eɪ": A(4), "ɜ": A(5), "ɚ": A(5), "ᵻ": A(6),
    "ɨ": A(6), "oʊ": A(8), "əʊ": A(8), "ʔ": A(12), "ɦ": A(12), "r": A(13), "ɻ": A(13),
    "ɫ": A(14), "ɾ": A(19),
})
del A


def classify_phone(phone: str) -> tuple[tuple[AzureViseme, float], ...]:
    """Azure ids of one phone with the share of its time each takes. Never raises."""
    found = IPA_TO_AZURE.get(phone)
    if found is not None:
        return ((found, 1.0),)
    units = tokenize(strip_marks(phone))
    parts: list[tuple[AzureViseme, float]] = []
    for unit in units:
        share = 1.0 / len(units)
        if unit in IPA_TO_AZURE:
            parts.append((IPA_TO_AZURE[unit], share))
        elif unit in DIPHTHONGS and len(DIPHTHONGS[unit]) == 2 and all(e in IPA_TO_AZURE for e in DIPHTHONGS[unit]):
            a, b = DIPHTHONGS[unit]
            parts += [(IPA_TO_AZURE[a], share * DIPHTHONG_ONSET), (IPA_TO_AZURE[b], share * (1 - DIPHTHONG_ONSET))]
        else:
            parts += [(AZURE_FROM_OCULUS[v], share * f) for v, f in classify_phone_oculus(unit)]
    if not parts:
        return ((AzureViseme.SILENCE, 1.0),)
    return split_parts(parts)


class AzureVisemeSpan(Span[AzureViseme]):
    """One Azure viseme id from ``start_ms`` to ``end_ms`` (Azure itself sends only the start offset)."""

    __slots__ = ()
    FIELDS = (("id", int),)
    viseme = property(attrgetter("label"), doc="The Azure viseme id (:attr:`label`).")


#: :class:`~gateway.lipsync.track.VisemeSet` for the 22 Azure ids (cached lookups).
AZURE = Vocabulary("azure", AzureViseme.SILENCE, frozenset({AzureViseme.P_B_M, AzureViseme.F_V}), classify_phone,
                   AzureVisemeSpan)
#: ``azure_track(phones, duration_ms=None, *, start_ms=0, min_ms=17, pause_ms=100)``: Azure
#: viseme spans covering ``[start_ms, duration_ms]`` (rules: :func:`~gateway.lipsync.track.build_track`).
azure_track = AZURE.track
