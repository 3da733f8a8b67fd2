"""Forced alignment (pocketsphinx) against Piper speech whose exact phoneme timing we know.

Bounds: Piper's duration-based boundaries sit ~25 ms after the acoustic landmarks the aligner
finds (the benchmark's signed bias; espeak-ng, whose event positions are exact, shows ~0), and
pocketsphinx works in 10 ms frames. A median word-boundary error under 50 ms is therefore
"bias + two frames" with margin (the benchmark measures ~22 ms); the proportional estimate the
aligner falls back to scores ~90 ms, so the bound also proves the alignment is doing real work.
"""

from __future__ import annotations

import statistics

import numpy as np
import pytest

from bench.bench_aligner import concatenate, phone_errors, synthesize, word_errors
from gateway.audio.resample import resample_pcm
from gateway.lipsync.build import build_lipsync
from gateway.timing.aligners import ESTIMATED, FORCED, PARTIAL, build_aligner
from gateway.timing.aligners.lexicon import (cardinal_words, ipa_to_arpabet, number_readings, pronunciations,
                                             spoken_tokens, year_words)

pytestmark = pytest.mark.slow

LINES = [
    "The forge is hot today, so mind your fingers near the anvil.",
    "I have seen dragons burn whole cities, and I have seen them weep.",
    "Keep your voice down; the guards change shift at midnight.",
    "Brannoc forged the Xylarinth blade, and it still cuts through dragon-scale armour.",
    "You owe me 42 gold pieces, 1,000 more by 1999, and 3.5 barrels of ale.",
]


@pytest.fixture(scope="module")
def refs():
    return synthesize(LINES)  # Piper loads once for the module


@pytest.fixture(scope="module")
def aligner():
    a = build_aligner("pocketsphinx", chunk_s=12.0)
    a.warm_up()
    return a


def _check_timeline(result, text: str, duration_ms: int) -> None:
    assert result.duration_ms == duration_ms
    p = result.phonemes
    assert p[0].start_ms == 0 and p[-1].end_ms == duration_ms
    for a, b in zip(p, p[1:]):
        assert a.end_ms == b.start_ms and a.start_ms <= a.end_ms
    assert all(isinstance(x.start_ms, int) and isinstance(x.end_ms, int) for x in p)
    for a, b in zip(result.words, result.words[1:]):
        assert a.start_ms <= a.end_ms <= b.start_ms
    for w in result.words:
        assert text[w.char_start:w.char_end] == w.word
        assert 0 <= w.start_ms <= w.end_ms <= duration_ms


def _aligned(result, max_spans: int = 1) -> bool:
    """Forced, or forced but for one short span per line (Piper's speech is random per process: now and
    then it says a word so unlike the dictionary that its span is estimated from recognised phones)."""
    if result.method == FORCED:
        return True
    spans = result.estimated_spans
    return result.method == PARTIAL and len(spans) <= max_spans and all(s.end_ms - s.start_ms <= 400 for s in spans)


def _duration(ref) -> int:
    return (len(ref.pcm) // 2 * 1000 + ref.sample_rate // 2) // ref.sample_rate


def test_accuracy_against_piper(refs, aligner):
    word_err: list[int] = []
    phone_err: list[int] = []
    for ref in refs:
        result = aligner.align(ref.pcm, ref.sample_rate, ref.text)
        assert _aligned(result), result.reason
        _check_timeline(result, ref.text, _duration(ref))
        word_err += word_errors(ref.words, result.words)
        phone_err += phone_errors(ref.phonemes, result.phonemes)
    assert len(word_err) >= 40 and len(phone_err) >= 100
    assert statistics.median(abs(e) for e in word_err) < 50
    assert statistics.median(abs(e) for e in phone_err) < 50
    assert sorted(abs(e) for e in word_err)[int(0.9 * len(word_err))] < 150


def test_out_of_dictionary_words_and_numbers(refs, aligner):
    oov = refs[3]
    result = aligner.align(oov.pcm, oov.sample_rate, oov.text)
    assert _aligned(result), result.reason
    words = {w.word: w for w in result.words}
    assert {"Brannoc", "Xylarinth", "dragon-scale"} <= set(words)
    assert words["Xylarinth"].end_ms - words["Xylarinth"].start_ms > 300  # a long word got its time

    numbers = refs[4]
    result = aligner.align(numbers.pcm, numbers.sample_rate, numbers.text)
    assert _aligned(result), result.reason
    spans = {w.word: w for w in result.words}
    assert {"42", "1,000", "1999", "3.5"} <= set(spans)  # numbers stay one word with their char offsets
    assert numbers.text[spans["1,000"].char_start:spans["1,000"].char_end] == "1,000"
    assert spans["1999"].end_ms - spans["1999"].start_ms > 400
    _check_timeline(result, numbers.text, _duration(numbers))


def test_mismatched_text_falls_back_to_estimate(refs, aligner):
    ref = refs[0]
    other = "We must go to the market today and buy some fresh bread."
    result = aligner.align(ref.pcm, ref.sample_rate, other)
    assert result.method == ESTIMATED and result.reason
    _check_timeline(result, other, _duration(ref))
    assert [w.word for w in result.words] == [t.text for t in spoken_tokens(other)]
    # Half the text missing: untranscribed speech is caught too.
    half = " ".join(refs[1].text.split()[:5])
    result = aligner.align(refs[1].pcm, refs[1].sample_rate, half)
    assert result.method == ESTIMATED


@pytest.mark.parametrize("rate", [8000, 22050, 44100])
def test_sample_rates(refs, aligner, rate):
    ref = refs[0]
    pcm = resample_pcm(ref.pcm, ref.sample_rate, rate)
    result = aligner.align(pcm, rate, ref.text)
    assert _aligned(result), result.reason
    native = aligner.align(ref.pcm, ref.sample_rate, ref.text)
    assert abs(result.duration_ms - native.duration_ms) <= 1
    diffs = [abs(a.start_ms - b.start_ms) for a, b in zip(result.words, native.words)]
    assert statistics.median(diffs) <= 30


def test_long_audio_is_chunked(refs, aligner):
    long_ref = concatenate(refs[:4] * 2, gap_ms=400)  # ~30 s, chunk_s=12
    result = aligner.align(long_ref.pcm, long_ref.sample_rate, long_ref.text)
    assert _aligned(result, max_spans=2), result.reason
    assert result.detail["chunks"] >= 2
    _check_timeline(result, long_ref.text, _duration(long_ref))
    errors = word_errors(long_ref.words, result.words)
    assert statistics.median(abs(e) for e in errors) < 50
    # Without punctuation there are no planned cuts: the whole-audio word pass finds them instead.
    bare = "".join(ch for ch in long_ref.text if ch.isalnum() or ch in " '-")
    robust = aligner.align(long_ref.pcm, long_ref.sample_rate, bare)
    assert robust.method in (FORCED, PARTIAL) and robust.detail["chunks"] >= 2
    diffs = [abs(a.start_ms - b.start_ms) for a, b in zip(robust.words, result.words)]
    assert len(robust.words) == len(result.words) and statistics.median(diffs) <= 30


def test_silence_noise_and_empty_text(aligner):
    silence = bytes(2 * 16000)
    result = aligner.align(silence, 16000, "Hello there.")
    assert result.method == ESTIMATED and "no speech" in result.reason
    assert result.phonemes[0].start_ms == 0 and result.phonemes[-1].end_ms == 1000
    noise = (np.random.default_rng(1).normal(0, 4000, 16000 * 2)).astype("<i2").tobytes()
    assert aligner.align(noise, 16000, "Hello there, adventurer.").method == ESTIMATED
    result = aligner.align(noise, 16000, "?!")
    assert result.method == ESTIMATED and result.words == []
    assert aligner.align(b"", 16000, "Hello").method == ESTIMATED


def test_char_offset_and_start_ms(refs, aligner):
    ref = refs[2]
    result = aligner.align(ref.pcm, ref.sample_rate, ref.text, char_offset=100, start_ms=5000)
    assert result.phonemes[0].start_ms == 5000 and result.phonemes[-1].end_ms == 5000 + _duration(ref)
    assert all(w.char_start >= 100 and w.start_ms >= 5000 for w in result.words)


def test_lipsync_from_alignment(refs, aligner):
    ref = refs[0]
    result = aligner.align(ref.pcm, ref.sample_rate, ref.text)
    data = build_lipsync(result.phonemes, result.duration_ms, fps=60).to_dict()
    assert data["visemes"][0]["start_ms"] == 0 and data["visemes"][-1]["end_ms"] == result.duration_ms
    assert {v["viseme"] for v in data["visemes"]} - {"sil"}  # the mouth moves
    assert data["blendshapes"]["frame_count"] > 0


def test_proportional_aligner_alone(refs):
    ref = refs[0]
    result = build_aligner("proportional").align(ref.pcm, ref.sample_rate, ref.text)
    assert result.method == ESTIMATED
    _check_timeline(result, ref.text, _duration(ref))


# ---- G2P units ----------------------------------------------------------------------------------------------

def test_spoken_tokens():
    text = "Well-known smith's $5, 1,000 coins at 10:30 — 3rd R2D2 50%!"
    tokens = spoken_tokens(text)
    assert [t.text for t in tokens] == ["Well-known", "smith's", "$5", "1,000", "coins", "at", "10:30", "3rd",
                                        "R2D2", "50%"]
    assert all(text[t.char_start:t.char_end] == t.text for t in tokens)
    assert spoken_tokens("…?! —") == []


def test_number_words():
    assert cardinal_words(1999) == ["one", "thousand", "nine", "hundred", "ninety", "nine"]
    assert cardinal_words(0) == ["zero"] and cardinal_words(40) == ["forty"]
    assert year_words(1999) == ["nineteen", "ninety", "nine"]
    assert year_words(1905) == ["nineteen", "oh", "five"]
    assert year_words(2000) is None and year_words(2005) is None
    assert number_readings("1999")[0] == ["nineteen", "ninety", "nine"]
    assert number_readings("007")[-1] == ["zero", "zero", "seven"]


def test_ipa_to_arpabet_and_pronunciations():
    assert ipa_to_arpabet("həlˈoʊ") == ["HH", "AH", "L", "OW"]
    assert ipa_to_arpabet("tʃˈɜːtʃ") == ["CH", "ER", "CH"]
    assert ipa_to_arpabet("bˈʌʔn̩") == ["B", "AH", "T", "AH", "N"]
    lookup = {"forty": "F AO R T IY", "two": "T UW"}.get
    prons = pronunciations("42", lookup)
    assert prons and prons[0] == "F AO R T IY T UW"
    assert pronunciations("Xylarinth", lambda w: None)  # espeak-ng reading
