"""A strict SSML subset: parsed with expat (no DTD, no entities), checked against an allow-list.

Safety by construction: the parser is :mod:`xml.parsers.expat` with parameter-entity parsing
off and handlers that *raise* on a DOCTYPE, an entity or notation declaration, or an external
entity reference. A document type is needed to declare any entity, so billion-laughs,
quadratic blow-up and external entities (XXE, file or URL) cannot happen: the document is
rejected before any expansion. Only the five predefined entities (``&amp;`` ...) and character
references work. Element count and nesting depth are counted while parsing (a 100 000-deep
document stops at the limit), and the input length is checked before it.

Allowed elements (anything else raises :class:`SsmlError` naming it, or in lenient mode is
stripped to its text with a warning):

=============================  ==================================================================
``<speak>``                    root only; ``version``, ``xml:lang`` (kept in ``ParsedSsml.lang``)
``<p>``, ``<s>``               paragraph / sentence: a segment boundary on each side
``<break>``                    ``time`` ("500ms", "1.5s", <= :attr:`Limits.max_break_ms`) or
                               ``strength`` (none 0, x-weak 250, weak 500, medium 750, strong 1000,
                               x-strong 1250 ms); no attribute = medium
``<emphasis>``                 ``level`` strong | moderate (default) | reduced | none
``<prosody>``                  ``rate`` (x-slow .. x-fast, "80%" = x0.8, "+10%" = x1.1, "0.8"),
                               ``pitch`` ("+2st", "-10%", "+20Hz", x-low .. x-high),
                               ``volume`` ("+6dB", "-50%", "50" of 100, silent .. x-loud); nested
                               rates multiply, dB and semitones add
``<say-as>``                   ``interpret-as`` characters | spell-out | cardinal | number | ordinal |
                               digits | date | telephone; ``format`` (dates: mdy, dmy, ymd, md, dm,
                               ym, my, y, m, d)
``<sub>``                      ``alias``: spoken instead of the content (the content is displayed)
``<phoneme>``                  ``alphabet="ipa"`` (default ipa), ``ph``: pronunciation of the content
``<emotion>``                  ``name`` (see :mod:`gateway.text.emotions`), ``intensity``
                               (0..1 or "70%")
``<mstts:express-as>``         Azure: ``style`` (mapped onto the emotion set), ``styledegree``
                               (0.01..2), ``role`` (ignored, warning)
``<voice>``                    accepted because Azure SSML wraps express-as in it; ``name`` is
                               ignored (the character picks the voice) with a warning
=============================  ==================================================================

``mstts`` namespace: ``http://www.w3.org/2001/mstts`` (Azure's ``https://`` spelling too). The
``mstts:`` prefix is also accepted when undeclared (the declaration is added to ``<speak>``),
because snippets copied out of Azure documents often lose it. The SSML namespace
``http://www.w3.org/2001/10/synthesis`` or no namespace both work; any other namespace is an
unknown element.

Output: :class:`ParsedSsml` with the spoken ``text`` (say-as and sub expanded, whitespace
folded as :func:`gateway.text.clean_text` does), the ``written`` text (what was written: sub
and say-as content), runs with their offsets into ``text``, and a map ``text -> written``.

Modules: :mod:`~gateway.text.ssml.model` (types, :func:`is_ssml`), :mod:`~gateway.text.ssml.values`
(attribute values), :mod:`~gateway.text.ssml.say_as` (``<say-as>`` words),
:mod:`~gateway.text.ssml.builder` (expat parser and callbacks -> items),
:mod:`~gateway.text.ssml.assemble` (items -> :class:`ParsedSsml`; usable without SSML) and
:mod:`~gateway.text.ssml.parse` (:func:`parse_ssml`).
"""

from gateway.text.ssml.assemble import assemble
from gateway.text.ssml.builder import ALLOWED_ELEMENTS
from gateway.text.ssml.model import (
    DEFAULT_LIMITS,
    MSTTS_NS,
    SSML_NS,
    Atom,
    Boundary,
    Break,
    Item,
    Limits,
    ParsedSsml,
    Run,
    SayAs,
    SsmlError,
    Text,
    is_ssml,
)
from gateway.text.ssml.parse import parse_ssml
from gateway.text.ssml.values import NOMINAL_PITCH_HZ, PITCH_RANGE, RATE_RANGE, VOLUME_RANGE

__all__ = ["SsmlError", "Limits", "SayAs", "Run", "ParsedSsml", "is_ssml", "parse_ssml", "ALLOWED_ELEMENTS",
           "SSML_NS", "MSTTS_NS", "DEFAULT_LIMITS", "assemble", "Item", "Text", "Atom", "Break", "Boundary",
           "RATE_RANGE", "PITCH_RANGE", "VOLUME_RANGE", "NOMINAL_PITCH_HZ"]
