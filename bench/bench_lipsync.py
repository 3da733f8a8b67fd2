"""Benchmark the lip-sync stage: normalize + Oculus visemes + Azure visemes + 60 fps ARKit curves (+ to_dict).

Prints the median cost in microseconds per second of audio, for a few utterance lengths, and
the ratio against a plain per-phoneme lookup baseline (one dict lookup per engine phoneme,
no normalization, no merging, no curves). Budget: < 1000 µs per audio-second.

    .venv/bin/python bench/bench_lipsync.py [--repeat N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gateway.core.timeline import PhonemeSpan  # noqa: E402
from gateway.lipsync.build import build_lipsync  # noqa: E402
from gateway.lipsync.oculus import IPA_TO_VISEME  # noqa: E402
from gateway.timing.estimate import estimate_timeline_from_text  # noqa: E402

TEXT = (
    "Hello there, adventurer! The forty-two goblins of the northern pass have been waiting for you. "
    "Bring me their chief's banner, and I will pay you well. Be careful: they fight dirty, and the "
    "bridge may not hold. "
)
BUDGET_US_PER_S = 1000.0


def piper_like(text: str) -> tuple[list[PhonemeSpan], int]:
    """A Piper-shaped timeline: one codepoint per span, stress marks with durations, ^/$ and spaces."""
    tl = estimate_timeline_from_text(text)
    spans: list[PhonemeSpan] = [PhonemeSpan("^", 0, 30)]
    shift = 30
    for k, p in enumerate(tl.phonemes):
        s, e = p.start_ms + shift, p.end_ms + shift
        if p.phoneme and p.phoneme[0] in "aeiouæɑɔɛɪʊʌ" and k % 3 == 0:
            spans.append(PhonemeSpan("ˈ", s, s + 10))
            s += 10
            shift += 10
            e += 10
        chars = list(p.phoneme) or [" "]
        width = e - s
        for j, ch in enumerate(chars):
            spans.append(PhonemeSpan(ch, s + width * j // len(chars), s + width * (j + 1) // len(chars)))
    end = spans[-1].end_ms
    spans.append(PhonemeSpan("$", end, end + 40))
    return spans, end + 60


def baseline(spans: list[PhonemeSpan]) -> list[tuple[int, int, int]]:
    table = IPA_TO_VISEME
    return [(int(table.get(p.phoneme, 0)), p.start_ms, p.end_ms) for p in spans]


def median_us(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter_ns()
        fn()
        times.append(time.perf_counter_ns() - t0)
    return statistics.median(times) / 1000.0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    ok = True
    print(f"{'audio_s':>8} {'spans':>6} {'lipsync_us':>11} {'us/audio_s':>11} {'base_us':>9} {'ratio':>7}")
    for text in ("Hello there, adventurer!", TEXT, TEXT * 4, TEXT * 16):
        spans, duration = piper_like(text)
        build = lambda: build_lipsync(spans, duration, 60).to_dict()  # noqa: E731
        base = lambda: baseline(spans)  # noqa: E731
        build()
        ours = median_us(build, args.repeat)
        ref = median_us(base, args.repeat)
        seconds = duration / 1000.0
        per_s = ours / seconds
        ok &= per_s < BUDGET_US_PER_S
        print(f"{seconds:8.1f} {len(spans):6d} {ours:11.0f} {per_s:11.1f} {ref:9.1f} {ours / ref:7.1f}x")
    print(f"budget {BUDGET_US_PER_S:.0f} us per audio-second: {'OK' if ok else 'OVER'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
