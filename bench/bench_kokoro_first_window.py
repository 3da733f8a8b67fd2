"""How long Kokoro's first window must be: its decode time (first audio) against quality, in one run.

The decoder normalises over the frames it is given, so a short first window is decoded as a short utterance of
its own. This sweeps the first window's length (cut at the word boundary nearest the target, or exactly at the
target frame) over lines x voices: for each, the first run's decode time (what first audio waits for, after the
front) and a Distill-MOS score of the whole line, against the line decoded whole and against the default plan.

Run: ``flock /tmp/heavy.lock .venv/bin/python bench/bench_kokoro_first_window.py --mos-python PY`` (PY: an
interpreter with ``pip install .[quality]``; without one, MOS is left out).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.bench_kokoro_stream import score_mos  # noqa: E402
from bench.common import median  # noqa: E402
from gateway.providers.kokoro import KokoroProvider  # noqa: E402
from gateway.providers.kokoro_decode import WindowPlan  # noqa: E402
from gateway.providers.kokoro_windows import PAUSE_SYMBOLS  # noqa: E402
from gateway.settings import Settings  # noqa: E402

LINES = [
    "Halt! Who goes there?",
    "The forge is hot today, so mind your fingers near the anvil.",
    "Welcome to the Gilded Goose, traveller.",
    "Keep your voice down.",
    "I have not seen a caravan on this road since the first snow of winter.",
    "Bring me three wolf pelts and I will make it worth your while.",
    "Are you the one they call the Lantern Bearer?",
    "Nobody leaves this city until the thief is found.",
]
VOICES = ["af_heart", "bm_george", "af_nicole"]
TARGETS_MS = [400, 500, 600, 700, 800, 1000, 1500]
FRAME_MS = 25
WORD_BREAKS = frozenset(" ") | PAUSE_SYMBOLS


def first_word_end(symbols: str, durations: list[int], target: int, low: int, rest: int) -> int | None:
    """Frames up to the word boundary nearest ``target`` that is at least ``low`` frames in and leaves at least ``rest``
    frames after it (None: no such boundary). ``durations`` per token with both pads, as the front gives them."""
    total, whole, best = 0, int(sum(durations)), None
    for symbol, frames in zip(["^", *symbols, "$"], durations):
        total += int(frames)
        if symbol in WORD_BREAKS and total >= low and whole - total >= rest and (
                best is None or abs(total - target) < abs(best - target)):
            best = total
    return best


def sweep(mos_python: str | None, repeats: int) -> dict:
    provider = KokoroProvider(Settings(), warmup=True)
    asyncio.run(provider.start())
    engine = provider._session  # noqa: SLF001 - decode the same frames several ways
    base = provider.plan
    tmp = Path(tempfile.mkdtemp(prefix="kokoro-first-"))
    rows, paths = [], []
    for voice in VOICES:
        pack = provider._pack(voice)  # noqa: SLF001
        for li, text in enumerate(LINES):
            symbols = provider._symbols(text, voice)  # noqa: SLF001
            frames = provider._front(symbols, pack, 1.0, 2400)  # noqa: SLF001
            key = f"{voice}_{li}"
            np.save(tmp / f"{key}_whole.npy", engine.decode_whole(frames))
            paths.append(tmp / f"{key}_whole.npy")
            for target_ms in TARGETS_MS:
                target = target_ms // FRAME_MS
                for cut in ("word", "frame"):
                    first = (first_word_end(symbols, frames.durations.tolist(), target, target // 2, 8)
                             if cut == "word" else target)
                    if first is None or first >= frames.count - 4:
                        continue
                    plan = WindowPlan(first, base.growth, base.context, base.fade)
                    audio = np.concatenate(list(engine.decode_windows(frames, plan)))
                    part = frames.window(0, min(frames.count, first + base.context))
                    spent = []
                    for _ in range(repeats):
                        t = time.perf_counter()
                        engine._decode(part, np.zeros(9, np.float32))  # noqa: SLF001
                        spent.append(time.perf_counter() - t)
                    name = f"{key}_{cut}{target_ms}"
                    np.save(tmp / f"{name}.npy", audio)
                    paths.append(tmp / f"{name}.npy")
                    rows.append({"voice": voice, "line": li, "cut": cut, "target_ms": target_ms,
                                 "first_ms": first * FRAME_MS, "decode_ms": round(median(spent) * 1000, 1),
                                 "file": name, "whole": f"{key}_whole"})
    mos = {Path(k).stem: v for k, v in score_mos(mos_python, paths).items()}
    summary = {}
    for cut in ("word", "frame"):
        for target_ms in TARGETS_MS:
            sel = [r for r in rows if r["cut"] == cut and r["target_ms"] == target_ms]
            drops = [mos[r["whole"]] - mos[r["file"]] for r in sel if r["file"] in mos]
            summary[f"{cut} {target_ms}"] = {
                "n": len(sel), "first_ms_median": median([r["first_ms"] for r in sel]) if sel else None,
                "decode_ms_median": median([r["decode_ms"] for r in sel]) if sel else None,
                "mos_drop_mean": round(float(np.mean(drops)), 3) if drops else None,
                "mos_drop_max": round(float(np.max(drops)), 3) if drops else None}
    whole = [v for k, v in mos.items() if k.endswith("_whole")]
    return {"summary": summary, "mos_whole_mean": round(float(np.mean(whole)), 3) if whole else None,
            "rows": rows, "mos": {k: round(v, 3) for k, v in mos.items()}}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mos-python", help="interpreter with distillmos installed (pip install .[quality])")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    out = {"load_before": [round(x, 2) for x in os.getloadavg()]}
    out.update(sweep(args.mos_python, args.repeats))
    out["load_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
