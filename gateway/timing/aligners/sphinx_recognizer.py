"""Pocketsphinx with its bundled general English language model as a recogniser (no extra packages).

Much less accurate than Whisper (it mishears many words of synthetic and game speech), but the
words it hears are acoustically close to what was said, which is what lip-sync needs: the
aligner then aligns them like any text. Used when faster-whisper is not installed.
"""

from __future__ import annotations

import threading

from gateway.audio.resample import resample_pcm
from gateway.timing.aligners.recognizer import Recognizer, Transcript

RATE = 16000


class SphinxRecognizer(Recognizer):
    name = "pocketsphinx"

    def __init__(self) -> None:
        self._decoder = None
        self._lock = threading.Lock()

    def _load(self):  # noqa: ANN202 - pocketsphinx.Decoder
        if self._decoder is None:
            from pocketsphinx import Decoder

            self._decoder = Decoder(samprate=RATE, loglevel="FATAL")  # default: en-us acoustic model + LM
        return self._decoder

    def warm_up(self) -> None:
        with self._lock:
            self._load()

    def transcribe(self, pcm: bytes, sample_rate: int) -> Transcript:
        audio = resample_pcm(pcm, sample_rate, RATE) if sample_rate != RATE else pcm[: len(pcm) // 2 * 2]
        with self._lock:
            ps = self._load()
            ps.start_utt()
            ps.process_raw(audio, full_utt=True)
            ps.end_utt()
            hyp = ps.hyp()
        words = [w for w in (hyp.hypstr.split() if hyp else []) if not w.startswith(("<", "["))]
        return Transcript(" ".join(words), self.name)
