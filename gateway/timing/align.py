"""Audio file (+ its text) -> lip-sync track: what ``POST /api/lipsync`` and ``gateway align`` share.

The aligners live in :mod:`gateway.timing.aligners` (interface in ``base.py``, one file per
implementation, :func:`~gateway.timing.aligners.build_aligner` as the factory). This module
decodes the file (:func:`gateway.audio.decode_audio`: any container FFmpeg probes, bounded by
``max_seconds``) and aligns it; :mod:`gateway.export.alignment` builds the body.

Without text (``text=None``) the words are recognised first (a
:class:`~gateway.timing.aligners.recognizer.Recognizer`: Whisper base through faster-whisper, else
pocketsphinx's language model) and then aligned; the result says what was heard.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.audio.decode import decode_audio
from gateway.timing.aligners import Aligner, AlignmentResult
from gateway.timing.aligners.recognizer import Recognizer

#: Longest audio accepted by default (seconds).
MAX_AUDIO_SECONDS = 120.0
#: Longest text accepted by default (characters).
MAX_TEXT_CHARS = 5000


class LipsyncInputError(ValueError):
    """Bad text or options; ``message`` is safe to show."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class LipsyncOptions:
    fps: int = 60
    visemes: bool = True  #: Oculus visemes and Azure viseme ids
    blendshapes: bool = True  #: ARKit blendshape curves at ``fps``

    def include(self) -> tuple[str, ...]:
        out: tuple[str, ...] = ("visemes", "azure") if self.visemes else ()
        return out + (("blendshapes",) if self.blendshapes else ())


def check_text(text: str | None, max_chars: int = MAX_TEXT_CHARS) -> str:
    if text is None or not text.strip():
        raise LipsyncInputError("text is empty: give the words the audio speaks")
    if len(text) > max_chars:
        raise LipsyncInputError(f"text is longer than {max_chars} characters")
    return text


def check_fps(fps: int) -> int:
    if not 1 <= fps <= 240:
        raise LipsyncInputError("fps must be between 1 and 240")
    return fps


def align_pcm(pcm: bytes, sample_rate: int, text: str | None, aligner: Aligner,
              recognizer: Recognizer | None = None) -> AlignmentResult:
    """Align decoded PCM s16le mono to ``text``, or to the words ``recognizer`` hears in it when ``text`` is None
    (blocking)."""
    if text is not None:
        return aligner.align(pcm, sample_rate, text)
    if recognizer is None:
        raise ValueError("audio without text needs a recogniser")
    transcript = recognizer.transcribe(pcm, sample_rate)
    result = aligner.align(pcm, sample_rate, transcript.text)
    result.heard = transcript.text
    result.detail = dict(result.detail, recognizer=transcript.recognizer)
    if not transcript.text:
        result.reason = "no words recognised in the audio"
    return result


def align_file(data: bytes, text: str | None, aligner: Aligner, recognizer: Recognizer | None = None, *,
               max_seconds: float = MAX_AUDIO_SECONDS) -> AlignmentResult:
    """Decode an audio file and align it (blocking). Raises :class:`gateway.audio.AudioDecodeError`."""
    pcm, rate = decode_audio(data, max_seconds=max_seconds)
    return align_pcm(pcm, rate, text, aligner, recognizer)
