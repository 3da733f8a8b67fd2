"""Content-addressed cache keys for whole lines.

A key is the SHA-256 (hex) of an unambiguous JSON encoding of everything that changes the audio:
the normalized text, the provider family, the provider-local voice, the voice settings
(:meth:`VoiceSettings.key`) and the output format, plus :data:`KEY_SCHEMA_VERSION`. Bump the
version when the stored entry format or any of these inputs changes meaning: old entries then
simply stop matching (they age out of the disk LRU / expire in Redis).
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata

from gateway.core.segments import NEUTRAL
from gateway.core.voices import VoiceSettings

#: Version of the key derivation and of what an entry under it means.
KEY_SCHEMA_VERSION = 1

_WS = re.compile(r"\s+")


def normalize_text(text: str) -> str:
    """Unicode NFC, runs of whitespace folded to one space, ends stripped. Case and punctuation kept."""
    return _WS.sub(" ", unicodedata.normalize("NFC", text)).strip()


def delivery_key(segments) -> str:  # noqa: ANN001 - a sequence of gateway.text.Segment
    """How a line is delivered beyond its words (SSML prosody, emphasis, emotion, breaks).

    Empty for a plain line, so plain lines keep the same key whatever the segmentation.
    """
    parts = []
    for seg in segments:
        p = seg.prosody
        if p != NEUTRAL or seg.break_before_ms:
            parts.append(f"{seg.char_start}:{p.rate:g}/{p.volume_db:g}/{p.pitch_semitones:g}/{p.emphasis}/"
                         f"{p.emotion}/{p.intensity:g}/{seg.break_before_ms}")
    return ";".join(parts)


def line_key(*, text: str, family: str, voice: str, settings: VoiceSettings | str | None = None,
             output_format: str = "wav", delivery: str = "") -> str:
    """Exact-match key of one line spoken by ``family``/``voice`` with ``settings`` in ``output_format``.

    ``settings`` may be a :class:`VoiceSettings` or an already computed ``VoiceSettings.key()``;
    ``None`` means the defaults. Family and output format are case-insensitive identifiers; the
    voice is kept exactly (voice names may be case-sensitive).
    """
    if settings is None:
        settings = VoiceSettings()
    settings_key = settings if isinstance(settings, str) else settings.key()
    fields = ["mouthpiece-line", KEY_SCHEMA_VERSION, family.strip().lower(), voice.strip(), settings_key,
              output_format.strip().lower(), normalize_text(text)]
    if delivery:  # plain lines keep the keys they always had
        fields.append(delivery)
    material = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(material.encode("utf-8")).hexdigest()
