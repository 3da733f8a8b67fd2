"""The NDJSON stream (``POST /api/avatar/speak/stream``): one JSON object per event; ``type`` tells the kind."""

from __future__ import annotations

from gateway.core import b64
from gateway.core.events import AlignmentEvent, AudioEvent, ErrorEvent, SegmentEndEvent, StatusEvent
from gateway.export.speak import result_body, words_json
from gateway.speak.events import LineFinished, StreamEvent, VisemesEvent

#: Keys of the final object that the stream already sent sentence by sentence.
STREAMED_KEYS = ("visemes", "azure_visemes", "blendshapes", "words", "phonemes", "audio_base64")


def event_body(event: StreamEvent) -> dict:
    if isinstance(event, AudioEvent):
        return {"type": "audio", "segment": event.segment, "start_ms": event.start_ms,
                "sample_rate": event.sample_rate, "encoding": "pcm_s16le",
                "audio": b64.encode(event.pcm)}
    if isinstance(event, AlignmentEvent):
        return {"type": "alignment", "segment": event.segment,
                "phonemes": [{"phoneme": p.phoneme, "start_ms": p.start_ms, "end_ms": p.end_ms}
                             for p in event.phonemes],
                "words": words_json(list(event.words))}
    if isinstance(event, VisemesEvent):
        body = {"type": "visemes", **event.lipsync.to_dict()}
        if event.expression is not None:
            body["expression"] = event.expression.to_dict()
        return {**body, "start_ms": event.start_ms, "end_ms": event.end_ms}
    if isinstance(event, SegmentEndEvent):
        return {"type": "segment_end", "segment": event.segment, "end_ms": event.end_ms}
    if isinstance(event, StatusEvent):
        return {"type": "status", "code": event.code, "provider": event.provider,
                "degradation_level": event.degradation_level, "message": event.message, "detail": event.detail}
    if isinstance(event, ErrorEvent):
        return {"type": "error", "code": event.code, "message": event.message, "complete": False}
    if isinstance(event, LineFinished):
        body = result_body(event.result)
        for key in STREAMED_KEYS:
            body.pop(key, None)
        return {"type": "final", "complete": True, **body}
    raise TypeError(f"unknown event {type(event).__name__}")
