"""ARKit blendshape curves sampled from an Oculus viseme track, with coarticulation.

Smoothing (a Cohen-Massaro style dominance blend): each viseme span ``k`` has a dominance

    D_k(t) = weight_k                                  inside the span
    D_k(t) = weight_k * exp(-(start_k - t) / attack_k)   before it (anticipation)
    D_k(t) = weight_k * exp(-(t - end_k) / release_k)    after it (carry-over)

and the pose at ``t`` is ``sum_k D_k(t) * pose_k / sum_k D_k(t)`` (plus a tiny rest weight so
the face relaxes far from any span). Lip closures (PP, FF) have a high weight and short
time constants, so they still reach a pressed mouth at their centre while vowels around them
blend; lip rounding (oh, ou, CH, RR) anticipates further ahead; tongue-only consonants
(DD, kk, nn) have a low weight, so neighbouring vowels show through them. Every frame looks
at the spans around it only (±3 spans), so cost is linear in length; all of it is numpy.

Frames: frame ``i`` is at ``i * 1000 / fps`` ms of the utterance. A whole utterance of
``duration_ms`` has ``ceil(duration_ms * fps / 1000) + 1`` frames: the first at 0, the last at
or just after the end. A partial window ``[start_ms, end_ms)`` has frames
``ceil(start_ms*fps/1000) .. ceil(end_ms*fps/1000) - 1`` (plus one closing frame when
``final``), so consecutive windows tile the frame grid with no duplicate and no gap.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gateway.lipsync.arkit import CHANNELS, pose_matrix
from gateway.lipsync.oculus import Viseme, VisemeSpan


@dataclass(frozen=True, slots=True)
class Coarticulation:
    """Dominance of one viseme: ``weight`` (strength), ``attack_ms`` / ``release_ms`` (decay constants)."""

    weight: float
    attack_ms: float
    release_ms: float


#: Per-viseme dominance parameters (see module docstring).
COARTICULATION: dict[Viseme, Coarticulation] = {
    Viseme.sil: Coarticulation(1.0, 30.0, 40.0),
    Viseme.PP: Coarticulation(8.0, 10.0, 10.0),
    Viseme.FF: Coarticulation(6.0, 12.0, 12.0),
    Viseme.TH: Coarticulation(2.0, 20.0, 20.0),
    Viseme.DD: Coarticulation(0.6, 20.0, 20.0),
    Viseme.kk: Coarticulation(0.6, 20.0, 20.0),
    Viseme.CH: Coarticulation(2.0, 40.0, 25.0),
    Viseme.SS: Coarticulation(1.5, 25.0, 20.0),
    Viseme.nn: Coarticulation(0.6, 20.0, 20.0),
    Viseme.RR: Coarticulation(1.2, 45.0, 30.0),
    Viseme.aa: Coarticulation(1.0, 35.0, 30.0),
    Viseme.E: Coarticulation(1.0, 35.0, 30.0),
    Viseme.ih: Coarticulation(1.0, 35.0, 30.0),
    Viseme.oh: Coarticulation(1.2, 50.0, 30.0),
    Viseme.ou: Coarticulation(1.3, 55.0, 30.0),
}

#: Weight of the rest pose everywhere (relaxes the face far from any span).
REST_WEIGHT = 1e-3
#: How many spans on each side of a frame's own span take part in its blend.
NEIGHBOURS = 3

_N_VIS = len(Viseme)
_WEIGHT = np.array([COARTICULATION[v].weight for v in Viseme])
_INV_ATTACK = np.array([1.0 / COARTICULATION[v].attack_ms for v in Viseme])
_INV_RELEASE = np.array([1.0 / COARTICULATION[v].release_ms for v in Viseme])
_OFFSETS = np.arange(-NEIGHBOURS, NEIGHBOURS + 1)
_POSES = pose_matrix(CHANNELS)


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def frame_count(duration_ms: int, fps: int = 60) -> int:
    """Frames of a whole utterance: ``ceil(duration_ms * fps / 1000) + 1``."""
    return _ceil_div(duration_ms * fps, 1000) + 1


@dataclass(slots=True)
class BlendshapeCurves:
    """Blendshape frames: ``frames[i, c]`` is channel ``channels[c]`` at frame ``start_frame + i``."""

    fps: int
    duration_ms: int
    channels: list[str]
    frames: np.ndarray
    start_frame: int = 0

    @property
    def frame_count(self) -> int:
        return int(self.frames.shape[0])

    def curve(self, channel: str) -> np.ndarray:
        return self.frames[:, self.channels.index(channel)]

    def frame_at(self, t_ms: float) -> int:
        """Index into :attr:`frames` of the frame nearest ``t_ms`` (utterance ms)."""
        i = int(round(t_ms * self.fps / 1000.0)) - self.start_frame
        return min(max(i, 0), self.frame_count - 1)

    def to_dict(self) -> dict:
        """``{"fps", "duration_ms", "start_frame", "frame_count", "curves": {name: [values]}}``."""
        cols = np.round(self.frames, 3).T.tolist()
        return {
            "fps": self.fps,
            "duration_ms": self.duration_ms,
            "start_frame": self.start_frame,
            "frame_count": self.frame_count,
            "curves": dict(zip(self.channels, cols)),
        }


def sample_curves(
    track: list[VisemeSpan],
    fps: int = 60,
    *,
    start_ms: int = 0,
    end_ms: int | None = None,
    final: bool = True,
) -> BlendshapeCurves:
    """Sample ARKit curves from ``track`` on the frame grid of ``[start_ms, end_ms]``.

    ``track`` may reach beyond the window (context from a previous segment): those spans shape
    the frames near the edges but produce no frames. ``end_ms`` defaults to the track's end.
    Values are clipped to ``[0, 1]`` and rounded to 3 decimals.
    """
    if fps <= 0:
        raise ValueError("fps must be positive")
    if end_ms is None:
        end_ms = track[-1].end_ms if track else start_ms
    first = _ceil_div(start_ms * fps, 1000)
    last = _ceil_div(end_ms * fps, 1000) + (1 if final else 0)
    n = max(0, last - first)
    channels = list(CHANNELS)
    duration = max(0, end_ms - start_ms)
    if n == 0 or not track:
        return BlendshapeCurves(fps, duration, channels, np.zeros((n, len(channels))), first)

    k = len(track)
    starts = np.fromiter((s.start_ms for s in track), dtype=np.float64, count=k)
    ends = np.fromiter((s.end_ms for s in track), dtype=np.float64, count=k)
    vis = np.fromiter((int(s.viseme) for s in track), dtype=np.intp, count=k)
    t = np.arange(first, last, dtype=np.float64) * (1000.0 / fps)

    own = np.minimum(np.searchsorted(ends, t, side="right"), k - 1)
    nb = own[:, None] + _OFFSETS[None, :]
    valid = (nb >= 0) & (nb < k)
    nb = np.clip(nb, 0, k - 1)
    v = vis[nb]
    before = np.maximum(starts[nb] - t[:, None], 0.0)
    after = np.maximum(t[:, None] - ends[nb], 0.0)
    dom = _WEIGHT[v] * np.exp(-(before * _INV_ATTACK[v] + after * _INV_RELEASE[v]))
    dom *= valid

    weights = np.zeros((n, _N_VIS))
    rows = np.arange(n)
    for j in range(_OFFSETS.size):
        weights[rows, v[:, j]] += dom[:, j]
    weights[:, 0] += REST_WEIGHT
    weights /= weights.sum(axis=1, keepdims=True)
    frames = np.clip(np.round(weights @ _POSES, 3), 0.0, 1.0)
    return BlendshapeCurves(fps, duration, channels, frames, first)
