"""Throughput of the cloud path with ``gateway serve --workers 2`` against one worker, on this machine.

    .venv/bin/python bench/bench_workers.py [--quick] [--concurrency 32]

One ElevenLabs stand-in (75 ms first byte, WebSocket) serves two gateways: one with ``GATEWAY_WORKERS=1``, one with
``GATEWAY_WORKERS=2`` (chain elevenlabs_ws first, cache off). In alternating rounds (1, 2, 2, 1, ...) a closed loop of
``--concurrency`` streams speaks short lines back to back through one of them (NDJSON, the minimal HTTP client of
bench_cloud.py) for a fixed number of lines; throughput = lines / wall time of the round.

The stand-in stays light: it replays the line set from memory after a warm-up (no synthesis during the rounds), and
its CPU per line is printed next to the gateway's (summed over its worker processes) and the client's, so one can
see what the two cores were spent on. Other processes on the machine count too: the load average is printed.

``--light`` (what docs/benchmarks.md reports): the rest of the system is made as small as it can be, so that the
cores are left to the gateway. The gateways' WebSocket goes to :mod:`ops.standins.replay` (plain asyncio, answers
recorded once from the ElevenLabs stand-in and written from memory, same 75 ms first byte), and the client is
``wrk`` (C, keep-alive, 64 connections; ``bench/wrk/stream_lines.lua`` counts only responses that end in a
``final`` served by elevenlabs_ws). Each round runs for a fixed time. Besides the measured ratio it prints the
capacity ratio from CPU time: one worker can use one core, two can use two, so capacity = cores / gateway CPU per
line and the ratio is 2 x (CPU per line, 1 worker) / (CPU per line, 2 workers) — what the two would do on a
machine whose other processes (stand-in, client, other people's jobs) ran elsewhere.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
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


WRK_SCRIPT = Path(__file__).resolve().parent / "wrk" / "stream_lines.lua"


def wrk_round(port: int, concurrency: int, seconds: float) -> tuple[int, int, float, float]:
    """(good lines, bad lines, wall seconds, wrk's CPU seconds) of one fixed-time wrk run."""
    bodies = "\n".join(json.dumps({"text": t, "character": "narrator"}) for t in SHORT_LINES)
    started = time.perf_counter()
    proc = subprocess.Popen(["wrk", "-t1", f"-c{concurrency}", f"-d{seconds:g}s", "--timeout", "10s", "-s",
                             str(WRK_SCRIPT), f"http://127.0.0.1:{port}/api/avatar/speak/stream"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**os.environ, "WRK_LINES": bodies})
    out = proc.stdout.read().decode()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    line = next((ln for ln in out.splitlines() if ln.startswith("WRK_RESULT")), None)
    if line is None:
        raise RuntimeError(f"wrk failed: {out[-500:]}")
    fields = dict(kv.split("=") for kv in line.split()[1:])
    return int(fields["ok"]), int(fields["bad"]), wall, usage.ru_utime + usage.ru_stime


def light(args: argparse.Namespace) -> int:
    """Replay stand-in and wrk: the gateway has the cores (see the module docstring)."""
    if shutil.which("wrk") is None:
        print("--light needs wrk (apt-get install wrk)")
        return 2
    rounds, seconds = (2, 4.0) if args.quick else (6, 8.0)
    standin = StandinProcess("ops.standins.elevenlabs", STANDIN_ARGS).wait_ready()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    replay = subprocess.Popen([sys.executable, "-m", "ops.standins.replay", "--upstream", standin.ws_url,
                               "--port", str(port), "--latency-ms", str(FIRST_BYTE_MS)], cwd=Path(__file__).parent.parent)
    try:
        env = {**gateway_env(standin), "GATEWAY_ELEVENLABS_WS_URL": f"ws://127.0.0.1:{port}"}
        with Gateway(**env, GATEWAY_WORKERS="1") as one, Gateway(**env, GATEWAY_WORKERS="2") as two:
            gateways = {1: one, 2: two}
            for gw in gateways.values():  # the replay records each line once; both workers of `two` start
                asyncio.run(closed_loop(gw.port, 8, len(SHORT_LINES)))
                wrk_round(gw.port, args.concurrency, 2)
            stats = {n: {"lines": 0, "bad": 0, "wall": 0.0, "gw": 0.0, "replay": 0.0, "wrk": 0.0, "per_round": [],
                         "gw_round": []} for n in gateways}
            load0 = os.getloadavg()[0]
            for r in range(rounds):
                for n in ((1, 2) if r % 2 == 0 else (2, 1)):
                    gw, s = gateways[n], stats[n]
                    c0 = (tree_cpu_s(gw.proc.pid), cpu_s(replay.pid))
                    good, bad, wall, wrk_cpu = wrk_round(gw.port, args.concurrency, seconds)
                    c1 = (tree_cpu_s(gw.proc.pid), cpu_s(replay.pid))
                    s["lines"] += good
                    s["bad"] += bad
                    s["wall"] += wall
                    s["gw"] += c1[0] - c0[0]
                    s["replay"] += c1[1] - c0[1]
                    s["wrk"] += wrk_cpu
                    s["per_round"].append(good / wall)
                    s["gw_round"].append(1000 * (c1[0] - c0[0]) / max(1, good))
    finally:
        replay.terminate()
        replay.wait(10)
        standin.stop()
    print(f"--light: replay stand-in + wrk, {args.concurrency} connections, {rounds} rounds x {seconds:g} s per "
          f"gateway; load average {load0:.2f} -> {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    for n, s in stats.items():
        per_line = {k: 1000 * s[k] / max(1, s["lines"]) for k in ("gw", "replay", "wrk")}
        print(f"--workers {n}: {s['lines'] / s['wall']:.1f} lines/s (rounds: median {median(s['per_round']):.1f}, "
              f"min {min(s['per_round']):.1f}, max {max(s['per_round']):.1f}); CPU ms/line gateway "
              f"{per_line['gw']:.2f} (rounds median {median(s['gw_round']):.2f}), replay stand-in "
              f"{per_line['replay']:.2f}, wrk {per_line['wrk']:.2f}; failed lines {s['bad']}")
    ratio = (stats[2]["lines"] / stats[2]["wall"]) / (stats[1]["lines"] / stats[1]["wall"])
    paired = median([b / a for a, b in zip(stats[1]["per_round"], stats[2]["per_round"])])
    g1, g2 = (stats[n]["gw"] / max(1, stats[n]["lines"]) for n in (1, 2))
    print(f"measured throughput ratio 2 workers / 1 worker: {ratio:.2f} (median of per-round ratios {paired:.2f})")
    print(f"capacity ratio from CPU per line (cores / CPU per line; 1 worker: 1 core, 2 workers: 2 cores): "
          f"{2 * g1 / g2:.2f} ({1 / g1:.0f} vs {2 / g2:.0f} lines/s)")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--concurrency", type=int, help="streams at once (default 32; 64 with --light, so that "
                                                         "the 75 ms first byte does not cap two workers)")
    parser.add_argument("--light", action="store_true", help="replay stand-in and wrk (see above)")
    args = parser.parse_args()
    args.concurrency = args.concurrency or (64 if args.light else 32)
    if args.light:
        return light(args)
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
