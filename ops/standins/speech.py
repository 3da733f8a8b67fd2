"""Local speech for the stand-ins: the embedded Piper voice, with a time for every input character.

:class:`LocalSpeech` speaks with the embedded Piper voice
(:class:`gateway.providers.piper.PiperProvider`) sentence by sentence and gives every input
character a start/end time derived from Piper's word timings (a word's span is shared by its
letters; spaces and punctuation take the gaps), which is what vendors with character alignment
report. :func:`chunk_piece` cuts a spoken sentence into stream chunks at word starts.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CharTime:
    char: str
    start_ms: float  #: from the start of the whole response's audio
    end_ms: float


@dataclass(frozen=True, slots=True)
class SpokenPiece:
    """One spoken sentence: PCM s16le mono, where it starts, and times for its characters."""

    pcm: bytes
    sample_rate: int
    start_ms: float
    end_ms: float
    chars: tuple[CharTime, ...]  #: the input characters this piece covers (spaces included)


@dataclass(frozen=True, slots=True)
class Chunk:
    pcm: bytes  #: at the requested output rate
    sample_rate: int
    start_ms: float
    end_ms: float
    chars: tuple[CharTime, ...]


MEMO_LINES = 256
#: Loudness the stand-ins speak at (BS.1770 LUFS): vendors' voices are louder than the gateway's -23 LUFS target
#: (commonly -16 to -20), so the gateway's levelling of cloud voices has something to do (gateway.speak.level).
VENDOR_LUFS = -17.0


class LocalSpeech:
    """Real speech from the embedded Piper voice, loaded once per stand-in process."""

    def __init__(self, settings=None) -> None:  # noqa: ANN001
        from gateway.providers.piper import PiperProvider
        from gateway.settings import Settings
        from gateway.settings.audio import DeliverySettings

        if settings is None:
            settings = Settings(piper_intra_threads=1, engine_concurrency=2, log_json=False,
                                delivery=DeliverySettings(target_lufs=VENDOR_LUFS))
        self.provider = PiperProvider(settings)
        #: Recently spoken texts, replayed as-is: a repeated line costs the stand-in no CPU, so load tests
        #: measure the gateway, not the stand-in's own synthesis.
        self._memo: OrderedDict[tuple[str, float], list[SpokenPiece]] = OrderedDict()

    async def start(self) -> None:
        await self.provider.start()

    async def ready(self) -> tuple[bool, str]:
        health = await self.provider.health()
        return health.state.value == "up", health.reason

    async def sentences(self, text: str, speed: float = 1.0) -> AsyncIterator[SpokenPiece]:
        """Speak ``text`` sentence by sentence; every character of ``text`` lands in exactly one piece."""
        key = (text, speed)
        if key in self._memo:
            self._memo.move_to_end(key)
            for piece in self._memo[key]:
                yield piece
            return
        pieces = []
        async for piece in self._synthesize(text, speed):
            pieces.append(piece)
            yield piece
        self._memo[key] = pieces
        while len(self._memo) > MEMO_LINES:
            self._memo.popitem(last=False)

    async def _synthesize(self, text: str, speed: float) -> AsyncIterator[SpokenPiece]:
        from gateway.core.events import AlignmentEvent, AudioEvent, SegmentEndEvent
        from gateway.providers.base import SynthesisRequest
        from gateway.core.voices import VoiceSettings
        from gateway.text.clean import split_sentences

        segments = split_sentences(text)
        if not segments:
            # Nothing speakable (only spaces/punctuation): a short silence carrying the characters.
            rate = 22050
            pcm = bytes(2 * rate // 5)
            yield SpokenPiece(pcm, rate, 0.0, 400.0, tuple(_spread_chars(text, 0, len(text), 0.0, 400.0, [])))
            return
        request = SynthesisRequest(tuple(segments), "", VoiceSettings(speed=speed), text=text)
        parts: list[bytes] = []
        words = []
        rate = 22050
        start_ms = 0.0
        prev_char_end = 0
        async for event in self.provider.stream(request):
            if isinstance(event, AudioEvent):
                parts.append(event.pcm)
                rate = event.sample_rate
            elif isinstance(event, AlignmentEvent):
                words.extend(event.words)
            elif isinstance(event, SegmentEndEvent):
                segment = segments[event.segment]
                last = event.segment == len(segments) - 1
                char_end = len(text) if last else segment.char_start + len(segment.text)
                end_ms = float(event.end_ms)
                chars = _spread_chars(text, prev_char_end, char_end, start_ms, end_ms, words)
                yield SpokenPiece(b"".join(parts), rate, start_ms, end_ms, tuple(chars))
                parts, words = [], []
                start_ms = end_ms
                prev_char_end = char_end


def _spread_chars(text: str, char_start: int, char_end: int, start_ms: float, end_ms: float,
                  words: list) -> list[CharTime]:
    """Times for ``text[char_start:char_end]``: word letters share their word's span, the rest the gaps."""
    anchors = sorted((w.char_start, w.char_end, float(w.start_ms), float(w.end_ms)) for w in words
                     if w.char_start is not None and w.char_end is not None
                     and char_start <= w.char_start < w.char_end <= char_end)
    times: list[tuple[float, float]] = [(0.0, 0.0)] * (char_end - char_start)

    def fill(a: int, b: int, t0: float, t1: float) -> None:
        n = b - a
        if n <= 0:
            return
        t1 = max(t0, t1)
        step = (t1 - t0) / n
        for k in range(n):
            times[a - char_start + k] = (t0 + k * step, t0 + (k + 1) * step)

    cursor_char, cursor_ms = char_start, start_ms
    for cs, ce, t0, t1 in anchors:
        if cs < cursor_char:
            continue
        t0 = max(t0, cursor_ms)
        fill(cursor_char, cs, cursor_ms, t0)
        fill(cs, ce, t0, max(t0, t1))
        cursor_char, cursor_ms = ce, max(t0, t1)
    fill(cursor_char, char_end, cursor_ms, max(cursor_ms, end_ms))
    return [CharTime(text[i], round(times[i - char_start][0], 3), round(times[i - char_start][1], 3))
            for i in range(char_start, char_end)]


def chunk_piece(piece: SpokenPiece, out_rate: int, min_ms: float = 250.0) -> list[Chunk]:
    """Resample a piece to ``out_rate`` and cut it at word starts into chunks of at least ``min_ms``."""
    from gateway.audio.resample import resample_pcm

    pcm = resample_pcm(piece.pcm, piece.sample_rate, out_rate)
    total = len(pcm) // 2
    cuts: list[int] = [0]  # char indices where chunks start
    chunk_start_ms = piece.start_ms
    for i in range(1, len(piece.chars)):
        c, prev = piece.chars[i], piece.chars[i - 1]
        if prev.char.isspace() and not c.char.isspace() and c.start_ms - chunk_start_ms >= min_ms \
                and piece.end_ms - c.start_ms >= min_ms / 2:
            cuts.append(i)
            chunk_start_ms = c.start_ms
    chunks: list[Chunk] = []
    for k, ci in enumerate(cuts):
        cj = cuts[k + 1] if k + 1 < len(cuts) else len(piece.chars)
        t0 = piece.start_ms if k == 0 else piece.chars[ci].start_ms
        t1 = piece.end_ms if cj == len(piece.chars) else piece.chars[cj].start_ms
        s0 = 0 if k == 0 else min(total, round((t0 - piece.start_ms) * out_rate / 1000))
        s1 = total if cj == len(piece.chars) else min(total, round((t1 - piece.start_ms) * out_rate / 1000))
        chunks.append(Chunk(pcm[2 * s0:2 * s1], out_rate, t0, t1, tuple(piece.chars[ci:cj])))
    return chunks
