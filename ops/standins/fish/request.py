"""Fish Audio TTSRequest bodies: msgpack or JSON, validated field by field as the service does."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import ormsgpack
from starlette.responses import JSONResponse

from ops.standins.audio import AudioFormat
from ops.standins.fish.errors import validation_error

FORMATS = ("wav", "pcm", "mp3", "opus")
PCM_RATES = (8000, 16000, 22050, 24000, 32000, 44100, 48000)
MP3_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
OPUS_RATES = (8000, 12000, 16000, 24000, 48000)


@dataclass
class TTSJob:
    text: str
    fmt: str
    rate: int
    bitrate: int | None
    speed: float
    reference_id: str | None
    fields: dict

    @property
    def audio_format(self) -> AudioFormat:
        return AudioFormat(self.fmt, self.fmt, self.rate, self.bitrate)


_NUMBER = (int, float)


def parse_tts_request(body: Any, *, live: bool = False) -> TTSJob | JSONResponse:
    """Validate a TTSRequest dict (nils allowed where the SDKs send them)."""
    if not isinstance(body, dict):
        return validation_error("body", "Input should be a valid dictionary", "dict_type")
    text = body.get("text")
    if "text" not in body or text is None:
        if not live:
            return validation_error("text", "Field required", "missing")
        text = ""
    if not isinstance(text, str):
        return validation_error("text", "Input should be a valid string", "string_type")
    chunk_length = body.get("chunk_length", 200)
    if chunk_length is not None and (not isinstance(chunk_length, int) or isinstance(chunk_length, bool)
                                     or not 100 <= chunk_length <= 300):
        return validation_error("chunk_length", "Input should be an integer between 100 and 300", "int_range",
                                ge=100, le=300)
    fmt = body.get("format") or "mp3"
    if fmt not in FORMATS:
        return validation_error("format", f"Input should be one of {', '.join(FORMATS)}", "literal_error")
    rate = body.get("sample_rate")
    if rate is None:
        rate = 48000 if fmt == "opus" else 44100
    allowed = {"opus": OPUS_RATES, "mp3": MP3_RATES}.get(fmt, PCM_RATES)
    if not isinstance(rate, int) or isinstance(rate, bool) or rate not in allowed:
        return validation_error("sample_rate", f"sample_rate for {fmt} must be one of {list(allowed)}", "value_error")
    bitrate = None
    if fmt == "mp3":
        bitrate = body.get("mp3_bitrate") or 128
        if bitrate not in (64, 128, 192):
            return validation_error("mp3_bitrate", "Input should be 64, 128 or 192", "literal_error")
    elif fmt == "opus":
        ob = body.get("opus_bitrate")
        ob = 32 if ob is None else ob
        if ob not in (-1000, 24, 32, 48, 64, 24000, 32000, 48000, 64000):
            return validation_error("opus_bitrate", "Input should be -1000, 24, 32, 48 or 64", "literal_error")
        bitrate = 32 if ob == -1000 else (ob // 1000 if ob >= 1000 else ob)
    latency = body.get("latency")
    if latency is not None and latency not in ("normal", "balanced", "low"):
        return validation_error("latency", "Input should be 'normal', 'balanced' or 'low'", "literal_error")
    for name in ("normalize", "condition_on_previous_chunks"):
        if body.get(name) is not None and not isinstance(body[name], bool):
            return validation_error(name, "Input should be a valid boolean", "bool_type")
    for name, lo, hi in (("top_p", 0.0, 1.0), ("temperature", 0.0, 1.0), ("repetition_penalty", 0.0, 10.0),
                         ("early_stop_threshold", 0.0, 10.0)):
        value = body.get(name)
        if value is not None and (not isinstance(value, _NUMBER) or isinstance(value, bool) or not lo <= value <= hi):
            return validation_error(name, f"Input should be a number between {lo} and {hi}", "float_range")
    for name in ("max_new_tokens", "min_chunk_length"):
        value = body.get(name)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
            return validation_error(name, "Input should be a valid integer", "int_type")
    references = body.get("references") or []
    if not isinstance(references, list) or any(
            not isinstance(r, dict) or not isinstance(r.get("audio"), (bytes, bytearray)) or
            not isinstance(r.get("text"), str) for r in references):
        return validation_error("references", "references must be [{audio: bytes, text: str}]", "list_type")
    reference_id = body.get("reference_id")
    if reference_id is not None and not isinstance(reference_id, str):
        return validation_error("reference_id", "Input should be a valid string", "string_type")
    speed = 1.0
    prosody = body.get("prosody")
    if prosody is not None:
        if not isinstance(prosody, dict):
            return validation_error("prosody", "Input should be a valid dictionary", "dict_type")
        s = prosody.get("speed", 1.0)
        v = prosody.get("volume", 0.0)
        if s is not None and (not isinstance(s, _NUMBER) or not 0.5 <= s <= 2.0):
            return validation_error("prosody", "prosody.speed must be between 0.5 and 2.0", "float_range")
        if v is not None and (not isinstance(v, _NUMBER) or not -20 <= v <= 20):
            return validation_error("prosody", "prosody.volume must be between -20 and 20", "float_range")
        speed = float(s if s is not None else 1.0)
    recorded = {k: body.get(k) for k in ("text", "chunk_length", "format", "sample_rate", "mp3_bitrate",
                                         "opus_bitrate", "reference_id", "normalize", "latency", "prosody",
                                         "top_p", "temperature", "max_new_tokens", "repetition_penalty",
                                         "min_chunk_length", "condition_on_previous_chunks",
                                         "early_stop_threshold")}
    recorded["references"] = len(references)
    recorded["nil_fields"] = sorted(k for k, v in body.items() if v is None)
    return TTSJob(text, fmt, rate, bitrate, speed, reference_id, recorded)


def decode_body(raw: bytes, content_type: str) -> Any:
    ctype = content_type.split(";")[0].strip().lower()
    if ctype == "application/json":
        return json.loads(raw or b"null")
    return ormsgpack.unpackb(raw)  # application/msgpack (and the SDKs' default)
