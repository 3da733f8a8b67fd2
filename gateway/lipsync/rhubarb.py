"""Rhubarb Lip Sync mouth shapes (A-F basic, G H X extended): an optional 2D profile.

Phones map through their Azure id and the reference's proposed Azure -> Rhubarb column
(:data:`gateway.lipsync.azure.RHUBARB_FROM_AZURE`). Rhubarb has no TH shape; ``ð`` is ``B``.
"""

from __future__ import annotations

from enum import StrEnum
from operator import attrgetter

from gateway.lipsync.azure import AZURE, RHUBARB_FROM_AZURE
from gateway.lipsync.track import Span, Vocabulary, split_parts


class MouthShape(StrEnum):
    """Rhubarb shape; the value is Rhubarb's letter (``preston_blair`` gives the other naming)."""

    A = "A"  #: closed mouth (P, B, M)
    B = "B"  #: slightly open, clenched teeth (most consonants, EE)
    C = "C"  #: open (EH, AE)
    D = "D"  #: wide open (AA)
    E = "E"  #: slightly rounded (AO, ER)
    F = "F"  #: puckered (UW, OW, W)
    G = "G"  #: upper teeth on lower lip (F, V)
    H = "H"  #: tongue raised, long L
    X = "X"  #: idle / rest

    @property
    def preston_blair(self) -> str:
        """Name under ``--datUsePrestonBlair``."""
        return _PRESTON_BLAIR[self]


_PRESTON_BLAIR = {
    MouthShape.A: "MBP", MouthShape.B: "etc", MouthShape.C: "E", MouthShape.D: "AI", MouthShape.E: "O",
    MouthShape.F: "U", MouthShape.G: "FV", MouthShape.H: "L", MouthShape.X: "rest",
}


def classify_phone(phone: str) -> tuple[tuple[MouthShape, float], ...]:
    """Rhubarb shapes of one phone (through its Azure ids) with the share of its time each takes."""
    return split_parts([(MouthShape(RHUBARB_FROM_AZURE[a]), f) for a, f in AZURE.classify(phone)])


class MouthShapeSpan(Span[MouthShape]):
    """One Rhubarb mouth shape from ``start_ms`` to ``end_ms`` (utterance milliseconds)."""

    __slots__ = ()
    FIELDS = (("shape", attrgetter("value")),)
    shape = property(attrgetter("label"), doc="The Rhubarb mouth shape (:attr:`label`).")


#: :class:`~gateway.lipsync.track.VisemeSet` for Rhubarb mouth shapes (cached lookups).
RHUBARB = Vocabulary("rhubarb", MouthShape.X, frozenset({MouthShape.A, MouthShape.G}), classify_phone,
                     MouthShapeSpan)
#: ``rhubarb_track(phones, duration_ms=None, *, start_ms=0, min_ms=17, pause_ms=100)``: Rhubarb
#: shape spans covering ``[start_ms, duration_ms]`` (rules: :func:`~gateway.lipsync.track.build_track`).
rhubarb_track = RHUBARB.track
