"""Long audio: aligned in chunks cut at pauses (the phone pass keeps a full trellis: memory grows
with the square of the length: 76 MB for one 51 s pass, 300 MB for 102 s).

Cut points are first planned without decoding (:func:`plan_by_pauses`): pauses in the audio
matched to punctuation in the text by expected position (phones per word). If no such plan
exists, or its chunks don't align cleanly, a word-level grammar pass over the whole audio finds
the pauses instead (:func:`plan_by_words`; robust, ~0.012 CPU-s per audio second more).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np

from gateway.timing.aligners.base import pauses, voiced_frames
from gateway.timing.aligners.decoder import RATE, AlignedWord, AlignmentFailed, SphinxDecoder
from gateway.timing.aligners.lexicon import Token

#: Shortest pause (10 ms frames) long audio may be cut in.
PAUSE_FRAMES = 15

Cut = tuple[int, int]  #: (frame, number of words before it)


def plan_by_pauses(dec: SphinxDecoder, tokens: Sequence[Token], text: str, audio: bytes,
                   chunk_s: float) -> list[Cut] | None:
    """Cuts (with both ends) at pauses where the text has punctuation, or ``None``."""
    voiced = voiced_frames(audio, RATE)
    spoken = np.flatnonzero(voiced)
    gaps = pauses(voiced, PAUSE_FRAMES)
    if spoken.size == 0 or not gaps:
        return None
    first, last = int(spoken[0]), int(spoken[-1]) + 1
    weights = [max(1, len((dec.lookup(t.key) or "x").split())) for t in tokens]
    breaks = [0]
    for a, b in zip(tokens, tokens[1:]):
        between = text[a.char_end:b.char_start]
        breaks.append(4 if any(c in ".!?…" for c in between) else 2 if any(c in ",;:—–()" for c in between) else 0)
    scale = (last - first) / (sum(weights) + sum(breaks))
    max_frames = int(chunk_s * 100)
    tolerance = max(150, (last - first) // 10)
    cuts: list[Cut] = [(0, 0)]
    acc = 0.0
    for k in range(1, len(tokens)):
        acc += weights[k - 1] + breaks[k]
        if not breaks[k]:
            continue
        expected = first + (acc - breaks[k] / 2) * scale  # middle of the pause before word k
        if expected - cuts[-1][0] < max_frames // 2:
            continue
        a, b = min(gaps, key=lambda g: abs((g[0] + g[1]) / 2 - expected))
        middle = (a + b) // 2
        if abs(middle - expected) <= tolerance and middle - cuts[-1][0] >= 100:
            cuts.append((middle, k))
    cuts.append((len(audio) // 2 * 100 // RATE, len(tokens)))
    if len(cuts) < 3 or any(f1 - f0 > max_frames or w1 <= w0 for (f0, w0), (f1, w1) in zip(cuts, cuts[1:])):
        return None
    return cuts


def plan_by_words(dec: SphinxDecoder, keys: Sequence[str], pause_probs: Sequence[float], audio: bytes,
                  chunk_s: float, expand: Collection[str] = ()) -> list[Cut]:
    """Cuts from a word-level pass over everything: in pauses where possible, else between words."""
    segs = dec.words(keys, pause_probs, audio, expand)
    max_frames = int(chunk_s * 100)
    target = max_frames // 2
    cuts: list[Cut] = []
    chunk_start = 0
    words_seen = 0
    last_word_end: Cut | None = None
    for word, sf, ef in segs:
        filler = word.startswith(("<", "+", "[")) or word == "SIL"
        if filler and ef - sf >= 5 and sf - chunk_start >= target:
            cut = (sf + ef + 1) // 2
            cuts.append((cut, words_seen))
            chunk_start = cut
        elif not filler:
            if ef + 1 - chunk_start > max_frames and last_word_end is not None:
                cuts.append(last_word_end)  # no pause long enough: cut between words
                chunk_start = last_word_end[0]
            words_seen += 1
            last_word_end = (ef + 1, words_seen)
    return [(0, 0)] + cuts + [(len(audio) // 2 * 100 // RATE, len(keys))]


def align_chunks(dec: SphinxDecoder, keys: Sequence[str], pause_probs: Sequence[float], audio: bytes,
                 cuts: Sequence[Cut], expand: Collection[str] = ()) -> list[AlignedWord]:
    """Phone-level alignment of each chunk between ``cuts``, re-based to the whole audio."""
    out: list[AlignedWord] = []
    for (f0, w0), (f1, w1) in zip(cuts, cuts[1:]):
        if w1 <= w0:
            continue
        piece = audio[f0 * RATE // 100 * 2: f1 * RATE // 100 * 2]
        for w in dec.align(keys[w0:w1], pause_probs[w0:w1 - 1], piece, expand):
            out.append(AlignedWord(w.name, w.start + f0, w.frames, w.score,
                                   [(n, s + f0, d) for n, s, d in w.phones]))
    return out


def align_long(dec: SphinxDecoder, tokens: Sequence[Token], text: str, keys: Sequence[str],
               pause_probs: Sequence[float], audio: bytes, chunk_s: float,
               expand: Collection[str] = ()) -> tuple[list[AlignedWord], int]:
    """Align audio longer than ``chunk_s``; returns the words and the number of chunks."""
    plan = plan_by_pauses(dec, tokens, text, audio, chunk_s)
    if plan is not None:
        try:
            return align_chunks(dec, keys, pause_probs, audio, plan, expand), len(plan) - 1
        except AlignmentFailed:
            pass
    cuts = plan_by_words(dec, keys, pause_probs, audio, chunk_s, expand)
    return align_chunks(dec, keys, pause_probs, audio, cuts, expand), len(cuts) - 1
