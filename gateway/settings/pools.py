"""Pools of servers the gateway calls for speech: ``gateway speech-worker`` processes that serve the local engines
(``GATEWAY_SPEECH_*``), and any server of the OpenAI speech API as the ``openai_speech`` provider
(``GATEWAY_OPENAI_SPEECH_*``). See docs/speech-workers.md."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode

from gateway.settings.base import CommaList, _config, check_urls, split_list


#: Local engines a speech worker can serve.
SPEECH_ENGINES = ("piper", "kokoro", "espeak")


class SpeechPoolSettings(BaseSettings):
    """A pool of servers of the OpenAI speech API: health checks, breakers, the key they want."""

    health_interval_s: float = 2.0
    """Active health check period (``GET /v1/models`` on every server)."""
    health_timeout_s: float = 1.0
    """Timeout of one health probe."""
    connect_timeout_s: float = 1.0
    """Timeout to open a connection to a server; a server that does not answer in time is skipped for the next."""
    read_timeout_s: float = 5.0
    """Longest wait for a server's next bytes (its first audio included) before the next server takes over."""
    breaker_fail_max: int = 3
    """Consecutive failed calls that open one server's circuit breaker."""
    breaker_reset_s: float = 10.0
    """Seconds an open server breaker waits before a trial call."""
    api_key: SecretStr | None = None
    """Bearer key sent to the servers (unset: none)."""


class SpeechWorkerSettings(SpeechPoolSettings):
    """Local engines served by ``gateway speech-worker`` processes (``GATEWAY_SPEECH_*``).

    No workers (the embedded default): every engine runs inside the gateway process.
    """

    model_config = _config("GATEWAY_SPEECH_")

    workers: CommaList = Field(default_factory=list)
    """Speech worker base URLs (``http://gpu-1:8791``), comma-separated or a JSON list."""
    engines: Annotated[list[Literal["piper", "kokoro", "espeak"]], NoDecode, BeforeValidator(split_list)] = Field(
        default_factory=lambda: ["piper", "kokoro"])
    """Chain entries the workers serve instead of this process. espeak, the fallback that needs nothing, stays
    in-process unless listed."""

    @field_validator("workers")
    @classmethod
    def _urls(cls, value: list[str]) -> list[str]:
        return check_urls(value)

    def serves(self, engine: str) -> bool:
        """Whether the workers serve ``engine`` (then it does not run in this process)."""
        return bool(self.workers) and engine in self.engines


class OpenAISpeechSettings(SpeechPoolSettings):
    """The ``openai_speech`` provider: any server of the OpenAI speech API, e.g. Kokoro-FastAPI or LocalAI on GPU
    machines (``GATEWAY_OPENAI_SPEECH_*``). With URLs set it joins the chain ahead of the local engines."""

    model_config = _config("GATEWAY_OPENAI_SPEECH_")

    urls: CommaList = Field(default_factory=list)
    """Server base URLs (``http://kokoro-1:8880``; the API lives under ``/v1``), comma-separated or a JSON list."""
    model: str = "kokoro"
    """``model`` sent with every request (``kokoro`` for Kokoro-FastAPI, a model name for LocalAI)."""
    voices: CommaList = Field(default_factory=list)
    """Voices offered (empty: those the servers list at ``/v1/audio/voices``)."""
    default_voice: str | None = None
    """Voice for characters that name none for this provider (unset: the first voice offered)."""
    response_format: Literal["pcm", "wav"] = "pcm"
    """Audio asked of servers that give no timing: raw PCM (OpenAI's 24 kHz s16le) or WAV (rate in its header)."""
    sample_rate: int = 24000
    """Rate of PCM answers that do not say theirs (OpenAI and Kokoro-FastAPI send 24 kHz)."""
    timing: Literal["auto", "aligner"] = "auto"
    """``auto``: the server's timing extension where it offers one (``gateway speech-worker`` does), else the
    aligner; ``aligner``: always align the audio."""

    @field_validator("urls")
    @classmethod
    def _urls(cls, value: list[str]) -> list[str]:
        return check_urls(value)
