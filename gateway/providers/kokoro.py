"""Kokoro-82M int8 (ONNX Runtime) with the 28 English voices of kokoro-js: 24 kHz, exact per-token timings.

Prepared once by :mod:`gateway.install.kokoro` (``python -m gateway.install``): the model is patched to
return the duration predictor's frame counts (``/encoder/Clip_output_0``, one per token including both
pads, 600 samples per frame), so ``sum(dur) * 600 == len(audio)`` and phoneme times are exact, and
:mod:`gateway.install.kokoro_split` cuts it into a front (text -> frames, F0, energy, durations) and a
waveform decoder. :mod:`gateway.providers.kokoro_decode` runs them: the lead-in's frames are cut before
decoding, and with ``decode = "windowed"`` (the default) the decoder runs window by window, so first audio
waits for one window, not the sentence (docs/providers-local.md#how-kokoro-streams).

G2P is Piper's bundled espeak-ng (``piper.espeakbridge``: en-us for ``a*`` voices, en-gb for ``b*``),
mapped onto the Kokoro/misaki phoneme set. ``espeakbridge`` drives one process-global espeak-ng
instance (``set_voice`` changes a global voice; ``get_phonemes`` uses global buffers), so every use
must go through :func:`gateway.timing.phonemize.espeak_clauses`; :func:`espeak_ipa` does.

Alignment phonemes are IPA: Kokoro's one-letter diphthongs/affricates are spelled back out
(``A -> eɪ``, ``ʤ -> dʒ`` ...), the pads are ``^``/``$``, spaces and punctuation are kept, stress
marks are their own (usually short) spans as with Piper, and a length mark ``ː`` is merged into the
phoneme before it.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import AsyncIterator, Iterator

import numpy as np

from gateway.core.errors import ErrorKind, ProviderError
from gateway.core.events import AlignmentEvent, AudioEvent, FinalEvent, ProviderEvent, SegmentEndEvent
from gateway.core.segments import Segment
from gateway.core.timeline import PhonemeSpan, samples_to_ms
from gateway.core.voices import HealthState, ProviderHealth, VoiceInfo
from gateway.install.kokoro import (
    ENGLISH_VOICES,
    kokoro_decoder_path,
    kokoro_front_path,
    kokoro_model_path,
    kokoro_vocab_path,
    kokoro_voices_dir,
    missing_voices,
)
from gateway.providers.base import Provider, SynthesisRequest
from gateway.providers.kokoro_decode import Frames, KokoroEngine, WindowPlan
from gateway.providers.kokoro_windows import first_clause_end
from gateway.providers.prosody import apply_gain, pause, segment_gain_db, segment_speed
from gateway.providers.threaded import ConcurrencyGate, Gate, SynthesisJob, run_gated
from gateway.settings import Settings
from gateway.text.clean import split_first_clause
from gateway.timing.phonemize import espeak_clauses
from gateway.timing.words import words_from_phonemes

log = logging.getLogger(__name__)

SAMPLE_RATE = 24000
FRAME_SAMPLES = 600  #: samples per duration frame (25 ms)
MAX_TOKENS = 510  #: tokens per inference, pads excluded
PAUSE_MS = 300  #: silence for a piece with nothing to say ("...")
PREPARE_HINT = "run `python -m gateway.install` (needs npm once for the voices)"


# --- G2P: espeak IPA -> Kokoro (misaki) symbols --------------------------------------------------------

_LANG_FLAG = re.compile(r"\([^)]*\)")
_SYLLABIC = re.compile("(\\S)\u0329")
# Applied in order (multi-character sequences before their parts).
_US_RULES = (("oʊ", "O"), ("ɜːɹ", "ɜɹ"), ("ɜː", "ɜɹ"), ("ɪə", "iə"))
_GB_RULES = (("eə", "ɛː"), ("iə", "ɪə"), ("əʊ", "Q"))
_COMMON_RULES = (
    ("ʔn\u0329", "tᵊn"), ("ʔn", "tᵊn"), ("ʔ", "t"),
    ("aɪ", "I"), ("aʊ", "W"), ("eɪ", "A"), ("ɔɪ", "Y"), ("dʒ", "ʤ"), ("tʃ", "ʧ"),
    ("ɚ", "əɹ"), ("ɐ", "ə"), ("r", "ɹ"), ("ɾ", "T"), ("x", "k"), ("ç", "k"), ("ɬ", "l"), ("ʲ", ""),
)
#: Kokoro symbols spelled back as IPA at the alignment boundary.
TO_IPA = {"A": "eɪ", "I": "aɪ", "W": "aʊ", "O": "oʊ", "Y": "ɔɪ", "Q": "əʊ", "ʤ": "dʒ", "ʧ": "tʃ", "T": "ɾ",
          "ᵊ": "ə"}


def is_british(voice: str) -> bool:
    return voice.startswith("b")


def espeak_ipa(text: str, espeak_voice: str) -> str:
    """IPA for ``text`` from Piper's espeak-ng: clauses joined by their punctuation and a space."""
    clauses = espeak_clauses(text, espeak_voice)
    parts = [(_LANG_FLAG.sub("", ph) + term).strip() for ph, term, _eos in clauses]
    return " ".join(p for p in parts if p)


def ipa_to_kokoro(ipa: str, british: bool) -> str:
    """Map espeak IPA onto the Kokoro v1.0 (misaki) phoneme set (after misaki's EspeakFallback)."""
    ps = ipa
    for old, new in _GB_RULES if british else _US_RULES:
        ps = ps.replace(old, new)
    for old, new in _COMMON_RULES:
        ps = ps.replace(old, new)
    ps = _SYLLABIC.sub(r"ᵊ\1", ps).replace("\u0329", "")
    ps = ps.replace("e", "A").replace("o", "ɔ")
    # espeak over-rhotacises ("adventurer" -> ɐdvˈɛntʃɚɹɚ -> ...əɹɹəɹ): one ɹ is enough.
    ps = re.sub("ɹ+", "ɹ", ps)
    if not british:
        ps = ps.replace("ː", "")
    return ps


# --- text pieces that fit the model ------------------------------------------------------------------

_CLAUSE_BREAK = re.compile(r"""[,;:.!?…—–]["'”’)\]]*\s+""")


def split_text_in_two(segment: Segment) -> list[Segment] | None:
    """Split at the clause boundary nearest the middle, else the space nearest the middle."""
    text = segment.text
    middle = len(text) / 2
    cuts = [m.end() for m in _CLAUSE_BREAK.finditer(text) if 0 < m.end() < len(text)]
    if not cuts:
        cuts = [m.end() for m in re.finditer(r"\s+", text) if 0 < m.start() and m.end() < len(text)]
    if not cuts:
        return None
    cut = min(cuts, key=lambda c: abs(c - middle))
    head = text[:cut].rstrip()
    tail = text[cut:]
    return [Segment(segment.index, head, segment.char_start), Segment(segment.index, tail, segment.char_start + cut)]


# --- the provider ------------------------------------------------------------------------------------

_NAMES = {"a": ("en-US", "US English"), "b": ("en-GB", "British English")}


def voice_info(voice: str) -> VoiceInfo:
    language, accent = _NAMES[voice[0]]
    gender = "female" if voice[1] == "f" else "male"
    title = voice.split("_", 1)[1].capitalize()
    return VoiceInfo(provider="kokoro", voice=voice, name=f"{title} ({accent}, {gender})", language=language,
                     gender=gender, sample_rate=SAMPLE_RATE)


class KokoroProvider(Provider):
    """Kokoro-82M int8 on ONNX Runtime (CPU), English voices from kokoro-js, exact durations.

    ``warmup`` runs one short line at start-up so the first request does not pay ORT's first-run cost.
    ``lead_silence_ms`` cuts the model's ~0.35 s lead-in (the ``^`` pad's frames) to this much before the
    decoder runs, so it is never computed (whole frames; timings stay exact); ``None`` keeps it all.
    """

    name = "kokoro"
    family = "kokoro"
    exact_timing = True

    def __init__(self, settings: Settings, *, lead_silence_ms: int | None = 50, warmup: bool = True,
                 gate: Gate | None = None) -> None:
        self.settings = settings
        self.models_dir = settings.models_dir
        self.lead_silence_ms = lead_silence_ms
        self.warmup = warmup
        self._session: KokoroEngine | None = None
        self._vocab: dict[str, int] = {}
        self._packs: dict[str, np.ndarray] = {}
        self._load_lock = asyncio.Lock()
        self._gate = gate or ConcurrencyGate(settings.engine_concurrency)  #: admits each synthesis
        self.load_s: float | None = None
        k = settings.kokoro
        self.windowed = k.decode == "windowed"
        self.plan = WindowPlan.from_ms(k.first_window_ms, k.window_growth, k.context_ms, k.crossfade_ms)

    # -- lifecycle --

    def missing_files(self) -> list[str]:
        missing = [str(p) for p in (kokoro_model_path(self.models_dir), kokoro_vocab_path(self.models_dir),
                                    kokoro_front_path(self.models_dir), kokoro_decoder_path(self.models_dir))
                   if not p.is_file()]
        if not kokoro_voices_dir(self.models_dir).is_dir():
            missing.append(str(kokoro_voices_dir(self.models_dir)))
        return missing

    async def start(self) -> None:
        """Load the session in a thread. Missing files are not fatal: health says DOWN, stream raises."""
        async with self._load_lock:
            if self._session is not None:
                return
            missing = self.missing_files()
            if missing:
                log.warning("kokoro: not prepared (%s missing); %s", ", ".join(missing), PREPARE_HINT)
                return
            await asyncio.to_thread(self._load)

    def _load(self) -> None:
        import json

        t0 = time.perf_counter()
        k = self.settings.kokoro
        try:
            engine = KokoroEngine(kokoro_front_path(self.models_dir), kokoro_decoder_path(self.models_dir),
                                  intra_threads=k.intra_threads, spinning=k.spinning)
        except Exception as exc:  # onnxruntime raises its own exception types (a truncated or foreign file)
            raise ProviderError(ErrorKind.UNAVAILABLE, f"kokoro model does not load ({type(exc).__name__}: "
                                f"{str(exc)[:200]}); {PREPARE_HINT}", provider=self.name) from exc
        self._vocab = json.loads(kokoro_vocab_path(self.models_dir).read_text(encoding="utf-8"))["vocab"]
        self._session = engine
        present = [v for v in ENGLISH_VOICES if (kokoro_voices_dir(self.models_dir) / f"{v}.bin").is_file()]
        if self.warmup and present:  # first run allocates ORT's buffers (~0.3 s): pay it at start-up
            try:
                frames = self._front(self._symbols("Hello there.", present[0]), self._pack(present[0]), 1.0)
                for _chunk in self._audio(frames):  # a generator: run it
                    pass
            except ProviderError as exc:
                log.warning("kokoro: warm-up failed: %s", exc)
        self.load_s = time.perf_counter() - t0
        log.info("kokoro: loaded %s in %.2fs (intra_op=%d, spinning=%s, decode=%s)", kokoro_front_path(
            self.models_dir).parent, self.load_s, k.intra_threads, k.spinning, k.decode)

    async def close(self) -> None:
        self._session = None
        self._packs.clear()

    async def health(self) -> ProviderHealth:
        if self._session is not None:
            return ProviderHealth(HealthState.UP, detail={"loaded": True, "voices": len(self.voices())})
        missing = self.missing_files()
        if missing:
            return ProviderHealth(HealthState.DOWN, f"model files missing: {', '.join(missing)}; {PREPARE_HINT}")
        return ProviderHealth(HealthState.UP, "prepared, loads on first use", detail={"loaded": False})

    def voices(self) -> list[VoiceInfo]:
        absent = set(missing_voices(self.models_dir))
        return [voice_info(v) for v in ENGLISH_VOICES if v not in absent]

    def default_voice(self) -> str:
        return "af_heart"

    # -- synthesis --

    def _pack(self, voice: str) -> np.ndarray:
        pack = self._packs.get(voice)
        if pack is None:
            path = kokoro_voices_dir(self.models_dir) / f"{voice}.bin"
            if voice not in ENGLISH_VOICES or not path.is_file():
                raise ProviderError(ErrorKind.UNAVAILABLE, f"kokoro has no voice {voice!r}", provider=self.name)
            pack = np.fromfile(path, dtype=np.float32).reshape(-1, 256)
            self._packs[voice] = pack
        return pack

    async def stream(self, request: SynthesisRequest) -> AsyncIterator[ProviderEvent]:
        if self._session is None:
            await self.start()
        if self._session is None:
            raise ProviderError(ErrorKind.UNAVAILABLE, f"kokoro model not prepared; {PREPARE_HINT}", provider=self.name)
        pack = self._pack(request.voice)
        speed = float(min(2.0, max(0.5, request.settings.speed or 1.0)))
        async for event in run_gated(self._gate, SynthesisJob.of(self.name, request),
                                     lambda: self._generate(request, pack, speed)):
            yield event

    def phonemize(self, text: str, voice: str) -> str:
        """Kokoro phoneme string for ``text`` in the accent of ``voice``."""
        british = is_british(voice)
        return ipa_to_kokoro(espeak_ipa(text, "en" if british else "en-us"), british)

    def _symbols(self, text: str, voice: str) -> str:
        return "".join(c for c in self.phonemize(text, voice) if c in self._vocab)

    def _pieces(self, segment: Segment, voice: str, first: bool) -> Iterator[tuple[Segment, str]]:
        parts = split_first_clause(segment) if first and not self.windowed else [segment]
        for part in parts:
            yield from self._fit(part, voice, 0)

    def _fit(self, segment: Segment, voice: str, depth: int) -> Iterator[tuple[Segment, str]]:
        symbols = self._symbols(segment.text, voice)
        if len(symbols) <= MAX_TOKENS:
            yield segment, symbols
            return
        halves = split_text_in_two(segment) if depth < 16 else None
        if halves is None:
            log.warning("kokoro: %d tokens with no place to split; truncating to %d", len(symbols), MAX_TOKENS)
            yield segment, symbols[:MAX_TOKENS]
            return
        for half in halves:
            yield from self._fit(half, voice, depth + 1)

    def _engine(self) -> KokoroEngine:
        engine = self._session
        if engine is None:
            raise ProviderError(ErrorKind.UNAVAILABLE, "kokoro was closed", provider=self.name)
        return engine

    def _ort_error(self, exc: Exception) -> ProviderError:
        return ProviderError(ErrorKind.RETRYABLE, f"onnxruntime: {type(exc).__name__}: {str(exc)[:200]}",
                             provider=self.name)

    def _front(self, symbols: str, pack: np.ndarray, speed: float) -> Frames:
        """Durations, F0, energy and frames for a whole piece, the lead-in cut to ``lead_silence_ms``."""
        tokens = [self._vocab[c] for c in symbols]
        keep = None if self.lead_silence_ms is None else -(-self.lead_silence_ms * SAMPLE_RATE // 1000 // FRAME_SAMPLES)
        try:
            return self._engine().front(tokens, pack[min(len(tokens), len(pack)) - 1], speed, keep)
        except ProviderError:
            raise
        except Exception as exc:  # onnxruntime raises its own exception types
            raise self._ort_error(exc) from exc

    def _audio(self, frames: Frames, first_end: int | None = None) -> Iterator[np.ndarray]:
        """The piece's audio: one chunk (whole) or one per window; ``frames.count * 600`` samples in all."""
        engine = self._engine()
        try:
            if self.windowed:
                yield from engine.decode_windows(frames, self.plan, first_end)
            else:
                yield engine.decode_whole(frames)
        except Exception as exc:  # onnxruntime raises its own exception types
            raise self._ort_error(exc) from exc

    def _generate(self, request: SynthesisRequest, pack: np.ndarray, speed: float) -> Iterator[ProviderEvent]:
        position = 0  # samples since this stream's start
        first = True
        for segment in request.segments:
            silence, added = pause(segment, position, SAMPLE_RATE)
            yield from silence
            position += added
            seg_speed = segment_speed(speed, segment, low=0.5, high=2.0)
            gain_db = segment_gain_db(segment)
            for piece, symbols in self._pieces(segment, request.voice, first):
                opening, first = first, False
                if not symbols:  # punctuation only ("..."): a short pause, so every segment has audio
                    n = PAUSE_MS * SAMPLE_RATE // 1000
                    yield AudioEvent(bytes(2 * n), SAMPLE_RATE, segment.index, samples_to_ms(position, SAMPLE_RATE))
                    gap = PhonemeSpan(" ", samples_to_ms(position, SAMPLE_RATE),
                                        samples_to_ms(position + n, SAMPLE_RATE))
                    yield AlignmentEvent((gap,), (), segment.index)
                    position += n
                    continue
                frames = self._front(symbols, pack, seg_speed)
                samples = self._timeline(frames, len(symbols))
                alignment = None
                start = position
                # A request's first piece: its first window may end with its first clause (first audio sooner).
                clause = (first_clause_end(symbols, frames.durations.tolist(), self.plan.min_first)
                          if opening and self.settings.kokoro.first_window_at_clause else None)
                for chunk in self._audio(frames, clause):
                    if not len(chunk):
                        continue
                    pcm = apply_gain((np.clip(chunk, -1.0, 1.0) * 32767.0).astype("<i2").tobytes(), gain_db)
                    yield AudioEvent(pcm, SAMPLE_RATE, segment.index, samples_to_ms(position, SAMPLE_RATE))
                    position += len(chunk)
                    if alignment is None:  # the piece's timings as soon as its first audio is out
                        phonemes = self._spans(["^", *symbols, "$"], samples, start)
                        alignment = AlignmentEvent(tuple(phonemes), tuple(words_from_phonemes(phonemes, piece)),
                                                   segment.index)
                        yield alignment
                if position - start != sum(samples):  # the engine pads/cuts to frames * 600; never drift
                    raise ProviderError(ErrorKind.RETRYABLE, f"kokoro: {position - start} samples for a "
                                        f"{sum(samples)}-sample timeline", provider=self.name)
            yield SegmentEndEvent(segment.index, samples_to_ms(position, SAMPLE_RATE))
        yield FinalEvent(stats={"provider": self.name, "audio_ms": samples_to_ms(position, SAMPLE_RATE),
                                "sample_rate": SAMPLE_RATE, "voice": request.voice})

    @staticmethod
    def _timeline(frames: Frames, n_symbols: int) -> list[int]:
        """Per-token sample counts (both pads included) that sum exactly to the piece's audio length."""
        durations = [int(d) for d in frames.durations]
        if len(durations) != n_symbols + 2:  # should not happen with the patched model; spread evenly
            log.warning("kokoro: %d durations for %d tokens", len(durations), n_symbols + 2)
            each, extra = divmod(frames.count, n_symbols + 2)
            durations = [each + (1 if i < extra else 0) for i in range(n_symbols + 2)]
        return [d * FRAME_SAMPLES for d in durations]

    @staticmethod
    def _spans(symbols: list[str], samples: list[int], position: int) -> list[PhonemeSpan]:
        spans: list[PhonemeSpan] = []
        cursor = position
        for symbol, n in zip(symbols, samples):
            start, cursor = cursor, cursor + n
            start_ms, end_ms = samples_to_ms(start, SAMPLE_RATE), samples_to_ms(cursor, SAMPLE_RATE)
            if symbol == "ː" and spans:
                prev = spans[-1]
                spans[-1] = PhonemeSpan(prev.phoneme + "ː", prev.start_ms, end_ms)
                continue
            spans.append(PhonemeSpan(TO_IPA.get(symbol, symbol), start_ms, end_ms))
        return spans
