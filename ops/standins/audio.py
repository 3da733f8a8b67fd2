"""Output audio for the stand-ins: one format type, a streaming encoder, whole-file encoding, G.711.

Both vendors name formats their own way (ElevenLabs ``mp3_44100_128``, Fish ``format`` +
``sample_rate`` + bitrate); each stand-in maps its names to an :class:`AudioFormat`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class AudioFormat:
    name: str
    kind: str  #: mp3, pcm, wav, ulaw, alaw, opus
    rate: int
    bitrate: int | None = None  #: kbit/s, lossy codecs only

    @property
    def media_type(self) -> str:
        return {"mp3": "audio/mpeg", "pcm": "audio/pcm", "wav": "audio/wav", "ulaw": "audio/basic",
                "alaw": "audio/alaw", "opus": "audio/ogg"}[self.kind]

    @property
    def coded(self) -> bool:
        """Encoded by ``gateway.audio`` (a container or a codec), not sample by sample here."""
        return self.kind in ("mp3", "opus", "wav")

    def output_format(self):  # noqa: ANN201 - gateway.audio OutputFormat for PyAV/WAV encoders
        from gateway.audio.formats import OutputFormat

        if self.kind == "mp3":
            return OutputFormat(self.name, "mp3", "mp3", self.rate, (self.bitrate or 128) * 1000)
        if self.kind == "opus":
            return OutputFormat(self.name, "ogg", "opus", self.rate, (self.bitrate or 64) * 1000)
        if self.kind == "wav":
            return OutputFormat(self.name, "wav", "pcm_s16le", self.rate)
        return OutputFormat(self.name, "raw", "pcm_s16le", self.rate)


class StreamEncoder:
    """PCM s16le mono at the format's rate in, the format's bytes out, chunk by chunk."""

    def __init__(self, fmt: AudioFormat) -> None:
        self.fmt = fmt
        self._enc = None
        if fmt.coded:
            from gateway.audio.encode import create_encoder

            self._enc = create_encoder(fmt.output_format(), fmt.rate)

    def feed(self, pcm: bytes) -> bytes:
        if self._enc is not None:
            return self._enc.feed(pcm)
        return _samples(self.fmt, pcm)

    def finish(self) -> bytes:
        return self._enc.finish() if self._enc is not None else b""


def encode_whole(pcm: bytes, fmt: AudioFormat) -> bytes:
    """A whole file (mp3 with its Xing tag, wav with exact sizes) from PCM at the format's rate."""
    if fmt.coded:
        from gateway.audio.encode import encode_all

        return encode_all(pcm, fmt.rate, fmt.output_format())
    return _samples(fmt, pcm)


def _samples(fmt: AudioFormat, pcm: bytes) -> bytes:
    """Raw formats, sample by sample: PCM as it is, or G.711."""
    if fmt.kind == "ulaw":
        return pcm_to_ulaw(pcm)
    if fmt.kind == "alaw":
        return pcm_to_alaw(pcm)
    return pcm


def pcm_to_ulaw(pcm: bytes) -> bytes:
    """PCM s16le -> G.711 mu-law bytes."""
    x = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2").astype(np.int32)
    sign = np.where(x < 0, 0x80, 0)
    mag = np.minimum(np.abs(x), 32635) + 0x84
    exponent = np.floor(np.log2(mag)).astype(np.int32) - 7
    exponent = np.clip(exponent, 0, 7)
    mantissa = (mag >> (exponent + 3)) & 0x0F
    return (~(sign | (exponent << 4) | mantissa) & 0xFF).astype(np.uint8).tobytes()


def pcm_to_alaw(pcm: bytes) -> bytes:
    """PCM s16le -> G.711 A-law bytes."""
    x = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2").astype(np.int32) >> 3
    sign = np.where(x >= 0, 0x80, 0)
    mag = np.minimum(np.where(x < 0, -x - 1, x), 0xFFF)
    exponent = np.where(mag < 32, 0, np.floor(np.log2(np.maximum(mag, 1))).astype(np.int32) - 4)
    exponent = np.clip(exponent, 0, 7)
    mantissa = np.where(exponent == 0, mag >> 1, mag >> exponent) & 0x0F
    return (((sign | (exponent << 4) | mantissa) ^ 0x55) & 0xFF).astype(np.uint8).tobytes()
