"""The emotion set and the ARKit expression curves beside the mouth."""

from __future__ import annotations

import numpy as np
import pytest

from gateway.core.segments import Prosody
from gateway.core.timeline import PhonemeSpan
from gateway.lipsync.arkit import ARKIT_52
from gateway.lipsync.arkit import CHANNELS as MOUTH_CHANNELS
from gateway.lipsync.build import build_lipsync
from gateway.lipsync.curves import frame_count
from gateway.lipsync.expression import (
    ATTACK_MS,
    LEAD_MS,
    RELEASE_MS,
    ExpressionSpan,
    expression_curves,
    merge_curve_dicts,
    merge_curves,
    spans_from_segments,
)
from gateway.text import emotions as emo
from gateway.text.emotions import EXPRESSION_CHANNELS, Emotion
from gateway.text.plan import plan_segments

# ---------------------------------------------------------------------------------------------
# the emotion set


def test_required_emotions_are_defined_once():
    names = emo.emotion_names()
    for required in ("neutral", "happy", "sad", "angry", "fearful", "surprised", "serious", "whispering"):
        assert required in names
    assert set(emo.EMOTIONS) == set(Emotion)
    assert emo.resolve_emotion("friendly") is Emotion.HAPPY
    assert emo.resolve_emotion("SCARED") is Emotion.FEARFUL
    assert emo.resolve_emotion(None) is Emotion.NEUTRAL
    with pytest.raises(emo.UnknownEmotion):
        emo.resolve_emotion("ecstatic")


def test_specs_are_complete_and_in_range():
    assert set(EXPRESSION_CHANNELS) <= set(ARKIT_52)
    for e in Emotion:
        spec = e.spec
        assert spec.description
        assert set(spec.face) <= set(EXPRESSION_CHANNELS)
        assert all(0 < v <= 1 for v in spec.face.values())
        assert 0.5 <= spec.rate <= 1.5 and -20 <= spec.volume_db <= 12 and abs(spec.pitch_semitones) <= 4
        assert 0 <= spec.elevenlabs.stability <= 1 and 0 <= spec.elevenlabs.style <= 1
        assert 0.7 <= spec.elevenlabs.speed <= 1.2 and 0.5 <= spec.fish.speed <= 2
        if e is not Emotion.NEUTRAL:
            assert spec.face, e
    assert not Emotion.NEUTRAL.spec.face


@pytest.mark.parametrize(("style", "emotion"), [
    ("cheerful", Emotion.HAPPY), ("sad", Emotion.SAD), ("angry", Emotion.ANGRY), ("terrified", Emotion.FEARFUL),
    ("whispering", Emotion.WHISPERING), ("serious", Emotion.SERIOUS), ("excited", Emotion.HAPPY),
    ("shouting", Emotion.SHOUTING), ("friendly", Emotion.HAPPY), ("Cheerful", Emotion.HAPPY),
])
def test_azure_styles_map_onto_the_set(style, emotion):
    got, intensity = emo.resolve_style(style, 1.0)
    assert got is emotion and 0 < intensity <= 1
    assert emo.resolve_style(style, 2.0)[1] >= intensity
    assert emo.resolve_style(style, 0.01)[1] < intensity


def test_intensity_scales_voice_hints():
    assert emo.prosody_deltas("sad", 0) == (1.0, 0.0, 0.0)
    rate, vol, pitch = emo.prosody_deltas("sad", 0.5)
    full = emo.prosody_deltas("sad", 1.0)
    assert rate == pytest.approx(1 + (full[0] - 1) / 2) and vol == pytest.approx(full[1] / 2)
    base = {"stability": 0.8, "style": 0.0, "speed": 1.0, "similarity_boost": 0.7}
    half = emo.elevenlabs_settings("angry", 0.5, base)
    assert half["similarity_boost"] == 0.7
    assert half["stability"] == pytest.approx((0.8 + Emotion.ANGRY.spec.elevenlabs.stability) / 2, abs=1e-3)
    assert emo.elevenlabs_settings("neutral", 1.0, base) == base
    assert emo.fish_prosody("whispering", 1.0)["volume"] < emo.fish_prosody("whispering", 0.5)["volume"] < 0
    assert emo.face_pose("happy", 0.5)["mouthSmileLeft"] == pytest.approx(Emotion.HAPPY.spec.face["mouthSmileLeft"] / 2)


def test_local_prosody_combines_ssml_emotion_and_emphasis():
    p = emo.local_prosody(Prosody(rate=0.8, volume_db=2.0, emphasis="strong", emotion="sad", intensity=1.0))
    rate, vol, pitch = emo.prosody_deltas("sad", 1.0)
    s = emo.EMPHASIS["strong"]
    assert p.rate == pytest.approx(0.8 * rate * s.rate, abs=1e-3)
    assert p.volume_db == pytest.approx(2.0 + vol + s.volume_db, abs=1e-3)
    assert (p.emotion, p.emphasis) == ("sad", "strong")
    assert emo.local_prosody(Prosody()) == Prosody()
    assert emo.local_prosody(Prosody(), line_emotion="angry").volume_db > 0


# ---------------------------------------------------------------------------------------------
# curves

FPS = 60


def _at(curves, name, t_ms):
    return float(curves.curve(name)[curves.frame_at(t_ms)])


def test_channels_present_bounded_rounded():
    c = expression_curves([(0, 900, "angry", 1.0, "strong"), (1000, 2500, "surprised", 1.0, None)], 3000, FPS)
    assert c.channels == list(EXPRESSION_CHANNELS)
    assert c.frame_count == frame_count(3000, FPS) and c.start_frame == 0
    assert c.frames.min() >= 0.0 and c.frames.max() <= 1.0
    assert np.array_equal(c.frames, np.round(c.frames, 3))
    d = c.to_dict()
    assert set(d["curves"]) == set(EXPRESSION_CHANNELS) and d["fps"] == FPS and d["duration_ms"] == 3000


@pytest.mark.parametrize("emotion", [e.value for e in Emotion if e is not Emotion.NEUTRAL])
def test_every_emotion_shows_on_the_face(emotion):
    c = expression_curves([(500, 2500, emotion, 1.0, None)], 3500, FPS, blinks=False)
    for name, value in emo.face_pose(emotion, 1.0).items():
        assert _at(c, name, 1500) == pytest.approx(value, abs=2e-3), name
        assert _at(c, name, 0) == 0.0


def test_onset_hold_decay():
    start, end = 1000, 2500
    c = expression_curves([(start, end, "happy", 1.0, None)], 4000, FPS, blinks=False)
    full = Emotion.HAPPY.spec.face["mouthSmileLeft"]
    smile = c.curve("mouthSmileLeft")
    assert _at(c, "mouthSmileLeft", start - LEAD_MS - 20) == 0.0
    mid_attack = _at(c, "mouthSmileLeft", start - LEAD_MS + ATTACK_MS / 2)
    assert 0.2 * full < mid_attack < 0.8 * full
    assert _at(c, "mouthSmileLeft", start - LEAD_MS + ATTACK_MS + 20) == pytest.approx(full, abs=1e-3)
    assert _at(c, "mouthSmileLeft", end) == pytest.approx(full, abs=1e-3)
    assert 0 < _at(c, "mouthSmileLeft", end + RELEASE_MS / 2) < full
    assert _at(c, "mouthSmileLeft", end + RELEASE_MS + 20) == 0.0
    # monotonic ramps: no jumps larger than a smooth step allows
    assert np.abs(np.diff(smile)).max() < full * 0.2
    assert 150 <= ATTACK_MS <= 250


def test_intensity_scales_the_pose():
    spans = lambda k: [(0, 2000, "sad", k, None)]  # noqa: E731
    full = expression_curves(spans(1.0), 2500, FPS, blinks=False)
    half = expression_curves(spans(0.5), 2500, FPS, blinks=False)
    none = expression_curves(spans(0.0), 2500, FPS, blinks=False)
    assert np.allclose(half.frames, full.frames / 2, atol=2e-3)
    assert none.frames.max() == 0.0
    assert full.frames.max() > 0.3


def test_same_emotion_across_sentences_does_not_dip():
    c = expression_curves([(0, 1000, "happy", 1.0, None), (1600, 2600, "happy", 1.0, None)], 3000, FPS,
                          blinks=False)
    full = Emotion.HAPPY.spec.face["mouthSmileLeft"]
    assert _at(c, "mouthSmileLeft", 1300) == pytest.approx(full, abs=1e-3)


def test_emphasis_is_a_brief_brow_raise():
    base = expression_curves([(0, 3000, None, 1.0, None)], 3000, FPS, blinks=False)
    emph = expression_curves([(1000, 3000, None, 1.0, "strong")], 3000, FPS, blinks=False)
    assert base.frames.max() == 0.0
    brow = emph.curve("browInnerUp")
    peak_t = np.argmax(brow) * 1000 / FPS
    assert 1000 <= peak_t <= 1300
    assert brow.max() == pytest.approx(emo.EMPHASIS["strong"].brow_raise, abs=0.01)
    assert _at(emph, "browInnerUp", 2000) == 0.0  # brief: gone well before the span ends
    assert _at(emph, "browOuterUpLeft", 1150) > 0
    moderate = expression_curves([(1000, 3000, None, 1.0, "moderate")], 3000, FPS, blinks=False)
    assert 0 < moderate.curve("browInnerUp").max() < brow.max()
    reduced = expression_curves([(1000, 3000, None, 1.0, "reduced")], 3000, FPS, blinks=False)
    assert reduced.frames.max() == 0.0


def test_blinks_are_periodic_and_deterministic():
    a = expression_curves([], 20_000, FPS, seed=7)
    b = expression_curves([], 20_000, FPS, seed=7)
    c = expression_curves([], 20_000, FPS, seed=8)
    assert np.array_equal(a.frames, b.frames)
    assert not np.array_equal(a.frames, c.frames)
    lid = a.curve("eyeBlinkLeft")
    assert np.array_equal(lid, a.curve("eyeBlinkRight"))
    closed = lid >= 0.99
    onsets = np.flatnonzero(closed[1:] & ~closed[:-1])
    assert 4 <= len(onsets) <= 10  # every 2.2-5 s over 20 s
    gaps = np.diff(onsets) * 1000 / FPS
    assert gaps.min() >= 2000 and gaps.max() <= 5200
    # a blink is short: the lid is down (> 0.5) for well under 200 ms each time
    down = (lid > 0.5).sum() * 1000 / FPS / len(onsets)
    assert 50 <= down <= 200
    assert expression_curves([], 20_000, FPS, blinks=False).frames.max() == 0.0


def test_blink_suppresses_wide_eyes():
    c = expression_curves([(0, 20_000, "surprised", 1.0, None)], 20_000, FPS, seed=1)
    lid = c.curve("eyeBlinkLeft")
    wide = c.curve("eyeWideLeft")
    assert wide[lid >= 0.99].max() <= 0.01
    settled = np.arange(len(lid)) * 1000 / FPS > ATTACK_MS
    assert wide[(lid == 0) & settled].min() == pytest.approx(Emotion.SURPRISED.spec.face["eyeWideLeft"])


def test_windows_tile_the_whole():
    spans = [(0, 1200, "happy", 0.8, "strong"), (1500, 3000, "angry", 1.0, None), (3200, 5000, "sad", 0.5, None)]
    whole = expression_curves(spans, 5000, FPS, seed=3)
    parts, cursor = [], 0
    for i, end in enumerate((1400, 3100, 5000)):
        part = expression_curves(spans, end, FPS, cursor, final=(i == 2), seed=3)
        parts.append(part)
        cursor = end
    assert [p.start_frame for p in parts] == [0, parts[0].frame_count, parts[0].frame_count + parts[1].frame_count]
    stacked = np.vstack([p.frames for p in parts])
    assert np.array_equal(stacked, whole.frames)


def test_bad_input():
    with pytest.raises(ValueError):
        expression_curves([], 1000, 0)
    with pytest.raises(ValueError):
        expression_curves([(0, float("nan"), "happy", 1.0, None)], 1000)
    with pytest.raises(ValueError):
        expression_curves([(0, 100, "ecstatic", 1.0, None)], 1000)
    assert expression_curves([], 0, FPS).frame_count == 1
    c = expression_curves([(0, 500, "happy", float("nan"), None), (0, 500, "sad", 7.0, None)], 1000, FPS)
    assert c.frames.max() <= 1.0


# ---------------------------------------------------------------------------------------------
# merging with the mouth


def _mouth(duration=2000):
    phones = [PhonemeSpan("s", 100, 250), PhonemeSpan("i", 250, 500), PhonemeSpan("a", 500, 900),
              PhonemeSpan("m", 900, 1000)]
    return build_lipsync(phones, duration, FPS).blendshapes


def test_merge_rule():
    mouth = _mouth()
    expr = expression_curves([(0, 2000, "happy", 1.0, None)], 2000, FPS, blinks=False)
    merged = merge_curves(mouth, expr)
    assert merged.channels[: len(MOUTH_CHANNELS)] == list(MOUTH_CHANNELS)
    assert set(merged.channels) == set(MOUTH_CHANNELS) | set(EXPRESSION_CHANNELS)
    assert len(merged.channels) == len(set(merged.channels))
    assert merged.frame_count == mouth.frame_count and merged.start_frame == mouth.start_frame
    for name in ("jawOpen", "mouthFunnel", "mouthClose", "mouthPressLeft"):
        assert np.array_equal(merged.curve(name), mouth.curve(name))  # speech shapes win
    assert np.array_equal(merged.curve("mouthSmileLeft"), np.maximum(mouth.curve("mouthSmileLeft"),
                                                                       expr.curve("mouthSmileLeft")))
    assert np.array_equal(merged.curve("browInnerUp"), expr.curve("browInnerUp"))
    sad = merge_curves(mouth, expression_curves([(0, 2000, "sad", 1.0, None)], 2000, FPS))
    assert sad.curve("mouthFrownLeft").max() > 0.3  # the mouth has no frown: the expression adds it


def test_merge_aligns_stream_windows_and_dicts():
    mouth = build_lipsync([PhonemeSpan("a", 1000, 1500)], 2000, FPS, start_ms=1000, final=True).blendshapes
    expr = expression_curves([(0, 2000, "angry", 1.0, None)], 2000, FPS)
    merged = merge_curves(mouth, expr)
    assert merged.start_frame == mouth.start_frame
    assert np.array_equal(merged.curve("browDownLeft"), expr.curve("browDownLeft")[mouth.start_frame:])
    as_dict = merge_curve_dicts(mouth.to_dict(), expr.to_dict())
    assert as_dict == merged.to_dict()
    with pytest.raises(ValueError):
        merge_curves(mouth, expression_curves([], 2000, 30))


def test_spans_from_planned_segments():
    plan = plan_segments('<speak><emotion name="happy" intensity="0.5">Hello there.</emotion> '
                         '<emphasis level="strong">Listen</emphasis> now.</speak>', emotion="serious")
    spans = spans_from_segments(plan.segments, [(0, 900), (1100, 1500), (1500, 2200)])
    assert spans == [ExpressionSpan(0, 900, "happy", 0.5, None), ExpressionSpan(1100, 1500, "serious", 1.0, "strong"),
                     ExpressionSpan(1500, 2200, "serious", 1.0, None)]
    c = expression_curves(spans, 2400, FPS)
    assert _at(c, "mouthSmileLeft", 500) > 0 and _at(c, "browDownLeft", 1900) > 0
    with pytest.raises(ValueError):
        spans_from_segments(plan.segments, [(0, 1)])
