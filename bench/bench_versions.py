"""Two versions of the gateway, line by line in one loop: what a change costs, under the same noise.

    .venv/bin/python bench/bench_versions.py /path/to/checkout-a /path/to/checkout-b [--lines 40] [--voice piper:joe] [--chain '["piper","espeak"]']

Each checkout (e.g. ``git worktree add /tmp/base <commit>``, with ``data/models`` linked to this one's) runs its own
gateway process (cache off); every line goes to both, alternating which goes first. Prints A's time to first audio
and real-time factor over B's (medians of per-line ratios). ``bench_gateway.py --peer`` does the same beside the raw
engine; this script is the lighter loop for repeated runs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import LINES, Gateway, stream_timing  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a", type=Path)
    parser.add_argument("b", type=Path)
    parser.add_argument("--lines", type=int, default=40)
    parser.add_argument("--voice", help="pin a voice, e.g. piper:joe")
    parser.add_argument("--chain", help='a provider chain for both, as JSON: \'["piper","espeak"]\'')
    args = parser.parse_args()
    body = {"voice_id": args.voice} if args.voice else {}
    env = {"GATEWAY_CACHE_ENABLED": "false", **({"GATEWAY_CHAIN": args.chain} if args.chain else {})}
    with Gateway(args.a.resolve(), **env) as gw_a, Gateway(args.b.resolve(), **env) as gw_b:
        a, b = httpx.Client(base_url=gw_a.url, timeout=60), httpx.Client(base_url=gw_b.url, timeout=60)
        for client in (a, b):
            for _ in range(3):
                stream_timing(client, {"text": "Warm up now.", **body})
        ra: list[tuple[float, float]] = []
        rb: list[tuple[float, float]] = []
        for i in range(args.lines):
            request = {"text": LINES[i % len(LINES)], **body}
            for client, rows in ([(a, ra), (b, rb)] if i % 2 == 0 else [(b, rb), (a, ra)]):
                first, total, audio, _ = stream_timing(client, request)
                rows.append((first, total / audio))
    ttfa = statistics.median(x[0] / y[0] for x, y in zip(ra, rb))
    rtf = statistics.median(x[1] / y[1] for x, y in zip(ra, rb))
    print(f"A/B over {args.lines} lines: TTFA {ttfa:.3f}, RTF {rtf:.3f} "
          f"(A median TTFA {statistics.median(x[0] for x in ra) * 1000:.0f} ms, "
          f"B {statistics.median(x[0] for x in rb) * 1000:.0f} ms)")


if __name__ == "__main__":
    main()
