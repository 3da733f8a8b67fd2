"""Text preparation: a request's text (plain or SSML) -> the segments to synthesize, each with its delivery.

* :mod:`gateway.text.plan`: :func:`~gateway.text.plan.plan_segments`, the one pass from request text to
  segments (reads SSML once, or cleans plain text once and marks the character's names);
* :mod:`gateway.text.clean`: cleaning, sentence and clause splitting, word offsets;
* :mod:`gateway.text.ssml`: the strict, safe SSML subset (:func:`~gateway.text.ssml.parse_ssml`);
* :mod:`gateway.text.normalize`: numbers, money, dates ... -> words, with an offset map back to the original;
* :mod:`gateway.text.emotions`: the emotion set and what each means per provider and on the face;
* :mod:`gateway.text.pronunciations`: how a character says the names of the game world.

The face curves are in :mod:`gateway.lipsync.expression`. See ``docs/expressive.md``.
"""
