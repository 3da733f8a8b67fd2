"""Pocketsphinx decoders for alignment: pronunciations, the grammar pass, the phone pass, a phone loop.

One :class:`SphinxDecoder` per concurrent alignment (:class:`DecoderPool`); each holds a
pocketsphinx ``Decoder`` (~27 MB, 0.1 s to create) with the en-US acoustic model and CMU
dictionary that ship in the pocketsphinx wheel, and, made on first use, a second decoder that
recognises phones freely (the bundled phone language model), used for audio the text doesn't
describe.

Dictionary words are aligned with their first (canonical) pronunciation: letting the decoder
pick among the dictionary's variants chose reduced-vowel variants (``the`` as "thee",
``pieces`` with "ih") that the speech did not have and cost 1 point of frame accuracy on the
evaluation set. The aligner retries a word with all its variants (``expand``) only when the
canonical one scores as a mismatch (Piper says ``your`` as "yur", ``are`` as "er"). Words
missing from the dictionary get every plausible pronunciation
(:func:`~gateway.timing.aligners.lexicon.pronunciations`) and the decoder picks.
"""

from __future__ import annotations

import math
import queue
import re
import threading
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from gateway.timing.aligners.grammar import alignment_grammar
from gateway.timing.aligners.lexicon import Token, pronunciations

RATE = 16000
FRAME_MS = 10
#: A decoder that has had this many words added is replaced (bounds memory in long-running servers).
MAX_ADDED_WORDS = 20000
#: Phone-loop language weight (lower than the word decoder's 6.5: measured best for phone accuracy).
PHONE_LOOP_LW = 2.0
_ALT = re.compile(r"\(\d+\)$")
_LOG_BASE = math.log(1.0001)


class AlignmentFailed(Exception):
    """Forced alignment gave no usable result; the message says why (safe to show)."""


@dataclass(slots=True)
class AlignedWord:
    """One word (or pause) of a decoded alignment, in 10 ms frames."""

    name: str  #: dictionary word, "(n)" variant stripped; pauses are "<sil>"
    start: int
    frames: int
    score: int  #: acoustic score (pocketsphinx units, relative to the best state each frame)
    phones: list[tuple[str, int, int]] = field(default_factory=list)  #: (ARPAbet, start frame, frames)

    @property
    def filler(self) -> bool:
        return self.name.startswith(("<", "+", "[")) or self.name == "SIL"

    @property
    def score_per_frame(self) -> float:
        return self.score / max(1, self.frames)


class SphinxDecoder:
    """A pocketsphinx decoder plus what was added to its dictionary."""

    def __init__(self) -> None:
        from pocketsphinx import Decoder

        self.ps = Decoder(samprate=RATE, bestpath=False, lm=None, loglevel="FATAL", beam=1e-80, wbeam=1e-60,
                          pbeam=1e-80, fsgusealtpron=False, fsgusefiller=False)
        self.added = 0
        #: Entries added for out-of-dictionary keys: ``key``, ``key(2)``...
        self.variants: dict[str, list[str]] = {}
        self._phones = None

    def lookup(self, word: str) -> str | None:
        return self.ps.lookup_word(word)

    def entries(self, key: str, expand: bool = False) -> list[str]:
        """Dictionary entries to try for ``key``: the canonical one (with ``expand``, every variant the
        dictionary has), or the pronunciations added for an out-of-dictionary key."""
        if key in self.variants:
            return self.variants[key]
        out = [key]
        while expand and self.lookup(f"{key}({len(out) + 1})") is not None:
            out.append(f"{key}({len(out) + 1})")
        return out

    def has_variants(self, key: str) -> bool:
        return key not in self.variants and self.lookup(f"{key}(2)") is not None

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
        added = []
        for i, pron in enumerate(prons):
            entry = key if i == 0 else f"{key}({i + 1})"
            try:
                self.ps.add_word(entry, pron, True)
            except RuntimeError:
                if i == 0:
                    return False
                continue
            added.append(entry)
        self.variants[key] = added
        self.added += len(prons)
        return True

    # ---- decoding ---------------------------------------------------------------------------------------------
    def _grammar_pass(self, keys: Sequence[str], pauses: Sequence[float], audio: bytes,
                      expand: Collection[str] = ()) -> None:
        final, transitions = alignment_grammar([self.entries(k, k in expand) for k in keys], pauses)
        try:
            fsg = self.ps.create_fsg("align", 0, final, transitions)
            self.ps.add_fsg("align", fsg)
            self.ps.activate_search("align")
        except (RuntimeError, ValueError) as exc:
            raise AlignmentFailed("the text cannot be aligned") from exc
        self.ps.start_utt()
        self.ps.process_raw(audio, full_utt=True)
        self.ps.end_utt()
        if self.ps.hyp() is None:
            raise AlignmentFailed("the audio does not match the text")

    def words(self, keys: Sequence[str], pauses: Sequence[float], audio: bytes,
              expand: Collection[str] = ()) -> list[tuple[str, int, int]]:
        """Word-level alignment only: ``(word, first frame, last frame)`` (cheap; no phone timing)."""
        self._grammar_pass(keys, pauses, audio, expand)
        return [(_ALT.sub("", s.word), s.start_frame, s.end_frame) for s in self.ps.seg()]

    def align(self, keys: Sequence[str], pauses: Sequence[float], audio: bytes,
              expand: Collection[str] = ()) -> list[AlignedWord]:
        """Words and phones of ``audio`` saying ``keys`` (dictionary keys) with optional pauses;
        keys in ``expand`` may take any of their dictionary variants."""
        self._grammar_pass(keys, pauses, audio, expand)
        try:
            self.ps.set_alignment()
        except RuntimeError as exc:
            raise AlignmentFailed("the audio does not match the text") from exc
        self.ps.start_utt()
        self.ps.process_raw(audio, full_utt=True)
        self.ps.end_utt()
        alignment = self.ps.get_alignment()
        if alignment is None:
            raise AlignmentFailed("the audio does not match the text")
        words = [AlignedWord(_ALT.sub("", w.name), w.start, w.duration, w.score,
                             [(p.name, p.start, p.duration) for p in w]) for w in alignment]
        if not words:
            raise AlignmentFailed("the audio does not match the text")
        return words

    def phone_loop(self, audio: bytes) -> tuple[list[tuple[str, int, int]], int]:
        """Phones recognised freely in ``audio``: ``[(ARPAbet or SIL, start frame, frames)]``, and their
        total acoustic score (the units of :attr:`AlignedWord.score`)."""
        if self._phones is None:
            from pocketsphinx import Decoder, get_model_path

            self._phones = Decoder(samprate=RATE, lm=None, allphone=get_model_path("en-us/en-us-phone.lm.bin"),
                                   loglevel="FATAL", bestpath=False, lw=PHONE_LOOP_LW)
        ps = self._phones
        ps.start_utt()
        ps.process_raw(audio, full_utt=True)
        ps.end_utt()
        segs = list(ps.seg())
        # The binding hands segment scores over as probabilities (logmath.exp of the log-1.0001 score).
        score = sum(math.log(max(s.ascore, 1e-300)) / _LOG_BASE for s in segs)
        return [(s.word, s.start_frame, s.end_frame - s.start_frame + 1) for s in segs], round(score)


class DecoderPool:
    def __init__(self, size: int) -> None:
        self._free: queue.LifoQueue[SphinxDecoder] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(max(1, size))

    @contextmanager
    def decoder(self) -> Iterator[SphinxDecoder]:
        with self._slots:
            try:
                dec = self._free.get_nowait()
            except queue.Empty:
                dec = SphinxDecoder()
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
