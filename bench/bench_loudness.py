"""Loudness and clipping of the local voices at every emotion: this checkout vs another (before/after).

    flock /tmp/heavy.lock python bench/bench_loudness.py --peer /work/main

For each voice (the cast's Kokoro voices, Piper joe, two espeak voices) one line per emotion (same words) is
synthesized through the provider, as a stream. Reported per voice: integrated loudness (BS.1770) of the neutral
3-sentence text, the spread across voices, per-emotion loudness minus (target + emotion gain), true peak, and
samples in runs of 2+ at full scale. The peer checkout runs in a child process with its own code (the "before":
``apply_gain`` + ``np.clip``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
VOICES = [("piper", "joe"), ("kokoro", "af_heart"), ("kokoro", "af_nicole"), ("kokoro", "bm_george"),
          ("kokoro", "am_onyx"), ("kokoro", "bf_emma"), ("espeak", "en-us"), ("espeak", "en-gb-f")]
NEUTRAL = ("The old mill by the river has been quiet for years.", "Nobody goes there after dark any more.",
           "Bring a lantern and keep to the path if you must go.")
EMOTION_LINE = "Bring your cloak and a lantern tonight."


async def measure(voices: list[tuple[str, str]]) -> dict:
    """Runs in the checkout being measured (its own gateway package)."""
    import pyloudnorm
    import soxr

    from gateway.core.events import AudioEvent, SegmentEndEvent
    from gateway.core.segments import Prosody, Segment
    from gateway.providers.base import SynthesisRequest
    from gateway.providers.factory import build_provider
    from gateway.settings import Settings
    from gateway.text.emotions import Emotion

    def lufs(x: np.ndarray, rate: int) -> float:
        x = x.astype(np.float64) / 32768
        return float(pyloudnorm.Meter(rate).integrated_loudness(np.concatenate([x, np.zeros(rate // 2)])))

    def clipped(x: np.ndarray) -> int:
        full = np.abs(x.astype(np.int32)) >= 32767
        pair = full[1:] & full[:-1]
        run = np.zeros(len(full), bool)
        run[1:] |= pair
        run[:-1] |= pair
        return int(run.sum())

    def tp(x: np.ndarray, rate: int) -> float:
        up = soxr.resample(x.astype(np.float64) / 32768, rate, rate * 4)
        return float(20 * np.log10(max(np.abs(up).max(), np.abs(x).max() / 32768)))

    settings, out, providers = Settings(), {}, {}
    for name, voice in voices:
        if name not in providers:
            providers[name] = build_provider(name, settings)
            await providers[name].start()
        p = providers[name]

        async def speak(segments):
            events = [e async for e in p.stream(SynthesisRequest(tuple(segments), voice))]
            audio = [e for e in events if isinstance(e, AudioEvent)]
            x = np.frombuffer(b"".join(e.pcm for e in audio), "<i2")
            return x, audio[0].sample_rate, [e.end_ms for e in events if isinstance(e, SegmentEndEvent)]

        offset, segs = 0, []
        for k, text in enumerate(NEUTRAL):
            segs.append(Segment(k, text, offset))
            offset += len(text) + 1
        x, rate, _ = await speak(segs)
        row = {"neutral_lufs": lufs(x, rate), "neutral_clipped": clipped(x)}
        emotions = [e.value for e in Emotion]
        x, rate, ends = await speak([Segment(k, EMOTION_LINE, k * 50, Prosody(emotion=e))
                                     for k, e in enumerate(emotions)])
        bounds = [0, *(e * rate // 1000 for e in ends)]
        row["emotions"] = {e: {"lufs": lufs(x[a:b], rate), "clipped": clipped(x[a:b]), "true_peak": tp(x[a:b], rate)}
                           for e, a, b in zip(emotions, bounds, bounds[1:], strict=False)}
        out[f"{name}/{voice}"] = row
        print(f"  {name}/{voice}: neutral {row['neutral_lufs']:.1f} LUFS, clipped "
              f"{sum(v['clipped'] for v in row['emotions'].values())}", file=sys.stderr, flush=True)
    return out


def run_in(root: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(root), "GATEWAY_LOG_LEVEL": "WARNING"}
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child"], cwd=root, env=env,
                          capture_output=True, text=True, check=True)
    sys.stderr.write(proc.stderr[-2000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def report(label: str, data: dict, target: float) -> None:
    from gateway.text.emotions import prosody_deltas

    print(f"\n### {label}\n")
    print("| voice | neutral LUFS | worst emotion vs target+gain (LU) | max true peak (dBTP) | clipped samples "
          "(all emotions) | worst emotion |")
    print("|---|---|---|---|---|---|")
    spread = []
    for voice, row in data.items():
        errs = {e: v["lufs"] - (target + prosody_deltas(e)[1]) for e, v in row["emotions"].items()}
        worst = max(errs, key=lambda e: abs(errs[e]))
        clip = {e: v["clipped"] for e, v in row["emotions"].items()}
        spread.append(row["neutral_lufs"])
        print(f"| {voice} | {row['neutral_lufs']:.1f} | {errs[worst]:+.1f} ({worst}) | "
              f"{max(v['true_peak'] for v in row['emotions'].values()):+.1f} | {sum(clip.values())} | "
              f"{max(clip, key=clip.get)} ({max(clip.values())}) |")
    print(f"\nneutral loudness across voices: {min(spread):.1f} to {max(spread):.1f} LUFS "
          f"(spread {max(spread) - min(spread):.1f} LU)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--peer", type=Path, help="another checkout (the 'before'), measured in the same run")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:  # PYTHONPATH names the checkout being measured
        print(json.dumps(asyncio.run(measure(VOICES))))
        return
    sys.path.insert(0, str(ROOT))
    from gateway.settings import Settings

    target = Settings().delivery.target_lufs
    results = {"after": run_in(ROOT)}
    if args.peer:
        results["before"] = run_in(args.peer.resolve())
    for label in ("before", "after"):
        if label in results:
            report(f"{label} (target {target} LUFS)", results[label], target)


if __name__ == "__main__":
    main()
