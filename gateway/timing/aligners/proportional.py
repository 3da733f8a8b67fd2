"""Estimated alignment: the text's phones spread over the audio's voiced region.

No model, no failure mode: the fallback when forced alignment cannot be trusted. The rough
phone timeline of :func:`gateway.timing.estimate.estimate_timeline_from_text` (typical phone
durations, pauses at punctuation) is scaled linearly onto ``[first voiced frame, last voiced
frame]`` of the audio, so the mouth opens when the voice starts and closes when it stops.
"""

from __future__ import annotations

import unicodedata

from gateway.core.timeline import PhonemeSpan, WordSpan
from gateway.timing.aligners.base import ESTIMATED, SILENCE, Aligner, AlignmentResult, cover, duration_ms, speech_bounds
from gateway.timing.estimate import estimate_timeline_from_text


class ProportionalAligner(Aligner):
    name = "proportional"

    def align(self, pcm: bytes, sample_rate: int, text: str, *, char_offset: int = 0, start_ms: int = 0,
              reason: str = "") -> AlignmentResult:
        total = duration_ms(pcm, sample_rate)
        bounds = speech_bounds(pcm, sample_rate) if total else None
        estimate = estimate_timeline_from_text(text)
        if bounds is None or not estimate.words:
            why = reason or ("no speech in the audio" if bounds is None else "no words in the text")
            phonemes = cover([], start_ms, start_ms + total)
            return AlignmentResult(phonemes, [], total, ESTIMATED, why, self.name)
        a, b = bounds
        first = estimate.words[0].start_ms
        last = max(w.end_ms for w in estimate.words)
        span = max(1, last - first)
        scale = (b - a) / span

        def at(t: int) -> int:
            return start_ms + a + round((t - first) * scale)

        phonemes = [PhonemeSpan(SILENCE if _is_pause(p.phoneme) else p.phoneme, at(p.start_ms), at(p.end_ms))
                    for p in estimate.phonemes if p.end_ms > first and p.start_ms < last]
        words = [WordSpan(w.word, at(w.start_ms), at(w.end_ms),
                          None if w.char_start is None else w.char_start + char_offset,
                          None if w.char_end is None else w.char_end + char_offset) for w in estimate.words]
        phonemes = cover(phonemes, start_ms, start_ms + total)
        return AlignmentResult(phonemes, words, total, ESTIMATED, reason or "estimated from text", self.name,
                               {"speech_ms": [a, b]})


def _is_pause(symbol: str) -> bool:
    """Spaces and punctuation are pauses, not phones."""
    return all(ch.isspace() or unicodedata.category(ch)[0] in "PSZ" for ch in symbol)
