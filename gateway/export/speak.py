"""The speak response: ``POST /api/avatar/speak``'s body and headers, from a :class:`SpeakResult`."""

from __future__ import annotations

import binascii

from gateway.core.timeline import WordSpan
from gateway.speak.result import SpeakResult


def audio_url(request_id: str) -> str:
    return f"/api/avatar/audio/{request_id}"


def video_url(request_id: str) -> str:
    return f"/api/avatar/video/{request_id}"


def words_json(words: list[WordSpan]) -> list[dict]:
    return [{"word": w.word, "start_ms": w.start_ms, "end_ms": w.end_ms, "char_start": w.char_start,
             "char_end": w.char_end} for w in words]


def result_body(result: SpeakResult) -> dict:
    lipsync = result.lipsync.to_dict() if result.lipsync is not None else {}
    return {
        "request_id": result.request_id,
        "text": result.text,
        "spoken_text": result.spoken_text,
        "audio_url": audio_url(result.request_id) if result.audio is not None and result.audio_stored else None,
        # The media store could not keep it (media_unwritable): the audio itself, so the line is never lost.
        "audio_base64": binascii.b2a_base64(result.audio, newline=False).decode("ascii")
        if result.audio is not None and not result.audio_stored else None,
        "video_url": video_url(result.request_id) if result.has_video else None,
        "video": result.video.to_dict() if result.video is not None else None,
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
        "voice": result.voice.to_dict() if result.voice is not None else None,
        "voice_changed": bool(result.voice_changes),
        "voice_changes": [c.to_dict() for c in result.voice_changes],
        "visemes": lipsync.get("visemes"),
        "azure_visemes": lipsync.get("azure_visemes"),
        "blendshapes": lipsync.get("blendshapes"),
        "words": words_json(result.words),
        "phonemes": [{"phoneme": p.phoneme, "start_ms": p.start_ms, "end_ms": p.end_ms}
                     for p in result.timeline.phonemes],
    }


def result_headers(result: SpeakResult) -> dict[str, str]:
    return {
        "X-Request-ID": result.request_id,
        "X-TTS-Provider": result.provider or "none",
        "X-TTS-Degradation-Level": result.degradation_level.value,
        "X-TTS-Fallbacks": str(result.outcome.fallbacks),
    }
