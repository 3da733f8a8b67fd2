"""Request and response bodies of the HTTP API."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class VoiceSettingsIn(BaseModel):
    """ElevenLabs-style voice settings; each one given overrides the character's (docs/api.md, compatibility)."""

    model_config = ConfigDict(extra="ignore")

    stability: float | None = Field(None, ge=0, le=1, description="ElevenLabs: stability 0..1.")
    similarity_boost: float | None = Field(None, ge=0, le=1, description="ElevenLabs: similarity boost 0..1.")
    style: float | None = Field(None, ge=0, le=1, description="ElevenLabs: style exaggeration 0..1.")
    use_speaker_boost: bool | None = Field(None, description="ElevenLabs: speaker boost.")
    speed: float | None = Field(None, ge=0.25, le=4.0, description="Speaking rate on every provider (1.0 = the "
                                                                    "voice's own; ElevenLabs clamps to 0.7..1.2, "
                                                                    "Fish Audio and the local engines to 0.5..2).")


class SpeakRequest(BaseModel):
    """A line to speak."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"text": "Welcome to the Gilded Goose!",
                                                               "character": "innkeeper"}]})

    text: str = Field(..., description="The line of dialogue: plain text, or SSML starting with <speak> "
                                       "(see docs/expressive.md).")
    voice_id: str | None = Field(None, description="A voice: a character id, `provider:voice`, or a vendor voice id "
                                                   "such as ElevenLabs Rachel `21m00Tcm4TlvDq8ikWAM` (see "
                                                   "/api/avatar/voices and docs/voices.md).")
    character: str | None = Field(None, description="Character from config/characters.yaml (default: narrator).")
    avatar_id: str | None = Field(None, description="Avatar for video (video comes with the worker pool).")
    output_format: str | None = Field(None, description="wav, wav_<rate>, pcm_<rate>, mp3, mp3_<rate>_<kbps>, opus...")
    visemes: bool = Field(True, description="Include visemes, Azure viseme ids and blendshape curves.")
    blendshapes: bool = Field(True, description="Include ARKit blendshape curves (with visemes).")
    fps: int | None = Field(None, description="Blendshape frame rate (default 60).")
    emotion: str | None = Field(None, description="neutral, happy, sad, angry, fearful, surprised, disgusted, "
                                                  "serious, whispering, shouting (default: the character's).")
    intensity: float | None = Field(None, ge=0, le=1, description="Emotion intensity 0..1 (default 1).")
    text_type: str = Field("auto", description="auto (SSML when text starts with <speak>), ssml, or plain "
                                               "(tags stripped).")
    voice_settings: VoiceSettingsIn | None = Field(None, description="Override the character's voice settings.")
    model_id: str | None = Field(None, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
                                 description="Vendor model: an ElevenLabs model id (eleven_flash_v2_5, "
                                             "eleven_multilingual_v2, ...) or a Fish Audio backend (s1, speech-1.6).")


class PhonemeOut(BaseModel):
    phoneme: str
    start_ms: int
    end_ms: int


class WordOut(BaseModel):
    word: str
    start_ms: int
    end_ms: int
    char_start: int | None = None
    char_end: int | None = None


class SpeakResponse(BaseModel):
    """A spoken line. ``provider`` and ``degradation_level`` say who served it and how degraded service is."""

    request_id: str
    text: str
    spoken_text: str | None = Field(None, description="What the audio says when it differs from text "
                                                       "(a canned clip); word offsets then index it.")
    audio_url: str | None = Field(description="GET it for the audio in output_format; null when text-only.")
    audio_base64: str | None = Field(None, description="The audio itself (output_format, base64) when the media "
                                                       "store could not keep it (reason media_unwritable); "
                                                       "else null.")
    video_url: str | None = Field(None, description="Null until the video pool delivers a video.")
    output_format: str
    sample_rate: int | None
    duration: float = Field(description="Seconds of audio, counted from samples.")
    processing_time: float
    provider: str | None
    source_provider: str | None = Field(None, description="For cached/canned audio: the provider that made it.")
    degradation_level: str
    degradation_reasons: list[str] = []
    fallbacks: int = 0
    retries: int = 0
    voice: dict | None = Field(None, description="The voice that finished the line: voice_id, name, gender, "
                                                 "accent, age, pitch_hz.")
    voice_changed: bool = Field(False, description="True when the line fell to a voice that does not match "
                                                   "the one asked for (see voice_changes).")
    voice_changes: list[dict] = Field([], description="Each change of voice: from, to (voices with traits), "
                                                      "reasons, provider, at_ms, segment.")
    visemes: list[dict] | None = None
    azure_visemes: list[dict] | None = None
    blendshapes: dict | None = None
    words: list[WordOut]
    phonemes: list[PhonemeOut]


class ErrorResponse(BaseModel):
    error: str
    message: str
    request_id: str | None = None
    valid: list[str] | None = None
