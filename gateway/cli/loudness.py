"""``gateway loudness``: measure every local voice's loudness at 0 dB into ``config/loudness.yaml``.

The table is what :class:`gateway.audio.loudness.Leveller` levels each voice by (``target - measured``). It is
measured once for the pinned models and committed; run this again after changing a model or adding voices::

    python -m gateway.cli loudness                   # every voice of piper, kokoro, espeak
    python -m gateway.cli loudness --providers piper  # just one engine (others kept from the file)
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

import numpy as np
import yaml

from gateway.audio.loudness import integrated_lufs
from gateway.core.events import AudioEvent
from gateway.core.segments import Segment
from gateway.providers.base import Provider, SynthesisRequest
from gateway.providers.espeak import EspeakProvider
from gateway.providers.kokoro import KokoroProvider
from gateway.providers.piper import PiperProvider
from gateway.settings import Settings

#: What each voice reads: three sentences (~10 s), statement, question and a quieter close.
CALIBRATION_TEXT = (
    "The road to the northern pass is closed until spring, traveller.",
    "If you want a room, will two silver pieces a night suit you?",
    "Keep your voice down; the guards have been asking questions all week.",
)
ENGINES = {"piper": PiperProvider, "kokoro": KokoroProvider, "espeak": EspeakProvider}


def raw_settings(settings: Settings) -> Settings:
    """``settings`` with levelling off (no calibration, a 0 dBTP ceiling): the engine's own loudness."""
    delivery = settings.delivery.model_copy(update={"calibration_file": Path("/nonexistent/loudness.yaml"),
                                                    "true_peak_dbtp": 0.0})
    return settings.model_copy(update={"delivery": delivery})


async def synthesize(provider: Provider, voice: str, texts: tuple[str, ...] = CALIBRATION_TEXT,
                     **request: object) -> tuple[bytes, int]:
    """The whole line's s16le PCM and its sample rate."""
    segments, offset = [], 0
    for k, text in enumerate(texts):
        segments.append(Segment(k, text, offset))
        offset += len(text) + 1
    chunks, rate = [], 0
    async for event in provider.stream(SynthesisRequest(tuple(segments), voice, **request)):  # type: ignore[arg-type]
        if isinstance(event, AudioEvent):
            chunks.append(event.pcm)
            rate = event.sample_rate
    return b"".join(chunks), rate


async def measure(names: list[str], settings: Settings) -> dict[str, float]:
    out: dict[str, float] = {}
    for name in names:
        provider = ENGINES[name](raw_settings(settings))
        await provider.start()
        for info in provider.voices():
            pcm, rate = await synthesize(provider, info.voice)
            lufs = integrated_lufs(pcm, rate)
            if np.isfinite(lufs):
                out[f"{name}/{info.voice}"] = round(lufs, 2)
                print(f"{name}/{info.voice}: {lufs:.2f} LUFS", flush=True)
        await provider.close()
    return out


def loudness_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="gateway loudness", description=__doc__.split("\n\n")[0])
    parser.add_argument("--providers", default=",".join(ENGINES), help="engines to measure (comma-separated)")
    parser.add_argument("--output", help="table to write (default GATEWAY_DELIVERY_CALIBRATION_FILE)")
    args = parser.parse_args(argv)
    settings = Settings()
    path = Path(args.output) if args.output else settings.delivery.calibration_file
    names = [n.strip() for n in args.providers.split(",") if n.strip()]
    unknown = sorted(set(names) - set(ENGINES))
    if unknown:
        parser.error(f"unknown engines {unknown}; valid: {', '.join(ENGINES)}")
    old = (yaml.safe_load(path.read_text()) or {}).get("voices", {}) if path.is_file() else {}
    voices = {k: v for k, v in old.items() if k.split("/", 1)[0] not in names}
    voices.update(asyncio.run(measure(names, settings)))
    header = ("# Integrated loudness (ITU-R BS.1770, LUFS) of each local voice at 0 dB, reading the calibration text\n"
              "# of gateway/cli/loudness.py. Written by `python -m gateway.cli loudness`; levelled to\n"
              "# GATEWAY_DELIVERY_TARGET_LUFS by gateway.audio.loudness (docs/providers-local.md#levelling).\n")
    path.write_text(header + yaml.safe_dump({"voices": dict(sorted(voices.items()))}, sort_keys=False))
    print(f"wrote {len(voices)} voices to {path}")
    return 0
