"""Step: a lip-synced video of the line from the worker pool, or audio-only with the reason (degraded-1)."""

from __future__ import annotations

from gateway.audio.encode import encode_wav
from gateway.lipsync.build import build_lipsync
from gateway.policy.degradation import DegradationLevel
from gateway.speak.finish import DEFAULT_RATE
from gateway.speak.line import Line
from gateway.speak.result import SpeakResult
from gateway.speak.run import LineRun
from gateway.video.pool import VideoPool


async def render_video(pool: VideoPool, run: LineRun, result: SpeakResult, deadline_s: float) -> None:
    """Render ``run``'s audio with its visemes for ``line.avatar_id``; the outcome goes into ``result``."""
    line: Line = run.line
    visemes = result.lipsync.visemes if result.lipsync is not None else None
    if visemes is None:
        visemes = build_lipsync(result.timeline.phonemes, result.timeline.duration_ms, include=("visemes",)).visemes
    wav = encode_wav(run.audio.pcm, run.audio.rate or DEFAULT_RATE)
    emotion = line.planned.emotion if line.planned is not None else None
    outcome = await pool.render(line.request_id, wav, [v.to_dict() for v in visemes], line.avatar_id, emotion,
                                deadline_s)
    result.video = outcome
    if not outcome.ok:
        if result.degradation_level.rank < DegradationLevel.AUDIO_ONLY.rank:
            result.degradation_level = DegradationLevel.AUDIO_ONLY
        result.reasons.append(outcome.reason or "video not delivered")
