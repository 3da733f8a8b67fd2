"""espeak-ng through libespeak-ng: real speech, exact phoneme timelines, words with char offsets."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from gateway.core.errors import ErrorKind, ProviderError
from gateway.core.events import AlignmentEvent, AudioEvent, FinalEvent, SegmentEndEvent
from gateway.core.timeline import samples_to_ms
from gateway.core.voices import HealthState, VoiceSettings
from gateway.providers import espeak as espeak_mod
from gateway.providers.base import SynthesisRequest
from gateway.providers.espeak import EspeakProvider, load_library
from gateway.settings import Settings
from gateway.text.clean import clean_text, split_sentences, words_with_offsets

pytestmark = pytest.mark.skipif(load_library() is None, reason="libespeak-ng is not installed (apt install libespeak-ng1)")

LINE = "Hello there, adventurer! The road north is dangerous; bring a torch and your wits."


@pytest.fixture(scope="module")
def provider() -> EspeakProvider:
    p = EspeakProvider(Settings())
    asyncio.run(p.start())
    return p


def request(text: str, voice: str = "en-us", speed: float = 1.0) -> SynthesisRequest:
    cleaned = clean_text(text)
    return SynthesisRequest(tuple(split_sentences(cleaned)), voice, VoiceSettings(speed=speed), text=cleaned)


async def collect(provider, req: SynthesisRequest) -> dict:
    events = [ev async for ev in provider.stream(req)]
    audio = [e for e in events if isinstance(e, AudioEvent)]
    align = [e for e in events if isinstance(e, AlignmentEvent)]
    assert isinstance(events[-1], FinalEvent)
    sr = audio[0].sample_rate
    samples = 0
    for a in audio:  # chunks are back to back
        assert a.start_ms == samples_to_ms(samples, sr)
        samples += a.num_samples
    pcm = np.frombuffer(b"".join(a.pcm for a in audio), dtype="<i2")
    return {"events": events, "pcm": pcm, "sr": sr, "samples": samples,
            "audio_ms": samples_to_ms(samples, sr),
            "phonemes": [p for e in align for p in e.phonemes], "words": [w for e in align for w in e.words],
            "segment_ends": [e for e in events if isinstance(e, SegmentEndEvent)], "final": events[-1]}


def check_timeline(out: dict, req: SynthesisRequest) -> None:
    phonemes = out["phonemes"]
    assert phonemes[0].start_ms == 0
    for a, b in zip(phonemes, phonemes[1:]):
        assert a.start_ms <= a.end_ms
        assert a.end_ms == b.start_ms, (a, b)
    assert phonemes[-1].end_ms == out["audio_ms"] == out["final"].stats["audio_ms"]
    assert [e.segment for e in out["segment_ends"]] == [s.index for s in req.segments]
    assert out["segment_ends"][-1].end_ms == out["audio_ms"]
    # Words: every text word, in order, with char offsets into the request text.
    expected = [(w, s.char_start + cs, s.char_start + ce) for s in req.segments for w, cs, ce in words_with_offsets(s.text)]
    assert [(w.word, w.char_start, w.char_end) for w in out["words"]] == expected
    for w in out["words"]:
        assert req.text[w.char_start:w.char_end] == w.word
        assert 0 <= w.start_ms <= w.end_ms <= out["audio_ms"]
    for a, b in zip(out["words"], out["words"][1:]):
        assert a.end_ms <= b.start_ms


def rms(pcm: np.ndarray) -> float:
    return float(np.sqrt(np.mean(pcm.astype(np.float64) ** 2)))


async def test_speaks_line_with_exact_timeline(provider):
    req = request(LINE)
    out = await collect(provider, req)
    assert out["sr"] == 22050
    assert rms(out["pcm"]) > 500
    n_words = len(words_with_offsets(LINE))
    assert 0.2 * n_words <= out["samples"] / out["sr"] <= 1.0 * n_words
    check_timeline(out, req)
    spoken = {p.phoneme for p in out["phonemes"]}
    assert {"h", "ð", "oʊ"} <= spoken  # IPA, as espeak spells it
    assert out["final"].stats["provider"] == "espeak"


async def test_words_espeak_merges_get_their_own_spans(provider):
    # espeak speaks "of the" as one word (one WORD event); each text word still gets its own time.
    req = request("Well met, traveller of the northern roads, what brings you here?", "en-gb")
    out = await collect(provider, req)
    check_timeline(out, req)
    assert all(w.end_ms > w.start_ms for w in out["words"])
    of, the = (w for w in out["words"] if w.word in ("of", "the"))
    assert of.end_ms <= the.start_ms


async def test_numbers_and_non_ascii(provider):
    req = request("I bought 42 pears at the café. Naïve, isn't it?")
    out = await collect(provider, req)
    check_timeline(out, req)
    forty_two = next(w for w in out["words"] if w.word == "42")
    assert forty_two.end_ms - forty_two.start_ms > 300  # "forty two"


@pytest.mark.parametrize("voice", ["en-gb", "en-gb-f", "en-gb-scotland", "en-us-f"])
async def test_other_voices(provider, voice):
    req = request("Our boat goes near the square, sir.", voice)
    out = await collect(provider, req)
    assert rms(out["pcm"]) > 500
    check_timeline(out, req)
    if voice == "en-gb":
        assert "əʊ" in {p.phoneme for p in out["phonemes"]}  # GB goat vowel


async def test_speed_changes_duration(provider):
    normal = await collect(provider, request(LINE))
    fast = await collect(provider, request(LINE, speed=1.5))
    assert fast["samples"] < 0.8 * normal["samples"]
    check_timeline(fast, request(LINE, speed=1.5))


async def test_concurrent_streams_do_not_mix(provider):
    # espeak-ng is one global engine; the lock keeps concurrent streams from mixing voices or buffers.
    # (Its output length varies by a few samples from call to call, so compare phonemes, not bytes.)
    req_a, req_b = request(LINE), request("Stop right there, criminal scum!", "en-gb")
    alone = [await collect(provider, r) for r in (req_a, req_b)]
    together = await asyncio.gather(*(collect(provider, r) for r in (req_a, req_b, req_a, req_b)))
    for out, ref, req in zip(together, alone * 2, (req_a, req_b) * 2):
        check_timeline(out, req)
        assert [p.phoneme for p in out["phonemes"]] == [p.phoneme for p in ref["phonemes"]]
        assert abs(out["samples"] - ref["samples"]) < 0.02 * ref["samples"]


async def test_unknown_voice_is_unavailable(provider):
    with pytest.raises(ProviderError) as err:
        await collect(provider, request("Hello.", "klingon"))
    assert err.value.kind is ErrorKind.UNAVAILABLE


async def test_missing_library_is_down_and_unavailable(monkeypatch):
    monkeypatch.setattr(espeak_mod, "load_library", lambda: None)
    monkeypatch.setattr(espeak_mod, "_library_error", "libespeak-ng not available: test")
    p = EspeakProvider(Settings())
    health = await p.health()
    assert health.state is HealthState.DOWN and "libespeak-ng" in health.reason
    with pytest.raises(ProviderError) as err:
        await collect(p, request("Hello."))
    assert err.value.kind is ErrorKind.UNAVAILABLE


async def test_health_and_voices(provider):
    assert (await provider.health()).state is HealthState.UP
    voices = {v.voice: v for v in provider.voices()}
    assert {"en-us", "en-gb", "en-gb-scotland"} <= set(voices)
    assert voices["en-gb"].language == "en-GB" and voices["en-us"].sample_rate == 22050
