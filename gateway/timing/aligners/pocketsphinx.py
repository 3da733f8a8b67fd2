"""Forced alignment with pocketsphinx 5.1 (PyPI; the en-US acoustic model and CMU dictionary ship in the wheel).

Steps for one call (all blocking; callers run it in a thread):

1. resample to 16 kHz and find the voiced region (frame energy); the aligner sees it plus
   :data:`MARGIN_MS` on each side, so lead-in and tail silence can't pull words off;
2. tokenize the text (:func:`~gateway.timing.aligners.lexicon.spoken_tokens`) and make sure every
   token has a dictionary entry: out-of-dictionary words get pronunciations added (compounds
   joined, numbers read out two ways, espeak-ng's reading mapped to ARPAbet);
3. word-level pass then phone-level pass (``set_align_text`` / ``set_alignment``). Audio longer
   than :attr:`PocketsphinxAligner.chunk_s` is cut into chunks of at most ``chunk_s`` aligned
   separately (the phone pass keeps a full trellis: memory grows with the square of the
   length): at pauses matched to the text's punctuation by expected position, or, when that
   plan fails, at the pauses a word-level pass over the whole audio finds;
4. acoustic score per frame is checked (:attr:`~PocketsphinxAligner.min_score`): audio that
   doesn't say the text scores far lower, or doesn't align at all. Either way the result
   falls back to :class:`~gateway.timing.aligners.proportional.ProportionalAligner`
   (``method="estimated"`` with a ``reason``) instead of raising.

Decoders are pooled (one per concurrent call, ``pool_size``); each takes ~0.1 s and ~27 MB to create.
"""

from __future__ import annotations

import logging
import queue
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from gateway.core.timeline import PhonemeSpan, WordSpan
from gateway.audio.resample import resample_pcm
from gateway.timing.aligners.base import (
    FORCED,
    SILENCE,
    Aligner,
    AlignmentResult,
    cover,
    duration_ms,
    pauses,
    speech_bounds,
    voiced_frames,
)
from gateway.timing.aligners.lexicon import ARPABET_TO_IPA, Token, pronunciations, spoken_tokens
from gateway.timing.aligners.proportional import ProportionalAligner

log = logging.getLogger(__name__)

RATE = 16000
FRAME_MS = 10
#: Audio kept around the voiced region (ms).
MARGIN_MS = 150
#: Added to frame boundaries (ms). A frame's 25.6 ms window is centred 12.8 ms after its start,
#: so the boundary between frames t-1 and t lies ~8 ms after t * 10 ms; the benchmark confirms it.
FRAME_OFFSET_MS = 8
#: The first phone starts no earlier than this before the energy onset of the voice (ms).
ONSET_SLACK_MS = 10
#: Shortest pause (frames) long audio may be cut in.
PAUSE_FRAMES = 15
#: A decoder that has had this many words added is replaced (bounds memory in long-running servers).
MAX_ADDED_WORDS = 20000
_ALT = re.compile(r"\(\d+\)$")


class AlignmentFailed(Exception):
    """Forced alignment gave no usable result; the message says why (safe to show)."""


@dataclass(slots=True)
class _Word:
    name: str  #: dictionary word as aligned, "(n)" alternates stripped; fillers keep "<sil>" etc.
    start: int  #: frames
    frames: int
    score: int
    phones: list[tuple[str, int, int]]  #: (ARPAbet, start frame, frames)

    @property
    def filler(self) -> bool:
        return self.name.startswith(("<", "+", "[")) or self.name == "SIL"


class _Decoder:
    """A pocketsphinx decoder plus what was added to its dictionary."""

    def __init__(self) -> None:
        from pocketsphinx import Decoder

        self.ps = Decoder(samprate=RATE, bestpath=False, lm=None, loglevel="FATAL")
        self.added = 0

    def lookup(self, word: str) -> str | None:
        return self.ps.lookup_word(word)

    def ensure(self, token: Token, prons_cache: dict[str, list[str]], cache_lock: threading.Lock) -> bool:
        """Make ``token.key`` alignable; False when no pronunciation can be found."""
        key = token.key
        if self.lookup(key) is not None:
            return True
        with cache_lock:
            prons = prons_cache.get(key)
        if prons is None:
            prons = pronunciations(token.text, self.lookup)
            with cache_lock:
                if len(prons_cache) > MAX_ADDED_WORDS:
                    prons_cache.clear()
                prons_cache[key] = prons
        if not prons:
            return False
        for i, pron in enumerate(prons):
            try:
                self.ps.add_word(key if i == 0 else f"{key}({i + 1})", pron, True)
            except RuntimeError:
                if i == 0:
                    return False
        self.added += len(prons)
        return True


class _Pool:
    def __init__(self, size: int) -> None:
        self._free: queue.LifoQueue[_Decoder] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(max(1, size))

    @contextmanager
    def decoder(self) -> Iterator[_Decoder]:
        with self._slots:
            try:
                dec = self._free.get_nowait()
            except queue.Empty:
                dec = _Decoder()
            ok = False
            try:
                yield dec
                ok = True
            except AlignmentFailed:
                ok = True  # an expected outcome: the decoder finished its utterance and is reusable
                raise
            finally:
                # A decoder that raised mid-utterance is dropped: its search state is unknown.
                if ok and dec.added < MAX_ADDED_WORDS:
                    self._free.put(dec)

    def warm(self) -> None:
        with self.decoder():
            pass


class PocketsphinxAligner(Aligner):
    """Forced alignment to known English text; falls back to an estimate (see the module doc)."""

    name = "pocketsphinx"

    def __init__(self, *, pool_size: int = 2, chunk_s: float = 20.0, min_score: float = -45.0,
                 max_outlier_ratio: float = 4.0, fallback: Aligner | None = None) -> None:
        #: Concurrent alignments (each holds its own decoder).
        self.pool_size = pool_size
        #: Longest audio aligned at phone level in one pass (longer audio is cut at silences).
        self.chunk_s = chunk_s
        #: Mean acoustic score per frame below which the audio is taken not to say the text.
        #: Neural TTS that says the text scores -9..-14, espeak-ng's formant voice -18..-41,
        #: Piper audio aligned to another line's text -60..-80 (when it aligns at all).
        self.min_score = min_score
        #: A pause of 150 ms or more (or a word of 300 ms or more) scoring this many times worse per
        #: frame than the line's median word marks speech the text doesn't have (or text the audio
        #: doesn't say): matching lines stay under 3.1x, Piper lines missing their last two words
        #: mostly above 5x.
        self.max_outlier_ratio = max_outlier_ratio
        self.fallback = fallback or ProportionalAligner()
        self._pool = _Pool(pool_size)
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
        with self._pool.decoder() as dec:
            missing = [t.text for t in tokens if not dec.ensure(t, self._prons, self._prons_lock)]
            if missing:
                raise AlignmentFailed(f"no pronunciation for {', '.join(missing[:5])}")
            keys = [t.key for t in tokens]
            tail = hi - bounds[1] >= 50
            if (hi - lo) <= self.chunk_s * 1000:
                words = self._phone_pass(dec, keys, window, tail)
                chunks = 1
            else:
                words, chunks = self._long(dec, tokens, text, window, tail)
        score = self._check(words)
        return self._result(words, tokens, lo, total, char_offset, start_ms,
                            {"score_per_frame": round(score, 2), "chunks": chunks, "speech_ms": list(bounds)})

    def _word_pass(self, dec: _Decoder, keys: list[str], audio: bytes,
                   tail_silence: bool = False) -> list[tuple[str, int, int]]:
        ps = dec.ps
        # Leading silence is optional in pocketsphinx's alignment grammar, trailing silence is not
        # there at all: without it the last word swallows the tail.
        try:
            ps.set_align_text(" ".join(keys + ["<sil>"] if tail_silence else keys))
        except RuntimeError as exc:
            raise AlignmentFailed("the text cannot be aligned") from exc
        ps.start_utt()
        ps.process_raw(audio, full_utt=True)
        ps.end_utt()
        seg = ps.seg()
        if seg is None:
            raise AlignmentFailed("the audio does not match the text")
        return [(s.word, s.start_frame, s.end_frame) for s in seg]

    def _phone_pass(self, dec: _Decoder, keys: list[str], audio: bytes, tail_silence: bool = False) -> list[_Word]:
        self._word_pass(dec, keys, audio, tail_silence)
        ps = dec.ps
        ps.set_alignment()
        ps.start_utt()
        ps.process_raw(audio, full_utt=True)
        ps.end_utt()
        alignment = ps.get_alignment()
        if alignment is None:
            raise AlignmentFailed("the audio does not match the text")
        words = []
        for w in alignment:
            phones = [(p.name, p.start, p.duration) for p in w]
            words.append(_Word(_ALT.sub("", w.name), w.start, w.duration, w.score, phones))
        if not words:
            raise AlignmentFailed("the audio does not match the text")
        return words

    def _long(self, dec: _Decoder, tokens: list[Token], text: str, audio: bytes,
              tail_silence: bool) -> tuple[list[_Word], int]:
        """Audio longer than ``chunk_s``: phone passes over chunks cut in pauses.

        First try cut points from the audio's pauses matched to the text's punctuation (no extra
        decoding); if that plan can't be made or doesn't align cleanly, find the cuts with a
        word pass over the whole audio (robust, ~0.012 CPU-s per audio second more).
        """
        keys = [t.key for t in tokens]
        plan = self._plan_by_pauses(dec, tokens, text, audio)
        if plan is not None:
            try:
                words = self._align_chunks(dec, keys, audio, plan, {f for f, _ in plan[1:-1]}, tail_silence)
                self._check(words)
                return words, len(plan) - 1
            except AlignmentFailed:
                pass
        return self._chunked(dec, keys, audio, tail_silence)

    def _plan_by_pauses(self, dec: _Decoder, tokens: list[Token], text: str,
                        audio: bytes) -> list[tuple[int, int]] | None:
        """Cuts ``[(frame, words before it)]`` (with both ends) at pauses where the text has punctuation."""
        voiced = voiced_frames(audio, RATE)
        spoken = np.flatnonzero(voiced)
        gaps = pauses(voiced, PAUSE_FRAMES)
        if spoken.size == 0 or not gaps:
            return None
        first, last = int(spoken[0]), int(spoken[-1]) + 1
        # Expected position of each word boundary: phones per word, plus pause weight at punctuation.
        weights = [max(1, len((dec.lookup(t.key) or "x").split())) for t in tokens]
        breaks = [0]
        for a, b in zip(tokens, tokens[1:]):
            between = text[a.char_end:b.char_start]
            breaks.append(4 if any(c in ".!?…" for c in between) else 2 if any(c in ",;:—–()" for c in between)
                          else 0)
        total = sum(weights) + sum(breaks)
        scale = (last - first) / total
        max_frames = int(self.chunk_s * 1000 / FRAME_MS)
        tolerance = max(150, (last - first) // 10)
        cuts: list[tuple[int, int]] = [(0, 0)]
        acc = 0.0
        for k in range(1, len(tokens)):
            acc += weights[k - 1] + breaks[k]
            if not breaks[k]:
                continue
            expected = first + (acc - breaks[k] / 2) * scale  # middle of the pause before word k
            if expected - cuts[-1][0] < max_frames // 2:
                continue
            a, b = min(gaps, key=lambda g: abs((g[0] + g[1]) / 2 - expected))
            middle = (a + b) // 2
            if abs(middle - expected) <= tolerance and middle - cuts[-1][0] >= 100:
                cuts.append((middle, k))
        cuts.append((len(audio) // 2 * 100 // RATE, len(tokens)))
        if len(cuts) < 3 or any(f1 - f0 > max_frames or w1 <= w0 for (f0, w0), (f1, w1) in zip(cuts, cuts[1:])):
            return None
        return cuts

    def _chunked(self, dec: _Decoder, keys: list[str], audio: bytes, tail_silence: bool) -> tuple[list[_Word], int]:
        """Word pass over everything, then phone passes over chunks cut in silences."""
        segs = self._word_pass(dec, keys, audio, tail_silence)
        max_frames = int(self.chunk_s * 1000 / FRAME_MS)
        target = max_frames // 2
        cuts: list[tuple[int, int]] = []  # (frame, number of words before it)
        cuts_between: list[tuple[int, int]] = []  # the cuts not made in a silence
        chunk_start = 0
        words_seen = 0
        last_word_end: tuple[int, int] | None = None
        for word, sf, ef in segs:
            filler = word.startswith(("<", "+", "[")) or word == "SIL"
            if filler and ef - sf >= 5 and sf - chunk_start >= target:
                cut = (sf + ef + 1) // 2
                cuts.append((cut, words_seen))
                chunk_start = cut
            elif not filler:
                if ef + 1 - chunk_start > max_frames and last_word_end is not None:
                    cuts.append(last_word_end)  # no pause long enough: cut between words
                    cuts_between.append(last_word_end)
                    chunk_start = last_word_end[0]
                words_seen += 1
                last_word_end = (ef + 1, words_seen)
        bounds = [(0, 0)] + cuts + [(len(audio) // 2 * 100 // RATE, len(keys))]
        in_silence = {frame for frame, _ in cuts} - {frame for frame, _ in cuts_between}
        return self._align_chunks(dec, keys, audio, bounds, in_silence, tail_silence), len(bounds) - 1

    def _align_chunks(self, dec: _Decoder, keys: list[str], audio: bytes, bounds: list[tuple[int, int]],
                      in_silence: set[int], tail_silence: bool) -> list[_Word]:
        """Phone passes over ``bounds`` (``[(frame, words before it)]``), re-based to the whole audio."""
        out: list[_Word] = []
        for (f0, w0), (f1, w1) in zip(bounds, bounds[1:]):
            chunk_keys = keys[w0:w1]
            if not chunk_keys:
                continue
            piece = audio[f0 * RATE // 100 * 2: f1 * RATE // 100 * 2]
            tail = tail_silence if w1 == len(keys) else f1 in in_silence
            for w in self._phone_pass(dec, chunk_keys, piece, tail_silence=tail):
                out.append(_Word(w.name, w.start + f0, w.frames, w.score,
                                 [(n, s + f0, d) for n, s, d in w.phones]))
        return out

    def _check(self, words: list[_Word]) -> float:
        """Mean score per frame; raises when the audio evidently doesn't say the text."""
        frames = sum(w.frames for w in words)
        score = sum(w.score for w in words) / max(1, frames)
        if score < self.min_score:
            raise AlignmentFailed(f"the audio does not match the text (score {score:.1f} per frame)")
        per_frame = sorted(w.score / w.frames for w in words if not w.filler and w.frames)
        if per_frame:
            typical = per_frame[len(per_frame) // 2]
            for w in words:
                # A pause of 150 ms or a word of 300 ms: a short word the voice says oddly is not evidence.
                if w.frames >= (15 if w.filler else 30) \
                        and w.score / w.frames < self.max_outlier_ratio * min(typical, -1.0):
                    what = "a pause" if w.filler else f"the word {w.name!r}"
                    raise AlignmentFailed(f"the audio does not match the text around {what} "
                                          f"at {w.start * FRAME_MS} ms")
        return score

    def _result(self, words: list[_Word], tokens: list[Token], lo_ms: int, total: int, char_offset: int,
                start_ms: int, detail: dict) -> AlignmentResult:
        spoken = [w for w in words if not w.filler]
        if len(spoken) != len(tokens) or any(w.name != t.key for w, t in zip(spoken, tokens)):
            raise AlignmentFailed("alignment lost track of the words")

        def ms(frame: int) -> int:
            return max(0, min(total, lo_ms + frame * FRAME_MS + FRAME_OFFSET_MS))

        # Leading silence is optional in the alignment grammar and short lead-ins are not taken:
        # the first phone may then start before the voice does. Start it at the energy onset.
        onset = max(0, detail["speech_ms"][0] - ONSET_SLACK_MS)
        phonemes: list[PhonemeSpan] = []
        spans: list[WordSpan] = []
        for w, tok in zip(spoken, tokens):
            phones = [(ARPABET_TO_IPA.get(name) or SILENCE, ms(s), ms(s + d)) for name, s, d in w.phones] \
                or [(SILENCE, ms(w.start), ms(w.start + w.frames))]
            if not phonemes and phones[0][1] < onset < phones[0][2]:
                phones[0] = (phones[0][0], onset, phones[0][2])
            if phonemes and phonemes[-1].end_ms >= phones[0][1] + start_ms:
                # Words that abut: a zero-length break keeps the word boundary visible.
                phonemes.append(PhonemeSpan(SILENCE, phones[0][1] + start_ms, phones[0][1] + start_ms))
            phonemes += [PhonemeSpan(ipa, a + start_ms, b + start_ms) for ipa, a, b in phones]
            # The word spans its phones (a word entry's own duration may run into the next pause).
            spans.append(WordSpan(tok.text, phones[0][1] + start_ms, phones[-1][2] + start_ms,
                                  tok.char_start + char_offset, tok.char_end + char_offset))
        return AlignmentResult(cover(phonemes, start_ms, start_ms + total), spans, total, FORCED, "", self.name,
                               detail)
