"""The OpenAI speech API as the speech pool speaks it, and its timing extension (docs/speech-workers.md).

Plain API, what every OpenAI-compatible server (OpenAI, Kokoro-FastAPI, LocalAI, ``gateway speech-worker``)
answers: ``POST /v1/audio/speech`` with ``{"model", "input", "voice", "response_format", "speed"}`` -> the audio
bytes, streamed. ``GET /v1/models`` lists the models.

The extension, offered by ``gateway speech-worker`` and advertised per model in ``GET /v1/models``
(``data[i]["mouthpiece"] = {"ready": true, "timing": "ndjson", "sample_rate": 22050, "voices": [...]}``). A plain
OpenAI client never sends its fields:

* ``"stream_format": "ndjson"``: the answer is ``application/x-ndjson``, one event a line, audio as base64 PCM
  s16le mono at the engine's own rate;
* ``"segments": [{"index", "text", "char_start", "break_before_ms", "prosody", "ipa"}]``: the line as the gateway
  planned it (sentences, SSML prosody, breaks, IPA hints), spoken exactly as in-process engines speak it.

Events; every time is a sample offset at ``sample_rate`` from the start of this answer's audio::

    {"type": "audio", "segment": 0, "offset": 0, "sample_rate": 22050, "audio": "<base64>"}
    {"type": "timing", "segment": 0, "phonemes": [{"phoneme": "h", "start": 0, "end": 1544}],
     "words": [{"word": "Hello", "start": 0, "end": 7497, "char_start": 0, "char_end": 5}]}
    {"type": "segment_end", "segment": 0, "end": 44100}
    {"type": "done", "samples": 44100, "sample_rate": 22050, "stats": {...}}
    {"type": "error", "code": "retryable", "message": "..."}       (instead of "done"; code: an ErrorKind)

The engines keep integer milliseconds; offsets are those milliseconds at the stream's rate, so a reader that turns
them back into milliseconds (:func:`~gateway.core.timeline.samples_to_ms`) gets the engine's own values exactly.
"""

from __future__ import annotations

import binascii

import orjson

from gateway.core import b64
from gateway.core.errors import ErrorKind, ProviderError
from gateway.core.events import AlignmentEvent, AudioEvent, FinalEvent, ProviderEvent, SegmentEndEvent
from gateway.core.segments import Prosody, Segment
from gateway.core.timeline import PhonemeSpan, WordSpan, ms_to_samples, samples_to_ms

SPEECH_PATH = "/v1/audio/speech"
MODELS_PATH = "/v1/models"
VOICES_PATH = "/v1/audio/voices"
NDJSON = "application/x-ndjson"
#: Key of the extension in ``/v1/models`` entries and bodies.
EXTENSION = "mouthpiece"
#: ``stream_format`` value that selects the extension's event stream.
EVENTS = "ndjson"
#: Header naming the sample rate of raw PCM answers.
SAMPLE_RATE_HEADER = "x-sample-rate"
#: Rate of OpenAI's (and Kokoro-FastAPI's) ``pcm`` answers.
OPENAI_PCM_RATE = 24000
NEUTRAL = Prosody()


# -- segments ------------------------------------------------------------------------------------

def segment_body(segment: Segment) -> dict:
    """A segment as the extension's ``segments`` item (neutral prosody and empty fields left out)."""
    body: dict = {"index": segment.index, "text": segment.text, "char_start": segment.char_start}
    if segment.break_before_ms:
        body["break_before_ms"] = segment.break_before_ms
    if segment.prosody != NEUTRAL:
        p = segment.prosody
        body["prosody"] = {"rate": p.rate, "volume_db": p.volume_db, "pitch_semitones": p.pitch_semitones,
                           "emphasis": p.emphasis, "emotion": p.emotion, "intensity": p.intensity}
    if segment.ipa:
        body["ipa"] = [list(span) for span in segment.ipa]
    return body


# -- events: the worker's side -------------------------------------------------------------------

class EventWriter:
    """Provider events -> NDJSON lines. Audio offsets count the samples written; times convert at the stream rate."""

    def __init__(self) -> None:
        self.samples = 0
        self.rate = 0

    def line(self, event: ProviderEvent) -> bytes:
        if isinstance(event, AudioEvent):
            self.rate = event.sample_rate
            body = {"type": "audio", "segment": event.segment, "offset": self.samples, "sample_rate": self.rate,
                    "audio": b64.encode(event.pcm)}
            self.samples += event.num_samples
        elif isinstance(event, AlignmentEvent):
            body = {"type": "timing", "segment": event.segment,
                    "phonemes": [{"phoneme": p.phoneme, "start": self._at(p.start_ms), "end": self._at(p.end_ms)}
                                 for p in event.phonemes],
                    "words": [{"word": w.word, "start": self._at(w.start_ms), "end": self._at(w.end_ms),
                               "char_start": w.char_start, "char_end": w.char_end} for w in event.words]}
        elif isinstance(event, SegmentEndEvent):
            body = {"type": "segment_end", "segment": event.segment, "end": self._at(event.end_ms)}
        else:
            body = {"type": "done", "samples": self.samples, "sample_rate": self.rate, "stats": event.stats}
        return orjson.dumps(body) + b"\n"

    def _at(self, ms: int) -> int:
        return ms_to_samples(ms, self.rate or 1000)

    @staticmethod
    def error(kind: ErrorKind, message: str) -> bytes:
        return orjson.dumps({"type": "error", "code": kind.value, "message": message}) + b"\n"


# -- events: the gateway's side ------------------------------------------------------------------

class EventReader:
    """NDJSON events -> provider events in this provider stream's time: offsets are shifted by ``base`` samples
    (audio already streamed before this answer, at ``base_rate``) and turned into integer ms once."""

    def __init__(self, provider: str, base: int = 0, base_rate: int = 0) -> None:
        self.provider = provider
        self.base = base
        self.base_rate = base_rate
        self.rate = 0
        self.samples = 0  #: samples of audio read from this answer
        self.done: dict | None = None

    def event(self, line: bytes) -> ProviderEvent | None:
        try:
            body = orjson.loads(line)
            kind = body["type"]
            if kind == "audio":
                pcm = b64.decode(body["audio"])
                rate = int(body["sample_rate"])
                if self.rate and rate != self.rate:
                    raise ValueError("sample rate changed mid-stream")
                if not self.rate and self.base_rate and rate != self.base_rate:  # resumed on another rate
                    self.base = ms_to_samples(samples_to_ms(self.base, self.base_rate), rate)
                self.rate = rate
                start = self._ms(int(body["offset"]))
                self.samples += len(pcm) // 2
                return AudioEvent(pcm, self.rate, int(body["segment"]), start)
            if kind == "timing":
                phonemes = tuple(PhonemeSpan(p["phoneme"], self._ms(p["start"]), self._ms(p["end"]))
                                 for p in body["phonemes"])
                words = tuple(WordSpan(w["word"], self._ms(w["start"]), self._ms(w["end"]), w.get("char_start"),
                                       w.get("char_end")) for w in body["words"])
                return AlignmentEvent(phonemes, words, int(body["segment"]))
            if kind == "segment_end":
                return SegmentEndEvent(int(body["segment"]), self._ms(int(body["end"])))
            if kind == "done":
                self.done = body.get("stats") or {}
                return None
            if kind == "error":
                code = body.get("code")
                error_kind = ErrorKind(code) if code in ErrorKind.__members__.values() else ErrorKind.RETRYABLE
                raise ProviderError(error_kind, f"worker: {str(body.get('message', ''))[:300]}", provider=self.provider)
        except ProviderError:
            raise
        except (ValueError, KeyError, TypeError, binascii.Error) as exc:
            raise ProviderError(ErrorKind.RETRYABLE, f"undecodable event ({type(exc).__name__})",
                                provider=self.provider) from None
        return None  # an event type from a newer worker: skipped

    def _ms(self, offset: int) -> int:
        if not self.rate:
            raise ValueError("a time before any audio")
        return samples_to_ms(self.base + int(offset), self.rate)


def final_event(provider: str, samples: int, rate: int, stats: dict | None = None) -> FinalEvent:
    return FinalEvent({**(stats or {}), "provider": provider, "audio_ms": samples_to_ms(samples, rate or 1),
                       "sample_rate": rate})
