"""The emotion set, defined once: how each emotion sounds (per provider) and looks (ARKit face pose).

Every emotion is an :class:`Emotion` member; its :class:`EmotionSpec` (``Emotion.X.spec``) holds

* ``rate`` / ``volume_db`` / ``pitch_semitones``: prosody deltas for local voices (Piper,
  espeak, Kokoro) at intensity 1;
* ``elevenlabs``: ``voice_settings`` hints (stability, style, speed) at intensity 1;
* ``fish``: Fish Audio ``prosody`` (speed, volume dB) and an emotion marker for models that
  read them;
* ``face``: an ARKit expression pose (brows, eyes, cheeks, nose, smile/frown) at intensity 1.

Intensity (0..1) scales everything linearly from neutral: a delta ``d`` becomes
``d * intensity`` (a rate ``r`` becomes ``1 + (r - 1) * intensity``), cloud settings interpolate
from the neutral settings, face channels multiply.

Names: canonical names are the enum values; :data:`ALIASES` adds synonyms (``friendly`` ->
happy) and :data:`AZURE_STYLES` maps Azure ``mstts:express-as`` styles (with an intensity
factor). :func:`resolve_emotion` accepts all three, case-insensitively.

Beyond the required eight, two are added: ``disgusted`` completes Ekman's six basic emotions
(the set face rigs and animators work from; games need contempt and revulsion), and
``shouting`` is the loud counterpart of ``whispering`` (calling across a battlefield is not
anger; Azure and Fish both have it as a style).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import Enum
from types import MappingProxyType
from typing import Mapping

from gateway.core.segments import Prosody

__all__ = [
    "Emotion", "EmotionSpec", "ElevenLabsHint", "FishHint", "EMOTIONS", "ALIASES", "AZURE_STYLES",
    "EXPRESSION_CHANNELS", "EMPHASIS", "EmphasisSpec", "UnknownEmotion", "resolve_emotion", "resolve_style",
    "emotion_names", "prosody_deltas", "elevenlabs_settings", "fish_prosody", "face_pose", "local_prosody",
]

#: ARKit channels an expression drives (beside the mouth), in output order.
EXPRESSION_CHANNELS: tuple[str, ...] = (
    "browInnerUp", "browDownLeft", "browDownRight", "browOuterUpLeft", "browOuterUpRight",
    "eyeWideLeft", "eyeWideRight", "eyeSquintLeft", "eyeSquintRight", "eyeBlinkLeft", "eyeBlinkRight",
    "cheekSquintLeft", "cheekSquintRight", "noseSneerLeft", "noseSneerRight",
    "mouthSmileLeft", "mouthSmileRight", "mouthFrownLeft", "mouthFrownRight",
)
_PAIRED = ("browDown", "browOuterUp", "eyeWide", "eyeSquint", "eyeBlink", "cheekSquint", "noseSneer", "mouthSmile",
           "mouthFrown")


def _face(**values: float) -> Mapping[str, float]:
    """``eyeWide=0.5`` -> eyeWideLeft and eyeWideRight; unpaired names as given."""
    out: dict[str, float] = {}
    for name, value in values.items():
        if name in _PAIRED:
            out[name + "Left"] = out[name + "Right"] = value
        else:
            out[name] = value
    unknown = set(out) - set(EXPRESSION_CHANNELS)
    assert not unknown, unknown
    return MappingProxyType(out)


@dataclass(frozen=True, slots=True)
class ElevenLabsHint:
    """ElevenLabs ``voice_settings`` at full intensity (stability/style 0..1, speed 0.7..1.2)."""

    stability: float
    style: float
    speed: float


@dataclass(frozen=True, slots=True)
class FishHint:
    """Fish Audio ``prosody`` (speed multiplier, volume dB) and an emotion marker such as ``(happy)``."""

    speed: float
    volume_db: float
    marker: str | None = None


@dataclass(frozen=True, slots=True)
class EmotionSpec:
    """Everything one emotion means for voice and face; see the module docstring."""

    description: str
    rate: float
    volume_db: float
    pitch_semitones: float
    elevenlabs: ElevenLabsHint
    fish: FishHint
    face: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))


class Emotion(str, Enum):
    """The emotions a line (or a span of it) can carry. ``Emotion.HAPPY.spec`` has the details."""

    NEUTRAL = "neutral"
    HAPPY = "happy"
    SAD = "sad"
    ANGRY = "angry"
    FEARFUL = "fearful"
    SURPRISED = "surprised"
    DISGUSTED = "disgusted"
    SERIOUS = "serious"
    WHISPERING = "whispering"
    SHOUTING = "shouting"

    @property
    def spec(self) -> EmotionSpec:
        return EMOTIONS[self]

    def __str__(self) -> str:
        return self.value


_NEUTRAL_11 = ElevenLabsHint(stability=0.5, style=0.0, speed=1.0)

#: The one table. Values are starting points tuned by ear on Piper/ElevenLabs voices, not measurements.
EMOTIONS: Mapping[Emotion, EmotionSpec] = MappingProxyType({
    Emotion.NEUTRAL: EmotionSpec(
        "The voice's own delivery.", 1.0, 0.0, 0.0, _NEUTRAL_11, FishHint(1.0, 0.0, None)),
    Emotion.HAPPY: EmotionSpec(
        "Warm, smiling, a little quicker and higher (alias: friendly, cheerful).", 1.06, 1.0, 1.0,
        ElevenLabsHint(0.35, 0.45, 1.05), FishHint(1.05, 1.0, "(happy)"),
        _face(mouthSmile=0.55, cheekSquint=0.35, eyeSquint=0.2, browOuterUp=0.1)),
    Emotion.SAD: EmotionSpec(
        "Slow, soft and low; inner brows up, mouth corners down.", 0.88, -3.0, -1.5,
        ElevenLabsHint(0.45, 0.35, 0.9), FishHint(0.9, -3.0, "(sad)"),
        _face(browInnerUp=0.6, mouthFrown=0.4, eyeSquint=0.1)),
    Emotion.ANGRY: EmotionSpec(
        "Hard and loud; brows down, eyes narrowed, nose wrinkled.", 1.05, 3.0, 0.5,
        ElevenLabsHint(0.25, 0.6, 1.08), FishHint(1.05, 3.0, "(angry)"),
        _face(browDown=0.7, eyeSquint=0.35, noseSneer=0.3, mouthFrown=0.2)),
    Emotion.FEARFUL: EmotionSpec(
        "Quick, breathy, higher; brows up and together, eyes wide (alias: scared, afraid).", 1.1, -1.0, 1.5,
        ElevenLabsHint(0.25, 0.5, 1.1), FishHint(1.1, -1.0, "(scared)"),
        _face(browInnerUp=0.7, browOuterUp=0.35, eyeWide=0.55, mouthFrown=0.15)),
    Emotion.SURPRISED: EmotionSpec(
        "Higher and a little louder; brows raised, eyes wide.", 1.04, 2.0, 2.5,
        ElevenLabsHint(0.3, 0.5, 1.05), FishHint(1.05, 2.0, "(surprised)"),
        _face(browInnerUp=0.55, browOuterUp=0.65, eyeWide=0.65)),
    Emotion.DISGUSTED: EmotionSpec(
        "Slower, lower, clipped; nose wrinkled, upper face narrowed.", 0.95, 0.0, -1.0,
        ElevenLabsHint(0.4, 0.4, 0.95), FishHint(0.95, 0.0, "(disdainful)"),
        _face(noseSneer=0.6, browDown=0.35, eyeSquint=0.3, cheekSquint=0.3, mouthFrown=0.25)),
    Emotion.SERIOUS: EmotionSpec(
        "Steady and measured; a slight frown of concentration.", 0.95, 0.0, -0.5,
        ElevenLabsHint(0.7, 0.1, 0.95), FishHint(0.95, 0.0, "(serious)"),
        _face(browDown=0.25, eyeSquint=0.15)),
    Emotion.WHISPERING: EmotionSpec(
        "Quiet and slower. Local voices cannot whisper: they only get softer; "
        "ElevenLabs cannot either from settings alone (the caller should warn).", 0.92, -8.0, 0.0,
        ElevenLabsHint(0.6, 0.2, 0.9), FishHint(0.92, -8.0, "(whispering)"),
        _face(browInnerUp=0.2, eyeSquint=0.1)),
    Emotion.SHOUTING: EmotionSpec(
        "Loud and projected, not necessarily angry (calling across a field).", 1.0, 6.0, 2.0,
        ElevenLabsHint(0.25, 0.7, 1.05), FishHint(1.0, 6.0, "(shouting)"),
        _face(browInnerUp=0.25, browOuterUp=0.35, eyeWide=0.3, cheekSquint=0.2, noseSneer=0.15)),
})

#: Synonyms accepted anywhere an emotion name is.
ALIASES: Mapping[str, Emotion] = MappingProxyType({
    "friendly": Emotion.HAPPY, "cheerful": Emotion.HAPPY, "joyful": Emotion.HAPPY, "happiness": Emotion.HAPPY,
    "sadness": Emotion.SAD, "unhappy": Emotion.SAD, "anger": Emotion.ANGRY, "mad": Emotion.ANGRY,
    "scared": Emotion.FEARFUL, "afraid": Emotion.FEARFUL, "fear": Emotion.FEARFUL, "terrified": Emotion.FEARFUL,
    "surprise": Emotion.SURPRISED, "disgust": Emotion.DISGUSTED, "calm": Emotion.NEUTRAL, "none": Emotion.NEUTRAL,
    "default": Emotion.NEUTRAL, "whisper": Emotion.WHISPERING, "shout": Emotion.SHOUTING,
    "yelling": Emotion.SHOUTING,
})

#: Azure ``mstts:express-as`` style -> (emotion, intensity factor multiplied into ``styledegree``).
AZURE_STYLES: Mapping[str, tuple[Emotion, float]] = MappingProxyType({
    "general": (Emotion.NEUTRAL, 1.0), "calm": (Emotion.NEUTRAL, 1.0), "chat": (Emotion.HAPPY, 0.3),
    "friendly": (Emotion.HAPPY, 0.6), "cheerful": (Emotion.HAPPY, 1.0), "excited": (Emotion.HAPPY, 1.0),
    "hopeful": (Emotion.HAPPY, 0.5), "affectionate": (Emotion.HAPPY, 0.5), "gentle": (Emotion.HAPPY, 0.3),
    "customerservice": (Emotion.HAPPY, 0.4), "assistant": (Emotion.HAPPY, 0.3), "lyrical": (Emotion.HAPPY, 0.4),
    "sad": (Emotion.SAD, 1.0), "depressed": (Emotion.SAD, 1.0), "disappointed": (Emotion.SAD, 0.6),
    "empathetic": (Emotion.SAD, 0.3), "sorry": (Emotion.SAD, 0.5), "embarrassed": (Emotion.SAD, 0.4),
    "angry": (Emotion.ANGRY, 1.0), "unfriendly": (Emotion.ANGRY, 0.4), "envious": (Emotion.ANGRY, 0.4),
    "disgruntled": (Emotion.ANGRY, 0.5), "terrified": (Emotion.FEARFUL, 1.0), "fearful": (Emotion.FEARFUL, 0.8),
    "nervous": (Emotion.FEARFUL, 0.4), "surprised": (Emotion.SURPRISED, 1.0), "serious": (Emotion.SERIOUS, 1.0),
    "newscast": (Emotion.SERIOUS, 0.4), "newscast-formal": (Emotion.SERIOUS, 0.5),
    "newscast-casual": (Emotion.SERIOUS, 0.2), "narration-professional": (Emotion.SERIOUS, 0.3),
    "narration-relaxed": (Emotion.NEUTRAL, 1.0), "documentary-narration": (Emotion.SERIOUS, 0.3),
    "whispering": (Emotion.WHISPERING, 1.0), "shouting": (Emotion.SHOUTING, 1.0),
    "disdainful": (Emotion.DISGUSTED, 0.7),
})


class UnknownEmotion(ValueError):
    """A name that is neither an emotion, an alias nor an Azure style."""


def emotion_names() -> list[str]:
    """Canonical names, in definition order."""
    return [e.value for e in Emotion]


def resolve_emotion(name: str | Emotion | None) -> Emotion:
    """Emotion for a canonical name, alias or Azure style (case-insensitive); ``None``/empty -> neutral."""
    if isinstance(name, Emotion):
        return name
    if name is None or not str(name).strip():
        return Emotion.NEUTRAL
    key = str(name).strip().lower()
    try:
        return Emotion(key)
    except ValueError:
        pass
    if key in ALIASES:
        return ALIASES[key]
    if key in AZURE_STYLES:
        return AZURE_STYLES[key][0]
    raise UnknownEmotion(f"unknown emotion {name!r}; known: {', '.join(emotion_names())} (and aliases)")


def resolve_style(style: str, degree: float = 1.0) -> tuple[Emotion, float]:
    """Azure style + ``styledegree`` (0.01..2) -> (emotion, intensity 0..1). Unknown styles raise :class:`UnknownEmotion`."""
    key = style.strip().lower()
    if not isinstance(degree, (int, float)) or degree != degree:
        degree = 1.0
    if key in AZURE_STYLES:
        emotion, factor = AZURE_STYLES[key]
    else:
        emotion, factor = resolve_emotion(key), 1.0
    return emotion, _clamp(degree * factor, 0.0, 1.0)


def _clamp(x: float, lo: float, hi: float) -> float:
    return lo if x < lo else hi if x > hi else x


def _intensity(intensity: float | None) -> float:
    return 1.0 if intensity is None else _clamp(float(intensity), 0.0, 1.0)


def prosody_deltas(emotion: str | Emotion | None, intensity: float | None = 1.0) -> tuple[float, float, float]:
    """``(rate multiplier, volume dB, pitch semitones)`` for local voices at ``intensity``."""
    spec = resolve_emotion(emotion).spec
    k = _intensity(intensity)
    return 1.0 + (spec.rate - 1.0) * k, spec.volume_db * k, spec.pitch_semitones * k


def elevenlabs_settings(emotion: str | Emotion | None, intensity: float | None = 1.0,
                        base: Mapping[str, float] | None = None) -> dict[str, float]:
    """ElevenLabs ``voice_settings`` (stability, style, speed): ``base`` (the character's settings, else
    neutral) moved toward the emotion's hint by ``intensity``. Other keys of ``base`` pass through."""
    spec = resolve_emotion(emotion).spec.elevenlabs
    k = _intensity(intensity)
    out = dict(base or {})
    for key in ("stability", "style", "speed"):
        start = float(out.get(key, getattr(_NEUTRAL_11, key)))
        target = getattr(spec, key)
        if resolve_emotion(emotion) is Emotion.NEUTRAL:
            target = start
        value = start + (target - start) * k
        lo, hi = (0.7, 1.2) if key == "speed" else (0.0, 1.0)
        out[key] = round(_clamp(value, lo, hi), 3)
    return out


def fish_prosody(emotion: str | Emotion | None, intensity: float | None = 1.0) -> dict[str, float]:
    """Fish Audio ``prosody``: ``{"speed": x, "volume": dB}`` at ``intensity``."""
    spec = resolve_emotion(emotion).spec.fish
    k = _intensity(intensity)
    return {"speed": round(1.0 + (spec.speed - 1.0) * k, 3), "volume": round(spec.volume_db * k, 2)}


def face_pose(emotion: str | Emotion | None, intensity: float | None = 1.0) -> dict[str, float]:
    """ARKit expression channels of ``emotion`` at ``intensity`` (channels it leaves alone are absent)."""
    k = _intensity(intensity)
    return {name: round(v * k, 4) for name, v in resolve_emotion(emotion).spec.face.items()}


@dataclass(frozen=True, slots=True)
class EmphasisSpec:
    """SSML ``<emphasis level>``: local delivery deltas and the brow raise the face makes."""

    rate: float
    volume_db: float
    pitch_semitones: float
    brow_raise: float


#: Emphasis levels (``none`` is no emphasis). Local voices get rate/gain; the face a brief brow raise.
EMPHASIS: Mapping[str, EmphasisSpec] = MappingProxyType({
    "strong": EmphasisSpec(0.88, 3.0, 1.0, 0.35),
    "moderate": EmphasisSpec(0.94, 1.5, 0.5, 0.2),
    "reduced": EmphasisSpec(1.05, -2.0, -0.3, 0.0),
})


def local_prosody(prosody: Prosody, *, line_emotion: str | None = None, line_intensity: float | None = None) -> Prosody:
    """The delivery a local voice should use: explicit SSML prosody combined with the emotion's and the
    emphasis' deltas (rates multiply, dB and semitones add). ``emotion``/``emphasis`` are kept for the face.

    Cloud providers should not use this (they get :func:`elevenlabs_settings` / :func:`fish_prosody`).
    """
    emotion = prosody.emotion or line_emotion
    intensity = prosody.intensity if prosody.emotion else (line_intensity if line_intensity is not None
                                                           else prosody.intensity)
    rate, vol, pitch = prosody_deltas(emotion, intensity)
    emph = EMPHASIS.get(prosody.emphasis or "")
    if emph is not None:
        rate *= emph.rate
        vol += emph.volume_db
        pitch += emph.pitch_semitones
    return replace(prosody, rate=round(prosody.rate * rate, 4), volume_db=round(prosody.volume_db + vol, 3),
                   pitch_semitones=round(prosody.pitch_semitones + pitch, 3))
