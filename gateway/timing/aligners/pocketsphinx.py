"""Forced alignment with pocketsphinx 5.1 (PyPI; the en-US acoustic model and CMU dictionary ship in the wheel).

Steps for one call (all blocking; callers run it in a thread):

1. resample to 16 kHz and find the voiced region (frame energy); the aligner sees it plus
   :data:`MARGIN_MS` on each side; measure levels every 5 ms (:mod:`.acoustics`);
2. tokenize the text (:func:`~gateway.timing.aligners.lexicon.spoken_tokens`) and make sure every
   token has a pronunciation (:mod:`.decoder`: dictionary words with their canonical entry,
   others with every plausible G2P reading);
3. grammar pass then phone pass (:mod:`.grammar`: the words in order, pauses likely at
   punctuation); audio longer than :attr:`PocketsphinxAligner.chunk_s` goes in chunks
   (:mod:`.chunks`);
4. find where the audio doesn't say the text (:mod:`.mismatch`): words that score far below the
   line, pauses laid over speech. When that is most of the line, the whole line is estimated;
   otherwise only those regions are, with phones recognised from their audio, anchored on the
   aligned words either side (``method="partial"``, :attr:`AlignmentResult.estimated_spans`).
   A flagged word that the dictionary spells several ways is first re-aligned locally with its
   variants (:mod:`.respell`);
5. move boundaries to acoustic landmarks and correct the measured bias (:mod:`.refine`).

It never raises for audio that doesn't match: without speech, words or decodable audio the
result comes from :class:`~gateway.timing.aligners.proportional.ProportionalAligner`.
"""

from __future__ import annotations

import logging
import threading

from gateway.audio.resample import resample_pcm
from gateway.core.timeline import PhonemeSpan, WordSpan
from gateway.timing.aligners.acoustics import measure
from gateway.timing.aligners.base import (
    FORCED,
    PARTIAL,
    SILENCE,
    Aligner,
    AlignmentResult,
    EstimatedSpan,
    cover,
    duration_ms,
    speech_bounds,
)
from gateway.timing.aligners.chunks import align_long
from gateway.timing.aligners.decoder import FRAME_MS, RATE, AlignedWord, AlignmentFailed, DecoderPool, SphinxDecoder
from gateway.timing.aligners.grammar import pause_probabilities
from gateway.timing.aligners.lexicon import ARPABET_TO_IPA, Token, spoken_tokens
from gateway.timing.aligners.mismatch import Region, find_regions, line_mismatch, suspicious, whole_line
from gateway.timing.aligners.proportional import ProportionalAligner
from gateway.timing.aligners.refine import SIL, PhoneSeg, refine
from gateway.timing.aligners.respell import retry_variants

log = logging.getLogger(__name__)

#: Audio kept around the voiced region (ms).
MARGIN_MS = 150


class PocketsphinxAligner(Aligner):
    """Forced alignment to known English text, estimating only what the audio doesn't say."""

    name = "pocketsphinx"

    def __init__(self, *, pool_size: int = 2, chunk_s: float = 20.0, refine: bool = True,
                 calibration: dict[str, int] | None = None, detect_mismatch: bool = True,
                 fallback: Aligner | None = None) -> None:
        #: Concurrent alignments (each holds its own decoder).
        self.pool_size = pool_size
        #: Longest audio aligned at phone level in one pass (longer audio is cut at pauses).
        self.chunk_s = chunk_s
        #: Landmark refinement and bias calibration (:mod:`.refine`); off: the decoder's boundaries.
        self.refine = refine
        #: Bias corrections by boundary kind (``None``: :data:`~gateway.timing.aligners.refine.CALIBRATION`).
        self.calibration = calibration
        #: Per-word mismatch detection (:mod:`.mismatch`); off: every word is taken as said.
        self.detect_mismatch = detect_mismatch
        self.fallback = fallback or ProportionalAligner()
        self._pool = DecoderPool(pool_size)
        self._prons: dict[str, list[str]] = {}
        self._prons_lock = threading.Lock()

    def warm_up(self) -> None:
        self._pool.warm()

    # ---- public ---------------------------------------------------------------------------------------------
    def align(self, pcm: bytes, sample_rate: int, text: str, *, char_offset: int = 0,
              start_ms: int = 0) -> AlignmentResult:
        try:
            return self._align(pcm, sample_rate, text, char_offset, start_ms)
        except AlignmentFailed as exc:
            reason = str(exc)
        except Exception as exc:  # noqa: BLE001 - alignment must never fail a line
            log.warning("aligner error: %s", type(exc).__name__, exc_info=True)
            reason = f"aligner error ({type(exc).__name__})"
        result = self.fallback.align(pcm, sample_rate, text, char_offset=char_offset, start_ms=start_ms)
        result.reason = reason
        return result

    # ---- steps ----------------------------------------------------------------------------------------------
    def _align(self, pcm: bytes, sample_rate: int, text: str, char_offset: int, start_ms: int) -> AlignmentResult:
        total = duration_ms(pcm, sample_rate)
        tokens = spoken_tokens(text)
        if not tokens:
            raise AlignmentFailed("no words in the text")
        audio = resample_pcm(pcm, sample_rate, RATE) if sample_rate != RATE else pcm[: len(pcm) // 2 * 2]
        bounds = speech_bounds(audio, RATE)
        if bounds is None:
            raise AlignmentFailed("no speech in the audio")
        lo = max(0, bounds[0] - MARGIN_MS)
        hi = min(len(audio) // 2 * 1000 // RATE, bounds[1] + MARGIN_MS)
        window = audio[lo * RATE // 1000 * 2: hi * RATE // 1000 * 2]
        if (hi - lo) < 30 * len(tokens):
            raise AlignmentFailed("audio too short for the text")
        acoustics = measure(window)
        keys = [t.key for t in tokens]
        pause_probs = pause_probabilities([text[a.char_end:b.char_start] for a, b in zip(tokens, tokens[1:])])
        detail: dict = {"speech_ms": list(bounds)}
        with self._pool.decoder() as dec:
            missing = [t.text for t in tokens if not dec.ensure(t, self._prons, self._prons_lock)]
            if missing:
                raise AlignmentFailed(f"no pronunciation for {', '.join(missing[:5])}")
            words, chunks = self._decode(dec, tokens, text, keys, pause_probs, window)
            regions = find_regions(words, acoustics) if self.detect_mismatch else []
            if regions:  # the canonical pronunciation may be what doesn't fit: let those words take variants
                words, regions = retry_variants(dec, words, regions, keys, pause_probs, window, acoustics)
            spoken = [w for w in words if not w.filler]
            detail.update(chunks=chunks, score_per_frame=round(
                sum(w.score for w in spoken) / max(1, sum(w.frames for w in spoken)), 2))
            loop = dec.phone_loop(window) if self.detect_mismatch and suspicious(words) else None
            mismatch = line_mismatch(words, loop[1] if loop else None) if self.detect_mismatch else ""
            if mismatch or (regions and whole_line(regions, len(tokens), (bounds[1] - bounds[0]) // FRAME_MS)):
                return self._whole_line(dec, pcm, sample_rate, text, window, lo, total, char_offset, start_ms,
                                        mismatch or regions[0].reason, loop)
            segs = _phone_segs(words)
            if self.refine:
                segs = refine(segs, acoustics, calibration=self.calibration)
            for region in regions:
                segs = _replace(segs, region, _recognised(dec, window, region))
        return self._result(segs, tokens, regions, lo, total, char_offset, start_ms, detail)

    def _decode(self, dec: SphinxDecoder, tokens: list[Token], text: str, keys: list[str],
                pause_probs: list[float], window: bytes) -> tuple[list[AlignedWord], int]:
        if len(window) // 2 <= self.chunk_s * RATE:
            words, chunks = dec.align(keys, pause_probs, window), 1
        else:
            words, chunks = align_long(dec, tokens, text, keys, pause_probs, window, self.chunk_s)
        spoken = [w for w in words if not w.filler]
        if len(spoken) != len(tokens) or any(w.name != k for w, k in zip(spoken, keys)):
            raise AlignmentFailed("alignment lost track of the words")
        return words, chunks

    def _whole_line(self, dec: SphinxDecoder, pcm: bytes, sample_rate: int, text: str, window: bytes, lo: int,
                    total: int, char_offset: int, start_ms: int, reason: str,
                    loop: tuple[list[tuple[str, int, int]], int] | None = None) -> AlignmentResult:
        """Most of the line doesn't match: words spread over the speech, phones recognised from it."""
        result = self.fallback.align(pcm, sample_rate, text, char_offset=char_offset, start_ms=start_ms)
        phones_found = (loop or dec.phone_loop(window))[0]
        phones = [PhonemeSpan(ARPABET_TO_IPA.get(p) or SILENCE, start_ms + lo + s * FRAME_MS,
                              start_ms + lo + (s + n) * FRAME_MS) for p, s, n in phones_found]
        result.phonemes = cover(phones, start_ms, start_ms + total)
        why = reason if reason.startswith("the audio does not match") else f"the audio does not match the text ({reason})"
        result.reason = f"{why}; phones recognised from the audio"
        result.aligner = self.name
        return result

    def _result(self, segs: list[PhoneSeg], tokens: list[Token], regions: list[Region], lo: int, total: int,
                char_offset: int, start_ms: int, detail: dict) -> AlignmentResult:
        base = start_ms + lo

        def ms(t: int) -> int:
            return max(start_ms, min(start_ms + total, base + t))

        phonemes: list[PhonemeSpan] = []
        prev_word = -1
        for seg in segs:
            ipa = SILENCE if seg.phone == SIL else ARPABET_TO_IPA.get(seg.phone, SILENCE)
            a, b = ms(seg.start_ms), ms(seg.end_ms)
            if seg.word >= 0 and seg.word != prev_word and phonemes and phonemes[-1].phoneme != SILENCE:
                phonemes.append(PhonemeSpan(SILENCE, a, a))  # zero-length break: the word boundary stays visible
            phonemes.append(PhonemeSpan(ipa, a, b))
            prev_word = seg.word if seg.word >= 0 else prev_word
        by_word: dict[int, tuple[int, int]] = {}
        for seg in segs:
            if seg.word >= 0:
                a, b = by_word.get(seg.word, (seg.start_ms, seg.end_ms))
                by_word[seg.word] = (min(a, seg.start_ms), max(b, seg.end_ms))
        estimated: dict[int, tuple[int, int]] = {}
        spans = []
        for region in regions:
            estimated.update(_spread(region, tokens))
            inside = [tokens[i] for i in region.words]
            spans.append(EstimatedSpan(ms(region.start_ms), ms(region.end_ms), tuple(t.text for t in inside),
                                       inside[0].char_start + char_offset if inside else None,
                                       inside[-1].char_end + char_offset if inside else None, region.reason))
        word_spans = []
        for i, tok in enumerate(tokens):
            a, b = estimated.get(i) or by_word.get(i) or (0, 0)
            word_spans.append(WordSpan(tok.text, ms(a), ms(b), tok.char_start + char_offset,
                                       tok.char_end + char_offset))
        for k in range(1, len(word_spans)):  # keep words monotonic where estimates meet aligned words
            prev, cur = word_spans[k - 1], word_spans[k]
            if cur.start_ms < prev.end_ms:
                word_spans[k] = WordSpan(cur.word, prev.end_ms, max(prev.end_ms, cur.end_ms), cur.char_start,
                                         cur.char_end)
        method = PARTIAL if spans else FORCED
        reason = "; ".join(f"{s.reason} at {s.start_ms}-{s.end_ms} ms" for s in spans)
        return AlignmentResult(cover(phonemes, start_ms, start_ms + total), word_spans, total, method, reason,
                               self.name, detail, spans)


def _phone_segs(words: list[AlignedWord]) -> list[PhoneSeg]:
    """Phones of the alignment in window ms; pauses are SIL; ``word`` indexes the spoken words."""
    out: list[PhoneSeg] = []
    k = -1
    for w in words:
        if w.filler:
            out.append(PhoneSeg(SIL, w.start * FRAME_MS, (w.start + w.frames) * FRAME_MS))
            continue
        k += 1
        phones = w.phones or [(SIL, w.start, w.frames)]
        out += [PhoneSeg(p if p in ARPABET_TO_IPA else SIL, s * FRAME_MS, (s + n) * FRAME_MS, k) for p, s, n in phones]
    return out


def _recognised(dec: SphinxDecoder, window: bytes, region: Region) -> list[PhoneSeg]:
    """Phones recognised in the region's audio (window ms)."""
    piece = window[region.start_ms * RATE // 1000 * 2: region.end_ms * RATE // 1000 * 2]
    out = []
    for phone, s, n in dec.phone_loop(piece)[0]:
        a = region.start_ms + s * FRAME_MS
        b = min(region.end_ms, a + n * FRAME_MS)
        if b > a:
            out.append(PhoneSeg(phone if phone in ARPABET_TO_IPA else SIL, a, b))
    return out or [PhoneSeg(SIL, region.start_ms, region.end_ms)]


def _replace(segs: list[PhoneSeg], region: Region, inside: list[PhoneSeg]) -> list[PhoneSeg]:
    """``segs`` with ``[region.start_ms, region.end_ms)`` replaced by ``inside`` (neighbours clipped)."""
    a, b = region.start_ms, region.end_ms
    before = [PhoneSeg(s.phone, s.start_ms, min(s.end_ms, a), s.word) for s in segs if s.start_ms < a]
    after = [PhoneSeg(s.phone, max(s.start_ms, b), s.end_ms, s.word) for s in segs if s.end_ms > b]
    return [s for s in before if s.end_ms > s.start_ms] + inside + [s for s in after if s.end_ms > s.start_ms]


def _spread(region: Region, tokens: list[Token]) -> dict[int, tuple[int, int]]:
    """Times (window ms) of the region's words, spread over it by length."""
    if not region.words:
        return {}
    weights = [max(1, len(tokens[i].text)) for i in region.words]
    total = sum(weights)
    out = {}
    t = float(region.start_ms)
    for i, w in zip(region.words, weights):
        step = (region.end_ms - region.start_ms) * w / total
        out[i] = (round(t), round(t + step))
        t += step
    return out
