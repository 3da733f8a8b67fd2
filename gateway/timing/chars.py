"""Vendor character alignment -> our phoneme and word timeline (the one place this happens).

Cloud TTS (ElevenLabs) reports a start and end time per *character* of the text it spoke, not
phonemes or words. Lip-sync needs phonemes, subtitles need words, so:

* vendor characters are matched, in order, to the characters of the segment text (vendors drop
  or add spaces, may add characters when they normalize; unmatched vendor characters are
  ignored, text characters without a vendor time are interpolated);
* a word (:func:`gateway.text.words_with_offsets`) spans its first character's start to its
  last character's end;
* the word's phonemes come from espeak-ng (Piper's bundled ``espeakbridge``, the same G2P the
  local engines use, so visemes look the same whoever spoke) and are spread over the word's
  span, vowels longer than consonants, stress/length marks short;
* time between words (spaces, punctuation, breaths) becomes a ``" "`` pause span, so the
  phoneme timeline is contiguous and covers the segment from its start to its last character.

:class:`CharTimeline` works incrementally (a word is emitted once its last character has been
seen), which is what streaming providers need; :func:`timeline_from_char_alignment` is the
one-shot form. All times are integer milliseconds on the caller's clock.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

from gateway.core.segments import Segment
from gateway.core.timeline import PhonemeSpan, WordSpan
from gateway.text.clean import words_with_offsets
from gateway.timing.estimate import word_to_phonemes
from gateway.timing.phonemize import espeak_clauses

#: Phoneme spelling of a pause between words (a word break for ``gateway.timing.words``).
PAUSE = " "
#: espeak-ng voice used for G2P of cloud-provider text.
DEFAULT_LANGUAGE = "en-us"

_VOWELS = frozenset("aeiouyæɑɒɐɔəɘɚɛɜɝɞɤɨɪʉʊʌʏøœɶ")
_MARKS = frozenset("ˈˌːˑ")
_VOWEL_WEIGHT = 1.6
_CONSONANT_WEIGHT = 1.0
_MARK_WEIGHT = 0.25

def _espeak_ipa(text: str, language: str) -> str:
    clauses = espeak_clauses(text, language)
    parts = []
    for phonemes, _terminator, _eos in clauses:
        # Drop language-switch flags such as "(fr)".
        cleaned, depth = [], 0
        for ch in phonemes:
            if ch == "(":
                depth += 1
            elif ch == ")":
                depth = max(0, depth - 1)
            elif not depth:
                cleaned.append(ch)
        part = "".join(cleaned).strip()
        if part:
            parts.append(part)
    return " ".join(parts)


@lru_cache(maxsize=8192)
def word_phonemes(word: str, language: str = DEFAULT_LANGUAGE) -> tuple[str, ...]:
    """IPA phonemes of one word, one NFD codepoint each (Piper's spelling: stress marks separate).

    Falls back to the rough spelling rules of :mod:`gateway.timing.estimate` (or the letters)
    when espeak-ng is not available.
    """
    if not word.strip():
        return ()
    try:
        ipa = _espeak_ipa(word, language)
        if ipa:
            return tuple(unicodedata.normalize("NFD", ipa))
    except Exception:  # noqa: BLE001 - G2P is best effort; fall through to rules
        pass
    try:
        phones = word_to_phonemes(word)
        if phones:
            return tuple(phones)
    except Exception:  # noqa: BLE001
        pass
    return tuple(ch.lower() for ch in word if ch.isalnum())


@lru_cache(maxsize=4096)
def _weight(phoneme: str) -> float:
    if phoneme in _MARKS or unicodedata.category(phoneme[0]) == "Mn":
        return _MARK_WEIGHT
    if phoneme == " ":
        return 0.0
    if any(ch in _VOWELS for ch in phoneme):
        return _VOWEL_WEIGHT
    return _CONSONANT_WEIGHT


def spread(phonemes: tuple[str, ...] | list[str], start_ms: int, end_ms: int) -> list[PhonemeSpan]:
    """Spread ``phonemes`` over ``[start_ms, end_ms]`` by weight; boundaries from cumulative sums (no drift)."""
    if not phonemes:
        return []
    weights = [_weight(p) for p in phonemes]
    total = sum(weights) or float(len(phonemes))
    if not sum(weights):
        weights = [1.0] * len(phonemes)
    span = max(0, end_ms - start_ms)
    out: list[PhonemeSpan] = []
    acc = 0.0
    prev = start_ms
    for p, w in zip(phonemes, weights):
        acc += w
        end = start_ms + round(span * acc / total)
        out.append(PhonemeSpan(p, prev, end))
        prev = end
    return out


class CharTimeline:
    """Incremental conversion of one segment's character alignment into phonemes and words.

    Feed vendor characters with times already on the caller's clock (:meth:`add`); each call
    returns the phoneme and word spans that became complete. :meth:`finish` returns the rest,
    with a trailing pause up to ``end_ms``. Spans never overlap and never go back in time.
    """

    def __init__(self, segment: Segment, start_ms: int = 0, language: str = DEFAULT_LANGUAGE) -> None:
        self.segment = segment
        self.text = segment.text
        self.language = language
        self._words = words_with_offsets(self.text)
        self._word_chars = sum(1 for ch in self.text if not ch.isspace())
        self._times: dict[int, tuple[int, int]] = {}
        self._pos = 0  # next text index to match
        self._next_word = 0
        self._cursor = start_ms  # end of the last emitted span
        self._last_ms = start_ms  # latest vendor time seen
        self.matched = 0  # non-space text characters matched so far

    @property
    def complete(self) -> bool:
        """Every non-space character of the segment text has been matched."""
        return self.matched >= self._word_chars

    @property
    def remaining_chars(self) -> int:
        return max(0, self._word_chars - self.matched)

    def add(self, chars: list[str], starts_ms: list[int],
            ends_ms: list[int]) -> tuple[list[PhonemeSpan], list[WordSpan]]:
        for ch, start, end in zip(chars, starts_ms, ends_ms):
            start, end = int(start), int(end)
            end = max(end, start)
            self._last_ms = max(self._last_ms, end)
            self._match(ch, start, end)
        return self._emit(final=False, end_ms=None)

    def finish(self, end_ms: int | None = None) -> tuple[list[PhonemeSpan], list[WordSpan]]:
        end = max(self._last_ms, end_ms if end_ms is not None else self._last_ms)
        phonemes, words = self._emit(final=True, end_ms=end)
        if end > self._cursor:
            phonemes.append(PhonemeSpan(PAUSE, self._cursor, end))
            self._cursor = end
        return phonemes, words

    # -- internals -----------------------------------------------------------------------------

    def _match(self, ch: str, start: int, end: int) -> None:
        if not ch or ch.isspace():
            return
        text = self.text
        pos = self._pos
        while pos < len(text) and text[pos].isspace():
            pos += 1
        # Exact (or case-insensitive) match at the cursor, else a short look-ahead for a dropped character.
        for j in range(pos, min(len(text), pos + 8)):
            if text[j] == ch or text[j].casefold() == ch.casefold():
                self._times[j] = (start, end)
                # characters skipped over (dropped by the vendor) count as matched; usually none (no generator)
                self.matched += 1 + (j > pos and sum(1 for k in range(pos, j) if not text[k].isspace()))
                self._pos = j + 1
                return
        # Not in the text (normalization added it): ignore.

    def _word_times(self, cs: int, ce: int) -> tuple[int, int] | None:
        times = [self._times[i] for i in range(cs, ce) if i in self._times]
        if not times:
            return None
        return min(t[0] for t in times), max(t[1] for t in times)

    def _anchor_after(self, index: int) -> tuple[int, int] | None:
        """(text index, start time) of the first matched character at or after text ``index``."""
        later = [i for i in self._times if i >= index]
        if not later:
            return None
        first = min(later)
        return first, self._times[first][0]

    def _emit(self, final: bool, end_ms: int | None) -> tuple[list[PhonemeSpan], list[WordSpan]]:
        phonemes: list[PhonemeSpan] = []
        words: list[WordSpan] = []
        base = self.segment.char_start
        while self._next_word < len(self._words):
            word, cs, ce = self._words[self._next_word]
            if not final and self._pos < ce:
                break  # its last character has not arrived yet
            times = self._word_times(cs, ce)
            if times is None:
                # No vendor time for this word: share the gap up to the next timed character among
                # this word and the untimed words that follow it.
                found = self._anchor_after(ce)
                if found is None:
                    if not final:
                        break
                    anchor_index, anchor = len(self.text), (end_ms if end_ms is not None else self._last_ms)
                else:
                    anchor_index, anchor = found
                run = 1
                k = self._next_word + 1
                while (k < len(self._words) and self._words[k][2] <= anchor_index
                       and self._word_times(self._words[k][1], self._words[k][2]) is None):
                    run += 1
                    k += 1
                step = max(0, anchor - self._cursor) / run
                times = (self._cursor, self._cursor + round(step))
            start = max(times[0], self._cursor)
            end = max(times[1], start)
            if start > self._cursor:
                phonemes.append(PhonemeSpan(PAUSE, self._cursor, start))
            phonemes.extend(spread(word_phonemes(word, self.language), start, end))
            words.append(WordSpan(word, start, end, base + cs, base + ce))
            self._cursor = end
            self._next_word += 1
        return phonemes, words


def timeline_from_char_alignment(chars: list[str], starts_ms: list[int], ends_ms: list[int], segment: Segment,
                                 offset_ms: int) -> tuple[list[PhonemeSpan], list[WordSpan]]:
    """Phonemes and words of ``segment`` from its character alignment.

    ``starts_ms``/``ends_ms`` are relative to the segment's audio start; ``offset_ms`` (where
    that audio starts on the caller's clock) is added to every returned time. The phoneme
    timeline starts at ``offset_ms`` (leading pause) and ends at the last character's end.
    """
    timeline = CharTimeline(segment, start_ms=offset_ms)
    phonemes, words = timeline.add(list(chars), [int(s) + offset_ms for s in starts_ms],
                                   [int(e) + offset_ms for e in ends_ms])
    more_p, more_w = timeline.finish()
    return phonemes + more_p, words + more_w
