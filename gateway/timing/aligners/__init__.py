"""Aligners: audio + known text -> phoneme/word timeline (for providers and uploads without timing).

One interface (:class:`~gateway.timing.aligners.base.Aligner`), one file per implementation:

* ``pocketsphinx`` (:mod:`.pocketsphinx`): forced alignment, the default; its stages are
  :mod:`.decoder` (pocketsphinx passes), :mod:`.grammar`, :mod:`.chunks` (long audio),
  :mod:`.mismatch` (what the audio doesn't say), :mod:`.acoustics` and :mod:`.refine`
  (landmarks, bias calibration), :mod:`.g2p` (pronunciations);
* ``proportional`` (:mod:`.proportional`): text-estimated phones spread over the voiced audio;
  the fallback of the first, and usable alone where pocketsphinx is not installed.

Audio without text goes through a recogniser first (:mod:`.recognizer`: :mod:`.whisper`,
:mod:`.sphinx_recognizer`), see :func:`gateway.timing.align.align_pcm`.

:func:`build_aligner` and :func:`build_recognizer` are the one place that picks an implementation by name (implementations are imported on
demand: pocketsphinx is a native package). The gateway builds one aligner at start-up and passes it to whoever
needs one, so its decoders load once.
"""

from __future__ import annotations

from gateway.timing.aligners.base import ESTIMATED, FORCED, PARTIAL, Aligner, AlignmentResult, EstimatedSpan
from gateway.timing.aligners.recognizer import Recognizer, RecognizerUnavailable, Transcript

__all__ = ["ESTIMATED", "FORCED", "PARTIAL", "Aligner", "AlignmentResult", "EstimatedSpan", "build_aligner",
           "build_recognizer", "NAMES", "RECOGNIZERS", "Recognizer", "RecognizerUnavailable", "Transcript"]

NAMES = ("pocketsphinx", "proportional")
RECOGNIZERS = ("auto", "whisper", "pocketsphinx")

def build_aligner(name: str = "pocketsphinx", **options) -> Aligner:
    """A new aligner by name; ``pocketsphinx`` degrades to ``proportional`` if it is not installed."""
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


def build_recognizer(name: str = "auto", **options) -> Recognizer:
    """A new recogniser by name; ``auto`` prefers whisper and degrades to pocketsphinx. ``options`` go to the
    whisper recogniser (``models_dir``, ``threads``)."""
    if name not in RECOGNIZERS:
        raise ValueError(f"unknown recogniser {name!r}; known: {', '.join(RECOGNIZERS)}")
    if name in ("auto", "whisper"):
        from gateway.timing.aligners.whisper import WhisperRecognizer

        try:
            recognizer = WhisperRecognizer(**options)
            recognizer.check()
            return recognizer
        except RecognizerUnavailable:
            if name == "whisper":
                raise
    from gateway.timing.aligners.sphinx_recognizer import SphinxRecognizer

    return SphinxRecognizer()
