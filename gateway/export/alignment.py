"""The body of ``POST /api/lipsync`` and ``gateway align``: the speak response's lip-sync fields (``phonemes``,
``words``, ``visemes``, ``azure_visemes``, ``blendshapes``, ``duration``) plus how they were found (``method``:
``forced`` or ``estimated``, and ``reason``)."""

from __future__ import annotations

from gateway.lipsync.build import build_lipsync
from gateway.timing.align import LipsyncOptions
from gateway.timing.aligners import AlignmentResult


def lipsync_body(result: AlignmentResult, text: str, options: LipsyncOptions = LipsyncOptions()) -> dict:
    """The JSON body: timeline, lip-sync tracks for the options, duration (s) and method."""
    include = options.include()
    tracks = build_lipsync(result.phonemes, result.duration_ms, fps=options.fps,
                           include=include).to_dict() if include else {}
    timeline = result.timeline().to_dict()
    return {
        "text": text,
        "duration": round(result.duration_ms / 1000, 4),
        "duration_ms": result.duration_ms,
        "method": result.method,
        "reason": result.reason,
        "aligner": result.aligner,
        "fps": options.fps,
        "phonemes": timeline["phonemes"],
        "words": timeline["words"],
        "visemes": tracks.get("visemes"),
        "azure_visemes": tracks.get("azure_visemes"),
        "blendshapes": tracks.get("blendshapes"),
    }
