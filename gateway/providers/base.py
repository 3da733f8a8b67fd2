"""The provider interface: a streaming-first async iterator of typed events, plus health and voices."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass

from gateway.core.events import ProviderEvent
from gateway.core.segments import Segment
from gateway.core.voices import HealthState, ProviderHealth, VoiceInfo, VoiceSettings

__all__ = ["HealthState", "Provider", "ProviderHealth", "SynthesisRequest", "VoiceInfo", "VoiceSettings"]


@dataclass(frozen=True, slots=True)
class SynthesisRequest:
    """What a provider is asked to speak: the remaining segments of a line, with one of its voices."""

    segments: tuple[Segment, ...]
    voice: str  #: provider-local voice name (e.g. ``af_heart`` for Kokoro)
    settings: VoiceSettings = VoiceSettings()
    request_id: str = ""
    character: str | None = None
    #: The full cleaned line (for providers that key on whole lines, such as the cache).
    text: str = ""
    #: Output format the client asked for (cache keys include it).
    output_format: str = "wav"
    #: (family, voice) pairs in chain order, for providers that serve other providers' lines (the cache).
    cache_candidates: tuple[tuple[str, str], ...] = ()
    #: ``time.monotonic()`` by which the line's first audio is due (its first-audio budget); None: no budget.
    #: Local engines are admitted against it (:mod:`gateway.policy.capacity`).
    first_audio_by: float | None = None
    #: A live line is listened to as it streams (it must keep up); offline work (bake) only has to be done.
    live: bool = True

    @property
    def joined_text(self) -> str:
        return " ".join(s.text for s in self.segments)


class Provider(ABC):
    """One TTS provider.

    ``stream`` yields, per segment: :class:`AudioEvent` chunks, :class:`AlignmentEvent` timings
    (times relative to this stream's start, in integer ms), a :class:`SegmentEndEvent`, and after
    the last segment one :class:`FinalEvent`. It raises :class:`gateway.core.errors.ProviderError`
    on failure, classified so the chain can decide between retry, fail-over and error-out.
    """

    #: Provider instance name, used in config, metrics, headers ("piper", "kokoro", ...).
    name: str = ""
    #: Family for cache keys ("piper", "kokoro", "espeak", "elevenlabs", ...).
    family: str = ""
    #: True when timings come from the engine itself (exact), False when estimated or aligned.
    exact_timing: bool = True
    #: True when the provider's audio is already at the gateway's loudness target (local engines, the cache, canned
    #: clips); False for a vendor's audio, which the speak step levels (:mod:`gateway.speak.level`).
    levelled: bool = True

    async def start(self) -> None:
        """Load models / open connections. Called once before first use."""

    async def close(self) -> None:
        """Release resources."""

    @abstractmethod
    def stream(self, request: SynthesisRequest) -> AsyncIterator[ProviderEvent]:
        """Synthesize ``request.segments`` in order, yielding typed events."""

    @abstractmethod
    async def health(self) -> ProviderHealth:
        """Cheap health probe: never spends credits."""

    @abstractmethod
    def voices(self) -> list[VoiceInfo]:
        """Voices this provider serves."""

    def default_voice(self) -> str:
        voices = self.voices()
        return voices[0].voice if voices else ""
