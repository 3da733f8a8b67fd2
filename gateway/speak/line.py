"""The typed values of one spoken line: what was asked, the prepared line, the result, and its output audio."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

from gateway.audio.formats import OutputFormat
from gateway.audio.resample import Resampler
from gateway.characters import Character
from gateway.core.events import AudioEvent
from gateway.text.plan import Planned
from gateway.policy.chain import ChainOutcome, ChainStep
from gateway.policy.degradation import DegradationLevel
from gateway.core.voices import VoiceSettings
from gateway.core.segments import Segment
from gateway.core.timeline import Timeline, WordSpan, ms_to_samples, samples_to_ms


@dataclass(slots=True)
class SpeakInput:
    text: str
    voice_id: str | None = None
    character: str | None = None
    avatar_id: str | None = None
    output_format: str | None = None
    visemes: bool = True
    blendshapes: bool = True
    fps: int | None = None
    emotion: str | None = None
    intensity: float | None = None
    text_type: str = "auto"  #: auto (SSML when it starts with <speak>), ssml, or plain (tags stripped)


@dataclass(slots=True)
class Line:
    """A prepared line: validated text, segments, who speaks it and how it is delivered."""

    request_id: str
    text: str
    segments: list[Segment]
    character: Character
    output: OutputFormat
    steps: list[ChainStep]
    first_choice: str | None
    settings: VoiceSettings
    visemes: bool
    blendshapes: bool
    fps: int
    avatar_id: str | None = None
    planned: Planned | None = None  #: spoken vs written text, SSML warnings, the line's emotion
    started: float = field(default_factory=time.perf_counter)

    @property
    def display(self) -> str:
        """The line as written (subtitles); ``text`` is what is spoken (normalized)."""
        return self.planned.display if self.planned is not None else self.text

    def display_words(self, words: list[WordSpan]) -> list[WordSpan]:
        """Word spans with char offsets into :attr:`display` instead of the spoken text."""
        if self.planned is None:
            return words
        out = []
        for w in words:
            if w.char_start is None or w.char_end is None:
                out.append(w)
                continue
            start, end = self.planned.display_span(w.char_start, w.char_end)
            out.append(WordSpan(w.word, w.start_ms, w.end_ms, start, end))
        return out


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
    lipsync: dict | None
    text: str
    outcome: ChainOutcome
    source_provider: str | None = None
    reasons: list[str] = field(default_factory=list)
    #: What the audio actually says when it is not ``text`` (a canned clip); word offsets index it.
    spoken_text: str | None = None
    #: Word timings for subtitles: char offsets index ``text`` (or ``spoken_text`` when set).
    words: list[WordSpan] = field(default_factory=list)
    #: Whether a video was rendered for this line (``video_url``), and the render's outcome when one was asked.
    video: bool = False
    video_outcome: dict | None = None


def with_ipa(planned: Planned) -> list[Segment]:
    """Segments carrying the IPA hints (SSML ``<phoneme>``) that fall inside them, in segment offsets."""
    if not planned.phonemes:
        return planned.segments
    out = []
    for seg in planned.segments:
        end = seg.char_start + len(seg.text)
        hints = tuple((h.char_start - seg.char_start, h.char_end - seg.char_start, h.ipa) for h in planned.phonemes
                      if seg.char_start <= h.char_start and h.char_end <= end)
        out.append(replace(seg, ipa=hints) if hints else seg)
    return out


#: Longest audio chunk sent to clients in one stream event.
MAX_CHUNK_MS = 250


class OutputAudio:
    """Step 4: one output sample rate for the whole line, whichever providers served it."""

    def __init__(self, output: OutputFormat) -> None:
        self.output = output
        self.rate: int | None = output.sample_rate
        self._resamplers: dict[int, Resampler] = {}
        self.chunks: list[bytes] = []

    def add(self, event: AudioEvent) -> list[AudioEvent]:
        """The event at the output rate, cut into chunks of at most :data:`MAX_CHUNK_MS` so the first bytes of a
        long sentence reach the client (and its player) without waiting for the whole sentence's JSON."""
        if self.rate is None:
            self.rate = event.sample_rate
        pcm = event.pcm
        if event.sample_rate != self.rate:
            resampler = self._resamplers.setdefault(event.sample_rate, Resampler(event.sample_rate, self.rate))
            pcm = resampler.process(pcm)
        self.chunks.append(pcm)
        step = 2 * ms_to_samples(MAX_CHUNK_MS, self.rate)
        return [AudioEvent(pcm[i:i + step], self.rate, event.segment,
                           event.start_ms + samples_to_ms(i // 2, self.rate)) for i in range(0, len(pcm), step)] \
            or [AudioEvent(pcm, self.rate, event.segment, event.start_ms)]

    def flush(self) -> bytes:
        tail = b"".join(r.flush() for r in self._resamplers.values())
        if tail:
            self.chunks.append(tail)
        return tail

    @property
    def pcm(self) -> bytes:
        return b"".join(self.chunks)
