"""Base64 of audio, the one place it is done: SIMD (``pybase64``) where the text is clean, the lenient standard
decoder where it is not.

Audio crosses the gateway as base64 twice per cloud line: in from the vendor's JSON messages and out in the NDJSON
stream's ``audio`` events. ``binascii`` does both a byte at a time (about 0.3 ms per second of 24 kHz audio to
decode on a small server); ``pybase64`` does the same work with vector instructions, 10-30 times faster, and gives
the same bytes. Decoding is strict first (the fast path); text the strict decoder refuses (line breaks, stray
characters) is decoded as ``binascii.a2b_base64`` always did, so what is accepted and what is refused is unchanged.
"""

from __future__ import annotations

import binascii

import pybase64


def encode(data: bytes) -> str:
    """Standard base64 (with padding, no line breaks) as text."""
    return pybase64.b64encode_as_string(data)


def decode(text: str | bytes) -> bytes:
    """The bytes of standard base64 text; raises :class:`binascii.Error` (a ``ValueError``) for undecodable text,
    exactly where :func:`binascii.a2b_base64` does."""
    try:
        return pybase64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return binascii.a2b_base64(text)
