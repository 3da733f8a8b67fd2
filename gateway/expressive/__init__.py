"""Expressive lines: SSML subset, text normalization, the emotion set, and segment planning.

* :mod:`gateway.expressive.ssml`: :func:`parse_ssml` / :func:`is_ssml` (strict, safe SSML subset);
* :mod:`gateway.expressive.normalize`: :func:`normalize` (numbers, money, dates ... -> words, with
  an offset map back to the original);
* :mod:`gateway.expressive.emotions`: the :class:`Emotion` set and what each means per provider
  and on the face;
* :mod:`gateway.expressive.segments`: :func:`plan_segments` (request text -> segments).

The face curves are in :mod:`gateway.lipsync.expression`. See ``docs/expressive.md``.
"""

from gateway.expressive.emotions import Emotion, UnknownEmotion, resolve_emotion
from gateway.expressive.normalize import Normalized, OffsetMap, normalize
from gateway.expressive.segments import PhonemeHint, Planned, plan_segments
from gateway.expressive.ssml import ParsedSsml, Run, SsmlError, is_ssml, parse_ssml

__all__ = [
    "Emotion", "UnknownEmotion", "resolve_emotion", "Normalized", "OffsetMap", "normalize", "PhonemeHint",
    "Planned", "plan_segments", "ParsedSsml", "Run", "SsmlError", "is_ssml", "parse_ssml",
]
