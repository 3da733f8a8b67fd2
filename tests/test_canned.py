"""The canned fallback clips (fallback_audio/) and the CannedProvider that plays them."""

from __future__ import annotations

import json
import shutil
import wave
from pathlib import Path

import numpy as np
import pytest

from gateway.core.errors import ErrorKind, ProviderError
from gateway.core.events import AlignmentEvent, AudioEvent, FinalEvent, SegmentEndEvent
from gateway.core.timeline import samples_to_ms
from gateway.core.voices import HealthState
from gateway.providers.base import SynthesisRequest
from gateway.providers.canned import CannedProvider, normalize_text
from gateway.settings import REPO_ROOT, Settings
from gateway.text.clean import clean_text, split_sentences

CLIPS_DIR = REPO_ROOT / "fallback_audio"
INDEX = json.loads((CLIPS_DIR / "index.json").read_text())
APOLOGY = "Sorry, I can't answer right now."


def request(text: str, character: str | None = None) -> SynthesisRequest:
    text = clean_text(text)
    return SynthesisRequest(segments=tuple(split_sentences(text)), voice="", text=text, character=character)


async def collect(provider: CannedProvider, req: SynthesisRequest) -> list:
    return [event async for event in provider.stream(req)]


def read_wav(path: Path) -> tuple[bytes, int]:
    with wave.open(str(path), "rb") as wav:
        assert (wav.getnchannels(), wav.getsampwidth()) == (1, 2)
        return wav.readframes(wav.getnframes()), wav.getframerate()


# --- the generated clips -----------------------------------------------------------------------

def test_index_lists_required_clips_and_stays_small():
    texts = {c["text"] for c in INDEX["clips"]}
    assert {APOLOGY, "Give me a moment.", "Hmm.", "Aye.", "Okay.", "Let me think about that.", "Uh-huh.",
            "Hmph."} <= texts
    assert len(texts) == len(INDEX["clips"]) >= 10
    assert INDEX["default_clip"] in {c["id"] for c in INDEX["clips"]}
    tags = {t for c in INDEX["clips"] for t in c["tags"]}
    assert {"apology", "ack", "thinking", "grunt"} <= tags
    assert isinstance(INDEX["characters"], dict)
    assert sum(f.stat().st_size for f in CLIPS_DIR.iterdir()) < 1_000_000


@pytest.mark.parametrize("entry", INDEX["clips"], ids=lambda e: e["id"])
def test_clip_timings_cover_audio_exactly(entry):
    pcm, rate = read_wav(CLIPS_DIR / entry["file"])
    meta = json.loads((CLIPS_DIR / entry["meta"]).read_text())
    assert rate == meta["sample_rate"] == 22050
    duration = samples_to_ms(len(pcm) // 2, rate)
    assert duration == meta["duration_ms"] == entry["duration_ms"]
    phonemes = meta["phonemes"]
    assert phonemes[0]["start_ms"] == 0
    for prev, cur in zip(phonemes, phonemes[1:]):
        assert cur["start_ms"] == prev["end_ms"]
    assert sum(p["end_ms"] - p["start_ms"] for p in phonemes) == duration
    assert meta["engine"] == "piper" and meta["version"]
    # Words index the clip text, lie inside the audio and are in order.
    assert meta["words"]
    last_end = 0
    for w in meta["words"]:
        assert meta["text"][w["char_start"]:w["char_end"]] == w["word"]
        assert last_end <= w["start_ms"] < w["end_ms"] <= duration
        last_end = w["end_ms"]


@pytest.mark.parametrize("entry", INDEX["clips"], ids=lambda e: e["id"])
def test_clip_is_speech_not_silence(entry):
    pcm, rate = read_wav(CLIPS_DIR / entry["file"])
    x = np.frombuffer(pcm, dtype="<i2").astype(np.float64) / 32768
    assert np.sqrt(np.mean(x ** 2)) > 0.02
    # Piper peak-normalizes each line to full scale; a clipped one would have runs at full scale.
    assert np.mean(np.abs(x) > 0.999) < 0.001
    assert 200 <= len(x) * 1000 // rate <= 4000


# --- the provider ------------------------------------------------------------------------------

@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(fallback_audio_dir=CLIPS_DIR, data_dir=tmp_path)


async def test_default_clip_events(settings):
    provider = CannedProvider(settings)
    assert (await provider.health()).state is HealthState.UP
    assert provider.voices() == []
    req = request("Tell me about the dragon of the northern hills. Where does it sleep?")
    assert len(req.segments) == 2
    events = await collect(provider, req)
    audio = [e for e in events if isinstance(e, AudioEvent)]
    align = [e for e in events if isinstance(e, AlignmentEvent)]
    ends = [e for e in events if isinstance(e, SegmentEndEvent)]
    assert isinstance(events[-1], FinalEvent) and sum(isinstance(e, FinalEvent) for e in events) == 1
    assert len(audio) > 1 and len(align) == 1 and len(ends) == 1
    assert events.index(ends[0]) > events.index(align[0]) > events.index(audio[-1])

    pcm, rate = read_wav(CLIPS_DIR / "sorry_cant_answer.wav")
    assert b"".join(a.pcm for a in audio) == pcm
    assert all(a.sample_rate == rate and a.segment == 1 for a in audio)
    pos = 0
    for a in audio:  # start_ms is the chunk's position in the stream
        assert a.start_ms == samples_to_ms(pos, rate)
        pos += a.num_samples
    duration = samples_to_ms(len(pcm) // 2, rate)
    assert ends[0].segment == 1 and ends[0].end_ms == duration
    assert align[0].segment == 1 and align[0].phonemes[-1].end_ms == duration
    assert [w.word for w in align[0].words] == ["Sorry", "I", "can't", "answer", "right", "now"]
    stats = events[-1].stats
    assert stats["provider"] == "canned" and stats["clip"] == "sorry_cant_answer"
    assert stats["spoken_text"] == APOLOGY
    for w in align[0].words:  # char offsets refer to the clip text, not the request
        assert stats["spoken_text"][w.char_start:w.char_end] == w.word


@pytest.mark.parametrize("text,clip", [("okay.", "okay"), ("  OKAY ", "okay"), ("Hmph!", "hmph"),
                                       ("let me think about that", "let_me_think"), ("Aye", "aye")])
async def test_exact_text_match(settings, text, clip):
    events = await collect(CannedProvider(settings), request(text))
    stats = events[-1].stats
    assert stats["clip"] == clip and stats["match"] == "text"
    assert normalize_text(stats["spoken_text"]) == normalize_text(text)
    assert b"".join(e.pcm for e in events if isinstance(e, AudioEvent)) == read_wav(CLIPS_DIR / f"{clip}.wav")[0]


async def test_near_miss_text_gets_default(settings):
    events = await collect(CannedProvider(settings), request("Okay then."))
    assert events[-1].stats["clip"] == INDEX["default_clip"] and events[-1].stats["match"] == "default"


async def test_character_override(tmp_path):
    clips = tmp_path / "clips"
    shutil.copytree(CLIPS_DIR, clips)
    index = json.loads((clips / "index.json").read_text())
    index["characters"] = {"guard": {"sorry_cant_answer": "hmph", "okay": "aye"}, "queen": {"okay": "nonexistent"}}
    (clips / "index.json").write_text(json.dumps(index))
    provider = CannedProvider(Settings(fallback_audio_dir=clips, data_dir=tmp_path))
    health = await provider.health()
    assert health.state is HealthState.UP and any("nonexistent" in w for w in health.detail["warnings"])
    assert (await collect(provider, request("Where is the king?", "guard")))[-1].stats["clip"] == "hmph"
    assert (await collect(provider, request("Okay.", "guard")))[-1].stats["spoken_text"] == "Aye."
    assert (await collect(provider, request("Where is the king?", "rogue")))[-1].stats["clip"] == "sorry_cant_answer"
    assert (await collect(provider, request("Okay.", "queen")))[-1].stats["clip"] == "okay"


async def test_missing_dir_is_down_and_unavailable(tmp_path):
    provider = CannedProvider(Settings(fallback_audio_dir=tmp_path / "nope", data_dir=tmp_path))
    health = await provider.health()
    assert health.state is HealthState.DOWN and "missing" in health.reason
    with pytest.raises(ProviderError) as err:
        await collect(provider, request("Hello."))
    assert err.value.kind is ErrorKind.UNAVAILABLE and err.value.provider == "canned"


async def test_broken_default_clip_is_down(tmp_path):
    clips = tmp_path / "clips"
    shutil.copytree(CLIPS_DIR, clips)
    (clips / f"{INDEX['default_clip']}.wav").write_bytes(b"not a wav file")
    provider = CannedProvider(Settings(fallback_audio_dir=clips, data_dir=tmp_path))
    health = await provider.health()
    assert health.state is HealthState.DOWN and INDEX["default_clip"] in health.reason
    with pytest.raises(ProviderError) as err:
        await collect(provider, request("Hello."))
    assert err.value.kind is ErrorKind.UNAVAILABLE
