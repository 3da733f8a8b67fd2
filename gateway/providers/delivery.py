"""How a local engine's pieces are delivered: cut into bounded pieces, edges trimmed, paced and levelled.

One :class:`Delivery` per provider stream (Piper, Kokoro, espeak) does, in order:

* :meth:`pieces`: the segment cut into pieces of bounded length (:func:`gateway.text.pieces.bounded_pieces`);
* :meth:`trim`: a piece's silent lead cut to ``lead_silence_ms`` and its silent tail to ``clause_pause_max_ms``
  (per-symbol sample counts shortened to match, so timings stay exact);
* :meth:`gap`: before a segment, its SSML break (exactly, the author's pause), or else, after a sentence, the silence
  that brings the pause to the middle of the character's range (``pause_ms``, else
  ``GATEWAY_DELIVERY_SENTENCE_PAUSE_MS``);
* :meth:`level`: gain to the loudness target plus the emotion's, under the true-peak ceiling
  (:class:`gateway.audio.loudness.Leveller`, per-voice calibration from ``config/loudness.yaml``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import re
from functools import lru_cache
from pathlib import Path

import numpy as np

from gateway.audio.loudness import Calibration, Leveller
from gateway.audio.silence import edge_silence, shorten
from gateway.core.segments import Segment
from gateway.core.timeline import ms_to_samples
from gateway.providers.base import SynthesisRequest
from gateway.providers.prosody import pause
from gateway.settings import Settings
from gateway.text.pieces import bounded_pieces

__all__ = ["Delivery", "calibration", "ends_sentence", "trim_heap"]

_LIBC = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
_MALLOC_TRIM = getattr(_LIBC, "malloc_trim", None)  # glibc only


def trim_heap() -> None:
    """Return the C heap's free memory to the OS (glibc ``malloc_trim(0)``; a no-op elsewhere)."""
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)

_SENTENCE_END = re.compile(r"""[.!?…]+["'”’)\]]*\s*$""")


@lru_cache(maxsize=4)
def calibration(path: Path) -> Calibration:
    """The loudness calibration in ``path``, read once per process."""
    return Calibration.load(path)


def ends_sentence(text: str) -> bool:
    return _SENTENCE_END.search(text) is not None


class Delivery:
    """Pieces, pauses and level of one local provider stream (see the module docstring)."""

    def __init__(self, settings: Settings, provider: str, request: SynthesisRequest, sample_rate: int) -> None:
        d = settings.delivery
        self.sample_rate = sample_rate
        self.max_chars, self.first_max_chars = d.piece_max_chars, d.first_piece_max_chars
        low, high = request.settings.pause_ms or d.sentence_pause_ms
        self.pause_range = (low, high)
        self.lead_keep = ms_to_samples(min(d.lead_silence_ms, high // 4), sample_rate)
        self.tail_keep = ms_to_samples(max(0, min(d.clause_pause_max_ms, high - min(d.lead_silence_ms, high // 4))),
                                       sample_rate)
        self.target = ms_to_samples((low + high) // 2, sample_rate)
        voice_lufs = calibration(d.calibration_file).lufs(provider, request.voice)
        self.leveller = Leveller(sample_rate, voice_lufs=voice_lufs, target_lufs=d.target_lufs,
                                 ceiling_dbtp=d.true_peak_dbtp)
        self._first = True  # no piece yet: the next one is the line's first audio
        self._tail: int | None = None  # silence kept at the end of the last piece
        self._after_sentence = False  # the last segment ended a sentence
        engine = getattr(settings, provider, None)
        self.trim_heap = bool(getattr(engine, "trim_heap", False))

    def pieces(self, segment: Segment) -> list[Segment]:
        """``segment`` in pieces of bounded length (the line's first piece tighter)."""
        first = self.first_max_chars if self._first else self.max_chars
        return bounded_pieces(segment, self.max_chars, first)

    def gap(self, segment: Segment, position: int) -> tuple[list, int]:
        """Silence before ``segment`` at stream sample ``position``: its break, or (none given, after a sentence) what
        the pause needs to reach the middle of the range. (events, samples added)"""
        pad = 0
        if self._after_sentence and self._tail is not None and segment.break_before_ms <= 0:
            pad = max(0, self.target - self._tail - self.lead_keep)  # an SSML <break> is the author's pause
        ms = segment.break_before_ms + (pad * 1000 + self.sample_rate // 2) // self.sample_rate
        if ms <= 0:
            return [], 0
        return pause(_with_break(segment, ms), position, self.sample_rate)

    def end_segment(self, segment: Segment) -> None:
        """Call after a segment's last piece."""
        self._after_sentence = ends_sentence(segment.text)

    def trim(self, audio: np.ndarray, counts: list[int] | None = None) -> tuple[np.ndarray, int, list[int] | None]:
        """A piece (floats in [-1, 1]) with its silent edges cut: (audio, samples cut at the start, counts)."""
        self._first = False
        lead, tail = edge_silence(audio)
        if lead >= len(audio):  # all silence (a pause piece): keep as made
            return audio, 0, counts
        head = max(0, lead - self.lead_keep)
        cut_tail = max(0, tail - self.tail_keep)
        self._tail = tail - cut_tail
        if head or cut_tail:
            audio = audio[head:len(audio) - cut_tail]
            if counts is not None:
                counts = shorten(shorten(counts, head, from_end=False), cut_tail, from_end=True)
        return audio, head, counts

    def kept_tail(self, samples: int) -> None:
        """For an engine that cut its piece's silent tail itself (Kokoro, from the frames before decoding): the
        silence it kept at the end, which :meth:`gap` counts toward the next pause."""
        self._first = False
        self._tail = max(0, samples)

    def level(self, audio: np.ndarray | bytes, gain_db: float) -> bytes:
        """The piece levelled (target + ``gain_db``) and limited, as s16le PCM. (After the engine made the piece:
        its freed buffers go back to the OS here when the engine's ``trim_heap`` is on.)"""
        self._first = False
        if self.trim_heap:
            trim_heap()
        return self.leveller.process(audio, gain_db)


def _with_break(segment: Segment, ms: int) -> Segment:
    return Segment(segment.index, segment.text, segment.char_start, segment.prosody, ms, segment.ipa)
