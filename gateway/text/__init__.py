"""Expressive lines: SSML subset, text normalization, the emotion set, and segment planning.

* :mod:`gateway.text.ssml`: :func:`parse_ssml` / :func:`is_ssml` (strict, safe SSML subset);
* :mod:`gateway.text.normalize`: :func:`normalize` (numbers, money, dates ... -> words, with
  an offset map back to the original);
* :mod:`gateway.text.emotions`: the :class:`Emotion` set and what each means per provider
  and on the face;
* :mod:`gateway.text.plan`: :func:`plan_segments` (request text -> segments).

The face curves are in :mod:`gateway.lipsync.expression`. See ``docs/expressive.md``.
"""

from gateway.text.emotions import Emotion, UnknownEmotion, resolve_emotion
from gateway.text.normalize import Normalized, OffsetMap, normalize
from gateway.text.plan import PhonemeHint, Planned, plan_segments
from gateway.text.ssml import ParsedSsml, Run, SsmlError, is_ssml, parse_ssml

__all__ = [
    "Emotion", "UnknownEmotion", "resolve_emotion", "Normalized", "OffsetMap", "normalize", "PhonemeHint",
    "Planned", "plan_segments", "ParsedSsml", "Run", "SsmlError", "is_ssml", "parse_ssml",
]
