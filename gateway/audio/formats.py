"""Output formats a client may ask for, by name ("wav", "pcm_24000", "mp3_44100_128", "opus", ...).

Inside the gateway audio is always PCM s16le mono at the engine's native rate. An
:class:`OutputFormat` says how it leaves: container, codec, sample rate (``None`` keeps the
native rate) and bitrate for lossy codecs. Opus names are offered only when PyAV was built
with a libopus encoder.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

#: Sample rates libmp3lame accepts (MPEG-1, -2 and -2.5 layer III).
MP3_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
#: Sample rates libopus accepts.
OPUS_RATES = (8000, 12000, 16000, 24000, 48000)

WAV_RATES = (16000, 22050, 24000, 44100, 48000)
PCM_RATES = (16000, 22050, 24000, 44100, 48000)
MP3_PRESETS = ((22050, 32), (44100, 32), (44100, 64), (44100, 96), (44100, 128), (44100, 192))
OPUS_PRESETS = ((48000, 32), (48000, 64), (48000, 128))
#: Plain "mp3": native rate (if libmp3lame takes it, else 44100 Hz) at this many kbit/s.
MP3_DEFAULT_KBPS = 64
#: Plain "opus": 48 kHz at this many kbit/s.
OPUS_DEFAULT_KBPS = 64


@dataclass(frozen=True, slots=True)
class OutputFormat:
    """One output format. ``sample_rate`` ``None`` means: keep the audio's native rate."""

    name: str
    container: str  #: "wav", "raw", "mp3" or "ogg"
    codec: str  #: "pcm_s16le", "mp3" or "opus"
    sample_rate: int | None = None
    bitrate: int | None = None  #: bits per second, lossy codecs only

    @property
    def media_type(self) -> str:
        """HTTP ``Content-Type``. Raw PCM is ``audio/L16`` but, like most TTS APIs, little-endian."""
        if self.container == "wav":
            return "audio/wav"
        if self.container == "raw":
            return f"audio/L16;rate={self.sample_rate};channels=1"
        if self.container == "mp3":
            return "audio/mpeg"
        return "audio/ogg"

    @property
    def extension(self) -> str:
        return {"wav": "wav", "raw": "pcm", "mp3": "mp3", "ogg": "ogg"}[self.container]

    @property
    def lossy(self) -> bool:
        return self.codec != "pcm_s16le"

    def output_rate(self, native_rate: int) -> int:
        """The rate audio at ``native_rate`` leaves in."""
        if self.sample_rate is not None:
            return self.sample_rate
        if self.codec == "mp3" and native_rate not in MP3_RATES:
            return 44100
        if self.codec == "opus" and native_rate not in OPUS_RATES:
            return 48000
        return native_rate


@lru_cache(maxsize=1)
def opus_available() -> bool:
    """Whether PyAV can encode Opus (it needs FFmpeg built with libopus)."""
    try:
        import av

        av.codec.Codec("libopus", "w")
        return True
    except Exception:  # noqa: BLE001 - any failure means "not offered"
        return False


@lru_cache(maxsize=1)
def _formats() -> dict[str, OutputFormat]:
    out: dict[str, OutputFormat] = {"wav": OutputFormat("wav", "wav", "pcm_s16le")}
    for rate in WAV_RATES:
        out[f"wav_{rate}"] = OutputFormat(f"wav_{rate}", "wav", "pcm_s16le", rate)
    for rate in PCM_RATES:
        out[f"pcm_{rate}"] = OutputFormat(f"pcm_{rate}", "raw", "pcm_s16le", rate)
    out["mp3"] = OutputFormat("mp3", "mp3", "mp3", None, MP3_DEFAULT_KBPS * 1000)
    for rate, kbps in MP3_PRESETS:
        out[f"mp3_{rate}_{kbps}"] = OutputFormat(f"mp3_{rate}_{kbps}", "mp3", "mp3", rate, kbps * 1000)
    if opus_available():
        out["opus"] = OutputFormat("opus", "ogg", "opus", 48000, OPUS_DEFAULT_KBPS * 1000)
        for rate, kbps in OPUS_PRESETS:
            out[f"opus_{rate}_{kbps}"] = OutputFormat(f"opus_{rate}_{kbps}", "ogg", "opus", rate, kbps * 1000)
    return out


def valid_output_formats() -> list[str]:
    """Every format name this build accepts, in a stable order."""
    return list(_formats())


def parse_output_format(name: str) -> OutputFormat:
    """Look up a format by name (case and surrounding spaces ignored).

    Raises :class:`ValueError` naming every valid format when ``name`` is not one of them.
    """
    key = (name or "").strip().lower()
    fmt = _formats().get(key)
    if fmt is None:
        hint = " (this build has no Opus encoder)" if key.startswith("opus") else ""
        raise ValueError(f"unknown output format {name!r}{hint}; valid formats: {', '.join(valid_output_formats())}")
    return fmt
