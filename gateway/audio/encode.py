"""Encoders from PCM s16le mono to an :class:`~gateway.audio.formats.OutputFormat`.

Every encoder has one streaming interface: :meth:`Encoder.feed` takes PCM at the *input* rate
and returns the encoded bytes ready now (possibly ``b""``), :meth:`Encoder.finish` returns the
rest. Encoders resample to the format's rate when it fixes one. Concatenating every returned
chunk gives a valid file/stream:

* raw PCM: the samples themselves;
* WAV: a 44-byte header whose RIFF and data sizes are ``0xFFFFFFFF`` ("unknown", which
  FFmpeg, browsers and most players read as "until end of stream"), then the samples;
* MP3 (libmp3lame via PyAV): MPEG audio frames, no Xing/LAME tag (it would need a seek back);
* Opus in Ogg (libopus via PyAV): Ogg pages, flushed every 100 ms of audio.

:func:`encode_all` encodes a whole line: WAV with exact sizes, MP3 with a Xing/LAME tag so
decoders trim the encoder delay and padding (exact duration). Encoding is CPU work (MP3 runs
about 100x faster than real time on one core); callers on the event loop may offload it.
"""

from __future__ import annotations

import io
import struct
from abc import ABC, abstractmethod

import numpy as np

from gateway.audio.formats import OutputFormat
from gateway.audio.resample import Resampler, resample_pcm

#: Size field written into streaming WAV headers: "unknown / until end of stream".
UNKNOWN_SIZE = 0xFFFFFFFF
WAV_HEADER_BYTES = 44
#: Ogg page flush interval for streaming Opus, in microseconds.
OGG_PAGE_US = 100_000


def wav_header(sample_rate: int, data_bytes: int | None) -> bytes:
    """A canonical 44-byte PCM s16le mono WAV header; ``data_bytes`` ``None`` writes unknown sizes."""
    if data_bytes is None:
        riff_size = data_size = UNKNOWN_SIZE
    else:
        if data_bytes < 0 or data_bytes > UNKNOWN_SIZE - 36:
            raise ValueError(f"WAV data size {data_bytes} out of range")
        data_size = data_bytes
        riff_size = 36 + data_bytes + (data_bytes & 1)
    return (b"RIFF" + struct.pack("<I", riff_size) + b"WAVE"
            + b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, sample_rate, sample_rate * 2, 2, 16)
            + b"data" + struct.pack("<I", data_size))


def encode_wav(pcm: bytes, sample_rate: int) -> bytes:
    """A complete WAV file (exact header sizes) of PCM s16le mono samples."""
    if len(pcm) & 1:
        pcm = pcm[:-1]
    return wav_header(sample_rate, len(pcm)) + pcm


class Encoder(ABC):
    """Streaming encoder: PCM s16le mono at ``input_rate`` in, ``format`` bytes out."""

    def __init__(self, fmt: OutputFormat, input_rate: int) -> None:
        self.format = fmt
        self.input_rate = input_rate
        self.output_rate = fmt.output_rate(input_rate)
        self._resampler = Resampler(input_rate, self.output_rate)
        self._finished = False

    @property
    def media_type(self) -> str:
        return self.format.media_type

    def feed(self, pcm: bytes) -> bytes:
        """Encode ``pcm``; returns encoded bytes that are ready now (may be ``b""``)."""
        if self._finished:
            raise RuntimeError("encoder already finished")
        return self._encode(self._resampler.process(pcm))

    def finish(self) -> bytes:
        """Flush everything left; the encoder can't be fed afterwards."""
        if self._finished:
            return b""
        self._finished = True
        return self._encode(self._resampler.flush()) + self._close()

    @abstractmethod
    def _encode(self, pcm: bytes) -> bytes:
        """Encode PCM already at ``output_rate``."""

    def _close(self) -> bytes:
        return b""


class PcmEncoder(Encoder):
    """Raw PCM s16le mono: a pass-through (after resampling, if any)."""

    def _encode(self, pcm: bytes) -> bytes:
        return pcm


class WavStreamEncoder(Encoder):
    """WAV for streaming: the header (sizes unknown) comes with the first returned chunk."""

    def __init__(self, fmt: OutputFormat, input_rate: int) -> None:
        super().__init__(fmt, input_rate)
        self._header_sent = False

    def _encode(self, pcm: bytes) -> bytes:
        if not self._header_sent:
            self._header_sent = True
            return wav_header(self.output_rate, None) + pcm
        return pcm


class _Sink:
    """A write-only byte sink: PyAV sees no ``seek`` and so treats the output as a stream."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data


class PyAVEncoder(Encoder):
    """MP3 (libmp3lame) or Ogg Opus (libopus) through PyAV.

    ``whole=True`` writes into a seekable buffer and returns everything from :meth:`finish`
    (MP3 then gets a Xing/LAME tag with exact delay/padding); ``whole=False`` streams.
    """

    def __init__(self, fmt: OutputFormat, input_rate: int, *, whole: bool = False) -> None:
        import av

        super().__init__(fmt, input_rate)
        self._whole = whole
        self._buffer: io.BytesIO | _Sink = io.BytesIO() if whole else _Sink()
        if fmt.codec == "mp3":
            container, codec = "mp3", "libmp3lame"
            options = {"id3v2_version": "0", "write_xing": "1" if whole else "0", "flush_packets": "1"}
        elif fmt.codec == "opus":
            container, codec = "ogg", "libopus"
            options = {"page_duration": str(OGG_PAGE_US), "flush_packets": "1"}
        else:
            raise ValueError(f"PyAVEncoder cannot encode {fmt.codec!r}")
        self._container = av.open(self._buffer, "w", format=container, container_options=options)
        stream = self._container.add_stream(codec, rate=self.output_rate, layout="mono")
        if fmt.bitrate:
            stream.bit_rate = fmt.bitrate
        supported = {f.name for f in stream.codec_context.codec.audio_formats or ()}
        self._frame_format = "s16" if "s16" in supported or not supported else "s16p"
        stream.codec_context.format = self._frame_format
        self._stream = stream
        self._pts = 0

    def _mux(self, frame) -> None:
        for packet in self._stream.encode(frame):
            self._container.mux(packet)

    def _take(self) -> bytes:
        return b"" if self._whole else self._buffer.take()  # type: ignore[union-attr]

    def _encode(self, pcm: bytes) -> bytes:
        if not pcm:
            return b""
        import av

        samples = np.frombuffer(pcm, dtype="<i2").reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(samples, format=self._frame_format, layout="mono")
        frame.sample_rate = self.output_rate
        frame.pts = self._pts
        self._pts += frame.samples
        self._mux(frame)
        return self._take()

    def _close(self) -> bytes:
        self._mux(None)
        self._container.close()
        if self._whole:
            return self._buffer.getvalue()  # type: ignore[union-attr]
        return self._buffer.take()  # type: ignore[union-attr]

    def __del__(self) -> None:  # an abandoned stream must not leak the FFmpeg context
        try:
            if not self._finished:
                self._container.close()
        except Exception:  # noqa: BLE001
            pass


def create_encoder(fmt: OutputFormat, input_rate: int) -> Encoder:
    """A streaming encoder for ``fmt`` fed with PCM s16le mono at ``input_rate``."""
    if fmt.container == "raw":
        return PcmEncoder(fmt, input_rate)
    if fmt.container == "wav":
        return WavStreamEncoder(fmt, input_rate)
    return PyAVEncoder(fmt, input_rate)


def encode_all(pcm: bytes, rate: int, fmt: OutputFormat) -> bytes:
    """Encode a whole line of PCM s16le mono at ``rate`` (resampled to the format's rate if it fixes one)."""
    out_rate = fmt.output_rate(rate)
    if fmt.container == "raw":
        return resample_pcm(pcm, rate, out_rate)
    if fmt.container == "wav":
        return encode_wav(resample_pcm(pcm, rate, out_rate), out_rate)
    encoder = PyAVEncoder(fmt, rate, whole=True)
    encoder.feed(pcm)
    return encoder.finish()
