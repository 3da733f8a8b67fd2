"""What the stand-in's ``POST /v1/audio/speech`` accepts (Kokoro-FastAPI's ``OpenAISpeechRequest``, the fields a
stand-in needs), its voices and formats, and the streamed audio body."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Literal

from pydantic import BaseModel, Field

from ops.standins.audio import AudioFormat
from ops.standins.faults import FaultState
from ops.standins.speech import LocalSpeech
from ops.standins.streaming import encoded_chunks

RATE = 24000
MODELS = ("tts-1", "tts-1-hd", "kokoro")
#: Kokoro voice name -> pace of the Piper voice that speaks it.
VOICES = {"af_heart": 1.0, "af_bella": 1.05, "af_nicole": 0.95, "am_michael": 0.95, "am_adam": 1.0,
          "bf_emma": 1.05, "bm_george": 0.9}
#: ``response_format`` -> what is sent (every format at 24 kHz, as Kokoro-FastAPI does).
FORMATS = {"mp3": AudioFormat("mp3", "mp3", RATE, 128), "wav": AudioFormat("wav", "wav", RATE),
           "pcm": AudioFormat("pcm", "pcm", RATE), "opus": AudioFormat("opus", "opus", RATE, 64)}
MEDIA_TYPES = {"mp3": "audio/mpeg", "wav": "audio/wav", "pcm": "audio/pcm", "opus": "audio/opus"}


class SpeechBody(BaseModel):
    model: str = "kokoro"
    input: str
    voice: str = "af_heart"
    response_format: Literal["mp3", "opus", "aac", "flac", "wav", "pcm"] = "mp3"
    speed: float = Field(1.0, ge=0.25, le=4.0)
    stream: bool = True


async def audio_body(speech: LocalSpeech, faults: FaultState, body: SpeechBody) -> AsyncIterator[bytes]:
    """The line's audio in the asked format, sentence by sentence, with the ``rest`` faults applied."""
    speed = max(0.25, min(4.0, body.speed * VOICES[body.voice]))
    async for _chunk, data in encoded_chunks(speech, faults, body.input, speed, FORMATS[body.response_format]):
        if data:
            yield data
