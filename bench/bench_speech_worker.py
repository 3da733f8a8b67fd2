"""Piper through a speech worker vs Piper in-process: time to first audio at the gateway's client, in one run.

Two real gateway processes (cache off, chain ``piper,espeak``): **in-process** (the embedded default) and
**worker** (``GATEWAY_SPEECH_WORKERS`` pointing at one ``gateway speech-worker --engines piper`` process on this
machine). For each line, both gateways speak it through ``POST /api/avatar/speak/stream`` (NDJSON), the order
alternating line by line so neither always goes first. Reported: medians, and the median of the per-line
differences (worker - in-process). Goal (issue 13): worker first audio <= in-process + 15 ms.

Also, on the same lines, the worker on its own: first ``audio`` event of its NDJSON answer (the extension) and
first byte of a plain ``pcm`` answer, from a raw HTTP client.

Run: ``.venv/bin/python bench/bench_speech_worker.py [--repeats 5]``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import LINES, Gateway, median, p, stream_timing  # noqa: E402
from tests.conftest import ServiceProcess  # noqa: E402

BODY = {"character": "narrator", "voice_id": "piper:joe"}
CHAIN = "piper,espeak"


def worker_first_audio(client: httpx.Client, text: str, stream_format: str) -> float:
    body = {"model": "piper", "voice": "joe", "input": text, "response_format": "pcm"}
    if stream_format == "ndjson":
        body["stream_format"] = "ndjson"
    started = time.perf_counter()
    with client.stream("POST", "/v1/audio/speech", json=body) as resp:
        resp.raise_for_status()
        first = None
        for chunk in resp.iter_raw():
            if first is None and (stream_format != "ndjson" or b'"type":"audio"' in chunk):
                first = time.perf_counter() - started
    return first if first is not None else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    rows: dict[str, list[float]] = {"inproc": [], "worker": [], "diff": [], "raw_ndjson": [], "raw_pcm": []}
    with contextlib.ExitStack() as stack:
        log = Path(os.environ.get("TMPDIR", "/tmp")) / "bench-speech-worker.log"
        worker = ServiceProcess(["gateway.cli", "speech-worker", "--engines", "piper"], {"GATEWAY_LOG_JSON": "false"},
                                log, "/readyz")
        stack.callback(worker.stop)
        worker.wait_ready(90)
        local = stack.enter_context(Gateway(GATEWAY_CACHE_ENABLED="false", GATEWAY_CHAIN=CHAIN))
        remote = stack.enter_context(Gateway(GATEWAY_CACHE_ENABLED="false", GATEWAY_CHAIN=CHAIN,
                                             GATEWAY_SPEECH_WORKERS=worker.url, GATEWAY_SPEECH_ENGINES="piper"))
        a = stack.enter_context(httpx.Client(base_url=local.url, timeout=60))
        b = stack.enter_context(httpx.Client(base_url=remote.url, timeout=60))
        w = stack.enter_context(httpx.Client(base_url=worker.url, timeout=60))
        for client in (a, b):  # warm both paths (model, connections)
            for text in LINES[:2]:
                stream_timing(client, {"text": text, **BODY})
        for repeat in range(args.repeats):
            for i, text in enumerate(LINES):
                order = [("inproc", a), ("worker", b)]
                if (repeat + i) % 2:
                    order.reverse()
                got = {}
                for name, client in order:
                    first, _total, _audio, provider = stream_timing(client, {"text": text, **BODY})
                    assert provider == "piper", provider
                    got[name] = first
                for name in ("inproc", "worker"):
                    rows[name].append(got[name])
                rows["diff"].append(got["worker"] - got["inproc"])
                rows["raw_ndjson"].append(worker_first_audio(w, text, "ndjson"))
                rows["raw_pcm"].append(worker_first_audio(w, text, "pcm"))
    ms = {k: [x * 1000 for x in v] for k, v in rows.items()}
    result = {k: {"median_ms": round(median(v), 1), "p90_ms": round(p(v, 0.9), 1)} for k, v in ms.items()}
    result["n"] = len(rows["diff"])
    result["load"] = os.getloadavg()[0]
    print(json.dumps(result, indent=1))
    print("\n| path | n | first audio p50 | p90 |")
    print("|---|---|---|---|")
    for key, label in (("inproc", "gateway, Piper in-process"), ("worker", "gateway, Piper on a speech worker"),
                       ("raw_ndjson", "speech worker alone, NDJSON (timing)"),
                       ("raw_pcm", "speech worker alone, plain pcm (24 kHz)")):
        print(f"| {label} | {result['n']} | {result[key]['median_ms']} ms | {result[key]['p90_ms']} ms |")
    d = result["diff"]["median_ms"]
    print(f"\nadded by the worker (median of per-line differences): {d:+.1f} ms; goal <= +15 ms: "
          f"{'MET' if d <= 15 else 'NOT MET'}")


if __name__ == "__main__":
    main()
