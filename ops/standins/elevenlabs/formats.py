"""The ElevenLabs ``output_format`` names (``mp3_44100_128``, ``pcm_24000``, ``ulaw_8000`` ...) as audio formats."""

from __future__ import annotations

from ops.standins.audio import AudioFormat

DEFAULT_FORMAT = "mp3_44100_128"


def _formats() -> dict[str, AudioFormat]:
    from gateway.audio.formats import opus_available

    out: dict[str, AudioFormat] = {}
    for rate, kbps in ((22050, 32), (24000, 48), (44100, 32), (44100, 64), (44100, 96), (44100, 128), (44100, 192)):
        out[f"mp3_{rate}_{kbps}"] = AudioFormat(f"mp3_{rate}_{kbps}", "mp3", rate, kbps)
    for rate in (8000, 16000, 22050, 24000, 32000, 44100, 48000):
        out[f"pcm_{rate}"] = AudioFormat(f"pcm_{rate}", "pcm", rate)
        out[f"wav_{rate}"] = AudioFormat(f"wav_{rate}", "wav", rate)
    out["ulaw_8000"] = AudioFormat("ulaw_8000", "ulaw", 8000)
    out["alaw_8000"] = AudioFormat("alaw_8000", "alaw", 8000)
    if opus_available():
        for kbps in (32, 64, 96, 128, 192):
            out[f"opus_48000_{kbps}"] = AudioFormat(f"opus_48000_{kbps}", "opus", 48000, kbps)
    return out


FORMATS = _formats()
