"""Gateway overhead: time to first audio and real-time factor through the gateway vs the engine directly.

Same lines, interleaved in one run: for each line, the raw engine (in this process) and then the gateway's
NDJSON stream (a real server process, cache off) — so both see the same machine noise. Reports medians and
the gateway's added time and ratio. Run: `.venv/bin/python bench/bench_gateway.py [--repeats N]`.

``--peer DIR`` also runs the gateway of another checkout (e.g. ``git worktree add /tmp/base <commit>``) in the same
loop, line by line, and reports this version's time to first audio and real-time factor over the peer's: what a
change costs, measured under the same noise.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import LINES, Gateway, median, stream_timing  # noqa: E402
from gateway.providers.base import SynthesisRequest  # noqa: E402
from gateway.settings import Settings  # noqa: E402
from gateway.text.clean import clean_text, split_sentences  # noqa: E402


def piper_direct():
    """Raw Piper: PiperVoice.synthesize on the same prepared model and ORT settings as the gateway."""
    from gateway.providers.piper import PiperProvider

    provider = PiperProvider(Settings())
    asyncio.run(provider.start())
    voice = provider._voice  # noqa: SLF001 - the raw engine object, no gateway code in the loop

    def run(text: str) -> tuple[float, float, float]:
        started = time.perf_counter()
        first = None
        samples = 0
        for chunk in voice.synthesize(text, include_alignments=True):
            if first is None:
                first = time.perf_counter() - started
            samples += len(chunk.audio_int16_bytes) // 2
        total = time.perf_counter() - started
        return first, total, samples / voice.config.sample_rate

    return run


def kokoro_direct():
    """Kokoro provider in-process (no HTTP, no chain): its first clause and whole line."""
    from gateway.providers.kokoro import KokoroProvider

    provider = KokoroProvider(Settings())
    asyncio.run(provider.start())

    def run(text: str, voice: str = "af_heart") -> tuple[float, float, float]:
        async def go():
            text_c = clean_text(text)
            request = SynthesisRequest(tuple(split_sentences(text_c)), voice, text=text_c)
            started = time.perf_counter()
            first = None
            samples = 0
            rate = 24000
            async for event in provider.stream(request):
                if getattr(event, "pcm", None) is not None:
                    if first is None:
                        first = time.perf_counter() - started
                    samples += len(event.pcm) // 2
                    rate = event.sample_rate
            return first, time.perf_counter() - started, samples / rate

        return asyncio.run(go())

    return run


def measure(name: str, direct, client: httpx.Client, body_for, repeats: int, peer: httpx.Client | None = None) -> dict:
    rows = {"direct_ttfa": [], "gw_ttfa": [], "direct_rtf": [], "gw_rtf": [], "added_ttfa": [], "rtf_ratio": [],
            "vs_peer_ttfa": [], "vs_peer_rtf": []}
    for repeat in range(repeats):
        for text in LINES:
            peer_first = peer is not None and repeat % 2 == 1  # alternate who goes first: no order bias
            if peer_first:
                p_first, p_total, p_audio, _ = stream_timing(peer, body_for(text))
            d_first, d_total, d_audio = direct(text)
            g_first, g_total, g_audio, provider = stream_timing(client, body_for(text))
            assert provider == name, f"served by {provider}, expected {name}"
            rows["direct_ttfa"].append(d_first)
            rows["gw_ttfa"].append(g_first)
            rows["direct_rtf"].append(d_total / d_audio)
            rows["gw_rtf"].append(g_total / g_audio)
            rows["added_ttfa"].append(g_first - d_first)
            rows["rtf_ratio"].append((g_total / g_audio) / (d_total / d_audio))
            if peer is not None:
                if not peer_first:
                    p_first, p_total, p_audio, _ = stream_timing(peer, body_for(text))
                rows["vs_peer_ttfa"].append(g_first / p_first)
                rows["vs_peer_rtf"].append((g_total / g_audio) / (p_total / p_audio))
    return {k: median(v) for k, v in rows.items() if v} | {"n": len(rows["gw_ttfa"])}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-kokoro", action="store_true")
    parser.add_argument("--peer", type=Path, help="another checkout whose gateway runs in the same loop")
    args = parser.parse_args()
    results = {}
    with contextlib.ExitStack() as stack:
        gw = stack.enter_context(Gateway(GATEWAY_CACHE_ENABLED="false"))
        client = stack.enter_context(httpx.Client(base_url=gw.url, timeout=120))
        peer = None
        if args.peer:
            other = stack.enter_context(Gateway(args.peer.resolve(), GATEWAY_CACHE_ENABLED="false"))
            peer = stack.enter_context(httpx.Client(base_url=other.url, timeout=120))
            stream_timing(peer, {"text": "Warm up."})
        stream_timing(client, {"text": "Warm up."})
        results["piper"] = measure("piper", piper_direct(), client, lambda t: {"text": t, "voice_id": "piper:joe"},
                                   args.repeats, peer)
        if not args.skip_kokoro:
            stream_timing(client, {"text": "Warm up.", "voice_id": "kokoro:af_heart"})
            results["kokoro"] = measure("kokoro", kokoro_direct(), client,
                                        lambda t: {"text": t, "voice_id": "kokoro:af_heart"}, args.repeats)
    print(json.dumps(results, indent=1))
    print("\n| engine | n | TTFA direct | TTFA gateway | added TTFA (median of pairs) | RTF direct | RTF gateway | RTF ratio |")
    print("|---|---|---|---|---|---|---|---|")
    for name, r in results.items():
        print(f"| {name} | {r['n']} | {r['direct_ttfa'] * 1000:.0f} ms | {r['gw_ttfa'] * 1000:.0f} ms | "
              f"{r['added_ttfa'] * 1000:+.1f} ms | {r['direct_rtf']:.3f} | {r['gw_rtf']:.3f} | {r['rtf_ratio']:.3f} |")
    if args.peer:
        r = results["piper"]
        print(f"\nthis version / peer ({args.peer}), Piper, median of per-line ratios: "
              f"TTFA {r['vs_peer_ttfa']:.3f}, RTF {r['vs_peer_rtf']:.3f}")


if __name__ == "__main__":
    main()
