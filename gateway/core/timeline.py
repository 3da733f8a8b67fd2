"""Typed timelines exchanged between stages.

Time has one representation inside the gateway: integer milliseconds from the start of the
utterance. Vendor units (sample counts, per-chunk ms, seconds, ticks) are converted at the
provider boundary with :func:`samples_to_ms`, which rounds cumulative sample positions so
that rounding never drifts over a long line.
"""

from __future__ import annotations

from dataclasses import dataclass, field


def samples_to_ms(samples: int, sample_rate: int) -> int:
    """Convert a sample position to integer milliseconds (rounded half up)."""
    return (samples * 1000 + sample_rate // 2) // sample_rate


def ms_to_samples(ms: int, sample_rate: int) -> int:
    """Convert integer milliseconds to a sample position."""
    return (ms * sample_rate + 500) // 1000


@dataclass(frozen=True, slots=True)
class PhonemeSpan:
    """One phoneme (IPA, as the engine spelled it) from ``start_ms`` to ``end_ms``."""

    phoneme: str
    start_ms: int
    end_ms: int

    def shifted(self, offset_ms: int) -> "PhonemeSpan":
        return PhonemeSpan(self.phoneme, self.start_ms + offset_ms, self.end_ms + offset_ms)


@dataclass(frozen=True, slots=True)
class WordSpan:
    """One word of the input text; ``char_start``/``char_end`` index the request text when known."""

    word: str
    start_ms: int
    end_ms: int
    char_start: int | None = None
    char_end: int | None = None

    def shifted(self, offset_ms: int, char_offset: int = 0) -> "WordSpan":
        return WordSpan(self.word, self.start_ms + offset_ms, self.end_ms + offset_ms,
                        None if self.char_start is None else self.char_start + char_offset,
                        None if self.char_end is None else self.char_end + char_offset)


@dataclass(slots=True)
class Timeline:
    """Phonemes and words of one utterance (or part of one), in utterance milliseconds."""

    phonemes: list[PhonemeSpan] = field(default_factory=list)
    words: list[WordSpan] = field(default_factory=list)
    duration_ms: int = 0

    def extend(self, phonemes: list[PhonemeSpan], words: list[WordSpan], end_ms: int | None = None) -> None:
        self.phonemes.extend(phonemes)
        self.words.extend(words)
        last = max([self.duration_ms] + [p.end_ms for p in phonemes] + [w.end_ms for w in words])
        self.duration_ms = max(last, end_ms or 0)

    def to_dict(self) -> dict:
        return {
            "duration_ms": self.duration_ms,
            "phonemes": [{"phoneme": p.phoneme, "start_ms": p.start_ms, "end_ms": p.end_ms} for p in self.phonemes],
            "words": [
                {"word": w.word, "start_ms": w.start_ms, "end_ms": w.end_ms, "char_start": w.char_start, "char_end": w.char_end}
                for w in self.words
            ],
        }

    @classmethod
    def from_dict(cls, data: dict) -> "Timeline":
        return cls(
            phonemes=[PhonemeSpan(p["phoneme"], int(p["start_ms"]), int(p["end_ms"])) for p in data.get("phonemes", [])],
            words=[
                WordSpan(w["word"], int(w["start_ms"]), int(w["end_ms"]), w.get("char_start"), w.get("char_end"))
                for w in data.get("words", [])
            ],
            duration_ms=int(data.get("duration_ms", 0)),
        )
