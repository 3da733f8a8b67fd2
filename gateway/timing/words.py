"""Word timings from a phoneme timeline whose word breaks are spaces (Piper, Kokoro, espeak-ng IPA).

Engines spell numbers and abbreviations out ("42" -> "forty two"), so phoneme words and text
words need not match one to one. Words are matched in order: when the counts agree each text
word takes its phoneme word; otherwise the phoneme words are shared out over the text words in
proportion to their letters, so every text word gets a span and spans stay monotonic.
"""

from __future__ import annotations

from gateway.core.segments import Segment
from gateway.core.timeline import PhonemeSpan, WordSpan
from gateway.text.clean import words_with_offsets

#: Symbols that separate or surround words without being sounds of a word.
BREAKS = frozenset(" ^$_")
PUNCTUATION = frozenset(",.;:!?¡¿—–-…\"'()[]")


def phoneme_words(phonemes: list[PhonemeSpan]) -> list[tuple[int, int]]:
    """(start_ms, end_ms) of each run of speech phonemes between breaks and punctuation."""
    spans: list[tuple[int, int]] = []
    start: int | None = None
    end = 0
    for p in phonemes:
        if p.phoneme in BREAKS or p.phoneme in PUNCTUATION or not p.phoneme.strip():
            if start is not None:
                spans.append((start, end))
                start = None
            continue
        if start is None:
            start = p.start_ms
        end = p.end_ms
    if start is not None:
        spans.append((start, end))
    return spans


def words_from_phonemes(phonemes: list[PhonemeSpan], segment: Segment) -> list[WordSpan]:
    """Word spans for ``segment`` (char offsets into the request text) from its phoneme timeline."""
    text_words = words_with_offsets(segment.text)
    spoken = phoneme_words(phonemes)
    if not text_words or not spoken:
        return []
    base = segment.char_start
    if len(spoken) == len(text_words):
        return [WordSpan(w, s, e, base + cs, base + ce) for (w, cs, ce), (s, e) in zip(text_words, spoken)]
    return _proportional(text_words, spoken, base)


def _weight(word: str) -> int:
    # Digits are spoken as whole words ("42" -> "forty two"): weigh them like several letters.
    return len(word) + 3 * sum(ch.isdigit() for ch in word)


def _proportional(text_words: list[tuple[str, int, int]], spoken: list[tuple[int, int]], base: int) -> list[WordSpan]:
    """Share spoken words out over text words by cumulative weight; spans never overlap."""
    weights = [_weight(w) for w, _, _ in text_words]
    total = sum(weights)
    m, n = len(text_words), len(spoken)
    out: list[WordSpan] = []
    if n >= m:
        # Cut points into the spoken sequence: each text word gets at least one spoken word.
        cuts = [0]
        acc = 0
        for k in range(1, m):
            acc += weights[k - 1]
            cuts.append(max(cuts[-1] + 1, min(n - (m - k), round(acc * n / total))))
        cuts.append(n)
        for k, (word, cs, ce) in enumerate(text_words):
            out.append(WordSpan(word, spoken[cuts[k]][0], spoken[cuts[k + 1] - 1][1], base + cs, base + ce))
        return out
    # Fewer spoken words than text words: words share a spoken span, split evenly in time.
    groups: dict[int, list[int]] = {}
    acc = 0
    for k, w in enumerate(weights):
        groups.setdefault(min(n - 1, int((acc + w / 2) * n / total)), []).append(k)
        acc += w
    for idx, members in sorted(groups.items()):
        start, end = spoken[idx]
        step = (end - start) / len(members)
        for j, k in enumerate(members):
            word, cs, ce = text_words[k]
            out.append(WordSpan(word, start + round(j * step), start + round((j + 1) * step), base + cs, base + ce))
    return out
