"""One stored audio file in another format (``/static/avatar/<id>.mp3`` of a line spoken as WAV)."""

from __future__ import annotations

import re

from gateway.audio.decode import decode_audio, decode_pcm
from gateway.audio.encode import encode_all
from gateway.audio.formats import OutputFormat

_RAW_RATE = re.compile(r"rate=(\d+)")


def convert_audio(data: bytes, media_type: str, target: OutputFormat, *, max_seconds: float = 600.0) -> bytes:
    """``data`` (a file of ``media_type``: WAV, MP3, Ogg Opus or raw ``audio/L16;rate=N``) re-encoded as ``target``.

    Raises :class:`~gateway.audio.decode.AudioDecodeError` when ``data`` is not audio of at most ``max_seconds``.
    """
    raw_rate = _RAW_RATE.search(media_type) if media_type.startswith("audio/L16") else None
    if raw_rate is not None:
        pcm, rate = decode_pcm(data, int(raw_rate.group(1)), max_seconds=max_seconds)
    else:
        pcm, rate = decode_audio(data, max_seconds=max_seconds)
    return encode_all(pcm, rate, target)
