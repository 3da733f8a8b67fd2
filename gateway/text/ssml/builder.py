"""The expat side of the SSML parser: a parser that refuses DTDs and entities, and the callbacks building items.

:func:`make_parser` creates an expat parser with parameter-entity parsing off and handlers
that *raise* on a DOCTYPE, an entity or notation declaration, or an external entity
reference, so no entity can ever be declared or expanded. :class:`Builder` receives the
element and text callbacks, checks every element and attribute against the allow-list
(:data:`ALLOWED_ELEMENTS`) and the :class:`Limits` while parsing, and turns the document into
flat items (:class:`Text`, :class:`Atom`, :class:`Break`, :class:`Boundary`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from xml.parsers import expat

from gateway.core.segments import Prosody
from gateway.text.ssml import values as val
from gateway.text.ssml.assemble import fold
from gateway.text.ssml.model import (
    MSTTS_NAMESPACES,
    SSML_NS,
    XML_NS,
    Atom,
    Boundary,
    Break,
    Item,
    Limits,
    SayAs,
    SsmlError,
    Text,
)
from gateway.text.ssml.say_as import expand_say_as

ATTRS: dict[str, frozenset[str]] = {
    "speak": frozenset({"version", "xml:lang", "xml:base", "onlangfailure"}),
    "p": frozenset({"xml:lang"}),
    "s": frozenset({"xml:lang"}),
    "break": frozenset({"time", "strength"}),
    "emphasis": frozenset({"level"}),
    "prosody": frozenset({"rate", "pitch", "volume"}),
    "say-as": frozenset({"interpret-as", "format", "detail"}),
    "sub": frozenset({"alias"}),
    "phoneme": frozenset({"alphabet", "ph"}),
    "emotion": frozenset({"name", "intensity"}),
    "mstts:express-as": frozenset({"style", "styledegree", "role"}),
    "voice": frozenset({"name", "xml:lang", "gender", "age", "variant"}),
}
#: Element names (``mstts:`` for the Azure namespace) accepted by :func:`parse_ssml`.
ALLOWED_ELEMENTS: frozenset[str] = frozenset(ATTRS)
#: Elements whose content is captured as one :class:`Atom`.
CAPTURE = frozenset({"say-as", "sub", "phoneme"})


@dataclass(slots=True)
class Frame:
    """An open element."""

    name: str
    prosody: Prosody
    allowed: bool = True
    capture: list[str] | None = None  # text of sub / say-as / phoneme
    attrs: dict[str, str] = field(default_factory=dict)
    boundary: bool = False


class Builder:
    """expat callbacks -> items (text / atom / break / boundary)."""

    def __init__(self, lenient: bool, limits: Limits) -> None:
        self.lenient = lenient
        self.limits = limits
        self.stack: list[Frame] = []
        self.items: list[Item] = []
        self.warnings: list[str] = []
        self.count = 0
        self.total_break = 0
        self.lang: str | None = None
        self.seen_root = False
        self.parser: expat.XMLParserType | None = None

    # -- helpers
    def error(self, message: str, element: str | None) -> SsmlError:
        line = col = None
        if self.parser is not None:
            line, col = self.parser.CurrentLineNumber, self.parser.CurrentColumnNumber
        return SsmlError(message, element, line=line, column=col)

    def reject(self, message: str, element: str) -> None:
        """Strict: raise; lenient: warn."""
        if not self.lenient:
            raise self.error(message, element)
        self.warnings.append(message)

    @staticmethod
    def split(qname: str) -> tuple[str | None, str, str | None]:
        parts = qname.split(" ")
        if len(parts) == 1:
            return None, parts[0], None
        if len(parts) == 2:
            return parts[0], parts[1], None
        return parts[0], parts[1], parts[2]

    def display(self, qname: str) -> str:
        ns, local, prefix = self.split(qname)
        if ns is None:
            return local
        if ns in MSTTS_NAMESPACES:
            return "mstts:" + local
        if ns == SSML_NS:
            return local
        return f"{prefix}:{local}" if prefix else f"{{{ns}}}{local}"

    def canonical(self, qname: str) -> str | None:
        ns, local, _ = self.split(qname)
        if ns in (None, SSML_NS) and local in ATTRS and not local.startswith("mstts:"):
            return local
        if ns in MSTTS_NAMESPACES and ("mstts:" + local) in ATTRS:
            return "mstts:" + local
        return None

    def attr_name(self, qname: str) -> str:
        ns, local, prefix = self.split(qname)
        if ns is None:
            return local
        if ns == XML_NS:
            return "xml:" + local
        return f"{prefix or ns}:{local}"

    # -- expat handlers
    def start(self, qname: str, raw_attrs: dict[str, str]) -> None:
        self.count += 1
        if self.count > self.limits.max_elements:
            raise self.error(f"more than {self.limits.max_elements} elements", self.display(qname))
        if len(self.stack) + 1 > self.limits.max_depth:
            raise self.error(f"elements nested deeper than {self.limits.max_depth}", self.display(qname))
        shown = self.display(qname)
        name = self.canonical(qname)
        parent = self.stack[-1] if self.stack else None
        if parent is None:
            if name != "speak":
                raise self.error(f"the root element must be <speak>, not <{shown}>", shown)
            self.seen_root = True
        elif name == "speak":
            raise self.error("<speak> may only be the root element", "speak")
        prosody = parent.prosody if parent else Prosody()
        if parent is not None and parent.capture is not None:
            # children of sub / say-as / phoneme: only text is meaningful
            self.reject(f"<{shown}> is not allowed inside <{parent.name}>", shown)
            self.stack.append(Frame(shown, prosody, allowed=False, capture=parent.capture))
            return
        if name is None:
            self.reject(f"element <{shown}> is not supported", shown)
            self.stack.append(Frame(shown, prosody, allowed=False))
            return
        attrs: dict[str, str] = {}
        for key, value in raw_attrs.items():
            aname = self.attr_name(key)
            if len(value) > self.limits.max_attr_chars:
                raise self.error(f'attribute "{aname}" of <{name}> is longer than {self.limits.max_attr_chars}', name)
            if aname not in ATTRS[name]:
                self.reject(f'attribute "{aname}" is not supported on <{name}>', name)
                continue
            attrs[aname] = value
        frame = Frame(name, prosody, attrs=attrs)
        try:
            self.open(frame)
        except val.BadValue as exc:
            self.reject(f"<{name}>: {exc}", name)
        self.stack.append(frame)

    def open(self, frame: Frame) -> None:
        a, name, w = frame.attrs, frame.name, self.warnings
        if name == "speak":
            self.lang = a.get("xml:lang")
        elif name in ("p", "s"):
            frame.boundary = True
            self.items.append(Boundary())
        elif name == "voice":
            if "name" in a:
                w.append(f'<voice name="{a["name"][:60]}"> ignored: the character\'s voice is used')
        elif name == "break":
            ms = val.break_ms(a)
            if ms > self.limits.max_break_ms:
                raise self.error(f"break of {ms} ms is longer than {self.limits.max_break_ms} ms", "break")
            self.total_break += ms
            if self.total_break > self.limits.max_total_break_ms:
                raise self.error(f"breaks add up to more than {self.limits.max_total_break_ms} ms", "break")
            self.items.append(Break(ms))
        elif name == "emphasis":
            frame.prosody = val.emphasis(frame.prosody, a)
        elif name == "prosody":
            frame.prosody, errors = val.prosody_of(frame.prosody, a, w)
            if errors:
                raise val.BadValue("; ".join(errors))
        elif name == "emotion":
            frame.prosody = val.emotion(frame.prosody, a, w)
        elif name == "mstts:express-as":
            frame.prosody = val.express_as(frame.prosody, a, w)
        elif name in CAPTURE:
            val.check_capture(name, a)
            frame.capture = []

    def end(self, qname: str) -> None:
        frame = self.stack.pop()
        if frame.capture is not None and frame.allowed and frame.name in CAPTURE:
            self.close_capture(frame)
        if frame.boundary:
            self.items.append(Boundary())

    def close_capture(self, frame: Frame) -> None:
        raw = "".join(frame.capture or [])
        written = fold(raw)
        a = frame.attrs
        lead = raw[:1].isspace()
        trail = raw[-1:].isspace()
        if frame.name == "sub":
            spoken = fold(a["alias"])
            if not spoken:
                self.warnings.append("<sub> with an empty alias: content read as written")
                spoken = written
            atom = Atom(spoken, written, frame.prosody)
        elif frame.name == "phoneme":
            if not written:
                self.reject("<phoneme> needs text content", "phoneme")
                return
            atom = Atom(written, written, frame.prosody, phoneme_ipa=a["ph"].strip())
        else:
            kind = val.SAY_AS[a["interpret-as"].strip().lower()]
            fmt = a.get("format")
            spoken = expand_say_as(kind, fmt.strip() if fmt else None, written, self.warnings) if written else ""
            atom = Atom(fold(spoken or written), written, frame.prosody,
                        say_as=SayAs(kind, fmt.strip().lower() if fmt else None))
        atom.lead_space, atom.trail_space = lead, trail
        if atom.spoken:
            self.items.append(atom)

    def chars(self, data: str) -> None:
        if not self.stack:
            return
        top = self.stack[-1]
        if top.capture is not None:
            top.capture.append(data)
        else:
            self.items.append(Text(data, top.prosody))


def _forbid(what: str):
    def handler(*_args):
        raise SsmlError(f"{what} is not allowed in SSML (no DTDs, no entity declarations)", what)

    return handler


def _forbid_external(*_args):
    raise SsmlError("external entities are not allowed in SSML", "!ENTITY")


def make_parser(builder: Builder) -> expat.XMLParserType:
    """An expat parser feeding ``builder`` that raises :class:`SsmlError` on any DTD or entity declaration."""
    parser = expat.ParserCreate(encoding="utf-8", namespace_separator=" ")
    parser.namespace_prefixes = True
    parser.buffer_text = True
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = _forbid("!DOCTYPE")
    parser.EntityDeclHandler = _forbid("!ENTITY")
    parser.UnparsedEntityDeclHandler = _forbid("!ENTITY")
    parser.NotationDeclHandler = _forbid("!NOTATION")
    parser.ExternalEntityRefHandler = _forbid_external
    parser.SkippedEntityHandler = _forbid("entity reference")
    parser.StartElementHandler = builder.start
    parser.EndElementHandler = builder.end
    parser.CharacterDataHandler = builder.chars
    builder.parser = parser
    return parser
