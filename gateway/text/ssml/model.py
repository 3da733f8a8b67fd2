"""The SSML subset's data types: the error, the limits, the parsed result and the parser's items.

:class:`ParsedSsml` (spoken and written text, :class:`Run` list, offset map) is what
:func:`~gateway.text.ssml.parse_ssml` returns. :class:`Text`, :class:`Atom`, :class:`Break`
and :class:`Boundary` are the flat items the expat callbacks produce and
:func:`~gateway.text.ssml.assemble` turns into runs; they can also be built directly (plain
text with known pronunciations) without an SSML round trip. :func:`is_ssml` says whether a
string is an SSML document at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from gateway.core.segments import Prosody
from gateway.text.normalize.offsets import OffsetMap

SSML_NS = "http://www.w3.org/2001/10/synthesis"
MSTTS_NS = "http://www.w3.org/2001/mstts"
#: Both spellings of the Azure namespace (Azure's documents use ``https://`` too).
MSTTS_NAMESPACES = frozenset({MSTTS_NS, "https://www.w3.org/2001/mstts"})
XML_NS = "http://www.w3.org/XML/1998/namespace"


class SsmlError(ValueError):
    """Invalid or disallowed SSML. ``element`` names the offending element (``"break"``, ``"!DOCTYPE"``...)."""

    def __init__(self, message: str, element: str | None = None, *, line: int | None = None,
                 column: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.element = element
        self.line = line
        self.column = column

    def to_dict(self) -> dict:
        return {"error": "invalid_ssml", "message": self.message, "element": self.element, "line": self.line,
                "column": self.column}


@dataclass(frozen=True, slots=True)
class Limits:
    """Hard limits (exceeding one is always an error, lenient or not)."""

    max_chars: int = 20_000  #: length of the SSML document
    max_depth: int = 16  #: element nesting (``<speak>`` is depth 1)
    max_elements: int = 512
    max_break_ms: int = 10_000  #: one ``<break>``
    max_total_break_ms: int = 60_000  #: all breaks of the document
    max_attr_chars: int = 512  #: one attribute value


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True, slots=True)
class SayAs:
    interpret_as: str
    format: str | None = None


@dataclass(frozen=True, slots=True)
class Run:
    """A stretch of spoken text with one delivery. ``text == ParsedSsml.text[char_start:char_start+len(text)]``."""

    text: str  #: spoken (alias / say-as expansion applied)
    char_start: int  #: offset into :attr:`ParsedSsml.text`
    prosody: Prosody = Prosody()
    break_before_ms: int = 0  #: silence before this run (sum of the ``<break>`` elements before it)
    boundary_before: bool = False  #: a ``<p>``/``<s>`` edge precedes it: a segment must start here
    phoneme_ipa: str | None = None  #: ``<phoneme ph>`` of this run's text
    say_as: SayAs | None = None
    written: str = ""  #: the text as written (differs from ``text`` for ``<sub>`` / ``<say-as>``)
    written_start: int = 0  #: offset into :attr:`ParsedSsml.written`

    @property
    def char_end(self) -> int:
        return self.char_start + len(self.text)


@dataclass(slots=True)
class ParsedSsml:
    text: str  #: spoken plain text
    written: str  #: displayed plain text
    runs: list[Run]
    offsets: OffsetMap  #: ``text`` positions -> ``written`` positions
    warnings: list[str] = field(default_factory=list)
    trailing_break_ms: int = 0  #: breaks after the last word
    lang: str | None = None  #: ``xml:lang`` of ``<speak>``


# --------------------------------------------------------------------------------------------
# Parser items (input of :func:`gateway.text.ssml.assemble`)


@dataclass(slots=True)
class Text:
    """Running text with one delivery; split into words, whitespace folded, markup blanked."""

    text: str
    prosody: Prosody


@dataclass(slots=True)
class Atom:
    """One unit spoken as ``spoken`` and displayed as ``written`` (``<sub>``, ``<say-as>``, ``<phoneme>``).

    An atom is always a run of its own. ``lead_space`` / ``trail_space``: whitespace stood
    just inside the element, so the atom is separated from its neighbours by a space.
    """

    spoken: str
    written: str
    prosody: Prosody
    phoneme_ipa: str | None = None
    say_as: SayAs | None = None
    lead_space: bool = False
    trail_space: bool = False


@dataclass(slots=True)
class Break:
    """Silence of ``ms`` before the next run (consecutive breaks add up)."""

    ms: int


@dataclass(slots=True)
class Boundary:
    """A ``<p>`` / ``<s>`` edge: the next run starts a new segment."""


#: One parser item.
Item = Text | Atom | Break | Boundary

_DECL = re.compile(r"^\ufeff?\s*(?:<\?xml[^>]{0,200}\?>\s*)?(?:<!--.{0,2000}?-->\s*)*", re.DOTALL)
_START = re.compile(r"<(?:speak|[A-Za-z_][\w.\-]*:speak)[\s/>]|<!DOCTYPE", re.IGNORECASE)


def is_ssml(text: str) -> bool:
    """Whether ``text`` is an SSML document: starts (after an XML declaration/comments) with ``<speak``.

    A document starting with ``<!DOCTYPE`` also counts, so that it is rejected loudly rather than
    read out as text.
    """
    if not isinstance(text, str):
        return False
    m = _DECL.match(text)
    rest = text[m.end():] if m else text
    return _START.match(rest) is not None
