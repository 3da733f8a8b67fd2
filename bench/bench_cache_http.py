"""Cache hit latency over HTTP: the same line asked again is served from the line cache.

Compares a cache hit with the uncached first synthesis of the same line, in one run, through a real server.
Run: `.venv/bin/python bench/bench_cache_http.py [--n 200]`.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import LINES, Gateway, median, p  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200)
    args = parser.parse_args()
    with Gateway() as gw, httpx.Client(base_url=gw.url, timeout=60) as client:
        misses, hits, hits_lean = [], [], []
        for text in LINES:
            started = time.perf_counter()
            r = client.post("/api/avatar/speak", json={"text": text})
            misses.append(time.perf_counter() - started)
            assert r.json()["provider"] != "cache"
        for i in range(args.n):
            text = LINES[i % len(LINES)]
            started = time.perf_counter()
            r = client.post("/api/avatar/speak", json={"text": text})
            hits.append(time.perf_counter() - started)
            assert r.json()["provider"] == "cache", r.json()["provider"]
            started = time.perf_counter()
            r = client.post("/api/avatar/speak", json={"text": text, "blendshapes": False})
            hits_lean.append(time.perf_counter() - started)
    print("| case | n | p50 | p90 | p99 |\n|---|---|---|---|---|")
    for name, v in (("miss (synthesis)", misses), ("hit, full response (60 fps curves)", hits),
                    ("hit, visemes without curves", hits_lean)):
        print(f"| {name} | {len(v)} | {median(v) * 1000:.1f} ms | {p(v, 0.9) * 1000:.1f} ms | {p(v, 0.99) * 1000:.1f} ms |")
    print(f"\nhit/miss ratio (p50): {median(hits) / median(misses):.3f}")


if __name__ == "__main__":
    main()
