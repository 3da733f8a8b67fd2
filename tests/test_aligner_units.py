"""Unit checks of the aligner's stages on made-up inputs (no audio models): grammar, mismatch regions,
landmark refinement, stress-aware G2P, the Whisper transcript clean-up."""

from __future__ import annotations

import numpy as np

from gateway.timing.aligners.acoustics import HOP_MS, Acoustics, measure
from gateway.timing.aligners.decoder import AlignedWord
from gateway.timing.aligners.lexicon import ipa_to_arpabet
from gateway.timing.aligners.grammar import P_PUNCT, P_WORD, SILENCE_WORD, alignment_grammar, pause_probabilities
from gateway.timing.aligners.mismatch import find_regions, line_mismatch, whole_line
from gateway.timing.aligners.refine import PhoneSeg, refine
from gateway.timing.aligners.whisper import drop_repeats


def _paths(final: int, transitions) -> list[list[str]]:
    """Every word sequence from state 0 to ``final`` (small grammars only)."""
    out = []

    def walk(state: int, words: list[str]) -> None:
        if state == final:
            out.append(words)
            return
        for src, dst, prob, word in transitions:
            if src == state and prob > 0:
                walk(dst, words + [word])

    walk(0, [])
    return out


def test_grammar_words_in_order_with_optional_pauses_and_no_null_arcs():
    final, trans = alignment_grammar([["keep"], ["your", "your(2)"], ["voice"]], [0.05, 0.9])
    assert all(len(t) == 4 and t[3] for t in trans)  # every arc carries a word: no (NULL) segments
    paths = _paths(final, trans)
    spoken = {tuple(w for w in p if w != SILENCE_WORD) for p in paths}
    assert spoken == {("keep", "your", "voice"), ("keep", "your(2)", "voice")}
    assert ["keep", "your", SILENCE_WORD, "voice"] in paths and ["keep", "your", "voice"] in paths
    assert [SILENCE_WORD, "keep", "your", "voice", SILENCE_WORD] in paths
    assert pause_probabilities([" ", ", ", "; ", " — ", " "]) == [P_WORD, P_PUNCT, P_PUNCT, P_PUNCT, P_WORD]


def _word(name: str, start: int, frames: int, per_frame: float) -> AlignedWord:
    return AlignedWord(name, start, frames, int(per_frame * frames))


def _quiet(frames: int) -> Acoustics:
    level = np.full(frames * 2, -60.0, dtype=np.float32)
    return Acoustics(level, level.copy(), level.copy())


def test_one_bad_word_makes_one_region_and_its_neighbours_stay():
    words = [_word("<sil>", 0, 10, -2), _word("bring", 10, 20, -8), _word("me", 30, 10, -6),
             _word("war", 40, 15, -120), _word("room", 55, 20, -9), _word("now", 75, 20, -10)]
    regions = find_regions(words, _quiet(100))
    assert len(regions) == 1 and regions[0].words == (2,)
    assert (regions[0].start, regions[0].end) == (40, 55)
    assert not whole_line(regions, 5, 85) and line_mismatch(words, None) == ""


def test_rough_voice_is_not_flagged_word_by_word():
    words = [_word(w, 10 * k, 10, s) for k, (w, s) in enumerate([("a", -30), ("b", -45), ("c", -35), ("d", -70)])]
    assert find_regions(words, _quiet(50)) == []  # -70 is only 2x the median
    assert line_mismatch(words, free_score=int(-30 * 40)) == ""
    assert line_mismatch(words, free_score=int(-5 * 40)) != ""  # 40 per frame worse than free phones


def test_pause_over_loud_audio_is_speech_the_text_does_not_have():
    words = [_word("hello", 0, 30, -8), _word("<sil>", 30, 40, -60), _word("there", 70, 30, -9)]
    ac = _quiet(100)
    ac.energy[:] = -10.0  # loud all through
    regions = find_regions(words, ac)
    assert len(regions) == 1 and regions[0].words == () and regions[0].reason.startswith("speech")


def test_refine_moves_an_onset_to_the_energy_rise_and_keeps_stops():
    ac = _quiet(60)
    rise = 230 // HOP_MS
    ac.energy[rise:] = -10.0
    segs = [PhoneSeg("SIL", 0, 200), PhoneSeg("AA", 200, 400, 0), PhoneSeg("SIL", 400, 600)]
    out = refine(segs, ac, calibration={})
    assert out[0].end_ms == out[1].start_ms == 230
    assert [s.phone for s in out] == ["SIL", "AA", "SIL"]
    stop = [PhoneSeg("SIL", 0, 200), PhoneSeg("P", 200, 300, 0), PhoneSeg("AA", 300, 400, 0)]
    assert refine(stop, ac, calibration={})[0].end_ms == 200  # a stop's silent closure: no landmark
    shifted = refine(segs, ac, calibration={"SV": 10}, landmarks=False)
    assert shifted[0].end_ms == 190


def test_measure_levels_follow_the_signal():
    t = np.arange(16000) / 16000
    tone = (np.where(t > 0.5, 0.3, 0.0) * np.sin(2 * np.pi * 1000 * t) * 32767).astype("<i2").tobytes()
    ac = measure(tone)
    assert ac.frames == 16000 // 80 + 1
    assert ac.mid[150] - ac.mid[50] > 60 and ac.speech_level() > ac.floor_level() + 40


def test_stress_aware_g2p():
    assert ipa_to_arpabet("bɹˈænɑːk") == ["B", "R", "AE", "N", "AA", "K"]
    assert ipa_to_arpabet("bɹˈænɑːk", reduce_unstressed=True) == ["B", "R", "AE", "N", "AH", "K"]
    assert ipa_to_arpabet("vældˈɔːɹiə", reduce_unstressed=True)[:2] == ["V", "AH"]


def test_whisper_transcript_loops_are_cut_and_real_repeats_kept():
    assert drop_repeats("Put the lamp down. Put the lamp down. Put the") == "Put the lamp down."
    line = "I have seen dragons burn whole cities, and I have seen them weep."
    assert drop_repeats(line) == line
