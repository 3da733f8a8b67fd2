"""Aligners: audio + known text -> phoneme/word timeline (for providers and uploads without timing).

One interface (:class:`~gateway.lipsync.aligners.base.Aligner`), one file per implementation:

* ``pocketsphinx`` (:mod:`.pocketsphinx`): forced alignment, the default; its stages are
  :mod:`.decoder` (pocketsphinx passes), :mod:`.grammar`, :mod:`.chunks` (long audio),
  :mod:`.mismatch` (what the audio doesn't say), :mod:`.acoustics` and :mod:`.refine`
  (landmarks, bias calibration), :mod:`.g2p` (pronunciations);
* ``proportional`` (:mod:`.proportional`): text-estimated phones spread over the voiced audio;
  the fallback of the first, and usable alone where pocketsphinx is not installed.

Audio without text goes through a recogniser first (:mod:`.recognizer`: :mod:`.whisper`,
:mod:`.sphinx_recognizer`), see :func:`gateway.lipsync.align.align_pcm`.

:func:`build_aligner` is the one place that picks an implementation by name;
:func:`default_aligner` is the process-wide shared instance (its decoders load once).
"""

from __future__ import annotations

import threading

from gateway.lipsync.aligners.base import ESTIMATED, FORCED, PARTIAL, Aligner, AlignmentResult, EstimatedSpan

__all__ = ["ESTIMATED", "FORCED", "PARTIAL", "Aligner", "AlignmentResult", "EstimatedSpan", "build_aligner",
           "default_aligner", "NAMES"]

NAMES = ("pocketsphinx", "proportional")

_default: Aligner | None = None
_default_lock = threading.Lock()


def build_aligner(name: str = "pocketsphinx", **options) -> Aligner:
    """A new aligner by name; ``pocketsphinx`` degrades to ``proportional`` if it is not installed."""
    if name == "pocketsphinx":
        try:
            import pocketsphinx  # noqa: F401
        except ImportError:
            from gateway.lipsync.aligners.proportional import ProportionalAligner

            return ProportionalAligner()
        from gateway.lipsync.aligners.pocketsphinx import PocketsphinxAligner

        return PocketsphinxAligner(**options)
    if name == "proportional":
        from gateway.lipsync.aligners.proportional import ProportionalAligner

        return ProportionalAligner()
    raise ValueError(f"unknown aligner {name!r}; known: {', '.join(NAMES)}")


def default_aligner() -> Aligner:
    """The shared default aligner (created on first use)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = build_aligner()
        return _default
