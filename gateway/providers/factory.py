"""The one place that chooses provider implementations by name.

The local engines (Piper, Kokoro, espeak) run in this process, admitted to its cores by the capacity ``gate``, unless
speech workers are configured (``GATEWAY_SPEECH_WORKERS``): then the engines they serve (``GATEWAY_SPEECH_ENGINES``)
are :class:`~gateway.providers.openai_speech.OpenAISpeechProvider` pools under the same names, talking to the
workers (whose cores they use: no gate here).
"""

from __future__ import annotations

from gateway.cache.base import LineCache
from gateway.characters import Cast
from gateway.providers.base import Provider
from gateway.providers.threaded import Gate
from gateway.settings import SPEECH_ENGINES, Settings
from gateway.timing.aligners import Aligner

#: Every provider name the factory knows.
NAMES = ("piper", "kokoro", "espeak", "elevenlabs_ws", "elevenlabs_rest", "fish_audio", "openai_speech", "canned",
         "cache")
#: The providers that synthesize on this machine's cores (unless speech workers serve them): each is admitted by the
#: ``gate`` it is given.
LOCAL_ENGINES = SPEECH_ENGINES


def build_local_engine(name: str, settings: Settings, gate: Gate | None = None) -> Provider:
    """A local engine in this process, whatever the speech worker settings say (what a speech worker serves)."""
    # Implementations are imported on demand: each pulls in its own engine or client library.
    if name == "piper":
        from gateway.providers.piper import PiperProvider

        return PiperProvider(settings, gate)
    if name == "kokoro":
        from gateway.providers.kokoro import KokoroProvider

        return KokoroProvider(settings, gate=gate)
    if name == "espeak":
        from gateway.providers.espeak import EspeakProvider

        return EspeakProvider(settings, gate)
    raise ValueError(f"unknown local engine {name!r}; known: {', '.join(LOCAL_ENGINES)}")


def build_provider(name: str, settings: Settings, cache: LineCache | None = None, aligner: Aligner | None = None,
                   cast: Cast | None = None, gate: Gate | None = None) -> Provider:
    """``gate`` admits the syntheses of a local engine (None: each engine only caps its own concurrency)."""
    if name in LOCAL_ENGINES:
        if settings.speech.serves(name):
            from gateway.providers.openai_speech import OpenAISpeechProvider

            return OpenAISpeechProvider.for_engine(name, settings, aligner=aligner)
        return build_local_engine(name, settings, gate)
    if name in ("elevenlabs_ws", "elevenlabs_rest"):
        from gateway.providers.elevenlabs_rest import ElevenLabsRestProvider
        from gateway.providers.elevenlabs_ws import ElevenLabsWsProvider

        return (ElevenLabsWsProvider if name == "elevenlabs_ws" else ElevenLabsRestProvider)(settings)
    if name == "fish_audio":
        from gateway.providers.fish_audio import FishAudioProvider

        return FishAudioProvider(settings, aligner=aligner, cast=cast)
    if name == "openai_speech":
        from gateway.providers.openai_speech import OpenAISpeechProvider

        return OpenAISpeechProvider.from_settings(settings, aligner=aligner)
    if name == "canned":
        from gateway.providers.canned import CannedProvider

        return CannedProvider(settings)
    if name == "cache":
        from gateway.providers.cache import CacheProvider

        return CacheProvider(cache)
    raise ValueError(f"unknown provider {name!r}; known: {', '.join(NAMES)}")


def build_providers(settings: Settings, cache: LineCache | None = None, aligner: Aligner | None = None,
                    cast: Cast | None = None, gate: Gate | None = None) -> dict[str, Provider]:
    names = list(dict.fromkeys(settings.enabled_providers))
    if "cache" in names and cache is None:
        names.remove("cache")
    return {name: build_provider(name, settings, cache, aligner, cast, gate) for name in names}
