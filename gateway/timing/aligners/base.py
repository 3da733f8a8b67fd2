"""The aligner interface: audio + the text it speaks -> phoneme and word timeline.

An :class:`Aligner` never raises for audio that does not match its text: it returns the best
timeline it can and says how it got it in :attr:`AlignmentResult.method`:

* ``"forced"``: forced alignment of the audio to the text (phone boundaries from the audio);
* ``"partial"``: forced alignment except for the spans listed in
  :attr:`AlignmentResult.estimated_spans` (words the audio says differently, speech the text
  doesn't have); their phones are estimated (recognised from the audio, or spread from the text);
* ``"estimated"``: the whole line is estimated (the audio does not match the text at all, no
  speech, no aligner available).

Timelines are integer ms from the start of the given audio (plus ``start_ms``), contiguous,
monotonic and cover exactly ``[start_ms, start_ms + duration]``; silence is ``" "``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import numpy as np

from gateway.core.timeline import PhonemeSpan, Timeline, WordSpan, samples_to_ms

SILENCE = " "
FORCED = "forced"
PARTIAL = "partial"
ESTIMATED = "estimated"


@dataclass(frozen=True, slots=True)
class EstimatedSpan:
    """A stretch of a result whose timing is estimated rather than aligned (integer ms)."""

    start_ms: int
    end_ms: int
    words: tuple[str, ...]  #: the text's words in it (none: speech the text doesn't have)
    char_start: int | None
    char_end: int | None
    reason: str
    source: str = "recognised phones"  #: or ``"text"``: phones spread from the text

    def to_dict(self) -> dict:
        return {"start_ms": self.start_ms, "end_ms": self.end_ms, "words": list(self.words),
                "char_start": self.char_start, "char_end": self.char_end, "reason": self.reason,
                "source": self.source}


@dataclass(slots=True)
class AlignmentResult:
    """Phonemes (IPA) and words of one stretch of audio, in integer ms."""

    phonemes: list[PhonemeSpan]
    words: list[WordSpan]
    duration_ms: int
    method: str  #: ``"forced"``, ``"partial"`` or ``"estimated"``
    reason: str = ""  #: why an estimate was used ("" for forced alignments)
    aligner: str = ""  #: implementation that produced it
    detail: dict = field(default_factory=dict)  #: scores, chunk counts, out-of-dictionary words
    estimated_spans: list[EstimatedSpan] = field(default_factory=list)  #: for ``"partial"`` results
    heard: str | None = None  #: the text recognised from the audio (audio-only alignment), else None

    def timeline(self) -> Timeline:
        return Timeline(list(self.phonemes), list(self.words), self.duration_ms)

    def to_dict(self) -> dict:
        body = self.timeline().to_dict()
        body.update(method=self.method, reason=self.reason, aligner=self.aligner, detail=self.detail,
                    estimated_spans=[e.to_dict() for e in self.estimated_spans])
        if self.heard is not None:
            body["heard"] = self.heard
        return body


class Aligner(ABC):
    """Aligns PCM s16le mono audio (any rate) to the text it speaks. Blocking: run it in a thread."""

    name: str = ""

    @abstractmethod
    def align(self, pcm: bytes, sample_rate: int, text: str, *, char_offset: int = 0,
              start_ms: int = 0) -> AlignmentResult:
        """Timeline of ``text`` spoken in ``pcm``.

        ``char_offset`` is added to word character offsets (``text`` is a segment of a longer
        request text); ``start_ms`` is added to every time (the audio starts later in a stream).
        """

    def warm_up(self) -> None:
        """Load models ahead of the first call (optional)."""


# ---- helpers shared by implementations ---------------------------------------------------------------------

FRAME_MS = 10


def duration_ms(pcm: bytes, sample_rate: int) -> int:
    return samples_to_ms(len(pcm) // 2, sample_rate)


def frame_energy_db(pcm: bytes, sample_rate: int, frame_ms: int = FRAME_MS) -> np.ndarray:
    """Per-frame RMS level in dBFS (frames of ``frame_ms``; the last partial frame is dropped)."""
    samples = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2").astype(np.float32)
    size = max(1, sample_rate * frame_ms // 1000)
    n = len(samples) // size
    if n == 0:
        return np.zeros(0, dtype=np.float32)
    frames = samples[: n * size].reshape(n, size)
    rms = np.sqrt(np.mean(frames * frames, axis=1) + 1e-9)
    return (20 * np.log10(rms / 32768.0 + 1e-12)).astype(np.float32)


def voiced_frames(pcm: bytes, sample_rate: int, *, floor_db: float = -55.0, below_peak_db: float = 40.0,
                  frame_ms: int = FRAME_MS) -> np.ndarray:
    """Per-frame voice activity: louder than both ``floor_db`` dBFS and the loudest frames minus
    ``below_peak_db``; isolated one-frame blips (clicks) don't count."""
    level = frame_energy_db(pcm, sample_rate, frame_ms)
    if level.size == 0:
        return np.zeros(0, dtype=bool)
    peak = float(np.percentile(level, 99.5))
    voiced = level > max(floor_db, peak - below_peak_db)
    return voiced & (np.roll(voiced, 1) | np.roll(voiced, -1))


def speech_bounds(pcm: bytes, sample_rate: int, *, frame_ms: int = FRAME_MS) -> tuple[int, int] | None:
    """(start_ms, end_ms) of the voiced part of the audio (:func:`voiced_frames`), or ``None`` if silent."""
    idx = np.flatnonzero(voiced_frames(pcm, sample_rate, frame_ms=frame_ms))
    if idx.size == 0:
        return None
    return int(idx[0]) * frame_ms, int(idx[-1] + 1) * frame_ms


def pauses(voiced: np.ndarray, min_frames: int) -> list[tuple[int, int]]:
    """(first, end) frames of unvoiced runs of at least ``min_frames`` between voiced frames."""
    idx = np.flatnonzero(voiced)
    if idx.size < 2:
        return []
    gaps = np.flatnonzero(np.diff(idx) > min_frames)
    return [(int(idx[g]) + 1, int(idx[g + 1])) for g in gaps]


def cover(phonemes: list[PhonemeSpan], start_ms: int, end_ms: int) -> list[PhonemeSpan]:
    """Clip spans to ``[start_ms, end_ms]``, make them monotonic and fill every gap with silence."""
    out: list[PhonemeSpan] = []
    t = start_ms
    for p in phonemes:
        a = max(t, min(p.start_ms, end_ms))
        b = max(a, min(p.end_ms, end_ms))
        if a > t:
            _append_silence(out, t, a)
        if b > a or p.phoneme == SILENCE:
            if p.phoneme == SILENCE:
                _append_silence(out, a, b)
            else:
                out.append(PhonemeSpan(p.phoneme, a, b))
        t = max(t, b)
    if t < end_ms:
        _append_silence(out, t, end_ms)
    return out


def _append_silence(out: list[PhonemeSpan], a: int, b: int) -> None:
    if out and out[-1].phoneme == SILENCE and out[-1].end_ms == a:
        if b > a:
            out[-1] = PhonemeSpan(SILENCE, out[-1].start_ms, b)
    else:
        out.append(PhonemeSpan(SILENCE, a, b))
