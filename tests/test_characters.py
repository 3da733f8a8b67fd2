"""The character voice library: validation at start-up, settings per emotion, pronunciations of names."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from gateway.api.app import create_app
from gateway.characters import CastError, load_cast
from gateway.service import Mouthpiece
from gateway.settings import Settings
from gateway.speak.line import SpeakInput
from render_worker.avatars import BUILTIN


def write(tmp_path, text: str):
    path = tmp_path / "cast.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("body,needle", [
    ("characters: {}", "no characters"),
    ("characters:\n  a: {voices: {nonsense: x}}", "unknown providers"),
    ("characters:\n  a: {emotion: smug}", "smug"),
    ("characters:\n  a: {emotions: {angry: {speed: 9}}}", "emotions.angry.speed"),
    ("characters:\n  a: {pronunciations: {Isolde: {}}}", "ipa or alias"),
    ("characters:\n  a: {colour: red}", "colour"),
    ("characters: [", "cannot read"),
])
def test_invalid_cast_names_character_and_field(tmp_path, body, needle):
    with pytest.raises(CastError) as err:
        load_cast(write(tmp_path, body))
    assert needle in str(err.value)


def test_unknown_local_voice_stops_start_up(tmp_path):
    path = write(tmp_path, "characters:\n  narrator: {voices: {kokoro: af_nobody}}")
    with pytest.raises(CastError) as err:
        Mouthpiece(Settings(data_dir=tmp_path, characters_file=path, chain=["kokoro", "espeak"]))
    assert "af_nobody" in str(err.value) and "af_heart" in str(err.value)


def test_shipped_cast_is_valid_with_five_kokoro_voices():
    cast = load_cast(Settings().characters_file)
    assert len({c.voices["kokoro"] for c in cast.characters.values()}) >= 5


def test_settings_per_emotion(tmp_path):
    gw = Mouthpiece(Settings(data_dir=tmp_path, chain=["espeak"]))
    angry = gw.prepare(SpeakInput("Out!", character="blacksmith", emotion="angry"))
    calm = gw.prepare(SpeakInput("Welcome.", character="blacksmith"))
    assert angry.settings.stability == 0.25 and calm.settings.stability is None


@pytest.mark.slow
def test_pronunciations_reach_the_voice_but_not_the_subtitles(tmp_path):
    with TestClient(create_app(Settings(data_dir=tmp_path, chain=["piper", "canned"], log_level="ERROR"))) as c:
        body = c.post("/api/avatar/speak", json={"text": "Long live Queen Isolde of Eldermoor!",
                                                 "character": "queen"}).json()
        assert body["text"] == "Long live Queen Isolde of Eldermoor!"
        spans = [body["text"][w["char_start"]:w["char_end"]] for w in body["words"]]
        assert "Isolde" in spans and "Eldermoor" in spans
        phonemes = "".join(p["phoneme"] for p in body["phonemes"])
        assert "zˈoʊldə" in phonemes, "Piper speaks the IPA given for the name"
        cast = c.get("/api/avatar/characters").json()["characters"]
        queen = next(ch for ch in cast if ch["id"] == "queen")
        assert queen["pronunciations"]["Isolde"]["ipa"] == "ɪzˈoʊldə" and "angry" in queen["emotions"]


def test_every_character_has_an_avatar_the_cpu_worker_draws():
    cast = load_cast(Settings().characters_file)
    assert {c.id: c.avatar for c in cast.characters.values() if c.avatar not in BUILTIN} == {}


def test_default_avatar_means_the_characters_own(settings):
    mouthpiece = Mouthpiece(settings)
    line = mouthpiece.prepare(SpeakInput("Long live the queen.", character="queen", avatar_id="default"))
    assert line.avatar_id == "queen"
    assert mouthpiece.prepare(SpeakInput("Hm.", character="guard", avatar_id="rogue")).avatar_id == "rogue"
    # no avatar asked and no video pool: audio only
    assert mouthpiece.prepare(SpeakInput("Hm.", character="guard")).avatar_id is None
