"""Rhubarb Lip Sync mouth shapes (A-F basic, G H X extended): an optional 2D profile.

Phones map through their Azure id and the reference's proposed Azure -> Rhubarb column
(:data:`gateway.lipsync.azure.RHUBARB_FROM_AZURE`). Rhubarb has no TH shape; ``ð`` is ``B``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from gateway.lipsync.azure import AZURE, RHUBARB_FROM_AZURE
from gateway.lipsync.phonemes import Phone, build_track, split_parts


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


class RhubarbShapes:
    """:class:`~gateway.lipsync.phonemes.VisemeSet` for Rhubarb mouth shapes."""

    name = "rhubarb"
    silence = MouthShape.X
    keep = frozenset({MouthShape.A, MouthShape.G})

    def __init__(self) -> None:
        self._cache: dict[str, tuple[tuple[MouthShape, float], ...]] = {}

    def classify(self, phone: str) -> tuple[tuple[MouthShape, float], ...]:
        parts = self._cache.get(phone)
        if parts is None:
            parts = self._cache[phone] = split_parts(
                [(MouthShape(RHUBARB_FROM_AZURE[a]), f) for a, f in AZURE.classify(phone)])
        return parts


RHUBARB = RhubarbShapes()


@dataclass(slots=True)
class MouthShapeSpan:
    shape: MouthShape
    start_ms: int
    end_ms: int

    def to_dict(self) -> dict:
        return {"shape": self.shape.value, "start_ms": self.start_ms, "end_ms": self.end_ms}


def rhubarb_track(
    phones: list[Phone],
    duration_ms: int | None = None,
    *,
    start_ms: int = 0,
    min_ms: int = 17,
    pause_ms: int = 100,
) -> list[MouthShapeSpan]:
    """Rhubarb shape spans covering ``[start_ms, duration_ms]`` (rules: :func:`build_track`)."""
    return [MouthShapeSpan(s, a, b) for s, a, b in build_track(
        phones, RHUBARB, start_ms=start_ms, end_ms=duration_ms, min_ms=min_ms, pause_ms=pause_ms)]
