#!/usr/bin/env python3
"""Measure the median F0 of every local voice (Kokoro, Piper, espeak-ng) for the voice catalogue.

    .venv/bin/python ops/tools/measure_voice_pitch.py                 # print a table
    .venv/bin/python ops/tools/measure_voice_pitch.py --write         # also write pitch_hz into config/voices.yaml
    .venv/bin/python ops/tools/measure_voice_pitch.py --providers kokoro --voices af_heart,bm_george

Each voice speaks the same eight Harvard sentences through the gateway's own provider (same G2P, same
settings as in service); the pitch is YIN's median F0 over the voiced frames of all of them
(:mod:`gateway.audio.pitch`), with the quartiles to show the range. Kokoro's output varies a little from run
to run; the medians move by about 1 Hz. ``--write`` replaces the ``pitch_hz`` value on each measured voice's
line of the catalogue and leaves everything else (comments included) as it is.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from gateway.audio.pitch import PitchStats, pcm_to_float, pitch_stats  # noqa: E402
from gateway.core.events import AudioEvent  # noqa: E402
from gateway.providers.base import Provider, SynthesisRequest  # noqa: E402
from gateway.providers.factory import build_provider  # noqa: E402
from gateway.settings import Settings  # noqa: E402
from gateway.text.plan import plan_segments  # noqa: E402

#: Harvard sentences (lists 1 and 2): phonetically balanced, neutral in emotion.
SENTENCES = (
    "The birch canoe slid on the smooth planks.",
    "Glue the sheet to the dark blue background.",
    "It's easy to tell the depth of a well.",
    "These days a chicken leg is a rare dish.",
    "Rice is often served in round bowls.",
    "The juice of lemons makes fine punch.",
    "The box was thrown beside the parked truck.",
    "The hogs were fed chopped corn and garbage.",
)
LOCAL = ("kokoro", "piper", "espeak")


async def speak(provider: Provider, voice: str, text: str) -> tuple[np.ndarray, int]:
    planned = plan_segments(text)
    request = SynthesisRequest(tuple(planned.segments), voice, text=planned.text)
    pcm, rate = [], 0
    async for event in provider.stream(request):
        if isinstance(event, AudioEvent):
            pcm.append(event.pcm)
            rate = event.sample_rate
    return pcm_to_float(b"".join(pcm)), rate


async def measure(provider: Provider, voice: str) -> PitchStats:
    """One voice's pitch over all sentences (frames pooled: each sentence is tracked on its own)."""
    tracks = []
    for text in SENTENCES:
        samples, rate = await speak(provider, voice, text)
        tracks.append((samples, rate))
    rate = tracks[0][1]
    gap = np.zeros(rate // 5, np.float32)  # a pause between sentences: no frame spans two of them
    joined = np.concatenate([np.concatenate([s, gap]) for s, _ in tracks])
    return pitch_stats(joined, rate)


def write_pitch(catalogue: Path, section: str, voice: str, hz: int) -> bool:
    """Set ``pitch_hz`` on ``voice``'s line inside ``section`` of the catalogue; False when not found."""
    lines = catalogue.read_text().splitlines(keepends=True)
    in_section = False
    for i, line in enumerate(lines):
        if re.match(r"^  [\w-]+:\s*(#.*)?$", line):
            in_section = line.strip().split(":")[0] == section
            continue
        if in_section and re.match(rf"^    {re.escape(voice)}:\s*\{{", line):
            if "pitch_hz:" in line:
                lines[i] = re.sub(r"pitch_hz:\s*[\d.]+|pitch_hz:\s*null", f"pitch_hz: {hz}", line)
            else:
                lines[i] = re.sub(r"\}(\s*(#.*)?)$", rf", pitch_hz: {hz}}}\1", line)
            catalogue.write_text("".join(lines))
            return True
    return False


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--providers", default=",".join(LOCAL), help="comma-separated: kokoro, piper, espeak")
    parser.add_argument("--voices", default="", help="only these voices (comma-separated)")
    parser.add_argument("--write", action="store_true", help="write pitch_hz into the catalogue")
    parser.add_argument("--catalogue", type=Path, default=REPO_ROOT / "config" / "voices.yaml")
    args = parser.parse_args()
    settings = Settings()
    only = {v for v in args.voices.split(",") if v}
    print("| provider | voice | gender | median F0 (Hz) | quartiles (Hz) | voiced | seconds |")
    print("|---|---|---|---|---|---|---|")
    missing = []
    for name in [p for p in args.providers.split(",") if p]:
        provider = build_provider(name, settings)
        await provider.start()
        for info in provider.voices():
            if only and info.voice not in only:
                continue
            started = time.perf_counter()
            stats = await measure(provider, info.voice)
            took = time.perf_counter() - started
            print(f"| {name} | {info.voice} | {info.gender or '?'} | {stats.median_hz:.0f} | "
                  f"{stats.p25_hz:.0f}–{stats.p75_hz:.0f} | {stats.voiced_ratio:.0%} | {took:.1f} |", flush=True)
            if args.write and not write_pitch(args.catalogue, name, info.voice, round(stats.median_hz)):
                missing.append(f"{name}:{info.voice}")
        await provider.close()
    if missing:
        print(f"not in {args.catalogue}: {', '.join(missing)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
