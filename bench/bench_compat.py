"""Video out of the box and the original contract's extras, on a real ``gateway serve`` (the embedded default).

    .venv/bin/python bench/bench_compat.py [--rounds 6]

Measures, on one gateway with its embedded CPU render worker:

* start-up: ``gateway serve`` until ``/api/health`` answers, and until ``status`` is ``healthy`` (the worker
  prepared, warmed up and in the pool's rotation);
* a line with ``avatar_id: "default"`` against the same kind of line without, interleaved (A/B/B/A...), each text
  new so the line cache does not answer: wall time of ``POST /api/avatar/speak`` and the worker's render time;
* ``/static/avatar/<id>.mp3`` (a WAV line converted to MP3 per request) against ``audio_url`` (the stored WAV),
  interleaved;
* the worker's resident memory (``/v1/worker``).

Prints medians and ratios (results: docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import LINES, Gateway, median  # noqa: E402


def wait_healthy(url: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if httpx.get(url + "/api/health", timeout=10).json().get("status") == "healthy":
            return
        time.sleep(0.1)
    raise TimeoutError("the gateway never reported healthy")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()

    started = time.perf_counter()
    with Gateway(GATEWAY_VIDEO_EMBEDDED="true") as gw:
        up_s = time.perf_counter() - started
        wait_healthy(gw.url)
        healthy_s = time.perf_counter() - started
        plain, video, render, audio_s = [], [], [], []
        mp3, wav = [], []
        with httpx.Client(base_url=gw.url, timeout=120) as client:
            client.post("/api/avatar/speak", json={"text": "Warm up.", "character": "innkeeper"}).raise_for_status()
            for n in range(args.rounds):
                order = [False, True] if n % 2 == 0 else [True, False]
                for with_video in order:
                    text = f"{LINES[(2 * n + with_video) % len(LINES)]} That makes {n * 2 + with_video + 2} of us."
                    body = {"text": text, "character": "innkeeper"}
                    if with_video:
                        body["avatar_id"] = "default"
                    t0 = time.perf_counter()
                    r = client.post("/api/avatar/speak", json=body)
                    wall = time.perf_counter() - t0
                    r.raise_for_status()
                    answer = r.json()
                    if with_video:
                        assert answer["video_url"], answer.get("video")
                        video.append(wall)
                        render.append(answer["video"]["timings"]["render_ms"] / 1000)
                    else:
                        plain.append(wall)
                    audio_s.append(answer["duration"])
                    rid = answer["request_id"]
                    for as_mp3 in ([True, False] if n % 2 == 0 else [False, True]):
                        t0 = time.perf_counter()
                        url = f"/static/avatar/{rid}.mp3" if as_mp3 else answer["audio_url"]
                        client.get(url).raise_for_status()
                        (mp3 if as_mp3 else wav).append(time.perf_counter() - t0)
            health = client.get("/api/health").json()
        worker = next(w for w in health["video"]["workers"] if w["source"] == "embedded")
        rss = httpx.get(worker["url"] + "/v1/worker", timeout=10).json()["memory"].get("rss_mb")

    print(f"start-up: /api/health answers after {up_s:.1f} s, status healthy (worker in rotation) after "
          f"{healthy_s:.1f} s")
    print(f"lines of {median(audio_s):.2f} s (median audio), {args.rounds} each, interleaved:")
    print(f"  speak without avatar: {median(plain) * 1000:.0f} ms; with avatar_id default: "
          f"{median(video) * 1000:.0f} ms ({median(video) / median(plain):.2f}x); worker render "
          f"{median(render) * 1000:.0f} ms")
    print(f"  audio_url (stored WAV): {median(wav) * 1000:.1f} ms; /static/avatar/<id>.mp3 (converted): "
          f"{median(mp3) * 1000:.1f} ms ({median(mp3) / median(wav):.1f}x)")
    print(f"embedded worker resident memory: {rss} MB")


if __name__ == "__main__":
    main()
