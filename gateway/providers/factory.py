"""The one place that chooses provider implementations by name."""

from __future__ import annotations

from gateway.providers.base import Provider
from gateway.settings import Settings


def build_provider(name: str, settings: Settings, cache=None) -> Provider:  # noqa: ANN001
    if name == "piper":
        from gateway.providers.piper import PiperProvider

        return PiperProvider(settings)
    if name == "kokoro":
        from gateway.providers.kokoro import KokoroProvider

        return KokoroProvider(settings)
    if name == "espeak":
        from gateway.providers.espeak import EspeakProvider

        return EspeakProvider(settings)
    if name == "elevenlabs_ws":
        from gateway.providers.elevenlabs_ws import ElevenLabsWsProvider

        return ElevenLabsWsProvider(settings)
    if name == "elevenlabs_rest":
        from gateway.providers.elevenlabs_rest import ElevenLabsRestProvider

        return ElevenLabsRestProvider(settings)
    if name == "fish_audio":
        from gateway.providers.fish_audio import FishAudioProvider

        return FishAudioProvider(settings)
    if name == "canned":
        from gateway.providers.canned import CannedProvider

        return CannedProvider(settings)
    if name == "cache":
        from gateway.providers.cache import CacheProvider

        return CacheProvider(cache)
    raise ValueError(f"unknown provider {name!r}")


def build_providers(settings: Settings, cache=None) -> dict[str, Provider]:  # noqa: ANN001
    names = list(dict.fromkeys(settings.enabled_providers))
    if "cache" in names and cache is None:
        names.remove("cache")
    return {name: build_provider(name, settings, cache) for name in names}
