"""What ``POST /v1/audio/speech`` accepts: OpenAI's fields, Kokoro-FastAPI's ``stream``, and the extension's
``stream_format: "ndjson"`` and ``segments``. Errors are OpenAI's shape: ``{"error": {"message", "type", "param",
"code"}}``."""

from __future__ import annotations

from typing import Literal

from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from gateway.core.segments import Prosody, Segment
from gateway.text.clean import clean_text, split_sentences
from gateway.text.emotions import Emotion
from gateway.upstream.speech_api import EVENTS

MAX_INPUT_CHARS = 4096  #: OpenAI's limit
MAX_SEGMENTS = 256
#: response_format -> (the gateway's output format name, Content-Type); pcm is OpenAI's 24 kHz s16le.
FORMATS = {"mp3": ("mp3", "audio/mpeg"), "opus": ("opus", "audio/opus"), "wav": ("wav", "audio/wav"),
           "pcm": ("pcm_24000", "audio/pcm")}


def api_error(status: int, message: str, *, code: str, param: str | None = None,
              headers: dict | None = None) -> JSONResponse:
    kind = {401: "authentication_error", 429: "rate_limit_error"}.get(status, "invalid_request_error"
                                                                       if status < 500 else "server_error")
    return JSONResponse({"error": {"message": message, "type": kind, "param": param, "code": code}},
                        status_code=status, headers=headers)


class VoiceRef(BaseModel):
    """OpenAI's custom-voice form ``{"id": "..."}``."""

    id: str = Field(min_length=1, max_length=128)


class ProsodyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rate: float = Field(1.0, ge=0.25, le=4.0)
    volume_db: float = Field(0.0, ge=-40.0, le=20.0)
    pitch_semitones: float = Field(0.0, ge=-24.0, le=24.0)
    emphasis: Literal["strong", "moderate", "reduced", "none"] | None = None
    emotion: Literal[tuple(e.value for e in Emotion)] | None = None  # type: ignore[valid-type]
    intensity: float = Field(1.0, ge=0.0, le=1.0)


class SegmentIn(BaseModel):
    """One planned segment (the extension): as :class:`gateway.core.segments.Segment`."""

    model_config = ConfigDict(extra="forbid")

    index: int = Field(ge=0, le=100_000)
    text: str = Field(min_length=1, max_length=MAX_INPUT_CHARS)
    char_start: int = Field(0, ge=0)
    break_before_ms: int = Field(0, ge=0, le=10_000)
    prosody: ProsodyIn | None = None
    ipa: list[tuple[int, int, str]] = Field(default_factory=list, max_length=256)

    @model_validator(mode="after")
    def _spans(self) -> "SegmentIn":
        for start, end, ipa in self.ipa:
            if not (0 <= start < end <= len(self.text)) or not ipa or len(ipa) > 200:
                raise ValueError(f"ipa span ({start}, {end}) is outside the segment's text or empty")
        return self

    def segment(self) -> Segment:
        prosody = Prosody(**self.prosody.model_dump()) if self.prosody else Prosody()
        return Segment(self.index, self.text, self.char_start, prosody, self.break_before_ms,
                       tuple((s, e, i) for s, e, i in self.ipa))


class SpeechRequest(BaseModel):
    """``POST /v1/audio/speech``. Unknown fields are ignored, as OpenAI-compatible servers do."""

    model_config = ConfigDict(extra="ignore")

    model: str | None = Field(None, max_length=128)
    input: str = Field(min_length=1, max_length=MAX_INPUT_CHARS)
    voice: str | VoiceRef | None = Field(None)
    instructions: str | None = Field(None, max_length=MAX_INPUT_CHARS)  #: accepted, not used by local engines
    response_format: Literal["mp3", "opus", "aac", "flac", "wav", "pcm"] = "mp3"
    speed: float = Field(1.0, ge=0.25, le=4.0)
    stream_format: Literal["audio", "sse", "ndjson"] = "audio"
    stream: bool = True  #: Kokoro-FastAPI's: false answers the whole file at once (exact WAV/MP3 headers)
    segments: list[SegmentIn] | None = Field(None, min_length=1, max_length=MAX_SEGMENTS)

    @field_validator("voice")
    @classmethod
    def _voice(cls, value: str | VoiceRef | None) -> str | VoiceRef | None:
        if isinstance(value, str) and (not value.strip() or len(value) > 128):
            raise ValueError("voice must be a non-empty name of at most 128 characters")
        return value

    @model_validator(mode="after")
    def _segments(self) -> "SpeechRequest":
        if not self.input.strip():
            raise ValueError("input is empty")
        if self.segments:
            indices = [s.index for s in self.segments]
            if indices != sorted(set(indices)):
                raise ValueError("segment indices must increase")
            if sum(len(s.text) for s in self.segments) > MAX_INPUT_CHARS:
                raise ValueError(f"segments are longer than {MAX_INPUT_CHARS} characters in all")
        return self

    @property
    def voice_name(self) -> str | None:
        return self.voice.id if isinstance(self.voice, VoiceRef) else self.voice

    @property
    def events(self) -> bool:
        return self.stream_format == EVENTS

    def planned(self) -> tuple[str, list[Segment]]:
        """(the text, its segments): the extension's segments as given, else the input cut into sentences."""
        if self.segments:
            return " ".join(s.text for s in self.segments), [s.segment() for s in self.segments]
        text = clean_text(self.input)
        return text, split_sentences(text)
