"""Aligners: audio + known text -> phoneme/word timeline (for providers and uploads without timing).

One interface (:class:`~gateway.timing.aligners.base.Aligner`), one file per implementation:

* ``pocketsphinx`` (:mod:`.pocketsphinx`): forced alignment, the default;
* ``proportional`` (:mod:`.proportional`): text-estimated phones spread over the voiced audio;
  the fallback of the first, and usable alone where pocketsphinx is not installed.

:func:`build_aligner` is the one place that picks an implementation by name. The gateway builds one aligner at
start-up and passes it to whoever needs one (its decoders load once).
"""

from __future__ import annotations

from gateway.timing.aligners.base import ESTIMATED, FORCED, Aligner, AlignmentResult

__all__ = ["ESTIMATED", "FORCED", "Aligner", "AlignmentResult", "build_aligner", "NAMES"]

NAMES = ("pocketsphinx", "proportional")

def build_aligner(name: str = "pocketsphinx", **options) -> Aligner:
    """A new aligner by name; ``pocketsphinx`` degrades to ``proportional`` if it is not installed.

    Implementations are imported here, on demand: pocketsphinx is an optional native package."""
    if name == "pocketsphinx":
        try:
            import pocketsphinx  # noqa: F401
        except ImportError:
            from gateway.timing.aligners.proportional import ProportionalAligner

            return ProportionalAligner()
        from gateway.timing.aligners.pocketsphinx import PocketsphinxAligner

        return PocketsphinxAligner(**options)
    if name == "proportional":
        from gateway.timing.aligners.proportional import ProportionalAligner

        return ProportionalAligner()
    raise ValueError(f"unknown aligner {name!r}; known: {', '.join(NAMES)}")
