"""Benchmark the CPU avatar renderer: a 10 s line -> H.264/AAC MP4 at 25 fps, on one core.

Pins the process to one core (``--core``), runs libx264 with one thread, and renders each
built-in avatar ``--repeat`` times (after one warm-up). The viseme track comes from the text
estimator, stretched over the line; the speech is a modulated tone (the renderer's cost does not
depend on what is said). Prints a markdown table with the ratio to real time. Goal: a 10 s line
in < 2 s (>= 5x real time).

    .venv/bin/python bench/bench_render.py [--seconds 10] [--repeat 3] [--size 384] [--http]

``--http`` adds a row measured through a worker process (multipart upload, render, MP4 download),
that process pinned to the same core.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gateway.audio.encode import encode_wav  # noqa: E402
from gateway.lipsync.build import build_lipsync  # noqa: E402
from gateway.timing.estimate import estimate_timeline_from_text  # noqa: E402

TEXT = ("Welcome to the Gilded Goose, traveller. Rooms are five silver a night, the stew is fresh, and "
        "the fire never goes out. Mind the stairs on your way up; the third one creaks.")
BUDGET_S = 2.0


def line(seconds: float, rate: int = 24000) -> tuple[np.ndarray, list[dict]]:
    timeline = estimate_timeline_from_text(TEXT)
    spans = build_lipsync(timeline.phonemes, include=("visemes",)).visemes or []
    scale = seconds * 1000 / max(1, spans[-1].end_ms)
    track = [{"viseme": s.viseme.name, "start_ms": round(s.start_ms * scale), "end_ms": round(s.end_ms * scale)}
             for s in spans]
    t = np.arange(int(seconds * rate)) / rate
    env = 0.55 + 0.45 * np.sin(2 * np.pi * 2.7 * t)
    pcm = (np.sin(2 * np.pi * 165 * t) * 9000 * env).astype(np.int16)
    return pcm, track


def bench_inprocess(args) -> list[dict]:  # noqa: ANN001
    from dataclasses import replace

    from render_worker.avatars import BUILTIN
    from render_worker.face import parse_track
    from render_worker.renderer import RenderJob, prepare, render_mp4

    pcm, track = line(args.seconds)
    parsed = parse_track(track)
    rows = []
    for avatar_id, spec in BUILTIN.items():
        prepared = prepare(replace(spec, size=args.size))
        job = lambda: RenderJob(pcm, 24000, parsed, emotion="happy", fps=25, seed=7)  # noqa: E731
        render_mp4(prepared, RenderJob(pcm[:24000], 24000, parsed), threads=1, preset=args.preset)  # warm-up
        times, draws, size = [], [], 0
        for _ in range(args.repeat):
            j = job()
            started = time.perf_counter()
            data = render_mp4(prepared, j, threads=1, preset=args.preset)
            times.append(time.perf_counter() - started)
            draws.append(j.stats["draw_ms"] / 1000)
            size = len(data)
        rows.append({"what": f"{avatar_id} (in-process)", "size": args.size, "frames": j.frames,
                     "render_s": statistics.median(times), "draw_s": statistics.median(draws), "bytes": size,
                     "prepare_ms": prepared.prepare_ms})
    return rows


def bench_http(args) -> dict:  # noqa: ANN001
    import httpx

    from tests.conftest import free_port

    port = free_port()
    proc = subprocess.Popen(["taskset", "-c", str(args.core), sys.executable, "-m", "render_worker",
                             "--port", str(port), "--size", str(args.size), "--threads", "1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        pcm, track = line(args.seconds)
        wav = encode_wav(pcm.tobytes(), 24000)
        params = json.dumps({"visemes": track, "emotion": "happy"})
        times = []
        for _ in range(args.repeat + 1):
            started = time.perf_counter()
            resp = httpx.post(url + "/v1/avatars/innkeeper/render", files={"audio": ("l.wav", wav, "audio/wav")},
                              data={"params": params}, timeout=60)
            resp.raise_for_status()
            times.append(time.perf_counter() - started)
        return {"what": "innkeeper (HTTP worker)", "size": args.size, "frames": int(resp.headers["x-frames"]),
                "render_s": statistics.median(times[1:]), "draw_s": None, "bytes": len(resp.content),
                "prepare_ms": None}
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--size", type=int, default=384)
    parser.add_argument("--preset", default="veryfast")
    parser.add_argument("--core", type=int, default=0)
    parser.add_argument("--http", action="store_true")
    args = parser.parse_args()
    os.sched_setaffinity(0, {args.core})
    rows = bench_inprocess(args)
    if args.http:
        rows.append(bench_http(args))
    print(f"\nCPU avatar render, {args.seconds:g} s line, 25 fps, {args.size}x{args.size}, libx264 {args.preset} "
          f"1 thread, pinned to core {args.core}, median of {args.repeat}\n")
    budget = BUDGET_S * args.seconds / 10
    print(f"| avatar | frames | render s | draw s | encode+mux s | fps | x real time | MP4 KiB | < {budget:g} s |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|:---:|")
    for r in rows:
        draw = f"{r['draw_s']:.2f}" if r["draw_s"] is not None else "-"
        enc = f"{r['render_s'] - r['draw_s']:.2f}" if r["draw_s"] is not None else "-"
        ratio = args.seconds / r["render_s"]
        ok = "yes" if r["render_s"] < budget else "NO"
        fps = r["frames"] / r["render_s"]
        print(f"| {r['what']} | {r['frames']} | {r['render_s']:.2f} | {draw} | {enc} | {fps:.0f}"
              f" | {ratio:.1f}x | {r['bytes'] / 1024:.0f} | {ok} |")


if __name__ == "__main__":
    main()
