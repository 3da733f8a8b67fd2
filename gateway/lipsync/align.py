"""Audio file (+ its text) -> lip-sync track: what ``POST /api/lipsync`` and ``gateway align`` share.

The aligners live in :mod:`gateway.lipsync.aligners` (interface in ``base.py``, one file per
implementation, :func:`~gateway.lipsync.aligners.build_aligner` as the factory). This module
decodes the file (:func:`gateway.audio.decode_audio`: any container FFmpeg probes, bounded by
``max_seconds``), aligns it, and builds the body with the same lip-sync fields as the speak
response (``phonemes``, ``words``, ``visemes``, ``azure_visemes``, ``blendshapes``, ``duration``)
plus ``method`` (``forced``, ``partial`` or ``estimated``), ``reason`` and ``estimated_spans``.

Without text (``text=None``) the words are recognised first
(:func:`~gateway.lipsync.aligners.recognizer.default_recognizer`: Whisper base through
faster-whisper, else pocketsphinx's language model) and then aligned; the body's ``text`` is what
was heard and ``text_source`` says ``"heard"``.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.lipsync.aligners import Aligner, AlignmentResult, default_aligner
from gateway.lipsync.aligners.recognizer import Recognizer, default_recognizer

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


def align_pcm(pcm: bytes, sample_rate: int, text: str | None, aligner: Aligner | None = None,
              recognizer: Recognizer | None = None) -> AlignmentResult:
    """Align decoded PCM s16le mono to ``text``, or to the words recognised in it when ``text`` is None (blocking)."""
    aligner = aligner or default_aligner()
    if text is not None:
        return aligner.align(pcm, sample_rate, text)
    recognizer = recognizer or default_recognizer()
    transcript = recognizer.transcribe(pcm, sample_rate)
    result = aligner.align(pcm, sample_rate, transcript.text)
    result.heard = transcript.text
    result.detail = dict(result.detail, recognizer=transcript.recognizer)
    if not transcript.text:
        result.reason = "no words recognised in the audio"
    return result


def align_file(data: bytes, text: str | None, *, max_seconds: float = MAX_AUDIO_SECONDS,
               aligner: Aligner | None = None, recognizer: Recognizer | None = None) -> AlignmentResult:
    """Decode an audio file and align it (blocking). Raises :class:`gateway.audio.AudioDecodeError`."""
    from gateway.audio.decode import decode_audio

    pcm, rate = decode_audio(data, max_seconds=max_seconds)
    return align_pcm(pcm, rate, text, aligner, recognizer)


def lipsync_body(result: AlignmentResult, text: str | None, options: LipsyncOptions = LipsyncOptions()) -> dict:
    """The JSON body: timeline, lip-sync tracks for the options, duration (s), method and the text used."""
    from gateway.lipsync.factory import build_lipsync

    include = options.include()
    tracks = build_lipsync(result.phonemes, result.duration_ms, fps=options.fps,
                           include=include).to_dict() if include else {}
    timeline = result.timeline().to_dict()
    heard = text is None
    return {
        "text": (result.heard or "") if heard else text,
        "text_source": "heard" if heard else "given",
        "recognizer": result.detail.get("recognizer") if heard else None,
        "duration": round(result.duration_ms / 1000, 4),
        "duration_ms": result.duration_ms,
        "method": result.method,
        "reason": result.reason,
        "aligner": result.aligner,
        "estimated_spans": [span.to_dict() for span in result.estimated_spans],
        "fps": options.fps,
        "phonemes": timeline["phonemes"],
        "words": timeline["words"],
        "visemes": tracks.get("visemes"),
        "azure_visemes": tracks.get("azure_visemes"),
        "blendshapes": tracks.get("blendshapes"),
    }
