"""Spoken tokens of a text and their ARPAbet pronunciations, for forced alignment.

* :func:`spoken_tokens` splits text into the units a speaker says as words, with character
  offsets: ``"1,000"``, ``"3.14"``, ``"10:30"``, ``"$5"``, ``"well-known"`` and ``"dragon's"``
  stay one token each (``gateway.text.words_with_offsets`` would split the first four).
* :func:`pronunciations` gives every plausible ARPAbet pronunciation of a token: the CMU
  dictionary entry when the aligner's dictionary has one; otherwise compound parts joined,
  numbers read out (cardinal and year style: engines differ), and espeak-ng's reading
  (the copy inside piper-tts, ``espeakbridge``) mapped from IPA to ARPAbet, as espeak says it
  and with its unstressed syllables reduced to schwa (stress-aware); spelled out letter by
  letter when nothing else reads it.
* :data:`ARPABET_TO_IPA` maps the aligner's phones back to the IPA the lip-sync stages read.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

#: The 39 ARPAbet phones of the CMU dictionary (no stress digits) -> IPA as lip-sync reads it.
ARPABET_TO_IPA: dict[str, str] = {
    "AA": "ɑ", "AE": "æ", "AH": "ə", "AO": "ɔ", "AW": "aʊ", "AY": "aɪ", "B": "b", "CH": "tʃ", "D": "d",
    "DH": "ð", "EH": "ɛ", "ER": "ɚ", "EY": "eɪ", "F": "f", "G": "ɡ", "HH": "h", "IH": "ɪ", "IY": "i",
    "JH": "dʒ", "K": "k", "L": "l", "M": "m", "N": "n", "NG": "ŋ", "OW": "oʊ", "OY": "ɔɪ", "P": "p",
    "R": "ɹ", "S": "s", "SH": "ʃ", "T": "t", "TH": "θ", "UH": "ʊ", "UW": "u", "V": "v", "W": "w",
    "Y": "j", "Z": "z", "ZH": "ʒ",
}
PHONES = frozenset(ARPABET_TO_IPA)

#: espeak-ng (en-us) IPA -> ARPAbet, matched longest first. Length marks and stress are dropped first.
IPA_TO_ARPABET: dict[str, tuple[str, ...]] = {
    "aɪə": ("AY", "ER"), "aʊə": ("AW", "ER"),
    "aɪ": ("AY",), "aʊ": ("AW",), "eɪ": ("EY",), "oʊ": ("OW",), "əʊ": ("OW",), "ɔɪ": ("OY",),
    "tʃ": ("CH",), "dʒ": ("JH",), "ɜɹ": ("ER",), "ɚɹ": ("ER",), "ɪə": ("IH", "R"), "eə": ("EH", "R"),
    "ʊə": ("UH", "R"), "iə": ("IY", "AH"),
    "i": ("IY",), "ɪ": ("IH",), "ᵻ": ("IH",), "ɨ": ("IH",), "ɛ": ("EH",), "e": ("EH",), "æ": ("AE",),
    "a": ("AE",), "ɑ": ("AA",), "ɒ": ("AA",), "ɔ": ("AO",), "o": ("OW",), "ʌ": ("AH",), "ə": ("AH",),
    "ɐ": ("AH",), "ɜ": ("ER",), "ɚ": ("ER",), "ɝ": ("ER",), "ʊ": ("UH",), "u": ("UW",), "y": ("UW",),
    "p": ("P",), "b": ("B",), "t": ("T",), "d": ("D",), "k": ("K",), "ɡ": ("G",), "g": ("G",),
    "f": ("F",), "v": ("V",), "θ": ("TH",), "ð": ("DH",), "s": ("S",), "z": ("Z",), "ʃ": ("SH",),
    "ʒ": ("ZH",), "h": ("HH",), "m": ("M",), "n": ("N",), "ŋ": ("NG",), "l": ("L",), "ɫ": ("L",),
    "ɹ": ("R",), "r": ("R",), "ɾ": ("T",), "ʔ": ("T",), "j": ("Y",), "w": ("W",), "ʍ": ("W",),
    "x": ("K",), "ç": ("HH",), "ɬ": ("L",), "q": ("K",), "c": ("K",), "ɲ": ("N", "Y"), "ʎ": ("L", "Y"),
}
_IPA_KEYS = sorted(IPA_TO_ARPABET, key=len, reverse=True)
_MAX_IPA = max(len(k) for k in _IPA_KEYS)
#: Dropped from espeak output before mapping: stress, length, syllable breaks, tie bars.
_IPA_DROP = frozenset("ˈˌːˑ.‿͜͡-'")
_SYLLABIC = "\u0329"  # combining vertical line below: n̩ l̩ m̩ -> AH + consonant

_CURRENCY = "$€£¥"
_TOKEN = re.compile(
    rf"[{_CURRENCY}]?\d+(?:[.,:]\d+)+%?"  # 1,000  3.14  10:30  $1,200
    rf"|[{_CURRENCY}]\d+%?"  # $5
    r"|\w+(?:['’\-]\w+)*%?",  # words, 3rd, R2D2, well-known, dragon's, 50%
    re.UNICODE,
)


@dataclass(frozen=True, slots=True)
class Token:
    """One spoken unit of the text: ``text[char_start:char_end]``, and its dictionary key."""

    text: str
    char_start: int
    char_end: int

    @property
    def key(self) -> str:
        """Lower-case, curly apostrophes folded: how the CMU dictionary spells words."""
        return self.text.lower().replace("’", "'")


def spoken_tokens(text: str) -> list[Token]:
    """The tokens of ``text`` a speaker says, with character offsets (punctuation is not a token)."""
    out = []
    for m in _TOKEN.finditer(text):
        word = m.group(0).strip("_")
        if not word or not any(ch.isalnum() for ch in word):
            continue
        start = m.start() + m.group(0).index(word)
        out.append(Token(word, start, start + len(word)))
    return out


# ---- numbers ------------------------------------------------------------------------------------------------

_ONES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
         "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen")
_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_SCALES = ((10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (1000, "thousand"))


def _below_thousand(n: int) -> list[str]:
    words: list[str] = []
    if n >= 100:
        words += [_ONES[n // 100], "hundred"]
        n %= 100
    if n >= 20:
        words.append(_TENS[n // 10])
        n %= 10
        if n:
            words.append(_ONES[n])
    elif n or not words:
        words.append(_ONES[n])
    return words


def cardinal_words(n: int) -> list[str]:
    """English cardinal words for ``0 <= n < 10**15`` ("one thousand nine hundred ninety nine")."""
    if n < 1000:
        return _below_thousand(n)
    words: list[str] = []
    for value, name in _SCALES:
        if n >= value:
            words += _below_thousand(n // value) + [name]
            n %= value
    if n:
        words += _below_thousand(n)
    return words


def year_words(n: int) -> list[str] | None:
    """Year-style reading of four-digit numbers ("nineteen ninety nine", "twenty oh five"), else ``None``."""
    if not 1000 <= n <= 2999 or n % 1000 == 0:
        return None
    hi, lo = divmod(n, 100)
    if lo == 0:
        return _below_thousand(hi) + ["hundred"]
    if 2000 <= n < 2010:
        return None  # "two thousand five": the cardinal reading already covers it
    return _below_thousand(hi) + (["oh", _ONES[lo]] if lo < 10 else _below_thousand(lo))


def number_readings(token: str) -> list[list[str]]:
    """Word sequences a plain digit string may be read as (cardinal, year style, digit by digit)."""
    if not token.isdigit() or len(token) > 15:
        return []
    n = int(token)
    readings = [cardinal_words(n)]
    year = year_words(n) if len(token) == 4 else None
    if year:
        readings.insert(0, year)
    if token.startswith("0") and len(token) > 1:
        readings.append([_ONES[int(d)] for d in token])
    return readings


# ---- espeak-ng (piper's espeakbridge) ----------------------------------------------------------------------

_ESPEAK_INIT = threading.Lock()


def _espeak_lock() -> threading.Lock:
    """Piper's own lock around its (process-global, not thread-safe) espeakbridge."""
    try:
        from piper import voice as piper_voice

        return piper_voice._ESPEAK_PHONEMIZER_LOCK  # noqa: SLF001 - the one lock piper itself uses
    except Exception:  # noqa: BLE001
        return _ESPEAK_INIT


@lru_cache(maxsize=4096)
def espeak_ipa(word: str, voice: str = "en-us") -> str:
    """espeak-ng's IPA reading of ``word`` ("" when espeak is not available or reads nothing)."""
    try:
        from piper import espeakbridge
        from piper import voice as piper_voice
        from piper.phonemize_espeak import ESPEAK_DATA_DIR, EspeakPhonemizer
    except Exception:  # noqa: BLE001 - no G2P: callers fall back
        return ""
    with _espeak_lock():
        if piper_voice._ESPEAK_PHONEMIZER is None:  # noqa: SLF001 - initialise it the way piper does
            piper_voice._ESPEAK_PHONEMIZER = EspeakPhonemizer(ESPEAK_DATA_DIR)  # noqa: SLF001
        espeakbridge.set_voice(voice)
        clauses = espeakbridge.get_phonemes(word)
    ipa = " ".join(phonemes for phonemes, _term, _end in clauses)
    return re.sub(r"\([^)]*\)", "", ipa).strip()


def ipa_to_arpabet(ipa: str, *, reduce_unstressed: bool = False) -> list[str]:
    """Map an espeak-ng IPA string (spaces allowed) to ARPAbet phones; unknown symbols are skipped.

    With ``reduce_unstressed``, full vowels of syllables espeak marks with no stress become ``AH``
    (schwa), the way unstressed syllables of names are usually said ("Brannoc" B R AE N AH K).
    A stress mark (``ˈ`` primary, ``ˌ`` secondary) stresses the next vowel.
    """
    text = "".join(ch for ch in unicodedata.normalize("NFD", ipa) if ch not in _IPA_DROP or ch in "ˈˌ")
    phones: list[str] = []
    stressed = False
    i = 0
    while i < len(text):
        ch = text[i]
        if ch in "ˈˌ":
            stressed = True
            i += 1
            continue
        if ch == _SYLLABIC:
            if phones and phones[-1] in ("N", "L", "M"):
                phones.insert(len(phones) - 1, "AH")
            i += 1
            continue
        if ch.isspace() or unicodedata.category(ch) == "Mn":
            i += 1
            continue
        for size in range(min(_MAX_IPA, len(text) - i), 0, -1):
            unit = text[i:i + size]
            if unit in IPA_TO_ARPABET:
                for phone in IPA_TO_ARPABET[unit]:
                    if phone in _VOWEL_PHONES:
                        if reduce_unstressed and not stressed and phone in _REDUCIBLE:
                            phone = "AH"
                        stressed = False
                    if not (phones and phones[-1] == phone and phone not in _VOWEL_PHONES):
                        phones.append(phone)  # "ɹɹ" and similar doubles are one phone
                i += size
                break
        else:
            i += 1
    return phones


_VOWEL_PHONES = frozenset({"AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY", "UH", "UW"})
#: Full vowels an unstressed syllable reduces to schwa (diphthongs, i, u and r-coloured vowels stay).
_REDUCIBLE = frozenset({"AA", "AE", "AO", "EH", "OW"})
_LETTERS = re.compile(r"[a-z]")


def pronunciations(token: str, lookup: Callable[[str], str | None], *, max_variants: int = 3) -> list[str]:
    """Space-separated ARPAbet pronunciations for a token missing from the dictionary (best first).

    ``lookup(word)`` returns the dictionary pronunciation of a word or ``None``. An empty list
    means the token cannot be pronounced (the caller falls back to an estimated timeline).
    """
    key = token.lower().replace("’", "'")
    variants: list[list[str]] = []

    def add(phones: list[str] | None) -> None:
        if phones and all(p in PHONES for p in phones) and phones not in variants:
            variants.append(phones)

    def from_words(words: list[str]) -> list[str] | None:
        phones: list[str] = []
        for w in words:
            pron = lookup(w)
            if not pron:
                return None
            phones += pron.split()
        return phones

    core = key.lstrip(_CURRENCY).rstrip("%")
    if core.isdigit() and core == key:
        for reading in number_readings(core):
            add(from_words(reading))
    parts = [p for p in re.split(r"[-']", key) if p]
    if len(parts) > 1 and "-" in key:
        add(from_words(parts))
    ipa = espeak_ipa(token)
    add(ipa_to_arpabet(ipa))
    add(ipa_to_arpabet(ipa, reduce_unstressed=True))
    if not variants and key.isascii() and key.isalpha():  # no G2P: spell it out ("NPC" as letters)
        add(from_words(_LETTERS.findall(key)))
    return [" ".join(v) for v in variants[:max_variants]]
