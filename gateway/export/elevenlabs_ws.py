"""Messages of the ElevenLabs-protocol WebSocket (``/v1/text-to-speech/{voice_id}/stream-input``).

Per spoken piece: ``{"audio": <base64>, "isFinal": null, "alignment": {chars, charStartTimesMs, charDurationsMs},
"normalizedAlignment": …}`` as ElevenLabs sends it, plus extensions an ElevenLabs client ignores: ``visemes``,
``azure_visemes`` (times relative to the message's audio, like the alignment), ``provider``,
``degradation_level``, ``piece`` (the text spoken) and, on the first message in a new voice, ``voice_changed``
(the status event's detail: from, to, reasons; docs/voices.md).
"""

from __future__ import annotations

import base64

from gateway.core.timeline import WordSpan
from gateway.lipsync.build import LipSyncData


def char_alignment(text: str, words: list[WordSpan], start_ms: int, end_ms: int) -> dict:
    """ElevenLabs-style character alignment (ms relative to ``start_ms``) from word timings.

    Each word's span is shared out evenly over its characters; characters between words (spaces,
    punctuation) take the gap before the next word.
    """
    chars = list(text)
    starts = [0] * len(chars)
    durations = [0] * len(chars)
    cursor, pos = 0, 0
    for word in words:
        if word.char_start is None or word.char_end is None or word.char_start < pos or word.char_start >= len(chars):
            continue  # (a canned clip's words index its own text, which may be longer than the piece: never past it)
        gap_chars = range(pos, word.char_start)
        w0, w1 = word.start_ms - start_ms, word.end_ms - start_ms
        for k, i in enumerate(gap_chars):
            span = max(0, w0 - cursor)
            starts[i] = cursor + span * k // max(1, len(gap_chars))
            durations[i] = span // max(1, len(gap_chars))
        n = max(1, word.char_end - word.char_start)
        for k, i in enumerate(range(word.char_start, min(word.char_end, len(chars)))):
            starts[i] = w0 + (w1 - w0) * k // n
            durations[i] = (w1 - w0) // n
        cursor, pos = w1, min(word.char_end, len(chars))
    tail = range(pos, len(chars))
    total = end_ms - start_ms
    for k, i in enumerate(tail):
        starts[i] = cursor + max(0, total - cursor) * k // max(1, len(tail))
        durations[i] = max(0, total - cursor) // max(1, len(tail))
    return {"chars": chars, "charStartTimesMs": starts, "charDurationsMs": durations}


def audio_message(audio: bytes, text: str, words: list[WordSpan], start_ms: int, end_ms: int,
                  lipsync: LipSyncData | None, provider: str | None, level: str | None,
                  voice_changed: dict | None = None) -> dict:
    """One spoken piece: its audio, the characters' alignment and the visemes, times relative to the piece."""
    seg_words = [w for w in words if start_ms <= w.start_ms < end_ms]
    first = seg_words[0].char_start if seg_words and seg_words[0].char_start is not None else 0
    last = seg_words[-1].char_end if seg_words and seg_words[-1].char_end is not None else len(text)
    spoken = text[first:last] if seg_words else ""
    local = [WordSpan(w.word, w.start_ms, w.end_ms, (w.char_start or 0) - first, (w.char_end or 0) - first)
             for w in seg_words]
    alignment = char_alignment(spoken, local, start_ms, end_ms) if spoken else None

    def rel(spans: list[dict]) -> list[dict]:
        return [{**s, "start_ms": s["start_ms"] - start_ms, "end_ms": s["end_ms"] - start_ms} for s in spans]

    lips = lipsync.to_dict() if lipsync is not None else {}
    message = {"audio": base64.b64encode(audio).decode(), "isFinal": None, "alignment": alignment,
               "normalizedAlignment": alignment, "visemes": rel(lips.get("visemes", [])),
               "azure_visemes": rel(lips.get("azure_visemes", [])), "provider": provider,
               "degradation_level": level, "piece": text}
    if voice_changed is not None:
        message["voice_changed"] = voice_changed
    return message
