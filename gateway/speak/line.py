"""A line of dialogue before synthesis: what the client asked (:class:`SpeakInput`) and the prepared line."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from gateway.audio.formats import OutputFormat
from gateway.characters import Character
from gateway.core.segments import Segment
from gateway.core.timeline import WordSpan
from gateway.core.voices import VoiceSettings
from gateway.policy.chain import ChainStep
from gateway.text.plan import Planned
from gateway.voices.match import VoicePlan


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
    #: Voice settings the request gives (``stability``, ``similarity_boost``, ``style``, ``use_speaker_boost``,
    #: ``speed``): each one given overrides the character's.
    voice_settings: dict | None = None
    model_id: str | None = None  #: a vendor model (ElevenLabs id or Fish Audio backend)
    #: A live line has a first-audio budget (``GATEWAY_FIRST_AUDIO_BUDGET_S``); offline work (bake) does not.
    live: bool = True


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
    #: The voice the line aims for and the one each provider speaks it with (docs/voices.md).
    voices: VoicePlan = field(default_factory=lambda: VoicePlan(None))
    live: bool = True  #: its first audio is due within the first-audio budget

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
