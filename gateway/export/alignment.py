"""The body of ``POST /api/lipsync`` and ``gateway align``: the speak response's lip-sync fields (``phonemes``,
``words``, ``visemes``, ``azure_visemes``, ``blendshapes``, ``duration``) plus how they were found (``method``:
``forced``, ``partial`` or ``estimated``, ``reason``, ``estimated_spans``) and where the text came from
(``text_source``: ``given``, or ``heard`` by the recogniser)."""

from __future__ import annotations

from gateway.lipsync.build import build_lipsync
from gateway.timing.align import LipsyncOptions
from gateway.timing.aligners import AlignmentResult


def lipsync_body(result: AlignmentResult, text: str | None, options: LipsyncOptions = LipsyncOptions()) -> dict:
    """The JSON body: timeline, lip-sync tracks for the options, duration (s), method and the text used."""
    include = options.include()
    tracks = build_lipsync(result.phonemes, result.duration_ms, fps=options.fps,
                           include=include).to_dict() if include else {}
    timeline = result.timeline().to_dict()
    heard = text is None
    return {
        "text": (result.heard or "") if heard else text,
        "text_source": "heard" if heard else "given",
        "recognizer": result.detail.get("recognizer") if heard else None,
        "duration": round(result.duration_ms / 1000, 4),
        "duration_ms": result.duration_ms,
        "method": result.method,
        "reason": result.reason,
        "aligner": result.aligner,
        "estimated_spans": [span.to_dict() for span in result.estimated_spans],
        "fps": options.fps,
        "phonemes": timeline["phonemes"],
        "words": timeline["words"],
        "visemes": tracks.get("visemes"),
        "azure_visemes": tracks.get("azure_visemes"),
        "blendshapes": tracks.get("blendshapes"),
    }
