"""Bake throughput: lines per minute on this machine, one process vs one per core, same lines, one run.

Run: `.venv/bin/python bench/bench_bake.py [--lines 40]`. Piper first in the chain (the embedded default).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import LINES  # noqa: E402
from gateway.cli.bake import run  # noqa: E402
from gateway.settings import Settings  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        dialogue = Path(tmp) / "lines.csv"
        rows = [f'l{n},guard,"{LINES[n % len(LINES)]} ({n})"' for n in range(args.lines)]
        dialogue.write_text("id,character,text\n" + "\n".join(rows) + "\n")
        results = {}
        for jobs in (1, os.cpu_count() or 1):
            settings = Settings(data_dir=Path(tmp) / f"data{jobs}", chain=["piper", "espeak", "cache", "canned"],
                                log_level="ERROR")
            results[jobs] = run(dialogue, jobs=jobs, settings=settings, out=open(os.devnull, "w"))
    print("| processes | lines | seconds (incl. model load) | lines/min |\n|---|---|---|---|")
    for jobs, r in results.items():
        print(f"| {jobs} | {r['baked']} | {r['seconds']} | {r['lines_per_minute']} |")
    one, many = results[1], results[max(results)]
    print(f"\nspeed-up with {max(results)} processes: {many['lines_per_minute'] / one['lines_per_minute']:.2f}x")


if __name__ == "__main__":
    main()
