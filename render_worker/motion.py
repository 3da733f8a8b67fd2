"""Life in the idle face: blinks, gaze saccades, small head motion and a loudness envelope.

Everything is deterministic for a given seed (the worker derives it from the request id), so a
re-delivered job renders the same video.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BLINK_CLOSE_S, BLINK_HOLD_S, BLINK_OPEN_S = 0.06, 0.03, 0.09


@dataclass(slots=True)
class Motion:
    """Per-frame arrays (all of length ``frames``)."""

    blink: np.ndarray  #: 0 open .. 1 closed
    gaze_x: np.ndarray  #: -1..1
    gaze_y: np.ndarray
    angle: np.ndarray  #: head roll, degrees
    dx: np.ndarray  #: head offset, design units
    dy: np.ndarray


def energy_envelope(pcm: np.ndarray, rate: int, frames: int, fps: int) -> np.ndarray:
    """RMS loudness per video frame, normalised to about 0..1 (95th percentile = 1)."""
    hop = rate / fps
    out = np.zeros(frames, dtype=np.float32)
    x = pcm.astype(np.float32) / 32768.0
    for i in range(frames):
        a, b = int(i * hop), int((i + 1) * hop)
        seg = x[a:b]
        if seg.size:
            out[i] = float(np.sqrt(np.mean(seg * seg)))
    ref = float(np.percentile(out, 95)) if frames else 0.0
    if ref < 1e-3:
        return np.zeros(frames, dtype=np.float32)
    return np.clip(out / ref, 0.0, 1.2).astype(np.float32)


def _blinks(rng: np.random.Generator, t: np.ndarray, rate: float) -> np.ndarray:
    out = np.zeros_like(t)
    at = rng.uniform(0.4, 1.8)
    end = float(t[-1]) + 1 if len(t) else 0.0
    while at < end:
        rel = t - at
        closing = (rel >= 0) & (rel < BLINK_CLOSE_S)
        out[closing] = np.maximum(out[closing], rel[closing] / BLINK_CLOSE_S)
        held = (rel >= BLINK_CLOSE_S) & (rel < BLINK_CLOSE_S + BLINK_HOLD_S)
        out[held] = 1.0
        rel2 = rel - BLINK_CLOSE_S - BLINK_HOLD_S
        opening = (rel2 >= 0) & (rel2 < BLINK_OPEN_S)
        out[opening] = np.maximum(out[opening], 1.0 - rel2[opening] / BLINK_OPEN_S)
        gap = rng.uniform(1.8, 4.8) / max(rate, 0.1)
        if rng.random() < 0.15:  # an occasional double blink
            gap = 0.35
        at += gap
    return out


def _saccades(rng: np.random.Generator, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    gx, gy = np.zeros_like(t), np.zeros_like(t)
    at, x, y = 0.0, 0.0, 0.0
    end = float(t[-1]) + 1 if len(t) else 0.0
    while at < end:
        nxt = at + rng.uniform(0.8, 2.6)
        mask = (t >= at) & (t < nxt)
        gx[mask], gy[mask] = x, y
        # mostly look at the viewer, sometimes glance aside
        x, y = (0.0, 0.0) if rng.random() < 0.55 else (rng.uniform(-0.8, 0.8), rng.uniform(-0.35, 0.3))
        at = nxt
    return gx, gy


def build_motion(frames: int, fps: int, energy: np.ndarray, seed: int, blink_rate: float = 1.0) -> Motion:
    rng = np.random.default_rng(seed)
    t = np.arange(frames, dtype=np.float32) / fps
    blink = _blinks(rng, t, blink_rate)
    gaze_x, gaze_y = _saccades(rng, t)
    p = rng.uniform(0, 2 * np.pi, 6)
    # slow sway plus a little emphasis from speech loudness (smoothed ~120 ms)
    kernel = np.hanning(7).astype(np.float32)
    emph = np.convolve(energy, kernel / kernel.sum(), mode="same") if frames >= 7 else energy
    angle = 1.6 * np.sin(2 * np.pi * 0.21 * t + p[0]) + 0.7 * np.sin(2 * np.pi * 0.47 * t + p[1])
    dx = 3.0 * np.sin(2 * np.pi * 0.17 * t + p[2]) + 1.2 * np.sin(2 * np.pi * 0.39 * t + p[3])
    dy = 2.0 * np.sin(2 * np.pi * 0.26 * t + p[4]) + 3.0 * emph
    angle = angle + 0.8 * emph * np.sin(2 * np.pi * 0.9 * t + p[5])
    return Motion(blink.astype(np.float32), gaze_x.astype(np.float32), gaze_y.astype(np.float32),
                  angle.astype(np.float32), dx.astype(np.float32), dy.astype(np.float32))
