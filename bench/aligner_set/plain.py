"""The reference point: plain pocketsphinx forced alignment, nothing added.

Pocketsphinx 5.1's documented two passes (``set_align_text``, then ``set_alignment``) with its
bundled en-US model and CMU dictionary on 16 kHz audio; words missing from the dictionary are
left out, phone frames are taken as they are (10 ms, no offset), and a line that fails to align
gets no phones (counted as a whole-line estimate).
"""

from __future__ import annotations

from gateway.audio.resample import resample_pcm
from gateway.timing.aligners.lexicon import ARPABET_TO_IPA, spoken_tokens
from gateway.core.timeline import PhonemeSpan


class PlainPocketsphinx:
    def __init__(self) -> None:
        from pocketsphinx import Decoder

        self.ps = Decoder(samprate=16000, bestpath=False, lm=None, loglevel="FATAL")

    def align(self, pcm: bytes, sample_rate: int, text: str) -> list[PhonemeSpan] | None:
        audio = resample_pcm(pcm, sample_rate, 16000) if sample_rate != 16000 else pcm
        words = [t.key for t in spoken_tokens(text) if self.ps.lookup_word(t.key) is not None]
        try:
            self.ps.set_align_text(" ".join(words))
            for second in (False, True):
                if second:
                    self.ps.set_alignment()
                self.ps.start_utt()
                self.ps.process_raw(audio, full_utt=True)
                self.ps.end_utt()
            alignment = self.ps.get_alignment()
        except RuntimeError:
            return None
        if alignment is None:
            return None
        return [PhonemeSpan(ARPABET_TO_IPA.get(p.name, " "), p.start * 10, (p.start + p.duration) * 10)
                for w in alignment for p in w]
