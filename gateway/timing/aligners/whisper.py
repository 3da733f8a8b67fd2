"""Whisper base (CTranslate2, run by faster-whisper) as the recogniser for audio that comes without text.

Whisper's encoder is trained on 30 s windows and faster-whisper pads every input to one; for
a 3 s game line that makes the encoder cost ten times what the speech needs (0.9 CPU-s). Lines
up to :data:`SHORT_S` are therefore encoded at their own length plus :data:`PAD_S` of silence
(CTranslate2 accepts shorter inputs; the decoder attends only to what is there) and decoded
greedily without timestamps: ~0.15 CPU-s for a 3 s line on one core. Longer audio goes through
faster-whisper's own 30 s windowing. English only (``language="en"``).
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from gateway.audio.resample import resample_pcm
from gateway.install.whisper import WhisperModelMissing, prepare_whisper, weight_parts, whisper_model_dir
from gateway.timing.aligners.recognizer import Recognizer, RecognizerUnavailable, Transcript

RATE = 16000
#: Audio up to this long is encoded at its own length (seconds).
SHORT_S = 28.0
#: Silence appended before encoding a short line (seconds).
PAD_S = 1.0
#: Longest transcript in tokens for a short line, and per second of audio (speech runs at 2-4
#: tokens a second; the cap stops the greedy decoder's repetition loops early).
MAX_TOKENS = 224
TOKENS_PER_S = 6


class WhisperRecognizer(Recognizer):
    name = "whisper"

    def __init__(self, models_dir: Path, *, threads: int = 1, compute_type: str = "int8") -> None:
        """``models_dir``: the gateway's prepared models (the joined model is in its ``whisper-base`` folder)."""
        self._models_dir = Path(models_dir)
        self._threads = threads
        self._compute_type = compute_type
        self._model = None
        self._lock = threading.Lock()

    def check(self) -> None:
        """Raise :class:`RecognizerUnavailable` unless faster-whisper and the weights packages are installed."""
        try:
            import faster_whisper  # noqa: F401
        except ImportError as exc:
            raise RecognizerUnavailable("faster-whisper is not installed") from exc
        if not (whisper_model_dir(self._models_dir) / "model.bin").exists():
            try:
                weight_parts()
            except WhisperModelMissing as exc:
                raise RecognizerUnavailable(str(exc)) from exc

    def _load(self):  # noqa: ANN202 - faster_whisper.WhisperModel
        with self._lock:
            if self._model is None:
                from faster_whisper import WhisperModel  # heavy: loaded with the model, on first use

                try:
                    path = prepare_whisper(self._models_dir)
                except WhisperModelMissing as exc:
                    raise RecognizerUnavailable(str(exc)) from exc
                self._model = WhisperModel(str(path), device="cpu", compute_type=self._compute_type,
                                           cpu_threads=self._threads, num_workers=1)
            return self._model

    def warm_up(self) -> None:
        self._load()

    def transcribe(self, pcm: bytes, sample_rate: int) -> Transcript:
        audio = resample_pcm(pcm, sample_rate, RATE) if sample_rate != RATE else pcm[: len(pcm) // 2 * 2]
        samples = np.frombuffer(audio, dtype="<i2").astype(np.float32) / 32768.0
        if samples.size < RATE // 10:
            return Transcript("", self.name, {"reason": "audio too short"})
        model = self._load()
        if samples.size <= SHORT_S * RATE:
            text = self._short(model, samples)
            how = "short"
        else:
            segments, _info = model.transcribe(samples, language="en", beam_size=1, vad_filter=False,
                                               condition_on_previous_text=False, without_timestamps=True)
            text = " ".join(s.text.strip() for s in segments)
            how = "windowed"
        return Transcript(" ".join(text.split()), self.name, {"path": how})

    def _short(self, model, samples: np.ndarray) -> str:  # noqa: ANN001
        import ctranslate2
        from faster_whisper.tokenizer import Tokenizer

        padded = np.concatenate([samples, np.zeros(int(PAD_S * RATE), dtype=np.float32)])
        features = model.feature_extractor(padded)
        frames = min(features.shape[-1], 2 * (padded.size // model.feature_extractor.hop_length // 2))
        features = np.ascontiguousarray(features[:, :frames][None].astype(np.float32))
        tokenizer = Tokenizer(model.hf_tokenizer, model.model.is_multilingual, task="transcribe", language="en")
        prompt = list(tokenizer.sot_sequence) + [tokenizer.no_timestamps]
        with self._lock:
            encoded = model.model.encode(ctranslate2.StorageView.from_array(features), to_cpu=False)
            limit = min(MAX_TOKENS, 8 + int(TOKENS_PER_S * samples.size / RATE))
            result = model.model.generate(encoded, [prompt], beam_size=1, max_length=limit, suppress_blank=True,
                                          repetition_penalty=1.1, return_scores=False)
        tokens = [t for t in result[0].sequences_ids[0] if t < tokenizer.eot]
        return drop_repeats(tokenizer.decode(tokens).strip())


def drop_repeats(text: str) -> str:
    """Cut a transcript where it starts over (Whisper's greedy decoder can loop on what it said first)."""
    words = text.split()
    plain = [w.lower().strip(".,!?;:") for w in words]
    for period in range(3, len(words) // 2 + 1):
        if plain[period:2 * period] == plain[:period]:
            return " ".join(words[:period])
    return text
