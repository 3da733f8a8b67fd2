"""espeak-ng through libespeak-ng (ctypes): the always-there fallback, ~1000x faster than real time.

The library runs in ``AUDIO_OUTPUT_SYNCHRONOUS`` mode with phoneme events in IPA
(``espeakINITIALIZE_PHONEME_EVENTS | PHONEME_IPA | DONT_EXIT`` = 0x8003). Its synth callback
receives the samples (22 050 Hz s16) and events: ``espeakEVENT_PHONEME`` carries the IPA in
``id.string`` and the sample index where the phoneme starts (an empty string is a pause);
``espeakEVENT_WORD`` carries the word's 1-based character position in the text.

libespeak-ng is process-global and not thread-safe: every call holds :data:`ESPEAK_LOCK`.
(Piper's ``espeakbridge`` is a separate, statically linked copy, so the two do not share state.)

Phoneme spans cover the audio exactly: silence before the first phoneme and pauses are ``' '``
spans, each word start is marked by a zero-length ``' '`` span when no pause precedes it, and the
last span ends at the audio's last sample.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace

import numpy as np

from gateway.core.errors import ErrorKind, ProviderError
from gateway.core.events import AlignmentEvent, AudioEvent, FinalEvent, ProviderEvent, SegmentEndEvent
from gateway.core.segments import Segment
from gateway.core.timeline import PhonemeSpan, WordSpan, samples_to_ms
from gateway.core.voices import HealthState, ProviderHealth, VoiceInfo
from gateway.providers.base import Provider, SynthesisRequest
from gateway.providers.delivery import Delivery
from gateway.providers.prosody import segment_gain_db, segment_speed
from gateway.providers.threaded import ConcurrencyGate, Gate, SynthesisJob, run_gated
from gateway.settings import Settings
from gateway.text.clean import words_with_offsets
from gateway.timing.words import words_from_phonemes

log = logging.getLogger(__name__)

#: Serializes every call into libespeak-ng (one global engine per process).
ESPEAK_LOCK = threading.Lock()

AUDIO_OUTPUT_SYNCHRONOUS = 2
INIT_OPTIONS = 0x8003  # PHONEME_EVENTS | PHONEME_IPA | DONT_EXIT
POS_CHARACTER = 1
CHARS_UTF8 = 1
EVENT_LIST_TERMINATED, EVENT_WORD, EVENT_PHONEME = 0, 1, 7
PARAM_RATE = 1
DEFAULT_RATE = 175  #: espeak-ng's default words per minute
MIN_RATE, MAX_RATE = 80, 450


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("unique_identifier", ctypes.c_uint), ("text_position", ctypes.c_int),
                ("length", ctypes.c_int), ("audio_position", ctypes.c_int), ("sample", ctypes.c_int),
                ("user_data", ctypes.c_void_p), ("id", _EventId)]


_Callback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))


@dataclass(frozen=True, slots=True)
class EspeakVoice:
    voice: str  #: gateway voice name
    espeak_name: str  #: name given to espeak_SetVoiceByName (voice file, optional +variant)
    name: str
    language: str
    gender: str


VOICES: tuple[EspeakVoice, ...] = (
    EspeakVoice("en-us", "en-us", "English (America)", "en-US", "male"),
    EspeakVoice("en-us-f", "en-us+f3", "English (America), female variant", "en-US", "female"),
    EspeakVoice("en-gb", "en", "English (Great Britain)", "en-GB", "male"),
    EspeakVoice("en-gb-f", "en+f3", "English (Great Britain), female variant", "en-GB", "female"),
    EspeakVoice("en-gb-x-rp", "en-gb-x-rp", "English (Received Pronunciation)", "en-GB", "male"),
    EspeakVoice("en-gb-scotland", "en-gb-scotland", "English (Scotland)", "en-GB", "male"),
    EspeakVoice("en-us-nyc", "en-us-nyc", "English (New York City)", "en-US", "male"),
    EspeakVoice("en-029", "en-029", "English (Caribbean)", "en-029", "male"),
)
_BY_NAME = {v.voice: v for v in VOICES}


@dataclass(slots=True)
class _RawEvent:
    type: int
    sample: int
    text_position: int
    length: int
    phoneme: str


@dataclass(slots=True)
class _Synthesis:
    pcm: bytes
    events: list[_RawEvent]


class _Library:
    """The process-wide libespeak-ng handle. Use only while holding :data:`ESPEAK_LOCK`."""

    def __init__(self) -> None:
        path = ctypes.util.find_library("espeak-ng") or "libespeak-ng.so.1"
        self.lib = ctypes.CDLL(path)
        self.lib.espeak_Initialize.restype = ctypes.c_int
        self.lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        self.lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        self.lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        self.lib.espeak_Synth.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
                                          ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
        self.sample_rate = self.lib.espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 100, None, INIT_OPTIONS)
        if self.sample_rate <= 0:
            raise OSError(f"espeak_Initialize failed ({self.sample_rate})")
        self._chunks: list[bytes] = []
        self._events: list[_RawEvent] = []
        self._callback = _Callback(self._on_synth)  # keep a reference: the library holds a raw pointer
        self.lib.espeak_SetSynthCallback(self._callback)
        self.path = path
        self._voice: bytes | None = None

    def _on_synth(self, wav, numsamples, events) -> int:
        if numsamples > 0:
            self._chunks.append(ctypes.string_at(wav, numsamples * 2))
        i = 0
        while events[i].type != EVENT_LIST_TERMINATED:
            ev = events[i]
            if ev.type in (EVENT_WORD, EVENT_PHONEME):
                phoneme = ""
                if ev.type == EVENT_PHONEME:
                    phoneme = bytes(ev.id.string).split(b"\0", 1)[0].decode("utf-8", "ignore")
                self._events.append(_RawEvent(ev.type, ev.sample, ev.text_position, ev.length, phoneme))
            i += 1
        return 0

    def synthesize(self, text: str, espeak_name: str, rate: int) -> _Synthesis:
        name = espeak_name.encode()
        if name != self._voice:
            if self.lib.espeak_SetVoiceByName(name) != 0:
                raise ProviderError(ErrorKind.UNAVAILABLE, f"espeak-ng has no voice {espeak_name!r}", provider="espeak")
            self._voice = name
        self.lib.espeak_SetParameter(PARAM_RATE, rate, 0)
        self._chunks, self._events = [], []
        data = text.encode("utf-8")
        buf = ctypes.create_string_buffer(data)
        rc = self.lib.espeak_Synth(buf, len(data) + 1, 0, POS_CHARACTER, 0, CHARS_UTF8, None, None)
        self.lib.espeak_Synchronize()
        if rc != 0:
            raise ProviderError(ErrorKind.RETRYABLE, f"espeak_Synth returned {rc}", provider="espeak")
        result = _Synthesis(b"".join(self._chunks), self._events)
        self._chunks, self._events = [], []
        return result


_library: _Library | None = None
_library_error: str | None = None


def load_library() -> _Library | None:
    """Load and initialize libespeak-ng once per process; None (with a reason kept) when unavailable."""
    global _library, _library_error
    with ESPEAK_LOCK:
        if _library is None and _library_error is None:
            try:
                _library = _Library()
                log.info("espeak: loaded %s (sample rate %d)", _library.path, _library.sample_rate)
            except OSError as exc:
                _library_error = f"libespeak-ng not available: {exc}"
                log.warning("espeak: %s", _library_error)
        return _library


def build_timeline(synth: _Synthesis, segment: Segment, offset: int, sample_rate: int
                   ) -> tuple[list[PhonemeSpan], list[WordSpan]]:
    """Phoneme and word spans (ms, ``offset`` samples after the stream start) covering the audio exactly."""
    total = len(synth.pcm) // 2
    text_words = words_with_offsets(segment.text)

    # (start sample, phoneme, text word index or None, word starts here)
    marks: list[tuple[int, str, int | None, bool]] = []
    current: int | None = None
    word_start = False
    last = 0
    for ev in synth.events:
        if ev.type == EVENT_WORD:
            if ev.length > 0:
                pos = ev.text_position - 1
                current = next((k for k, (_, cs, ce) in enumerate(text_words) if cs <= pos < ce), None)
                word_start = True
            continue
        sample = min(total, max(last, ev.sample))  # clamp: monotonic and inside the audio
        last = sample
        if ev.phoneme:
            marks.append((sample, ev.phoneme, current, word_start))
            word_start = False
        else:
            marks.append((sample, " ", None, False))

    spans: list[tuple[str, int, int, int | None]] = []  # phoneme, start, end (samples), word
    cursor = 0
    for k, (sample, phoneme, word, starts_word) in enumerate(marks):
        if sample > cursor:  # silence before the first phoneme, or a gap the events skipped
            _push(spans, " ", cursor, sample, None)
            cursor = sample
        if starts_word and spans and spans[-1][0] != " ":
            spans.append((" ", cursor, cursor, None))  # zero-length word break
        end = marks[k + 1][0] if k + 1 < len(marks) else total
        _push(spans, phoneme, cursor, max(cursor, end), word)
        cursor = max(cursor, end)
    if cursor < total:
        _push(spans, " ", cursor, total, None)
    if not spans and total:
        spans.append((" ", 0, total, None))
    _share_zero_length(spans)

    phonemes = [PhonemeSpan(p, samples_to_ms(offset + s, sample_rate), samples_to_ms(offset + e, sample_rate))
                for p, s, e, _ in spans]
    return phonemes, _words(spans, phonemes, text_words, segment)


def _share_zero_length(spans: list) -> None:
    """espeak reports a vowel's trailing liquid ("well" -> ɛ, l) at the vowel's end, with no time of
    its own: give such a zero-length phoneme the last 40% of the phoneme before it."""
    for k in range(1, len(spans)):
        phoneme, start, end, word = spans[k]
        prev = spans[k - 1]
        if phoneme != " " and start == end and prev[0] != " " and prev[2] - prev[1] >= 2:
            cut = prev[1] + (prev[2] - prev[1]) * 3 // 5
            spans[k - 1] = (prev[0], prev[1], cut, prev[3])
            spans[k] = (phoneme, cut, end, word)


def _push(spans: list, phoneme: str, start: int, end: int, word: int | None) -> None:
    if phoneme == " " and spans and spans[-1][0] == " ":  # merge runs of pauses
        spans[-1] = (" ", spans[-1][1], end, None)
    elif phoneme == " " and end == start:
        return
    else:
        spans.append((phoneme, start, end, word))


def _words(spans: list, phonemes: list[PhonemeSpan], text_words: list, segment: Segment) -> list[WordSpan]:
    """Word spans from the WORD-event tagging; else (tags out of order) from the spaces.

    espeak sometimes speaks two text words as one ("of the" gets one WORD event): a text word with
    no phonemes of its own shares the phonemes of the tagged word before it, split by letters.
    """
    if not text_words:
        return []
    first: dict[int, int] = {}
    final: dict[int, int] = {}
    for k, (_, _, _, word) in enumerate(spans):
        if word is not None:
            first.setdefault(word, k)
            final[word] = k
    tagged = sorted(first)
    if not tagged or any(final[a] >= first[b] for a, b in zip(tagged, tagged[1:])):
        return words_from_phonemes(phonemes, segment)
    groups: dict[int, list[int]] = {w: [] for w in tagged}
    for i in range(len(text_words)):
        owner = max((w for w in tagged if w <= i), default=tagged[0])
        groups[owner].append(i)
    base = segment.char_start
    words: list[WordSpan] = []
    for owner in tagged:
        members = groups[owner]
        run = [k for k in range(first[owner], final[owner] + 1) if spans[k][0] != " "] or [first[owner]]
        letters = [max(1, len(text_words[m][0])) for m in members]
        total, n, acc, prev_hi = sum(letters), len(run), 0, -1
        for m, weight in zip(members, letters):
            lo = min(n - 1, max(prev_hi + 1, acc * n // total))
            acc += weight
            hi = prev_hi = max(lo, min(n - 1, -(-acc * n // total) - 1))
            start, end = phonemes[run[lo]].start_ms, phonemes[run[hi]].end_ms
            if words and start < words[-1].end_ms:
                start = words[-1].end_ms
            word, cs, ce = text_words[m]
            words.append(WordSpan(word, start, max(start, end), base + cs, base + ce))
    return words


class EspeakProvider(Provider):
    """espeak-ng (libespeak-ng via ctypes): robotic, instant, exact phoneme timings; 22 050 Hz."""

    name = "espeak"
    family = "espeak"
    exact_timing = True

    def __init__(self, settings: Settings, gate: Gate | None = None) -> None:
        self.settings = settings
        self._gate = gate or ConcurrencyGate(settings.engine_concurrency)  #: admits each synthesis

    async def start(self) -> None:
        await asyncio.to_thread(load_library)

    async def health(self) -> ProviderHealth:
        lib = load_library()
        if lib is None:
            return ProviderHealth(HealthState.DOWN, _library_error or "libespeak-ng not available")
        return ProviderHealth(HealthState.UP, detail={"library": lib.path, "sample_rate": lib.sample_rate})

    def voices(self) -> list[VoiceInfo]:
        return [VoiceInfo(provider=self.name, voice=v.voice, name=v.name, language=v.language, gender=v.gender,
                          sample_rate=22050) for v in VOICES]

    def default_voice(self) -> str:
        return "en-us"

    async def stream(self, request: SynthesisRequest) -> AsyncIterator[ProviderEvent]:
        lib = load_library()
        if lib is None:
            raise ProviderError(ErrorKind.UNAVAILABLE, _library_error or "libespeak-ng not available",
                                provider=self.name)
        voice = _BY_NAME.get(request.voice)
        if voice is None:
            raise ProviderError(ErrorKind.UNAVAILABLE, f"espeak has no voice {request.voice!r}", provider=self.name)
        speed = request.settings.speed or 1.0
        rate = int(min(MAX_RATE, max(MIN_RATE, round(DEFAULT_RATE * speed))))
        async for event in run_gated(self._gate, SynthesisJob.of(self.name, request),
                                     lambda: self._generate(lib, request, voice, rate)):
            yield event

    def _generate(self, lib: _Library, request: SynthesisRequest, voice: EspeakVoice, rate: int
                  ) -> Iterator[ProviderEvent]:
        sr = lib.sample_rate
        position = 0
        delivery = Delivery(self.settings, self.name, request, sr)
        for segment in request.segments:
            silence, added = delivery.gap(segment, position)
            yield from silence
            position += added
            seg_rate = int(min(MAX_RATE, max(MIN_RATE, round(rate * segment_speed(1.0, segment)))))
            for piece in delivery.pieces(segment):  # bounded length (gateway.text.pieces)
                with ESPEAK_LOCK:
                    synth = lib.synthesize(piece.text, voice.espeak_name, seg_rate)
                if not synth.pcm:
                    continue
                audio, head, _ = delivery.trim(np.frombuffer(synth.pcm, dtype="<i2").astype(np.float32) / 32768.0)
                pcm = delivery.level(audio, segment_gain_db(segment))
                synth = _Synthesis(pcm, [replace(ev, sample=max(0, ev.sample - head)) for ev in synth.events])
                yield AudioEvent(pcm, sr, segment.index, samples_to_ms(position, sr))
                phonemes, words = build_timeline(synth, piece, position, sr)
                yield AlignmentEvent(tuple(phonemes), tuple(words), segment.index)
                position += len(pcm) // 2
            delivery.end_segment(segment)
            yield SegmentEndEvent(segment.index, samples_to_ms(position, sr))
        yield FinalEvent(stats={"provider": self.name, "audio_ms": samples_to_ms(position, sr), "sample_rate": sr,
                                "voice": request.voice})
