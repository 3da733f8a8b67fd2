"""Long lines: first audio of a 1,000-character unpunctuated line vs a 10-word line, and resident memory of a
gateway after 20 such lines (4 at a time, through Piper and through Kokoro).

    flock /tmp/heavy.lock python bench/bench_long_lines.py [--peer /work/main] [--kokoro-lines 10]

First audio: for each engine, ``--repeats`` pairs (10-word line, then the long line), each streamed and closed at
its first audio event; reported as medians and the median of the per-pair ratios (same run). Memory: VmRSS of the
gateway process (``/proc/<pid>/status``) after warm-up, sampled every 0.2 s during the load (peak), and after
it. ``--peer`` runs the first-audio part against another checkout's gateway too (the "before").
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import Gateway, median, stream_timing

TEN_WORDS = "Tell me what business brings you to this gate tonight"  # 10 words, 55 characters
LONG = " ".join(["the caravan rolled slowly over the hills towards the distant city walls"] * 14)[:1000]
ENGINES = {"piper": "piper:joe", "kokoro": "kokoro:af_heart"}
#: Deadlines raised: a 1,000-character line is ~55 s of audio, longer to make under load than the 60 s line deadline,
#: and a gateway without pieces (the peer) makes a whole line before its first audio (past the 8 s deadline).
ENV = {"GATEWAY_CACHE_ENABLED": "false", "GATEWAY_CAPACITY_ENABLED": "false", "GATEWAY_TOTAL_TIMEOUT_S": "600",
       "GATEWAY_FIRST_AUDIO_TIMEOUT_S": "300", "GATEWAY_CHUNK_GAP_TIMEOUT_S": "300"}


def rss_gb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024 / 1024
    return float("nan")


def first_audio(client: httpx.Client, body: dict) -> float:
    """Seconds to the first audio event of a streamed line; the stream is closed there."""
    started = time.perf_counter()
    with client.stream("POST", "/api/avatar/speak/stream", json=body) as r:
        r.raise_for_status()
        for line in r.iter_lines():
            if line and json.loads(line)["type"] == "audio":
                return time.perf_counter() - started
            if line and json.loads(line)["type"] == "error":
                raise RuntimeError(line)
    raise RuntimeError("no audio")


def first_audio_ratios(gw: Gateway, repeats: int) -> dict:
    out = {}
    with httpx.Client(base_url=gw.url, timeout=600) as client:
        for engine, voice in ENGINES.items():
            stream_timing(client, {"text": "Warm up.", "voice_id": voice})
            short, long_, ratio = [], [], []
            for _ in range(repeats):
                a = first_audio(client, {"text": TEN_WORDS, "voice_id": voice})
                b = first_audio(client, {"text": LONG, "voice_id": voice})
                short.append(a)
                long_.append(b)
                ratio.append(b / a)
            out[engine] = {"ten_words_s": median(short), "long_s": median(long_), "ratio": median(ratio),
                           "n": repeats}
            print(f"  {engine}: {out[engine]}", file=sys.stderr, flush=True)
    return out


def load(gw: Gateway, piper_lines: int, kokoro_lines: int, concurrency: int = 4) -> dict:
    pid = gw.proc.pid
    with httpx.Client(base_url=gw.url, timeout=900) as client:
        for voice in ENGINES.values():
            stream_timing(client, {"text": "Warm up.", "voice_id": voice})
    before = rss_gb(pid)
    peak = [before]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], rss_gb(pid))
            time.sleep(0.2)

    jobs = [ENGINES["piper"]] * piper_lines + [ENGINES["kokoro"]] * kokoro_lines
    jobs = [j for pair in zip(jobs[:len(jobs) // 2], jobs[len(jobs) // 2:], strict=False) for j in pair] + \
        jobs[2 * (len(jobs) // 2):]  # interleaved: both engines busy at once

    def one(voice: str) -> float:
        with httpx.Client(base_url=gw.url, timeout=900) as client:
            return stream_timing(client, {"text": LONG, "voice_id": voice})[2]

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        audio = list(pool.map(one, jobs))
    wall = time.perf_counter() - started
    done.set()
    sampler.join()
    time.sleep(1.0)
    return {"lines": len(jobs), "piper_lines": piper_lines, "kokoro_lines": kokoro_lines, "rss_warm_gb": before,
            "rss_peak_gb": peak[0], "rss_after_gb": rss_gb(pid), "wall_s": wall, "audio_s": sum(audio)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--piper-lines", type=int, default=10)
    parser.add_argument("--kokoro-lines", type=int, default=10)
    parser.add_argument("--peer", type=Path, help="another checkout: its first-audio ratios in the same run")
    parser.add_argument("--skip-load", action="store_true")
    parser.add_argument("--skip-first-audio", action="store_true")
    args = parser.parse_args()
    results = {}
    with contextlib.ExitStack() as stack:
        gw = stack.enter_context(Gateway(**ENV))
        if not args.skip_first_audio:
            results["first_audio"] = first_audio_ratios(gw, args.repeats)
        if args.peer and not args.skip_first_audio:
            peer = stack.enter_context(Gateway(args.peer.resolve(), **ENV))
            results["peer_first_audio"] = first_audio_ratios(peer, 1)
            peer.close()
        if not args.skip_load:
            results["load"] = load(gw, args.piper_lines, args.kokoro_lines)
    print(json.dumps(results, indent=1))
    print("\n| engine | first audio, 10 words | first audio, 1,000 chars | ratio (median of pairs) |")
    print("|---|---|---|---|")
    for label, key in (("", "first_audio"), (" (peer)", "peer_first_audio")):
        for engine, r in results.get(key, {}).items():
            print(f"| {engine}{label} | {r['ten_words_s'] * 1000:.0f} ms | {r['long_s'] * 1000:.0f} ms | "
                  f"{r['ratio']:.2f} (n={r['n']}) |")
    if "load" in results:
        r = results["load"]
        print(f"\nload: {r['lines']} lines of 1,000 characters ({r['piper_lines']} Piper, {r['kokoro_lines']} Kokoro), "
              f"4 at a time: RSS warm {r['rss_warm_gb']:.2f} GB, peak {r['rss_peak_gb']:.2f} GB, after "
              f"{r['rss_after_gb']:.2f} GB; {r['audio_s']:.0f} s of audio in {r['wall_s']:.0f} s")


if __name__ == "__main__":
    main()
