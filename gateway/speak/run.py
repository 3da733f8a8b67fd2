"""What one line's steps share while it is spoken: the chain's outcome, the audio, the timeline so far."""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.core.timeline import Timeline
from gateway.policy.chain import ChainOutcome
from gateway.speak.line import Line
from gateway.speak.output import OutputAudio
from gateway.voices.catalogue import CatalogueVoice
from gateway.voices.match import VoiceChange


@dataclass(slots=True)
class LineRun:
    line: Line
    outcome: ChainOutcome = field(default_factory=ChainOutcome)
    timeline: Timeline = field(default_factory=Timeline)
    #: segment index -> (start_ms, end_ms) of its audio, in utterance time
    segment_times: dict[int, tuple[int, int]] = field(default_factory=dict)
    audio: OutputAudio = field(init=False)
    #: The voice speaking now (the last provider's), and every change of voice the listener was told about.
    voice: CatalogueVoice | None = None
    voice_changes: list[VoiceChange] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.audio = OutputAudio(self.line.output)

    @property
    def serving(self) -> str | None:
        """The provider serving the line right now."""
        return self.outcome.providers_used[-1] if self.outcome.providers_used else None
