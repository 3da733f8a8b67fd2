"""The SSML entry point: :func:`parse_ssml` checks the input, runs expat over it and assembles the result.

Also here: the undeclared ``mstts:`` prefix is declared on ``<speak>`` before parsing (Azure
snippets often lose the declaration), and lenient mode's fallback reads a document that is
not well-formed XML as plain text.
"""

from __future__ import annotations

import re
from xml.parsers import expat

from gateway.core.segments import Prosody
from gateway.text.clean import clean_text
from gateway.text.normalize.offsets import OffsetMap
from gateway.text.ssml.assemble import assemble
from gateway.text.ssml.builder import Builder, make_parser
from gateway.text.ssml.model import DEFAULT_LIMITS, MSTTS_NS, Limits, ParsedSsml, Run, SsmlError

_MSTTS_USE = re.compile(r"<\s*/?\s*mstts:")
_SPEAK_OPEN = re.compile(r"<speak(?=[\s/>])")


def declare_mstts(text: str) -> str:
    """Add ``xmlns:mstts`` to ``<speak>`` when the prefix is used but not declared anywhere."""
    if "xmlns:mstts" in text or not _MSTTS_USE.search(text):
        return text
    return _SPEAK_OPEN.sub(f'<speak xmlns:mstts="{MSTTS_NS}"', text, count=1)


def parse_ssml(text: str, *, lenient: bool = False, limits: Limits = DEFAULT_LIMITS) -> ParsedSsml:
    """Parse an SSML document into runs. Raises :class:`SsmlError` (never anything else) when it is invalid.

    ``lenient``: unsupported elements and attributes are dropped (their text is kept), bad
    attribute values ignored, and a document that is not well-formed XML is read as plain text
    (tags removed); each with a warning. Limits and forbidden constructs (DTD, entities) are
    errors either way.
    """
    if not isinstance(text, str):
        raise SsmlError("SSML must be a string")
    if len(text) > limits.max_chars:
        raise SsmlError(f"SSML longer than {limits.max_chars} characters", "speak")
    builder = Builder(lenient, limits)
    parser = make_parser(builder)
    try:
        parser.Parse(declare_mstts(text).encode("utf-8", "surrogatepass"), True)
    except SsmlError:
        raise
    except expat.ExpatError as exc:
        message = expat.ErrorString(exc.code) if exc.code else str(exc)
        if lenient:
            return plain_fallback(text, f"not well-formed SSML ({message}); read as plain text")
        raise SsmlError(f"not well-formed SSML: {message} (line {exc.lineno}, column {exc.offset})", None,
                        line=exc.lineno, column=exc.offset) from None
    except (UnicodeError, ValueError, RecursionError) as exc:
        if lenient:
            return plain_fallback(text, f"unreadable SSML ({exc}); read as plain text")
        raise SsmlError(f"unreadable SSML: {exc}") from None
    finally:
        builder.parser = None
    if not builder.seen_root:
        raise SsmlError("no <speak> element", "speak")
    return assemble(builder.items, builder.warnings, builder.lang)


def plain_fallback(text: str, warning: str) -> ParsedSsml:
    """``text`` read as plain text (tags removed by :func:`clean_text`), one run, with ``warning``."""
    plain = clean_text(text)
    runs = [Run(plain, 0, Prosody(), written=plain)] if plain else []
    return ParsedSsml(plain, plain, runs, OffsetMap.identity(len(plain)), [warning])
