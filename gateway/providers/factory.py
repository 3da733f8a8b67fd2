"""The one place that chooses provider implementations by name.

The local engines (Piper, Kokoro, espeak) run in this process, unless speech workers are configured
(``GATEWAY_SPEECH_WORKERS``): then the engines they serve (``GATEWAY_SPEECH_ENGINES``) are
:class:`~gateway.providers.openai_speech.OpenAISpeechProvider` pools under the same names, talking to the workers.
"""

from __future__ import annotations

from gateway.cache.base import LineCache
from gateway.characters import Cast
from gateway.providers.base import Provider
from gateway.settings import SPEECH_ENGINES, Settings
from gateway.timing.aligners import Aligner

#: Every provider name the factory knows.
NAMES = ("piper", "kokoro", "espeak", "elevenlabs_ws", "elevenlabs_rest", "fish_audio", "openai_speech", "canned",
         "cache")


def build_local_engine(name: str, settings: Settings) -> Provider:
    """A local engine in this process, whatever the speech worker settings say (what a speech worker serves)."""
    # Implementations are imported on demand: each pulls in its own engine or client library.
    if name == "piper":
        from gateway.providers.piper import PiperProvider

        return PiperProvider(settings)
    if name == "kokoro":
        from gateway.providers.kokoro import KokoroProvider

        return KokoroProvider(settings)
    if name == "espeak":
        from gateway.providers.espeak import EspeakProvider

        return EspeakProvider(settings)
    raise ValueError(f"unknown local engine {name!r}; known: {', '.join(SPEECH_ENGINES)}")


def build_provider(name: str, settings: Settings, cache: LineCache | None = None, aligner: Aligner | None = None,
                   cast: Cast | None = None) -> Provider:
    if name in SPEECH_ENGINES:
        if settings.speech.workers and name in settings.speech.engines:
            from gateway.providers.openai_speech import OpenAISpeechProvider

            return OpenAISpeechProvider.for_engine(name, settings, aligner=aligner)
        return build_local_engine(name, settings)
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
                    cast: Cast | None = None) -> dict[str, Provider]:
    names = list(dict.fromkeys(settings.enabled_providers))
    if "cache" in names and cache is None:
        names.remove("cache")
    return {name: build_provider(name, settings, cache, aligner, cast) for name in names}
