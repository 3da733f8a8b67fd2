"""How local voices are delivered (``GATEWAY_DELIVERY_*``): one loudness target with a true-peak ceiling, the pause
between sentences, and the longest piece an engine synthesizes at once (docs/providers-local.md#levelling)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings

from gateway.settings.base import _config

CONFIG_DIR = Path(__file__).resolve().parent.parent.parent / "config"


class DeliverySettings(BaseSettings):
    """Loudness, pauses and piece length of the local engines (Piper, Kokoro, espeak)."""

    model_config = _config("GATEWAY_DELIVERY_")

    target_lufs: float = Field(-23.0, ge=-40.0, le=-10.0)
    """Integrated loudness (ITU-R BS.1770, LUFS) every local voice is levelled to at a neutral delivery; an emotion's
    gain (``angry`` +3 dB, ``whispering`` -8 dB ...) is added to it. -23 LUFS (EBU R128) leaves the 6 dB that
    ``shouting`` asks for below the ceiling for most voices."""
    true_peak_dbtp: float = Field(-1.0, ge=-12.0, le=0.0)
    """True-peak ceiling (dBTP, 4x oversampled): a look-ahead limiter keeps every piece under it, so no sample
    reaches full scale at any emotion."""
    calibration_file: Path = CONFIG_DIR / "loudness.yaml"
    """Measured loudness of each local voice at 0 dB (``python -m gateway.cli loudness`` writes it); a voice not
    in it is levelled by its engine's median."""
    vendor_levelling: bool = True
    """Cloud voices (ElevenLabs, Fish Audio, OpenAI-compatible speech servers) are levelled to the same target, by
    a loudness learnt per voice from the audio it has sent (gateway.audio.vendor_level), so a character does not jump
    in level when its line falls from a cloud voice to a local one."""
    vendor_prior_lufs: float = Field(-18.0, ge=-40.0, le=-5.0)
    """A cloud voice's loudness before the gateway has heard a second of it (a calibration-table entry such as
    ``elevenlabs/<voice_id>: -16.5`` takes its place); vendors' voices commonly sit around -16 to -20 LUFS."""
    sentence_pause_ms: tuple[int, int] = (250, 600)
    """Silence between two sentences, [min, max] ms, for a character that sets no ``pause_ms`` of its own: the
    engine's trailing silence is cut or padded to the middle of the range."""
    clause_pause_max_ms: int = Field(200, ge=0)
    """Longest silence kept at the end of a piece inside a sentence (where a long sentence was cut)."""
    lead_silence_ms: int = Field(40, ge=0)
    """Longest silence kept before a piece's first sound."""
    piece_max_chars: int = Field(150, ge=40)
    """Longest piece (characters) a local engine synthesizes at once: longer sentences are cut at a clause, then a
    phrase, then a word boundary, so first audio and engine memory do not grow with sentence length."""
    first_piece_max_chars: int = Field(80, ge=20)
    """Longest first piece of a line (its first audio waits for it)."""

    @model_validator(mode="after")
    def _ranges(self) -> DeliverySettings:
        low, high = self.sentence_pause_ms
        if not 0 <= low <= high:
            raise ValueError(f"sentence_pause_ms must be [min, max] with 0 <= min <= max, got {self.sentence_pause_ms}")
        return self
