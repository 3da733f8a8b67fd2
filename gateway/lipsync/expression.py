"""Emotion and emphasis on the face: ARKit expression curves beside the mouth curves.

:func:`expression_curves` samples, on the same frame grid as
:func:`gateway.lipsync.curves.sample_curves`, the channels of
:data:`gateway.text.emotions.EXPRESSION_CHANNELS` (brows, eyes, cheeks, nose,
smile/frown, blinks) from the timed spans of a line:

* **emotion**: each span's face pose (:func:`~gateway.text.emotions.face_pose`, scaled
  linearly by its intensity) eases in over :data:`ATTACK_MS` starting :data:`LEAD_MS` before the
  words (faces lead the voice), holds, and eases out over :data:`RELEASE_MS` after them
  (smoothstep ramps). Consecutive spans with the same emotion and intensity less than
  :data:`JOIN_GAP_MS` apart are one expression (no dip between sentences). Overlapping poses
  (a cross-fade) take the larger value per channel;
* **emphasis**: a brief brow raise (browInnerUp + browOuterUp) at the start of an emphasized
  span: :data:`EMPHASIS_ATTACK_MS` in, :data:`EMPHASIS_HOLD_MS` held, :data:`EMPHASIS_RELEASE_MS`
  out, amplitude from :data:`gateway.text.emotions.EMPHASIS`, added on top of the pose;
* **blinks**: every 2.2-5 s (about 17 a minute, a speaking rate), at times drawn from a seeded
  generator over the whole utterance and nothing else, so the same ``seed`` gives the same
  blinks and stream windows agree with the whole. A blink closes in 70 ms, stays 40 ms, opens in 130 ms;
  while the lid is closed it also suppresses eyeWide/eyeSquint.

Values are clipped to ``[0, 1]`` and rounded to 3 decimals.

Merging with the mouth (:func:`merge_curves`), per channel:

* only one side has it -> that side's values;
* ``jaw*`` and ``mouth*`` except ``mouthSmile*`` -> the mouth's values (speech shapes win);
* ``mouthSmile*`` -> ``max(mouth, expression)``: the visemes that spread the lips keep their
  shape and a happy face keeps its smile between them; ``mouthFrown*`` are not mouth
  channels, so they always come from the expression;
* anything else (brows, eyes, cheeks, nose) -> the expression's values.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Sequence
from typing import NamedTuple

import numpy as np

from gateway.core.segments import Segment
from gateway.lipsync.curves import BlendshapeCurves
from gateway.text.emotions import EMPHASIS, EXPRESSION_CHANNELS, Emotion, face_pose, resolve_emotion

__all__ = ["ExpressionSpan", "expression_curves", "spans_from_segments", "merge_curves", "merge_curve_dicts",
           "ATTACK_MS", "RELEASE_MS", "LEAD_MS", "JOIN_GAP_MS"]

ATTACK_MS = 200.0  #: ease-in of an emotion pose
RELEASE_MS = 350.0  #: ease-out after the span's words
LEAD_MS = 100.0  #: the pose starts this long before the words
JOIN_GAP_MS = 1200  #: same-emotion spans closer than this are one expression
EMPHASIS_ATTACK_MS = 90.0
EMPHASIS_HOLD_MS = 160.0
EMPHASIS_RELEASE_MS = 260.0
EMPHASIS_LEAD_MS = 60.0
BLINK_CLOSE_MS = 70.0
BLINK_HOLD_MS = 40.0
BLINK_OPEN_MS = 130.0
BLINK_INTERVAL_MS = (2200.0, 5000.0)
FIRST_BLINK_MS = (300.0, 1800.0)

_CH = {name: i for i, name in enumerate(EXPRESSION_CHANNELS)}


class ExpressionSpan(NamedTuple):
    """A timed stretch of a line (utterance ms) with its emotion, intensity and emphasis."""

    start_ms: float
    end_ms: float
    emotion: str | None = None
    intensity: float | None = 1.0
    emphasis: str | None = None


def spans_from_segments(segments: Sequence[Segment], times: Sequence[tuple[float, float]]) -> list[ExpressionSpan]:
    """Spans from planned segments and their audio times ``(start_ms, end_ms)`` (one pair per segment)."""
    if len(segments) != len(times):
        raise ValueError("one (start_ms, end_ms) per segment")
    return [ExpressionSpan(t0, t1, s.prosody.emotion, s.prosody.intensity, s.prosody.emphasis)
            for s, (t0, t1) in zip(segments, times)]


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _envelope(t: np.ndarray, start: float, end: float, attack: float, release: float, lead: float) -> np.ndarray:
    """0 -> 1 over ``[start - lead, start - lead + attack]``, 1 until ``end``, -> 0 over ``release``."""
    rise = _smoothstep((t - (start - lead)) / attack)
    fall = 1.0 - _smoothstep((t - end) / release)
    return np.minimum(rise, fall)


def _coerce(span: ExpressionSpan | tuple) -> tuple[float, float, Emotion, float, str | None]:
    s = ExpressionSpan(*span)
    start, end = float(s.start_ms), float(s.end_ms)
    if not (math.isfinite(start) and math.isfinite(end)):
        raise ValueError("span times must be finite")
    intensity = 1.0 if s.intensity is None else min(max(float(s.intensity), 0.0), 1.0)
    if intensity != intensity:
        intensity = 1.0
    emphasis = s.emphasis.strip().lower() if isinstance(s.emphasis, str) else None
    return start, max(start, end), resolve_emotion(s.emotion), intensity, emphasis


def _blink_times(seed: int, until_ms: float) -> list[float]:
    """Blink onsets before ``until_ms``: a prefix of the seed's one sequence (drawn once, longer when needed)."""
    times = _BLINKS.get(seed)
    if times is None or times[-1] < until_ms:
        if len(_BLINKS) >= 64:
            _BLINKS.clear()
        times = _BLINKS[seed] = _draw_blinks(seed, max(until_ms, BLINK_HORIZON_MS))
    return times[:bisect.bisect_left(times, until_ms)]


def _draw_blinks(seed: int, until_ms: float) -> list[float]:
    """Onsets up to the first one at or past ``until_ms`` (kept as the end marker)."""
    rng = np.random.default_rng(seed)
    times: list[float] = []
    t = float(rng.uniform(*FIRST_BLINK_MS))
    lo, hi = BLINK_INTERVAL_MS
    while t < until_ms:
        times.append(t)
        t += float(rng.uniform(lo, hi))
    times.append(t)
    return times


#: Blink sequences by seed (a generator per call cost more than the rest of a sentence's face curves).
_BLINKS: dict[int, list[float]] = {}
BLINK_HORIZON_MS = 600_000.0


def _blink_shape(t: np.ndarray, at: float) -> np.ndarray:
    close = _smoothstep((t - at) / BLINK_CLOSE_MS)
    reopen = 1.0 - _smoothstep((t - (at + BLINK_CLOSE_MS + BLINK_HOLD_MS)) / BLINK_OPEN_MS)
    return np.minimum(close, reopen)


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def expression_curves(
    spans: Iterable[ExpressionSpan | tuple],
    duration_ms: int,
    fps: int = 60,
    start_ms: int = 0,
    *,
    final: bool = True,
    seed: int = 0,
    blinks: bool = True,
) -> BlendshapeCurves:
    """Expression channels for ``[start_ms, duration_ms]`` (utterance ms) from timed ``spans``.

    ``spans``: :class:`ExpressionSpan` or ``(start_ms, end_ms, emotion, intensity, emphasis)``
    tuples (emotion: a name, alias, Azure style or ``None`` for neutral). The frame grid is the
    mouth's (:func:`~gateway.lipsync.curves.sample_curves`): a whole utterance has frames
    ``0 .. ceil(duration_ms*fps/1000)``; a stream window from ``start_ms`` with ``final=False``
    leaves its closing frame to the next window. Pass all spans (earlier ones still decay into
    the window); blinks depend on ``seed`` only, so windows agree with the whole.
    """
    if not 1 <= fps <= 1000:
        raise ValueError("fps must be within 1..1000")
    end_ms = max(int(duration_ms), int(start_ms))
    first = _ceil_div(int(start_ms) * fps, 1000)
    last = _ceil_div(end_ms * fps, 1000) + (1 if final else 0)
    n = max(0, last - first)
    channels = list(EXPRESSION_CHANNELS)
    frames = np.zeros((n, len(channels)))
    if n == 0:
        return BlendshapeCurves(fps, end_ms - int(start_ms), channels, frames, first)
    t = np.arange(first, last, dtype=np.float64) * (1000.0 / fps)

    items = sorted((_coerce(s) for s in spans), key=lambda x: x[0])
    # join consecutive spans of the same expression
    groups: list[list] = []
    for start, end, emotion, intensity, _emph in items:
        if groups and groups[-1][2] == emotion and groups[-1][3] == intensity and start - groups[-1][1] < JOIN_GAP_MS:
            groups[-1][1] = max(groups[-1][1], end)
        else:
            groups.append([start, end, emotion, intensity])
    for start, end, emotion, intensity in groups:
        pose = face_pose(emotion, intensity)
        if not pose:
            continue
        env = _envelope(t, start, end, ATTACK_MS, RELEASE_MS, LEAD_MS)
        for name, value in pose.items():
            col = _CH[name]
            np.maximum(frames[:, col], env * value, out=frames[:, col])

    # emphasis: a brief brow raise
    for start, end, _emotion, intensity, emph in items:
        spec = EMPHASIS.get(emph or "")
        if spec is None or spec.brow_raise <= 0:
            continue
        hold_end = start - EMPHASIS_LEAD_MS + EMPHASIS_ATTACK_MS + EMPHASIS_HOLD_MS
        env = _envelope(t, start, min(hold_end, max(end, start + EMPHASIS_ATTACK_MS)), EMPHASIS_ATTACK_MS,
                        EMPHASIS_RELEASE_MS, EMPHASIS_LEAD_MS)
        amp = spec.brow_raise * (0.5 + 0.5 * intensity)
        for name in ("browInnerUp", "browOuterUpLeft", "browOuterUpRight"):
            frames[:, _CH[name]] += env * amp
        for name in ("browDownLeft", "browDownRight"):  # raising relaxes a frown
            frames[:, _CH[name]] *= 1.0 - 0.5 * env

    if blinks:
        lid = np.zeros(n)
        for at in _blink_times(seed, end_ms + 1.0):
            if at + BLINK_CLOSE_MS + BLINK_HOLD_MS + BLINK_OPEN_MS < t[0] or at > t[-1]:
                continue
            np.maximum(lid, _blink_shape(t, at), out=lid)
        for side in ("Left", "Right"):
            b = _CH["eyeBlink" + side]
            frames[:, b] = np.maximum(frames[:, b], lid)
            for name in ("eyeWide", "eyeSquint"):
                frames[:, _CH[name + side]] *= 1.0 - lid

    frames = np.clip(np.round(frames, 3), 0.0, 1.0)
    return BlendshapeCurves(fps, end_ms - int(start_ms), channels, frames, first)


def _owner(channel: str) -> str:
    """Who wins a channel both sides carry: ``mouth``, ``max`` or ``expression``."""
    if channel.startswith("mouthSmile"):
        return "max"
    if channel.startswith(("mouth", "jaw", "tongue")):
        return "mouth"
    return "expression"


def merge_curves(mouth: BlendshapeCurves, expression: BlendshapeCurves) -> BlendshapeCurves:
    """One set of curves over the mouth's frames with the expression's channels added (rule in the module doc).

    Both must share ``fps``; frames are matched by absolute frame index (``start_frame + i``),
    and expression frames missing on the mouth's range count as 0.
    """
    if mouth.fps != expression.fps:
        raise ValueError(f"fps differ: mouth {mouth.fps}, expression {expression.fps}")
    n = mouth.frame_count
    aligned = np.zeros((n, len(expression.channels)))
    offset = expression.start_frame - mouth.start_frame
    lo, hi = max(0, offset), min(n, offset + expression.frame_count)
    if hi > lo:
        aligned[lo:hi] = expression.frames[lo - offset: hi - offset]
    channels = list(mouth.channels) + [c for c in expression.channels if c not in mouth.channels]
    out = np.zeros((n, len(channels)))
    out[:, : len(mouth.channels)] = mouth.frames
    for j, name in enumerate(expression.channels):
        col = channels.index(name)
        if name not in mouth.channels:
            out[:, col] = aligned[:, j]
        elif _owner(name) == "max":
            out[:, col] = np.maximum(out[:, col], aligned[:, j])
        elif _owner(name) == "expression":
            out[:, col] = aligned[:, j]
    return BlendshapeCurves(mouth.fps, mouth.duration_ms, channels, np.clip(np.round(out, 3), 0.0, 1.0),
                            mouth.start_frame)


def merge_curve_dicts(mouth: dict, expression: dict) -> dict:
    """:func:`merge_curves` on the ``to_dict()`` form (``{"fps", ..., "curves": {name: [values]}}``)."""
    def load(d: dict) -> BlendshapeCurves:
        names = list(d["curves"])
        n = int(d["frame_count"])
        frames = np.array([d["curves"][c] for c in names], dtype=np.float64).T if names else np.zeros((n, 0))
        return BlendshapeCurves(int(d["fps"]), int(d["duration_ms"]), names, frames.reshape(n, len(names)),
                                int(d.get("start_frame", 0)))

    return merge_curves(load(mouth), load(expression)).to_dict()
