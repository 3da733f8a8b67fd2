"""Decoding untrusted audio (uploads, cloud provider responses) to PCM s16le mono.

:func:`decode_audio` accepts any container FFmpeg can probe from content alone (WAV, MP3,
Ogg Opus/Vorbis, FLAC, M4A/AAC, WebM, ...), downmixes to mono and keeps the native sample
rate. Every failure (empty, corrupt, not audio, no audio stream, too long) is an
:class:`AudioDecodeError`; decoding stops as soon as the audio passes ``max_seconds``, so work
is bounded by the input size and the limit. Raw PCM has no header to probe: use
:func:`decode_pcm` with its sample rate.
"""

from __future__ import annotations

import io

MIN_RATE = 1000
MAX_RATE = 384000


class AudioDecodeError(ValueError):
    """The bytes are not decodable audio, or the audio breaks a limit. ``message`` is safe to show."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def decode_pcm(data: bytes, sample_rate: int, *, max_seconds: float | None = None) -> tuple[bytes, int]:
    """Validate raw PCM s16le mono (even length, sane rate, not empty, within ``max_seconds``)."""
    if not isinstance(sample_rate, int) or not MIN_RATE <= sample_rate <= MAX_RATE:
        raise AudioDecodeError(f"invalid sample rate {sample_rate!r}")
    if not data:
        raise AudioDecodeError("empty audio")
    if len(data) & 1:
        raise AudioDecodeError("raw PCM s16le must have an even number of bytes")
    if max_seconds is not None and len(data) // 2 > max_seconds * sample_rate:
        raise AudioDecodeError(f"audio longer than {max_seconds:g} s")
    return bytes(data), sample_rate


def read_wav_header(data: bytes) -> tuple[int, int] | None:
    """``(sample_rate, offset of the samples)`` of a PCM s16le mono WAV stream's start, or ``None`` while more
    bytes are needed (chunks before ``data`` such as ``LIST`` are skipped; sizes may be "unknown").
    Raises :class:`AudioDecodeError` for anything else."""
    if len(data) < 12:
        return None
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise AudioDecodeError("not a WAV stream")
    pos, rate = 12, None
    while len(data) >= pos + 8:
        chunk, size = data[pos:pos + 4], int.from_bytes(data[pos + 4:pos + 8], "little")
        if chunk == b"data":
            if rate is None:
                raise AudioDecodeError("WAV data before its format")
            return rate, pos + 8
        if len(data) < pos + 8 + size:
            return None
        if chunk == b"fmt ":
            fmt, channels, rate = int.from_bytes(data[pos + 8:pos + 10], "little"), \
                int.from_bytes(data[pos + 10:pos + 12], "little"), int.from_bytes(data[pos + 12:pos + 16], "little")
            bits = int.from_bytes(data[pos + 22:pos + 24], "little")
            if fmt not in (1, 0xFFFE) or channels != 1 or bits != 16 or not MIN_RATE <= rate <= MAX_RATE:
                raise AudioDecodeError(f"WAV is not PCM s16le mono (format {fmt}, {channels} channels, {bits} bits)")
        pos += 8 + size + (size & 1)
    return None


def decode_audio(data: bytes, *, max_seconds: float, format: str | None = None) -> tuple[bytes, int]:
    """Decode a whole audio file to ``(pcm_s16le_mono, sample_rate)``.

    ``format`` optionally forces an FFmpeg demuxer ("mp3", "ogg", ...) when probing can't tell.
    Raises :class:`AudioDecodeError` for anything that is not decodable audio of at most
    ``max_seconds`` seconds.
    """
    import av

    if not data:
        raise AudioDecodeError("empty audio")
    if max_seconds <= 0:
        raise AudioDecodeError("max_seconds must be positive")
    try:
        container = av.open(io.BytesIO(bytes(data)), "r", format=format,
                            options={"probesize": "1000000", "analyzeduration": "2000000"})
    except av.FFmpegError as exc:
        raise AudioDecodeError(f"not a recognised audio file ({_reason(exc)})") from None
    except Exception as exc:  # noqa: BLE001 - PyAV may raise ValueError/OSError on odd input
        raise AudioDecodeError(f"not a recognised audio file ({type(exc).__name__})") from None
    try:
        return _decode(container, max_seconds)
    finally:
        container.close()


def _decode(container, max_seconds: float) -> tuple[bytes, int]:
    import av

    if not container.streams.audio:
        raise AudioDecodeError("no audio stream")
    stream = container.streams.audio[0]
    if container.duration is not None and container.duration / 1_000_000 > max_seconds + 1:
        raise AudioDecodeError(f"audio longer than {max_seconds:g} s")
    parts: list[bytes] = []
    samples = 0
    rate: int | None = None
    resampler = None
    limit = None
    try:
        for frame in container.decode(stream):
            if rate is None:
                rate = frame.sample_rate or stream.rate
                if not rate or not MIN_RATE <= rate <= MAX_RATE:
                    raise AudioDecodeError(f"unsupported sample rate {rate!r}")
                resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
                limit = int(max_seconds * rate)
            for out in resampler.resample(frame):
                parts.append(_frame_bytes(out))
                samples += out.samples
            if samples > limit:
                raise AudioDecodeError(f"audio longer than {max_seconds:g} s")
        if resampler is not None:
            for out in resampler.resample(None):
                parts.append(_frame_bytes(out))
                samples += out.samples
    except AudioDecodeError:
        raise
    except av.FFmpegError as exc:
        if not samples:
            raise AudioDecodeError(f"corrupt audio ({_reason(exc)})") from None
        # A truncated tail after good audio: keep what decoded (what players do).
    except Exception as exc:  # noqa: BLE001
        raise AudioDecodeError(f"corrupt audio ({type(exc).__name__})") from None
    if not samples or rate is None:
        raise AudioDecodeError("no audio samples decoded")
    if samples > limit:
        raise AudioDecodeError(f"audio longer than {max_seconds:g} s")
    return b"".join(parts), rate


def _frame_bytes(frame) -> bytes:
    # Packed s16 mono: plane 0 holds the samples (its buffer may be padded past them).
    return bytes(frame.planes[0])[: frame.samples * 2]


def _reason(exc: Exception) -> str:
    return getattr(exc, "strerror", None) or type(exc).__name__
