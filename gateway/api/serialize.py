"""Wire shapes: stream events as NDJSON objects, and the speak response body."""

from __future__ import annotations

import base64

import orjson
from fastapi.responses import JSONResponse

from gateway.core.events import (AlignmentEvent, AudioEvent, ErrorEvent, FinalEvent, SegmentEndEvent, StatusEvent,
    VisemesEvent)
from gateway.speak.line import SpeakResult


def audio_url(request_id: str) -> str:
    return f"/api/avatar/audio/{request_id}"


class FastJSONResponse(JSONResponse):
    """JSON with orjson: speak responses carry thousands of curve values, and this is the hot path."""

    def render(self, content) -> bytes:  # noqa: ANN001
        return orjson.dumps(content)


def video_url(request_id: str) -> str:
    return f"/api/avatar/video/{request_id}"


def result_body(result: SpeakResult) -> dict:
    lipsync = result.lipsync or {}
    timeline = result.timeline.to_dict()
    return {
        "request_id": result.request_id,
        "text": result.text,
        "spoken_text": result.spoken_text,
        "audio_url": audio_url(result.request_id) if result.audio is not None else None,
        "video_url": video_url(result.request_id) if result.video else None,
        "video": result.video_outcome,
        "output_format": result.output.name,
        "sample_rate": result.sample_rate,
        "duration": round(result.duration_s, 4),
        "processing_time": round(result.processing_time_s, 4),
        "provider": result.provider,
        "source_provider": result.source_provider,
        "degradation_level": result.degradation_level.value,
        "degradation_reasons": result.reasons,
        "fallbacks": result.outcome.fallbacks,
        "retries": result.outcome.retries,
        "visemes": lipsync.get("visemes"),
        "azure_visemes": lipsync.get("azure_visemes"),
        "blendshapes": lipsync.get("blendshapes"),
        "words": [{"word": w.word, "start_ms": w.start_ms, "end_ms": w.end_ms, "char_start": w.char_start,
                   "char_end": w.char_end} for w in result.words],
        "phonemes": timeline["phonemes"],
    }


def result_headers(result: SpeakResult) -> dict[str, str]:
    return {
        "X-Request-ID": result.request_id,
        "X-TTS-Provider": result.provider or "none",
        "X-TTS-Degradation-Level": result.degradation_level.value,
        "X-TTS-Fallbacks": str(result.outcome.fallbacks),
    }


def event_body(event) -> dict:  # noqa: ANN001
    """One stream event as a JSON object; ``type`` tells the kind."""
    if isinstance(event, AudioEvent):
        return {"type": "audio", "segment": event.segment, "start_ms": event.start_ms,
                "sample_rate": event.sample_rate, "encoding": "pcm_s16le",
                "audio": base64.b64encode(event.pcm).decode("ascii")}
    if isinstance(event, AlignmentEvent):
        return {"type": "alignment", "segment": event.segment,
                "phonemes": [{"phoneme": p.phoneme, "start_ms": p.start_ms, "end_ms": p.end_ms} for p in event.phonemes],
                "words": [{"word": w.word, "start_ms": w.start_ms, "end_ms": w.end_ms, "char_start": w.char_start,
                           "char_end": w.char_end} for w in event.words]}
    if isinstance(event, VisemesEvent):
        return {"type": "visemes", **event.data, "start_ms": event.start_ms, "end_ms": event.end_ms}
    if isinstance(event, SegmentEndEvent):
        return {"type": "segment_end", "segment": event.segment, "end_ms": event.end_ms}
    if isinstance(event, StatusEvent):
        return {"type": "status", "code": event.code, "provider": event.provider,
                "degradation_level": event.degradation_level, "message": event.message, "detail": event.detail}
    if isinstance(event, ErrorEvent):
        return {"type": "error", "code": event.code, "message": event.message, "complete": False}
    if isinstance(event, FinalEvent):
        result: SpeakResult = event.stats["result"]
        body = result_body(result)
        for key in ("visemes", "azure_visemes", "blendshapes", "words", "phonemes"):
            body.pop(key, None)  # already streamed per sentence
        return {"type": "final", "complete": True, **body}
    raise TypeError(f"unknown event {type(event).__name__}")
