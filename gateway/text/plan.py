"""Request text (plain or SSML) -> the segments the pipeline synthesizes, each with one delivery.

:func:`plan_segments`:

1. SSML (:func:`~gateway.text.ssml.is_ssml`) is parsed into runs; plain text goes through
   :func:`gateway.text.clean_text` as one run;
2. the spoken text is normalized (:func:`~gateway.text.normalize.normalize`; English
   only, ``<phoneme>`` content untouched, no replacement across a run edge);
3. it is split into sentences (:func:`gateway.text.split_sentences`) and, inside a sentence,
   wherever the delivery changes (prosody, emphasis, emotion), a ``<break>`` is, or a
   ``<p>``/``<s>`` edge is. A piece that is only punctuation joins its neighbour.

``Planned.text`` is the spoken text: every segment is ``text[char_start:char_start+len]``,
and it is what engines, the aligner and the cache key see. ``Planned.display`` is what was
written (before normalization, ``<sub>``/``<say-as>`` content as written);
:meth:`Planned.display_span` maps a span of ``text`` (a word timing) onto it.

Plain text with nothing to normalize gives exactly ``split_sentences(clean_text(text))``.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from gateway.core.segments import Prosody, Segment
from gateway.text.clean import clean_text, split_sentences
from gateway.text.emotions import UnknownEmotion, resolve_emotion
from gateway.text.normalize import Normalized, OffsetMap, normalize
from gateway.text.pronunciations import Pronunciation, mark_pronunciations
from gateway.text.ssml import DEFAULT_LIMITS, Limits, ParsedSsml, Run, is_ssml, parse_ssml

__all__ = ["Planned", "PhonemeHint", "TEXT_TYPES", "plan_segments"]

_WORDLIKE = re.compile(r"\w")
_LEADING_PUNCT = re.compile(r"[,.;:!?…)\]\"'”’]+(?=\s|$)")


@dataclass(frozen=True, slots=True)
class PhonemeHint:
    """An SSML ``<phoneme>``: ``text[char_start:char_end]`` is pronounced ``ipa``."""

    char_start: int
    char_end: int
    ipa: str


@dataclass(slots=True)
class Planned:
    """What to synthesize. See the module docstring for ``text`` vs ``display``."""

    text: str  #: spoken plain text (normalized); segments index into it; the cache key's text
    segments: list[Segment]
    warnings: list[str] = field(default_factory=list)
    display: str = ""  #: the text as written, for subtitles
    offsets: OffsetMap = field(default_factory=lambda: OffsetMap.identity(0))  #: ``text`` -> ``display``
    break_after_ms: int = 0  #: ``<break>`` after the last word (silence to append)
    phonemes: list[PhonemeHint] = field(default_factory=list)
    ssml: bool = False  #: the input was SSML
    lang: str | None = None  #: ``xml:lang`` of the SSML, or the ``lang`` argument
    emotion: str | None = None  #: the request's emotion (canonical name), if any
    intensity: float | None = None

    def to_display(self, pos: int) -> int:
        """Offset in :attr:`display` of position ``pos`` of :attr:`text`."""
        return self.offsets.to_original(pos)

    def display_span(self, start: int, end: int) -> tuple[int, int]:
        """Span of :attr:`display` behind ``text[start:end]`` (whole replaced pieces)."""
        return self.offsets.span_to_original(start, end)


def _line_prosody(prosody: Prosody, emotion: str | None, intensity: float | None) -> Prosody:
    if prosody.emotion is None and emotion is not None:
        return replace(prosody, emotion=emotion, intensity=1.0 if intensity is None else intensity)
    if prosody.emotion is None and intensity is not None:
        return replace(prosody, intensity=intensity)
    return prosody


#: How a request's text is read: SSML when it starts with <speak> (auto), always SSML, or plain (tags stripped).
TEXT_TYPES = ("auto", "ssml", "plain")


_XML_DECL = re.compile(r"^\ufeff?\s*<\?xml[^>]{0,200}\?>")


class TextTooLong(ValueError):
    """The written text is longer than ``max_chars`` (raised before any normalization or splitting is done)."""

    def __init__(self, length: int, limit: int) -> None:
        super().__init__(f"text of {length} characters; the limit is {limit}")
        self.length, self.limit = length, limit


def plan_segments(
    text_or_ssml: str,
    *,
    text_type: str = "auto",
    pronunciations: Mapping[str, Pronunciation] | None = None,
    emotion: str | None = None,
    intensity: float | None = None,
    lenient: bool = False,
    lang: str | None = None,
    normalize_text: bool = True,
    limits: Limits = DEFAULT_LIMITS,
    max_chars: int | None = None,
) -> Planned:
    """Plan the segments of a request (see the module docstring), reading its text once.

    ``text_type``: one of :data:`TEXT_TYPES`; ``ssml`` wraps a fragment in ``<speak>``. ``pronunciations``: how the
    speaking character says names that occur in plain text (:func:`mark_pronunciations`).
    ``emotion``/``intensity``: the request's delivery, applied wherever the SSML sets none
    (canonical name, alias or Azure style; unknown raises :class:`UnknownEmotion`, or warns in
    ``lenient`` mode). ``lang``: the voice's language; normalization only runs for English (or
    when neither ``lang`` nor the SSML's ``xml:lang`` says otherwise). Raises
    :class:`~gateway.text.ssml.SsmlError` for invalid SSML. ``max_chars``: the longest written text; longer raises
    :class:`TextTooLong` as soon as the text is read (before normalization and splitting, whose cost grows with it).
    """
    warnings: list[str] = []
    line_emotion: str | None = None
    if emotion is not None and str(emotion).strip():
        try:
            line_emotion = resolve_emotion(emotion).value
        except UnknownEmotion as exc:
            if not lenient:
                raise
            warnings.append(f"{exc}; neutral used")
    line_intensity = None if intensity is None else min(max(float(intensity), 0.0), 1.0)
    if line_intensity is not None and line_intensity != line_intensity:  # NaN
        line_intensity = None

    parsed, ssml = _read(text_or_ssml or "", text_type, pronunciations, lenient, limits)
    if max_chars is not None and len(parsed.written) > max_chars:  # bounded before the costly steps below
        raise TextTooLong(len(parsed.written), max_chars)
    warnings.extend(parsed.warnings)
    lang = lang or parsed.lang

    spoken = parsed.text
    if normalize_text:
        norm = normalize(spoken, protected=[(r.char_start, r.char_end) for r in parsed.runs if r.phoneme_ipa],
                         boundaries=[p for r in parsed.runs for p in (r.char_start, r.char_end)], lang=lang)
    else:
        norm = Normalized(spoken, spoken, OffsetMap.identity(len(spoken)))
    text = norm.text
    offsets = norm.offsets.then(parsed.offsets)

    # runs on the normalized text
    run_starts: list[int] = []
    run_prosody: list[Prosody] = []
    cuts: dict[int, int] = {}  # position -> break ms before it (a cut even when 0)
    phonemes: list[PhonemeHint] = []
    prev: Prosody | None = None
    for i, run in enumerate(parsed.runs):
        start, end = norm.to_normalized(run.char_start), norm.to_normalized(run.char_end)
        prosody = _line_prosody(run.prosody, line_emotion, line_intensity)
        run_starts.append(start)
        run_prosody.append(prosody)
        if i == 0 or run.break_before_ms or run.boundary_before or prosody != prev:
            cuts[start] = cuts.get(start, 0) + run.break_before_ms
        if run.phoneme_ipa:
            phonemes.append(PhonemeHint(start, end, run.phoneme_ipa))
        prev = prosody

    def prosody_at(pos: int) -> Prosody:
        i = bisect_right(run_starts, pos) - 1
        return run_prosody[max(i, 0)] if run_prosody else Prosody()

    # A cut right before punctuation ("<prosody>Slow</prosody>, then") moves past it: the
    # punctuation stays with the words it follows.
    moved: set[int] = set()
    for c in cuts:
        m = _LEADING_PUNCT.match(text, c)
        moved.add(m.end() if c > 0 and m else c)
    cut_positions = sorted(moved)

    pieces: list[list[int]] = []  # [start, end]
    for sentence in split_sentences(text):
        s_start, s_end = sentence.char_start, sentence.char_start + len(sentence.text)
        bounds = [s_start, *(c for c in cut_positions if s_start < c < s_end), s_end]
        chunks: list[list[int]] = []
        for a, b in zip(bounds, bounds[1:]):
            raw = text[a:b]
            stripped = raw.strip()
            if stripped:
                start = a + len(raw) - len(raw.lstrip())
                chunks.append([start, start + len(stripped)])
        # a piece that is only punctuation joins its neighbour
        merged: list[list[int]] = []
        for k, (a, b) in enumerate(chunks):
            if _WORDLIKE.search(text, a, b) is None and (merged or k + 1 < len(chunks)):
                if merged:
                    merged[-1][1] = b
                else:
                    chunks[k + 1][0] = a
                continue
            merged.append([a, b])
        pieces.extend(merged)

    # each break goes to the first segment starting at or after it; the rest is trailing silence
    breaks = [0] * len(pieces)
    trailing = parsed.trailing_break_ms
    starts = [a for a, _ in pieces]
    for c, ms in cuts.items():
        if ms:
            k = bisect_left(starts, c)
            if k < len(pieces):
                breaks[k] += ms
            else:
                trailing += ms
    segments = [Segment(k, text[a:b], a, prosody_at(_first_word(text, a, b)), breaks[k],
                        _ipa_inside(phonemes, a, b))
                for k, (a, b) in enumerate(pieces)]

    return Planned(
        text=text, segments=segments, warnings=warnings, display=parsed.written, offsets=offsets,
        break_after_ms=trailing,
        phonemes=phonemes, ssml=ssml, lang=lang, emotion=line_emotion, intensity=line_intensity,
    )


def _first_word(text: str, a: int, b: int) -> int:
    m = _WORDLIKE.search(text, a, b)
    return m.start() if m else a


def _ipa_inside(hints: list[PhonemeHint], start: int, end: int) -> tuple[tuple[int, int, str], ...]:
    """The IPA hints (SSML ``<phoneme>``) inside ``text[start:end]``, in segment offsets."""
    return tuple((h.char_start - start, h.char_end - start, h.ipa) for h in hints
                 if start <= h.char_start and h.char_end <= end)


def _read(raw: str, text_type: str, pronunciations: Mapping[str, Pronunciation] | None, lenient: bool,
          limits: Limits) -> tuple[ParsedSsml, bool]:
    """SSML parsed once, or plain text cleaned once (with the character's names marked): runs, and whether the
    request was SSML."""
    if text_type not in TEXT_TYPES:
        raise ValueError(f"unknown text_type {text_type!r}; valid: {', '.join(TEXT_TYPES)}")
    if text_type == "ssml" or (text_type == "auto" and is_ssml(raw)):
        # An XML declaration says nothing about a string already decoded, and the XML parser refuses one that is
        # not the very first thing (leading spaces, a BOM) or that ends up inside the <speak> a fragment is wrapped in.
        body = _XML_DECL.sub("", raw, count=1)
        document = body if is_ssml(body) else f"<speak>{body}</speak>"
        return parse_ssml(document, lenient=lenient, limits=limits), True
    plain = clean_text(raw)
    marked = mark_pronunciations(plain, pronunciations or {})
    if marked is not None:
        return parse_ssml(marked, lenient=lenient, limits=limits), False
    runs = [Run(plain, 0, Prosody(), written=plain)] if plain else []
    return ParsedSsml(plain, plain, runs, OffsetMap.identity(len(plain))), False
