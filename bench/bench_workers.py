"""Throughput of the cloud path with ``gateway serve --workers 2`` against one worker, on this machine.

    .venv/bin/python bench/bench_workers.py [--quick] [--concurrency 32]

One ElevenLabs stand-in (75 ms first byte, WebSocket) serves two gateways: one with ``GATEWAY_WORKERS=1``, one with
``GATEWAY_WORKERS=2`` (chain elevenlabs_ws first, cache off). In alternating rounds (1, 2, 2, 1, ...) a closed loop of
``--concurrency`` streams speaks short lines back to back through one of them (NDJSON, the minimal HTTP client of
bench_cloud.py) for a fixed number of lines; throughput = lines / wall time of the round.

The stand-in stays light: it replays the line set from memory after a warm-up (no synthesis during the rounds), and
its CPU per line is printed next to the gateway's (summed over its worker processes) and the client's, so one can
see what the two cores were spent on. Other processes on the machine count too: the load average is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.bench_cloud import FIRST_BYTE_MS, SHORT_LINES, STANDIN_ARGS, cpu_s, gateway_env, gateway_stream  # noqa: E402
from bench.common import Gateway, median  # noqa: E402
from ops.standins.process import StandinProcess  # noqa: E402


def tree_cpu_s(pid: int) -> float:
    """CPU seconds of a process and every descendant (the workers of ``--workers N``)."""
    total, stack = 0.0, [pid]
    while stack:
        current = stack.pop()
        try:
            total += cpu_s(current)
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as fh:
                    stack += [int(c) for c in fh.read().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


async def closed_loop(port: int, concurrency: int, per_client: int) -> tuple[int, list[str]]:
    done, errors = 0, []

    async def client(c: int) -> None:
        nonlocal done
        for k in range(per_client):
            text = SHORT_LINES[(c + k) % len(SHORT_LINES)]
            try:
                res = await gateway_stream(port, {"text": text, "character": "narrator"})
            except OSError as exc:
                errors.append(type(exc).__name__)
                continue
            if res.error or res.provider != "elevenlabs_ws":
                errors.append(res.error or f"provider {res.provider}")
            else:
                done += 1

    await asyncio.gather(*(client(c) for c in range(concurrency)))
    return done, errors


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    rounds, per_client = (2, 3) if args.quick else (6, 8)
    standin = StandinProcess("ops.standins.elevenlabs", STANDIN_ARGS).wait_ready()
    try:
        standin.control("PUT", "faults", {"latency_ms": FIRST_BYTE_MS, "targets": ["ws"]})
        with Gateway(**gateway_env(standin, GATEWAY_WORKERS="1")) as one, \
                Gateway(**gateway_env(standin, GATEWAY_WORKERS="2")) as two:
            gateways = {1: one, 2: two}
            for gw in gateways.values():  # warm-up: the stand-in learns the lines, both workers of `two` start
                asyncio.run(closed_loop(gw.port, 8, len(SHORT_LINES)))
            stats = {n: {"lines": 0, "wall": 0.0, "gw": 0.0, "standin": 0.0, "bench": 0.0, "errors": [],
                         "per_round": []} for n in gateways}
            load0 = os.getloadavg()[0]
            for r in range(rounds):
                for n in ((1, 2) if r % 2 == 0 else (2, 1)):
                    gw, s = gateways[n], stats[n]
                    c0 = (tree_cpu_s(gw.proc.pid), cpu_s(standin.proc.pid), time.process_time(), time.perf_counter())
                    done, errors = asyncio.run(closed_loop(gw.port, args.concurrency, per_client))
                    c1 = (tree_cpu_s(gw.proc.pid), cpu_s(standin.proc.pid), time.process_time(), time.perf_counter())
                    s["lines"] += done
                    s["wall"] += c1[3] - c0[3]
                    s["gw"] += c1[0] - c0[0]
                    s["standin"] += c1[1] - c0[1]
                    s["bench"] += c1[2] - c0[2]
                    s["errors"] += errors
                    s["per_round"].append(done / (c1[3] - c0[3]))
    finally:
        standin.stop()
    print(f"concurrency {args.concurrency}, {rounds} rounds x {args.concurrency * per_client} lines per gateway; "
          f"load average {load0:.2f} -> {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    for n, s in stats.items():
        per_line = {k: 1000 * s[k] / max(1, s["lines"]) for k in ("gw", "standin", "bench")}
        print(f"--workers {n}: {s['lines'] / s['wall']:.1f} lines/s (rounds: median "
              f"{median(s['per_round']):.1f}, min {min(s['per_round']):.1f}, max {max(s['per_round']):.1f}); "
              f"CPU ms/line gateway {per_line['gw']:.2f}, stand-in {per_line['standin']:.2f}, "
              f"client {per_line['bench']:.2f}; errors {len(s['errors'])} {s['errors'][:3]}")
    ratio = (stats[2]["lines"] / stats[2]["wall"]) / (stats[1]["lines"] / stats[1]["wall"])
    paired = median([b / a for a, b in zip(stats[1]["per_round"], stats[2]["per_round"])])
    print(f"throughput ratio 2 workers / 1 worker: {ratio:.2f} (median of per-round ratios {paired:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
