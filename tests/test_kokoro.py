"""Kokoro-82M int8 with kokoro-js English voices: real speech, exact duration timelines, G2P mapping.

Model tests need the prepared model (``python -m gateway.install``) and skip without it.
"""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest

from gateway.core.errors import ErrorKind, ProviderError
from gateway.core.events import AlignmentEvent, AudioEvent, FinalEvent, SegmentEndEvent
from gateway.core.segments import Segment
from gateway.core.timeline import samples_to_ms
from gateway.core.voices import HealthState, VoiceSettings
from gateway.install.kokoro import (
    ENGLISH_VOICES,
    kokoro_model_path,
    kokoro_ready,
    kokoro_voices_dir,
    prepare_kokoro_model,
    prepare_kokoro_voices,
)
from gateway.providers.base import SynthesisRequest
from gateway.providers.kokoro import MAX_TOKENS, KokoroProvider, espeak_ipa, ipa_to_kokoro, split_text_in_two
from gateway.settings import Settings
from gateway.text.clean import clean_text, split_first_clause, split_sentences, words_with_offsets

MODELS_DIR = Settings().models_dir
needs_model = pytest.mark.skipif(not kokoro_ready(MODELS_DIR),
                                 reason=f"Kokoro not prepared in {MODELS_DIR}: run `python -m gateway.install`")

LINE = "Hello there, adventurer! Bring a torch."
LONG_FIRST = "Well met, traveller of the northern roads, what brings you to our humble village tonight?"


@pytest.fixture(scope="module")
def provider() -> KokoroProvider:
    if not kokoro_ready(MODELS_DIR):
        pytest.skip("Kokoro not prepared: run `python -m gateway.install`")
    p = KokoroProvider(Settings())
    asyncio.run(p.start())
    return p


def request(text: str, voice: str = "af_heart", speed: float = 1.0) -> SynthesisRequest:
    cleaned = clean_text(text)
    return SynthesisRequest(tuple(split_sentences(cleaned)), voice, VoiceSettings(speed=speed), text=cleaned)


async def collect(provider, req: SynthesisRequest) -> dict:
    t0 = time.perf_counter()
    events, first_audio = [], None
    async for ev in provider.stream(req):
        if first_audio is None and isinstance(ev, AudioEvent):
            first_audio = time.perf_counter() - t0
        events.append(ev)
    audio = [e for e in events if isinstance(e, AudioEvent)]
    align = [e for e in events if isinstance(e, AlignmentEvent)]
    assert isinstance(events[-1], FinalEvent)
    samples = 0
    for a in audio:
        assert a.sample_rate == 24000
        assert a.start_ms == samples_to_ms(samples, 24000)
        samples += a.num_samples
    pcm = np.frombuffer(b"".join(a.pcm for a in audio), dtype="<i2")
    return {"events": events, "pcm": pcm, "samples": samples, "audio_ms": samples_to_ms(samples, 24000),
            "audio": audio, "align": align, "ttfa": first_audio,
            "phonemes": [p for e in align for p in e.phonemes], "words": [w for e in align for w in e.words],
            "segment_ends": [e for e in events if isinstance(e, SegmentEndEvent)], "final": events[-1]}


def check_timeline(out: dict, req: SynthesisRequest) -> None:
    phonemes = out["phonemes"]
    assert phonemes[0].start_ms == 0 and phonemes[0].phoneme == "^"
    for a, b in zip(phonemes, phonemes[1:]):
        assert a.start_ms <= a.end_ms
        assert a.end_ms == b.start_ms, (a, b)
    assert phonemes[-1].phoneme == "$"
    assert phonemes[-1].end_ms == out["audio_ms"] == out["final"].stats["audio_ms"]
    assert [e.segment for e in out["segment_ends"]] == [s.index for s in req.segments]
    assert out["segment_ends"][-1].end_ms == out["audio_ms"]
    expected = [(w, s.char_start + cs, s.char_start + ce) for s in req.segments for w, cs, ce in words_with_offsets(s.text)]
    assert [(w.word, w.char_start, w.char_end) for w in out["words"]] == expected
    for w in out["words"]:
        assert req.text[w.char_start:w.char_end] == w.word
        assert 0 <= w.start_ms <= w.end_ms <= out["audio_ms"]
    for a, b in zip(out["words"], out["words"][1:]):
        assert a.end_ms <= b.start_ms
    # No Kokoro-internal symbols leak out: alignment phonemes are IPA.
    assert not {p.phoneme for p in phonemes} & set("AIWOYQTʤʧᵊ")


def rms(pcm: np.ndarray) -> float:
    return float(np.sqrt(np.mean(pcm.astype(np.float64) ** 2)))


# --- fast: G2P mapping and text splitting (no model) ---------------------------------------------------

def test_ipa_mapping_us_and_gb():
    assert ipa_to_kokoro("həlˈoʊ ðˈɛɹ, ɐdvˈɛntʃɚɹɚ!", british=False) == "həlˈO ðˈɛɹ, ədvˈɛnʧəɹəɹ!"
    assert ipa_to_kokoro("dʒˈʌdʒ bˈaɪ nˈaʊ ɡˈeɪm bˈɔɪ bˈʌʔn̩ bˈɛɾɚ", british=False) == "ʤˈʌʤ bˈI nˈW ɡˈAm bˈY bˈʌtᵊn bˈɛTəɹ"
    assert ipa_to_kokoro("nˈɔːθ bˈəʊt skwˈeə nˈiə fˈɑːðə", british=True) == "nˈɔːθ bˈQt skwˈɛː nˈɪə fˈɑːðə"
    assert "ː" not in ipa_to_kokoro("bˈɔːt tˈuː", british=False)


def test_espeak_ipa_accents():
    assert "oʊ" in espeak_ipa("Our boat goes.", "en-us")
    assert "əʊ" in espeak_ipa("Our boat goes.", "en")


def test_split_text_in_two_prefers_clauses():
    seg = Segment(3, "one two three four, five six seven eight nine ten", 10)
    head, tail = split_text_in_two(seg)
    assert head.text == "one two three four," and tail.text == "five six seven eight nine ten"
    assert tail.char_start == 10 + seg.text.index("five") and head.index == tail.index == 3
    head, tail = split_text_in_two(Segment(0, "alpha beta gamma delta", 0))
    assert (head.text, tail.text, tail.char_start) == ("alpha beta", "gamma delta", 11)
    assert split_text_in_two(Segment(0, "supercalifragilistic", 0)) is None


def test_missing_model_is_down_and_unavailable(tmp_path):
    p = KokoroProvider(Settings(models_dir=tmp_path))
    health = asyncio.run(p.health())
    assert health.state is HealthState.DOWN and "gateway.install" in health.reason
    assert p.voices() == []

    async def run():
        return [e async for e in p.stream(request("Hello."))]

    with pytest.raises(ProviderError) as err:
        asyncio.run(run())
    assert err.value.kind is ErrorKind.UNAVAILABLE and "prepare" in err.value.message


# --- prepare ----------------------------------------------------------------------------------------

@needs_model
def test_prepare_is_idempotent_and_fast_when_prepared():
    model = kokoro_model_path(MODELS_DIR)
    before = model.stat().st_mtime_ns, (kokoro_voices_dir(MODELS_DIR) / "af_heart.bin").stat().st_mtime_ns
    t0 = time.perf_counter()
    assert prepare_kokoro_model(MODELS_DIR) == model
    assert prepare_kokoro_voices(MODELS_DIR) == kokoro_voices_dir(MODELS_DIR)
    assert time.perf_counter() - t0 < 2.0
    after = model.stat().st_mtime_ns, (kokoro_voices_dir(MODELS_DIR) / "af_heart.bin").stat().st_mtime_ns
    assert before == after
    assert sorted(p.stem for p in kokoro_voices_dir(MODELS_DIR).glob("*.bin")) == sorted(ENGLISH_VOICES)


# --- model: real speech -----------------------------------------------------------------------------

@pytest.mark.slow
@needs_model
async def test_speaks_line_with_exact_timeline(provider):
    req = request(LINE)
    out = await collect(provider, req)
    assert rms(out["pcm"]) > 1000
    n_words = len(words_with_offsets(LINE))
    assert 0.2 * n_words <= out["samples"] / 24000 <= 1.0 * n_words
    check_timeline(out, req)
    spoken = [p.phoneme for p in out["phonemes"]]
    assert "oʊ" in spoken and " " in spoken and "!" in spoken
    assert out["final"].stats == {"provider": "kokoro", "audio_ms": out["audio_ms"], "sample_rate": 24000,
                                  "voice": "af_heart"}


@pytest.mark.slow
@needs_model
async def test_first_audio_comes_early_inside_a_sentence(provider):
    """Windowed (the default): one piece, its first window out before the rest is decoded."""
    req = request(LONG_FIRST)
    out = await collect(provider, req)
    assert len(out["audio"]) >= 2 and {a.segment for a in out["audio"]} == {0}  # windows of one segment
    assert len(out["align"]) == 1  # prosody and timings from the whole sentence
    assert out["audio"][0].num_samples <= 1500 * 24  # the first window: 1.5 s ("Well met," is under 1 s)
    check_timeline(out, req)
    assert out["audio"][0].num_samples < 0.6 * out["samples"]
    print(f"TTFA first window: {out['ttfa']:.3f}s for {out['audio'][0].num_samples / 24000:.2f}s audio")


@pytest.mark.slow
@needs_model
async def test_whole_decoding_splits_the_first_clause_for_early_audio():
    settings = Settings()
    settings.kokoro.decode = "whole"
    provider = KokoroProvider(settings, warmup=False)
    await provider.start()
    req = request(LONG_FIRST)
    assert len(split_first_clause(req.segments[0])) == 2
    out = await collect(provider, req)
    assert [a.segment for a in out["audio"]] == [0, 0]  # two pieces of one segment
    assert len(out["align"]) == 2
    check_timeline(out, req)
    assert out["audio"][0].num_samples < 0.6 * out["samples"]


@pytest.mark.slow
@needs_model
async def test_british_voice(provider):
    req = request("Our boat goes near the square.", "bm_george")
    out = await collect(provider, req)
    assert rms(out["pcm"]) > 1000
    check_timeline(out, req)
    spoken = {p.phoneme for p in out["phonemes"]}
    assert "əʊ" in spoken and "oʊ" not in spoken  # GB goat vowel, from the en-gb G2P


@pytest.mark.slow
@needs_model
async def test_speed_changes_duration(provider):
    req = request("Stop right there.")
    normal = await collect(provider, req)
    fast = await collect(provider, request("Stop right there.", speed=1.5))
    assert fast["samples"] < 0.85 * normal["samples"]
    check_timeline(fast, req)


@pytest.mark.slow
@needs_model
def test_long_text_is_split_under_token_limit(provider):
    text = ("the quick brown fox jumps over the lazy dog and then it runs away into the dark forest "
            "where nobody can find it ever again ") * 6
    seg = Segment(0, text.strip(), 5)
    pieces = list(provider._pieces(seg, "af_heart", first=False))
    assert len(pieces) > 1
    assert all(0 < len(symbols) <= MAX_TOKENS for _, symbols in pieces)
    assert " ".join(p.text for p, _ in pieces) == seg.text
    for piece, _ in pieces:
        assert seg.text[piece.char_start - 5:piece.char_start - 5 + len(piece.text)] == piece.text


@pytest.mark.slow
@needs_model
async def test_unknown_voice_is_unavailable(provider):
    for voice in ("nobody", "jf_alpha"):
        with pytest.raises(ProviderError) as err:
            await collect(provider, request("Hello.", voice))
        assert err.value.kind is ErrorKind.UNAVAILABLE


@pytest.mark.slow
@needs_model
async def test_health_and_voices(provider):
    assert (await provider.health()).state is HealthState.UP
    voices = {v.voice: v for v in provider.voices()}
    assert len(voices) == 28
    assert (voices["af_heart"].language, voices["af_heart"].gender) == ("en-US", "female")
    assert (voices["bm_george"].language, voices["bm_george"].gender) == ("en-GB", "male")
    assert voices["am_adam"].sample_rate == 24000
