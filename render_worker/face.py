"""Face parameters: the 15 Oculus visemes as mouth shapes, blended along a viseme track, and emotions.

Mouth shapes are vectors of :data:`MOUTH_KEYS`; a frame's mouth is the dominance-weighted blend
of the visemes within a short Hann window around the frame time (Cohen-Massaro style
coarticulation): strong visemes (PP, FF closures) win over their neighbours, vowels blend
smoothly, and nothing lags the audio since the window is centred.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from gateway.lipsync.oculus import Viseme

MOUTH_KEYS = ("jaw", "spread", "round", "press", "tuck", "teeth_up", "teeth_lo", "tongue_up", "tongue_out")
_K = {k: i for i, k in enumerate(MOUTH_KEYS)}


def _shape(**kw: float) -> list[float]:
    row = [0.0] * len(MOUTH_KEYS)
    for key, value in kw.items():
        row[_K[key]] = value
    return row


#: Viseme -> mouth shape (jaw 0..1, spread -1 pucker .. 1 wide, round 0..1, press, tuck = lower lip
#: under the upper teeth, teeth/tongue visibility).
VISEME_SHAPES: dict[Viseme, list[float]] = {
    Viseme.sil: _shape(press=0.15),
    Viseme.PP: _shape(press=1.0, spread=-0.1),
    Viseme.FF: _shape(jaw=0.1, tuck=1.0, teeth_up=1.0, spread=0.15),
    Viseme.TH: _shape(jaw=0.22, teeth_up=0.8, tongue_out=1.0),
    Viseme.DD: _shape(jaw=0.28, teeth_up=0.7, tongue_up=0.8, spread=0.2),
    Viseme.kk: _shape(jaw=0.34, teeth_up=0.5, teeth_lo=0.3, spread=0.15),
    Viseme.CH: _shape(jaw=0.16, round=0.55, spread=-0.35, teeth_up=1.0, teeth_lo=1.0),
    Viseme.SS: _shape(jaw=0.08, spread=0.65, teeth_up=1.0, teeth_lo=1.0),
    Viseme.nn: _shape(jaw=0.24, tongue_up=1.0, teeth_up=0.5, spread=0.1),
    Viseme.RR: _shape(jaw=0.22, round=0.5, spread=-0.35, teeth_up=0.4),
    Viseme.aa: _shape(jaw=1.0, spread=0.1, teeth_up=0.35),
    Viseme.E: _shape(jaw=0.55, spread=0.5, teeth_up=0.7, teeth_lo=0.2),
    Viseme.ih: _shape(jaw=0.3, spread=0.85, teeth_up=0.8, teeth_lo=0.5),
    Viseme.oh: _shape(jaw=0.68, round=0.9, spread=-0.5),
    Viseme.ou: _shape(jaw=0.32, round=1.0, spread=-1.0),
}
SHAPES = np.array([VISEME_SHAPES[v] for v in Viseme], dtype=np.float32)
#: How strongly each viseme holds its shape against its neighbours.
DOMINANCE = np.array([0.6, 4.0, 3.0, 1.6, 1.0, 0.8, 1.6, 1.3, 0.9, 1.2, 1.3, 1.0, 1.0, 1.5, 1.7],
                     dtype=np.float32)
WINDOW_MS = 50  #: half-width of the blending window
TAP_MS = 5


class TrackError(ValueError):
    """A viseme track that can't be read; ``message`` is safe to show."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def parse_track(items: object) -> list[tuple[int, int, int]]:
    """``[{"viseme": "aa" | "id": 10, "start_ms", "end_ms"}, ...]`` -> sorted ``(start, end, id)``."""
    if items is None:
        return []
    if not isinstance(items, list):
        raise TrackError("visemes must be a list")
    if len(items) > 100_000:
        raise TrackError("too many viseme spans")
    out: list[tuple[int, int, int]] = []
    for n, item in enumerate(items):
        if not isinstance(item, dict):
            raise TrackError(f"visemes[{n}] must be an object")
        try:
            if item.get("viseme") is not None:
                vid = int(Viseme.from_wire(str(item["viseme"])))
            else:
                vid = int(Viseme(int(item["id"])))
            start, end = int(item["start_ms"]), int(item["end_ms"])
        except (KeyError, ValueError, TypeError):
            raise TrackError(f"visemes[{n}] needs viseme (or id 0..14), start_ms and end_ms") from None
        if end < start or start < 0:
            raise TrackError(f"visemes[{n}] has end_ms < start_ms or a negative start")
        if end > start:
            out.append((start, end, vid))
    out.sort()
    return out


def mouth_from_track(track: Sequence[tuple[int, int, int]], times_ms: np.ndarray) -> np.ndarray:
    """Mouth shape per frame time (``len(times_ms)`` x ``len(MOUTH_KEYS)``); gaps are silence."""
    offsets = np.arange(-WINDOW_MS, WINDOW_MS + 1, TAP_MS, dtype=np.float32)
    window = (0.5 + 0.5 * np.cos(np.pi * offsets / (WINDOW_MS + TAP_MS))).astype(np.float32)
    taps = times_ms[:, None] + offsets[None, :]
    ids = np.zeros(taps.shape, dtype=np.int64)
    if track:
        starts = np.array([s for s, _, _ in track], dtype=np.float64)
        ends = np.array([e for _, e, _ in track], dtype=np.float64)
        vids = np.array([v for _, _, v in track], dtype=np.int64)
        idx = np.searchsorted(starts, taps, side="right") - 1
        safe = np.clip(idx, 0, len(track) - 1)
        inside = (idx >= 0) & (taps < ends[safe])
        ids = np.where(inside, vids[safe], 0)
    weights = window[None, :] * DOMINANCE[ids]
    shapes = SHAPES[ids]  # frames x taps x keys
    return (weights[:, :, None] * shapes).sum(axis=1) / weights.sum(axis=1)[:, None]


def mouth_from_energy(energy: np.ndarray) -> np.ndarray:
    """Fallback without a track: jaw follows the loudness, alternating open vowel shapes."""
    e = np.clip((energy - 0.12) / 0.7, 0.0, 1.0).astype(np.float32)
    mix = (0.5 + 0.5 * np.sin(np.arange(len(e)) * 0.9)).astype(np.float32)
    open_shape = SHAPES[Viseme.aa] * mix[:, None] + SHAPES[Viseme.E] * (1 - mix[:, None])
    return SHAPES[Viseme.sil][None, :] * (1 - e[:, None]) + open_shape * e[:, None]


@dataclass(frozen=True, slots=True)
class Expression:
    """Constant face state for a line: brows, lids, mouth corners, head pitch."""

    brow_raise: float = 0.0  #: -1 lowered .. 1 raised
    brow_tilt: float = 0.0  #: + inner ends down (anger), - inner ends up (sadness, fear)
    eye_open: float = 1.0  #: upper lid opening, 1 = relaxed
    lid_low: float = 0.0  #: lower lid raised (smile squint)
    smile: float = 0.05  #: mouth corners, -1 down .. 1 up
    pupil: float = 1.0  #: pupil scale
    pitch: float = 0.0  #: head lowered (+) in design units
    blink_rate: float = 1.0
    jaw_scale: float = 1.0  #: how wide the jaw opens (whispering < 1 < shouting)


EMOTIONS: dict[str, Expression] = {
    "neutral": Expression(),
    "happy": Expression(brow_raise=0.2, eye_open=0.9, lid_low=0.45, smile=0.85),
    "sad": Expression(brow_raise=0.1, brow_tilt=-0.8, eye_open=0.68, smile=-0.6, pitch=6.0, blink_rate=0.7),
    "angry": Expression(brow_raise=-0.45, brow_tilt=0.9, eye_open=0.78, lid_low=0.25, smile=-0.45, pupil=0.85),
    "surprised": Expression(brow_raise=0.9, eye_open=1.3, smile=0.0, pupil=0.75, pitch=-3.0, blink_rate=0.4),
    "fearful": Expression(brow_raise=0.6, brow_tilt=-0.6, eye_open=1.2, smile=-0.35, pupil=0.7, blink_rate=1.5),
    "disgusted": Expression(brow_raise=-0.25, brow_tilt=0.4, eye_open=0.75, lid_low=0.35, smile=-0.55),
    "serious": Expression(brow_raise=-0.15, brow_tilt=0.3, eye_open=0.9, lid_low=0.1, smile=-0.15),
    "whispering": Expression(brow_raise=0.1, brow_tilt=-0.2, eye_open=0.85, smile=0.0, pitch=4.0, jaw_scale=0.6),
    "shouting": Expression(brow_raise=0.45, brow_tilt=0.35, eye_open=1.15, smile=-0.1, pitch=-4.0, jaw_scale=1.3),
}
ALIASES = {
    "joy": "happy", "joyful": "happy", "cheerful": "happy", "excited": "happy", "amused": "happy",
    "friendly": "happy", "warm": "happy", "anger": "angry", "mad": "angry", "furious": "angry",
    "annoyed": "angry", "stern": "serious", "grave": "serious", "sadness": "sad", "sorrowful": "sad", "melancholy": "sad",
    "unhappy": "sad", "surprise": "surprised", "shocked": "surprised", "amazed": "surprised",
    "fear": "fearful", "afraid": "fearful", "scared": "fearful", "nervous": "fearful", "worried": "fearful",
    "disgust": "disgusted", "calm": "neutral", "none": "neutral", "whisper": "whispering", "shout": "shouting",
    "yelling": "shouting", "": "neutral",
}


def expression_for(emotion: str | None) -> tuple[str, Expression]:
    """``"happy"``, ``"Angry"``, ``"sad:0.5"`` (intensity 0..1) -> (canonical name, expression).

    Unknown names render neutral (the response header says which one was used).
    """
    raw = (emotion or "neutral").strip().lower()
    name, _, level = raw.partition(":")
    name = ALIASES.get(name, name)
    if name not in EMOTIONS:
        return "neutral", EMOTIONS["neutral"]
    try:
        intensity = min(1.0, max(0.0, float(level))) if level else 1.0
    except ValueError:
        intensity = 1.0
    full, base = EMOTIONS[name], EMOTIONS["neutral"]
    if intensity >= 1.0:
        return name, full
    mixed = {f: getattr(base, f) + (getattr(full, f) - getattr(base, f)) * intensity
             for f in Expression.__dataclass_fields__}
    return name, Expression(**mixed)
