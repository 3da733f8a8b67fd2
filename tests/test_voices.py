"""The voice catalogue, the matching rules, the cast's voices and voice ids that travel (in process)."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient

from gateway.api.app import create_app

from gateway.audio.pitch import pitch_stats
from gateway.characters import load_cast
from gateway.core.errors import InputError
from gateway.install.kokoro import ENGLISH_VOICES
from gateway.service import Mouthpiece
from gateway.settings import Settings
from gateway.speak.line import SpeakInput
from gateway.voices import CatalogueError, VoiceTraits, differences, load_catalogue, nearest

RACHEL, ADAM, DOROTHY, GEORGE = "21m00Tcm4TlvDq8ikWAM", "pNInz6obpgDQGcFmaJgB", "ThT5KcBeYPX3keUQqHPh", \
    "JBFqnCBsd6RMkjVDRZzb"
FISH_QUEEN = "e58b0d7efca34eb38d5c4985e378abcb"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory) -> Mouthpiece:
    """The default install's gateway (not started: routing and voice ids need no engine)."""
    return Mouthpiece(Settings(data_dir=tmp_path_factory.mktemp("voices")))


@pytest.fixture(scope="module")
def cloud(tmp_path_factory) -> Mouthpiece:
    """Keys set, so the default chain is the cloud one (nothing is contacted: routing only)."""
    return Mouthpiece(Settings(data_dir=tmp_path_factory.mktemp("cloud"), elevenlabs={"api_key": "k"},
                               fish={"api_key": "k"}))


def tone(f0: float, rate: int = 22050, seconds: float = 1.5) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    phase = 2 * np.pi * np.cumsum(f0 * (1 + 0.03 * np.sin(2 * np.pi * 4 * t))) / rate
    return (0.3 * sum(np.sin(k * phase) / k for k in range(1, 12))).astype(np.float32)


# ---- the pitch tracker, the catalogue and the rules -------------------------------------------------------------

@pytest.mark.parametrize("f0", [82.0, 110.0, 150.0, 210.0, 320.0])
def test_pitch_tracker_finds_the_fundamental_of_a_harmonic_voice(f0):
    signal = np.concatenate([tone(f0), np.zeros(4000, np.float32), tone(f0)])
    stats = pitch_stats(signal, 22050)
    assert abs(stats.median_hz - f0) < 0.02 * f0, stats
    assert stats.voiced_ratio > 0.7
    assert pitch_stats(np.zeros(22050, np.float32), 22050).median_hz == 0.0


def test_catalogue_lists_every_local_voice_with_its_measured_pitch(gateway):
    catalogue = load_catalogue(Settings().voices_file)
    local = {name: p.voices() for name, p in gateway.providers.items() if name in ("kokoro", "piper", "espeak")}
    assert {v.voice for v in local["kokoro"]} == set(ENGLISH_VOICES)
    for name, voices in local.items():
        for info in voices:
            entry = catalogue.get(name, info.voice)
            assert entry is not None, f"{name}:{info.voice}"
            assert entry.traits.gender == info.gender and 60 < entry.traits.pitch_hz < 300
    # Measured, not guessed: the female voices sit above the male ones on every engine.
    for name in ("kokoro", "espeak"):
        women = [catalogue.get(name, v.voice).traits.pitch_hz for v in local[name] if v.gender == "female"]
        men = [catalogue.get(name, v.voice).traits.pitch_hz for v in local[name] if v.voice != "am_santa"
               and v.gender == "male"]
        assert np.median(women) > np.median(men) * 1.3
    assert catalogue.get("elevenlabs", RACHEL).name == "Rachel" and catalogue.find(RACHEL).traits.gender == "female"


@pytest.mark.parametrize("body,needle", [
    ("voices: {}", "defines no voices"),
    ("voices:\n  kokoro: {af_x: {gender: robot}}", "kokoro:af_x: gender"),
    ("voices:\n  kokoro: {af_x: {accent: 'US English'}}", "kokoro:af_x: accent"),
    ("voices:\n  kokoro: {af_x: {pitch_hz: 5}}", "kokoro:af_x: pitch_hz"),
    ("voices:\n  kokoro: {af_x: {colour: red}}", "colour"),
    ("voices:\n  kokoro: []", "section 'kokoro'"),
    ("voices: [", "cannot read"),
])
def test_invalid_catalogue_names_section_voice_and_field(tmp_path, body, needle):
    path = tmp_path / "voices.yaml"
    path.write_text(body)
    with pytest.raises(CatalogueError) as err:
        load_catalogue(path)
    assert needle in str(err.value)


def test_catalogue_problems_stop_start_up(tmp_path):
    path = tmp_path / "voices.yaml"
    path.write_text("voices:\n  kokoro: {af_heart: {gender: female}}\n  polly: {joanna: {gender: female}}\n")
    with pytest.raises(CatalogueError) as err:
        Mouthpiece(Settings(data_dir=tmp_path, voices_file=path, chain=["kokoro", "espeak"]))
    assert "'polly'" in str(err.value) and "espeak voice 'en-us' is not in the catalogue" in str(err.value)


def test_match_rule_gender_accent_family_and_pitch():
    heart = VoiceTraits(gender="female", accent="us", pitch_hz=191)
    assert differences(heart, VoiceTraits(gender="female", accent="us", pitch_hz=217)) == []  # 2.2 semitones
    assert differences(heart, VoiceTraits(gender="male", accent="us", pitch_hz=94)) == ["gender", "pitch"]
    assert differences(heart, VoiceTraits(gender="female", accent="gb", pitch_hz=191)) == ["accent"]
    assert differences(heart, VoiceTraits(gender="female", accent="us", pitch_hz=150)) == ["pitch"]  # 4.2 st
    scot = VoiceTraits(gender="male", accent="gb-scotland", pitch_hz=104)
    assert differences(VoiceTraits(gender="male", accent="gb", pitch_hz=128), scot) == []  # one accent family
    assert differences(VoiceTraits(gender="female", accent="gb"), heart) == ["accent"]  # cloud: no pitch


def test_nearest_weighs_gender_then_accent_then_pitch(gateway):
    espeak = gateway.catalogue.voices("espeak")
    assert nearest(VoiceTraits(gender="female", accent="gb", pitch_hz=178), espeak).voice == "en-gb-f"
    assert nearest(VoiceTraits(gender="female", accent="us"), espeak).voice == "en-us-f"
    assert nearest(VoiceTraits(gender="male", accent="gb", pitch_hz=147), espeak).voice == "en-gb"
    kokoro = gateway.catalogue.voices("kokoro")
    assert nearest(VoiceTraits(gender="male", accent="us", pitch_hz=90), kokoro).voice == "am_onyx"
    assert nearest(VoiceTraits(gender="male", accent="ie", age="old"), kokoro).voice == "am_santa"


# ---- the cast --------------------------------------------------------------------------------------------------

def test_kokoro_leads_the_default_chain():
    assert Settings().chain == ["kokoro", "piper", "espeak", "cache", "canned"]
    assert all(c.chain is None for c in load_cast(Settings().characters_file).characters.values())


def test_every_character_has_its_own_kokoro_voice_and_matching_voices_elsewhere(gateway, cloud):
    firsts = {}
    for character in gateway.cast.characters.values():
        line = gateway.prepare(SpeakInput("Hello.", character=character.id))
        assert line.first_choice == "kokoro" and line.steps[0].provider.name == "kokoro"
        first = line.voices.by_provider["kokoro"]
        firsts[character.id] = first.voice
        # Every provider speaks the character with a voice of its gender when it has one, and of its accent
        # family when it has one of that gender too.
        for plan in (line.voices, cloud.prepare(SpeakInput("Hello.", character=character.id)).voices):
            for provider, voice in plan.by_provider.items():
                options = gateway.catalogue.voices(voice.section)
                same = [o for o in options if o.traits.gender == first.traits.gender]
                if same:
                    assert voice.traits.gender == first.traits.gender, (character.id, provider, voice.voice_id)
                if any(o.traits.accent_family == first.traits.accent_family for o in same):
                    assert voice.traits.accent_family == first.traits.accent_family, (character.id, provider)
    assert len(set(firsts.values())) == len(firsts), firsts


def test_same_voice_options_come_before_a_different_voice(tmp_path):
    gw = Mouthpiece(Settings(data_dir=tmp_path, elevenlabs={"api_key": "k"}, fish={"api_key": "k"},
                             chain=["elevenlabs_ws", "fish_audio", "elevenlabs_rest", "kokoro", "piper", "espeak"]))
    line = gw.prepare(SpeakInput("Hello.", character="queen"))
    order = [(s.provider.name, s.voice) for s in line.steps]
    assert order[:4] == [("elevenlabs_ws", "Xb7hH8MSUJpSbSDYk0k2"), ("elevenlabs_rest", "Xb7hH8MSUJpSbSDYk0k2"),
                         ("fish_audio", FISH_QUEEN), ("kokoro", "bf_emma")]


# ---- voice ids that travel ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("voice_id,gender,accent", [
    (RACHEL, "female", "us"), (ADAM, "male", "us"), (DOROTHY, "female", "gb"),
    (f"elevenlabs:{RACHEL}", "female", "us"), ("fish_audio:" + FISH_QUEEN, "female", "gb"),
])
def test_vendor_ids_map_to_the_nearest_voice_on_every_provider(gateway, voice_id, gender, accent):
    line = gateway.prepare(SpeakInput("Hello.", voice_id=voice_id))
    assert line.voices.target.voice == voice_id.rpartition(":")[2]
    assert line.first_choice == "kokoro"
    kokoro, espeak = line.voices.by_provider["kokoro"], line.voices.by_provider["espeak"]
    assert (kokoro.traits.gender, kokoro.traits.accent) == (gender, accent)
    assert (espeak.traits.gender, espeak.traits.accent_family) == (gender, accent)


def test_a_vendor_id_goes_first_where_its_vendor_is_in_the_chain(cloud):
    line = cloud.prepare(SpeakInput("Hello.", voice_id=RACHEL))
    assert [(s.provider.name, s.voice) for s in line.steps[:2]] == [("elevenlabs_ws", RACHEL),
                                                                    ("elevenlabs_rest", RACHEL)]
    assert line.voices.by_provider["kokoro"].voice == "af_heart"
    assert line.voices.by_provider["fish_audio"].traits.gender == "female"


def test_a_cast_voice_brings_its_character_voices(gateway):
    line = gateway.prepare(SpeakInput("Hello.", voice_id=GEORGE))  # the narrator's ElevenLabs voice
    assert [s.voice for s in line.steps[:3]] == ["bm_george", "joe", "en-gb"]
    line = gateway.prepare(SpeakInput("Hello.", voice_id="EXAVITQu4vr4xnSDxMaL"))  # the innkeeper's
    assert line.character.id == "innkeeper" and [s.voice for s in line.steps[:3]] == ["af_heart", "joe", "en-us-f"]
    line = gateway.prepare(SpeakInput("Hello.", voice_id="EXAVITQu4vr4xnSDxMaL", character="rogue"))
    assert line.character.id == "rogue" and line.steps[0].voice == "af_heart"
    line = gateway.prepare(SpeakInput("Hello.", voice_id="queen"))  # a character id
    assert line.character.id == "queen" and line.steps[0].voice == "bf_emma"
    line = gateway.prepare(SpeakInput("Hello.", voice_id="queen", character="guard"))
    assert line.character.id == "guard" and line.steps[0].voice == "bf_emma"


def test_a_named_local_voice_goes_first_and_sets_the_target(gateway):
    line = gateway.prepare(SpeakInput("Pinned.", voice_id="espeak:en-gb-f"))
    assert line.steps[0].provider.name == "espeak" and line.steps[0].voice == "en-gb-f"
    assert line.voices.by_provider["kokoro"].traits.gender == "female"
    assert gateway.prepare(SpeakInput("Hi.", voice_id="am_onyx")).steps[0].voice == "am_onyx"


@pytest.mark.parametrize("voice_id", ["nope", "kokoro:nobody", "elevenlabs:not-a-voice", ":", "a:b:c"])
def test_unknown_voice_id_is_404_with_a_hint(gateway, voice_id):
    with pytest.raises(InputError) as err:
        gateway.prepare(SpeakInput("Hello.", voice_id=voice_id))
    e = err.value
    assert e.status == 404 and "character id" in e.detail["hint"] and "provider:voice" in e.detail["hint"]
    assert RACHEL in e.message and "kokoro:af_heart" in e.message and "narrator" in str(e.detail["examples"])
    assert "piper:joe" in e.detail["valid"]


@pytest.mark.slow
def test_a_voice_no_provider_here_can_match_is_announced_on_http_and_websocket(tmp_path):
    # Only Piper (one male voice) is in the chain; the request names a female Kokoro voice.
    settings = Settings(data_dir=tmp_path, chain=["piper"], cache_enabled=False, log_level="ERROR")
    with TestClient(create_app(settings)) as client:
        body = client.post("/api/avatar/speak", json={"text": "Good evening.", "voice_id": "kokoro:af_heart",
                                                      "visemes": False}).json()
        assert body["provider"] == "piper" and body["voice_changed"] is True
        change = body["voice_changes"][0]
        assert change["from"]["voice_id"] == "kokoro:af_heart" and change["to"]["voice_id"] == "piper:joe"
        assert change["reasons"] == ["gender", "pitch"] and change["at_ms"] == 0
        with client.websocket_connect("/v1/text-to-speech/kokoro:af_heart/stream-input?output_format=pcm_16000") \
                as ws:
            ws.send_json({"text": " "})
            ws.send_json({"text": "Good evening. "})
            ws.send_json({"text": ""})
            first = ws.receive_json()
        assert first["audio"] and first["voice_changed"]["to"]["voice_id"] == "piper:joe"
        same = client.post("/api/avatar/speak", json={"text": "Good evening.", "voice_id": "am_onyx",
                                                      "visemes": False}).json()
        assert same["voice"]["voice_id"] == "piper:joe" and same["voice_changed"] is False  # 87 Hz vs 94 Hz
