"""How local voices render a segment's prosody: rate via the engine's speed, volume as gain, breaks as silence.

The gain (:func:`segment_gain_db`) is applied by :mod:`gateway.providers.delivery` on top of the voice's loudness
target, under a true-peak limiter.

A segment's delivery is its SSML prosody combined with its emotion's and emphasis' deltas
(:func:`gateway.text.emotions.local_prosody`). Pitch shifts are not rendered by local voices.
Cloud providers map prosody their own way (see their files); the cache and canned clips replay audio as made.
"""

from __future__ import annotations

import numpy as np

from gateway.core.events import AlignmentEvent, AudioEvent
from gateway.core.segments import Segment
from gateway.core.timeline import PhonemeSpan, ms_to_samples, samples_to_ms
from gateway.text.emotions import local_prosody

PAUSE = " "  #: phoneme symbol of an inserted pause (the lip-sync stage maps it to silence)


def segment_speed(base_speed: float, segment: Segment, low: float = 0.25, high: float = 4.0) -> float:
    """The engine speed for ``segment``: the voice's speed times SSML/emotion rate and emphasis."""
    return float(min(high, max(low, (base_speed or 1.0) * local_prosody(segment.prosody).rate)))


def segment_gain_db(segment: Segment) -> float:
    """Gain for ``segment``: SSML volume plus its emotion's and emphasis' deltas."""
    return local_prosody(segment.prosody).volume_db


def apply_gain(pcm: bytes, gain_db: float) -> bytes:
    """Scale s16le PCM by ``gain_db`` with clipping (no-op at 0 dB). No local engine uses it any more: they level
    through :class:`gateway.providers.delivery.Delivery` (loudness target, true-peak limiter, never clipped); kept for
    callers outside the local engines."""
    if abs(gain_db) < 0.01 or not pcm:
        return pcm
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32) * (10.0 ** (gain_db / 20.0))
    return np.clip(samples, -32768, 32767).astype("<i2").tobytes()


def pause(segment: Segment, position: int, sample_rate: int) -> tuple[list, int]:
    """Silence for ``segment.break_before_ms`` at stream sample ``position``: (events, samples added)."""
    n = ms_to_samples(segment.break_before_ms, sample_rate)
    if n <= 0:
        return [], 0
    start, end = samples_to_ms(position, sample_rate), samples_to_ms(position + n, sample_rate)
    return [AudioEvent(bytes(2 * n), sample_rate, segment.index, start),
            AlignmentEvent((PhonemeSpan(PAUSE, start, end),), (), segment.index)], n
