"""Where the audio does not say the text: per word and per pause, from the forced alignment's own scores.

Pocketsphinx scores each frame against the best-scoring model state of that frame, so a word's
score per frame says how far the forced phones are from the best the model could do there:
speech that says the word scores -5 to -30 per frame on clean synthetic speech (Festival HTS,
neural TTS), a word forced onto other speech -45 to -140. Two signs of a mismatch:

* a **word** of at least 30 ms scoring below :data:`WORD_FLOOR` per frame *and* more than
  :data:`WORD_RATIO` times worse than the line's median word (the ratio keeps rough voices, whose
  every word scores low, from being flagged wholesale);
* a **pause** the grammar inserted over loud audio (at least :data:`LOUD_PAUSE_MS` within 25 dB
  of the line's speech level) that scores below :data:`PAUSE_FLOOR` and :data:`PAUSE_RATIO` times
  the median word: speech the text doesn't have.

A region grows over neighbours that score :data:`NEIGHBOUR_RATIO` times worse than the median
(the words around a wrong one absorb some of its sound), and flagged items close together (at
most :data:`MERGE_WORDS` words and :data:`MERGE_MS` between them) form one :class:`Region`. The
aligner estimates each region from recognised phones and keeps the rest of the line as aligned.

Measured on the evaluation set (Festival HTS): words that the audio says score at worst -42 per
frame and 4.1x the median ("the" said with a vowel the model doesn't expect); substituted words
-59 to -118 and 4.8x to 12.6x; pauses over untranscribed speech 3x to 11x. espeak-ng's formant
voice scores every word poorly (median -30, single words down to -118 at 3.6x): its mismatches
mostly go unflagged rather than its good words being flagged.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from gateway.timing.aligners.acoustics import Acoustics
from gateway.timing.aligners.decoder import FRAME_MS, AlignedWord

WORD_FLOOR = -50.0
WORD_RATIO = 4.0
PAUSE_FLOOR = -30.0
PAUSE_RATIO = 2.5
LOUD_PAUSE_MS = 100
NEIGHBOUR_RATIO = 2.5
NEIGHBOUR_FLOOR = -25.0
MIN_WORD_FRAMES = 3
MERGE_WORDS = 2
MERGE_MS = 300
#: A line is estimated whole when its regions hold this share of its words or of its speech.
WHOLE_LINE_SHARE = 0.5
#: Mean forced score per frame below which the line is compared with free phone recognition.
SUSPICIOUS_LINE = -20.0
#: Forced minus free score per frame below which the text is taken not to be what the audio says.
#: Lines that say their text: -8 at worst (Festival, Piper), -23 (espeak-ng); another line's text: -40 or lower.
LINE_LLR_FLOOR = -30.0
#: Median word score per frame below which the whole line is taken not to match (espeak-ng matching lines: -38).
LINE_MEDIAN_FLOOR = -60.0


@dataclass(frozen=True, slots=True)
class Region:
    """Frames ``[start, end)`` (10 ms, window time) the text doesn't describe; ``words``: spoken-word indices."""

    start: int
    end: int
    words: tuple[int, ...]
    reason: str

    @property
    def start_ms(self) -> int:
        return self.start * FRAME_MS

    @property
    def end_ms(self) -> int:
        return self.end * FRAME_MS


def _flags(words: Sequence[AlignedWord], acoustics: Acoustics, offset_ms: int) -> tuple[list[str], list[bool]]:
    """A reason for each aligned item ("" when it looks right), and whether it is suspicious."""
    spoken = [w.score_per_frame for w in words if not w.filler and w.frames]
    typical = min(statistics.median(spoken) if spoken else 0.0, -1.0)
    reasons, weak = [], []
    for w in words:
        spf = w.score_per_frame
        ratio = spf / typical
        if w.filler:
            start = offset_ms + w.start * FRAME_MS
            loud = acoustics.loud_ms(start, start + w.frames * FRAME_MS)
            bad = loud >= LOUD_PAUSE_MS and spf < PAUSE_FLOOR and ratio >= PAUSE_RATIO
            reasons.append("speech the text does not have" if bad else "")
            weak.append(loud >= LOUD_PAUSE_MS // 2 and spf < NEIGHBOUR_FLOOR and ratio >= NEIGHBOUR_RATIO)
        else:
            bad = w.frames >= MIN_WORD_FRAMES and spf < WORD_FLOOR and ratio >= WORD_RATIO
            reasons.append("the audio does not say this word" if bad else "")
            weak.append(spf < NEIGHBOUR_FLOOR and ratio >= NEIGHBOUR_RATIO)
    return reasons, weak


def find_regions(words: Sequence[AlignedWord], acoustics: Acoustics, offset_ms: int = 0) -> list[Region]:
    """Regions of ``words`` (one decoded alignment, fillers included) where the audio differs from the text.

    ``offset_ms``: where frame 0 of ``words`` lies in ``acoustics``.
    """
    reasons, weak = _flags(words, acoustics, offset_ms)
    marked = [bool(r) for r in reasons]
    for i in range(len(words)):  # grow over suspicious neighbours, both ways
        if reasons[i]:
            j = i - 1
            while j >= 0 and weak[j] and not marked[j]:
                marked[j] = True
                j -= 1
            j = i + 1
            while j < len(words) and weak[j] and not marked[j]:
                marked[j] = True
                j += 1
    spoken_index = []
    k = 0
    for w in words:
        spoken_index.append(-1 if w.filler else k)
        k += 0 if w.filler else 1
    groups: list[list[int]] = []
    for i, flag in enumerate(marked):
        if not flag:
            continue
        if groups:
            last = groups[-1][-1]
            between = [j for j in range(last + 1, i) if not words[j].filler]
            gap = words[i].start - (words[last].start + words[last].frames)
            if len(between) <= MERGE_WORDS and gap * FRAME_MS <= MERGE_MS:
                groups[-1].append(i)
                continue
        groups.append([i])
    regions = []
    for group in groups:
        first, last = group[0], group[-1]
        inside = range(first, last + 1)
        reason = next((reasons[i] for i in group if reasons[i]), "")
        if not reason:
            continue
        regions.append(Region(words[first].start, words[last].start + words[last].frames,
                              tuple(spoken_index[i] for i in inside if spoken_index[i] >= 0), reason))
    return regions


def suspicious(words: Sequence[AlignedWord]) -> bool:
    """True when the line scores low enough that free phone recognition should be consulted."""
    frames = sum(w.frames for w in words)
    return frames > 0 and sum(w.score for w in words) / frames < SUSPICIOUS_LINE


def line_mismatch(words: Sequence[AlignedWord], free_score: int | None) -> str:
    """Why the whole line does not match ("" when it may): the forced alignment against free phone
    recognition of the same audio (``free_score``, total), and the median word."""
    frames = sum(w.frames for w in words)
    spoken = [w.score_per_frame for w in words if not w.filler and w.frames]
    if spoken and statistics.median(spoken) < LINE_MEDIAN_FLOOR:
        return "the audio does not match the text"
    if free_score is not None and frames and (sum(w.score for w in words) - free_score) / frames < LINE_LLR_FLOOR:
        return "the audio does not match the text"
    return ""


def whole_line(regions: Sequence[Region], n_words: int, speech_frames: int) -> bool:
    """True when the regions are most of the line (then the whole line is estimated)."""
    flagged_words = sum(len(r.words) for r in regions)
    flagged_frames = sum(r.end - r.start for r in regions)
    return flagged_words >= WHOLE_LINE_SHARE * max(1, n_words) or \
        flagged_frames >= WHOLE_LINE_SHARE * max(1, speech_frames)
