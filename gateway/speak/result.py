"""What a spoken line produced: :class:`SpeakResult`, the one value every response shape is exported from."""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.audio.formats import OutputFormat
from gateway.core.timeline import Timeline, WordSpan
from gateway.lipsync.build import LipSyncData
from gateway.policy.chain import ChainOutcome
from gateway.policy.degradation import DegradationLevel
from gateway.video.pool import VideoOutcome
from gateway.voices.catalogue import CatalogueVoice
from gateway.voices.match import VoiceChange


@dataclass(slots=True)
class SpeakResult:
    """Everything a speak response carries."""

    request_id: str
    provider: str | None
    degradation_level: DegradationLevel
    duration_s: float
    processing_time_s: float
    audio: bytes | None
    output: OutputFormat
    sample_rate: int | None
    timeline: Timeline
    #: Visemes, Azure ids and blendshape curves (mouth and face merged) of the whole line; None when not asked
    #: for, or when a stream already sent them sentence by sentence.
    lipsync: LipSyncData | None
    text: str
    outcome: ChainOutcome
    source_provider: str | None = None
    reasons: list[str] = field(default_factory=list)
    #: What the audio actually says when it is not ``text`` (a canned clip); word offsets index it.
    spoken_text: str | None = None
    #: Word timings for subtitles: char offsets index ``text`` (or ``spoken_text`` when set).
    words: list[WordSpan] = field(default_factory=list)
    #: The render's outcome when a video was asked for (``video_url`` when it succeeded).
    video: VideoOutcome | None = None
    #: The voice that finished the line, and each change of voice the listener heard (docs/voices.md).
    voice: CatalogueVoice | None = None
    voice_changes: list[VoiceChange] = field(default_factory=list)
    #: False when the media store could not keep the audio (no ``audio_url`` then; the reason says why).
    audio_stored: bool = True

    @property
    def has_video(self) -> bool:
        return self.video is not None and self.video.ok
