"""A rough phoneme timeline from text alone, for when no TTS can speak (the avatar still mouths it).

Letters become rough English phonemes by a small set of spelling rules (digraphs, magic e,
soft c/g, doubled consonants); digits are read one by one; letters of other scripts become a
neutral vowel. Each phone has a base duration (vowels longer than consonants, diphthongs
longest) at :data:`REFERENCE_WPM`, scaled by ``REFERENCE_WPM / words_per_minute``. Commas and
similar add a short pause, sentence ends a longer one. Words between them get a zero-length
``" "`` span so word-break logic (``gateway.timing.words``) still sees word boundaries.
This is not a pronunciation dictionary: it only has to move the mouth plausibly.
"""

from __future__ import annotations

import unicodedata

from gateway.core.timeline import PhonemeSpan, Timeline, WordSpan
from gateway.text.clean import words_with_offsets

#: Speaking rate the base durations below correspond to.
REFERENCE_WPM = 165.0
#: Base durations (ms) at the reference rate.
VOWEL_MS = 95.0
DIPHTHONG_MS = 140.0
CONSONANT_MS = 65.0
#: Pauses (ms, not scaled by rate) after punctuation.
CLAUSE_PAUSE_MS = 180
SENTENCE_PAUSE_MS = 350

_VOWELS = frozenset("aeiouæɑɔɛɪʊʌəɚɝ")
_DIPHTHONGS = frozenset({"eɪ", "aɪ", "oʊ", "aʊ", "ɔɪ"})

#: Spelling rules, longest first within each letter (word-internal context handled in code).
_RULES: dict[str, str] = {
    "tch": "tʃ", "igh": "aɪ", "sch": "sk", "dge": "dʒ",
    "sh": "ʃ", "ch": "tʃ", "th": "θ", "ph": "f", "wh": "w", "ck": "k", "ng": "ŋ", "qu": "kw",
    "gh": "", "wr": "ɹ", "kn": "n",
    "ee": "i", "ea": "i", "oo": "u", "ou": "aʊ", "ow": "oʊ", "oa": "oʊ", "ai": "eɪ", "ay": "eɪ",
    "ey": "eɪ", "oi": "ɔɪ", "oy": "ɔɪ", "au": "ɔ", "aw": "ɔ", "ie": "i", "ue": "u", "ew": "u",
    "ar": "ɑɹ", "or": "ɔɹ", "er": "ɚ", "ir": "ɝ", "ur": "ɝ",
    "a": "æ", "e": "ɛ", "i": "ɪ", "o": "ɑ", "u": "ʌ", "y": "i",
    "b": "b", "c": "k", "d": "d", "f": "f", "g": "g", "h": "h", "j": "dʒ", "k": "k", "l": "l",
    "m": "m", "n": "n", "p": "p", "q": "k", "r": "ɹ", "s": "s", "t": "t", "v": "v", "w": "w",
    "x": "ks", "z": "z",
}
_MAGIC_E = {"a": "eɪ", "e": "i", "i": "aɪ", "o": "oʊ", "u": "u", "y": "aɪ"}
_VOICED_TH = frozenset({"the", "this", "that", "these", "those", "they", "them", "their", "there", "then",
                        "than", "though", "with", "other", "mother", "father", "brother", "weather"})
_DIGITS = ("zɪɹoʊ", "wʌn", "tu", "θɹi", "fɔɹ", "faɪv", "sɪks", "sɛvən", "eɪt", "naɪn")
_CLAUSE = frozenset(",;:—–()")
_SENTENCE = frozenset(".!?…")
_SPELL_UNITS = sorted({"tʃ", "dʒ", *_DIPHTHONGS}, key=len, reverse=True)


def word_to_phonemes(word: str) -> list[str]:
    """Rough phones of one word (lowercase Latin letters by rule, digits read out)."""
    text = "".join(ch for ch in unicodedata.normalize("NFD", word.lower()) if unicodedata.category(ch) != "Mn")
    phones: list[str] = []
    letters = "".join(ch for ch in text if ch.isalpha() or ch.isdigit())
    n = len(letters)
    magic = n >= 3 and letters.endswith("e") and letters[-3] in _MAGIC_E and letters[-2] not in "aeiouywr"
    i = 0
    while i < n:
        ch = letters[i]
        if ch.isdigit():
            phones.extend(_split(_DIGITS[int(ch)] if ch in "0123456789" else "ə"))
            i += 1
            continue
        if not ("a" <= ch <= "z"):
            phones.append("ə")  # another script: a neutral vowel per letter
            i += 1
            continue
        if magic and i == n - 1:
            break  # silent final e
        if magic and i == n - 3:
            phones.append(_MAGIC_E[ch])
            i += 1
            continue
        if ch == "c" and i + 1 < n and letters[i + 1] in "eiy":
            phones.append("s")
            i += 1
            continue
        if ch == "g" and i + 1 < n and letters[i + 1] in "eiy" and i > 0:
            phones.append("dʒ")
            i += 1
            continue
        if ch == "y" and i == 0:
            phones.append("j")
            i += 1
            continue
        for size in (3, 2, 1):
            chunk = letters[i:i + size]
            if len(chunk) == size and chunk in _RULES:
                if chunk == "th" and letters in _VOICED_TH:
                    phones.append("ð")
                elif chunk == "kn" and i > 0:
                    phones += ["k", "n"]
                else:
                    phones.extend(_split(_RULES[chunk]))
                i += size
                break
        else:
            i += 1
    collapsed: list[str] = []
    for p in phones:  # doubled consonants ("ll", "tt") are one sound
        if collapsed and p == collapsed[-1] and p not in _VOWELS:
            continue
        collapsed.append(p)
    return collapsed


def _split(ipa: str) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(ipa):
        for unit in _SPELL_UNITS:
            if ipa.startswith(unit, i):
                out.append(unit)
                i += len(unit)
                break
        else:
            out.append(ipa[i])
            i += 1
    return out


def _base_ms(phone: str) -> float:
    if phone in _DIPHTHONGS:
        return DIPHTHONG_MS
    if phone in _VOWELS:
        return VOWEL_MS
    return CONSONANT_MS


def estimate_timeline_from_text(text: str, words_per_minute: float = REFERENCE_WPM, *, start_ms: int = 0) -> Timeline:
    """A rough phoneme + word timeline for ``text`` (no audio); ``duration_ms`` ends after the last pause."""
    if words_per_minute <= 0:
        raise ValueError("words_per_minute must be positive")
    scale = REFERENCE_WPM / words_per_minute
    phonemes: list[PhonemeSpan] = []
    words: list[WordSpan] = []
    t = float(start_ms)
    words_found = words_with_offsets(text)
    for index, (word, cs, ce) in enumerate(words_found):
        if index:
            gap = text[words_found[index - 1][2]:cs]
            t = _pause(phonemes, gap, t)
        phones = word_to_phonemes(word) or ["ə"]
        begin = int(round(t))
        for p in phones:
            a = int(round(t))
            t += _base_ms(p) * scale
            phonemes.append(PhonemeSpan(p, a, int(round(t))))
        words.append(WordSpan(word, begin, int(round(t)), cs, ce))
    if words_found:
        t = _pause(phonemes, text[words_found[-1][2]:], t)
    return Timeline(phonemes=phonemes, words=words, duration_ms=int(round(t)))


def _pause(phonemes: list[PhonemeSpan], gap: str, t: float) -> float:
    """Append the pause (or zero-length word break) for the text between two words."""
    a = int(round(t))
    if any(ch in _SENTENCE for ch in gap):
        mark, pause = next(ch for ch in gap if ch in _SENTENCE), SENTENCE_PAUSE_MS
    elif any(ch in _CLAUSE for ch in gap):
        mark, pause = next(ch for ch in gap if ch in _CLAUSE), CLAUSE_PAUSE_MS
    else:
        if gap:
            phonemes.append(PhonemeSpan(" ", a, a))
        return t
    phonemes.append(PhonemeSpan(mark, a, a + pause))
    return float(a + pause)
