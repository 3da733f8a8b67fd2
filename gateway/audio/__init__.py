"""Audio formats, resampling, encoding and decoding (PCM s16le mono inside the gateway).

Names are re-exported lazily so that importing :mod:`gateway.audio.formats` does not load
PyAV/FFmpeg.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "OutputFormat": "formats",
    "parse_output_format": "formats",
    "valid_output_formats": "formats",
    "opus_available": "formats",
    "Resampler": "resample",
    "resample_pcm": "resample",
    "Encoder": "encode",
    "create_encoder": "encode",
    "encode_all": "encode",
    "encode_wav": "encode",
    "wav_header": "encode",
    "AudioDecodeError": "decode",
    "decode_audio": "decode",
    "decode_pcm": "decode",
    "read_wav_header": "decode",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
