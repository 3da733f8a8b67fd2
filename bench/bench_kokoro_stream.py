"""Kokoro streaming inside a sentence: windowed vs whole-clause decoding vs Piper, in one run.

Two parts (each short enough for one `flock /tmp/heavy.lock` slot; run both by default):

* ``--part gateway``: time to first audio (TTFA) through real gateway processes (cache and capacity rule off, so
  Kokoro serves every line): one with
  ``GATEWAY_KOKORO_DECODE=windowed``, one with ``whole`` (the path before windows: first clause split off, each
  piece decoded whole, lead-in cut before decoding), and Piper through the first. Lines of 1-3 sentences and a
  60-word single sentence, interleaved line by line (the order rotates each repeat). Medians, and the real-time
  factor (stream time / audio time) of windowed over whole (median of per-line ratios). A line that fails over
  mid-line (the chain's chunk-gap deadline, when a long piece takes over 8 s to decode) counts in
  ``failed_over_mid_line``, keeps its TTFA and has no RTF.
* ``--part quality``: the same frames decoded whole and in windows, in this process: decoder real-time factor of
  each, length difference, the largest extra spectral jump at a join (:func:`gateway.audio.spectral.join_jump_db`),
  the median frame-by-frame log-spectral distance to whole, and a Distill-MOS score of both (PyPI ``distillmos``,
  weights inside the package; it needs torch, so it runs in the interpreter ``--mos-python`` names, e.g. a venv
  with ``pip install .[quality]``; skipped with a note when none has it). "floor" is the whole decode run again
  with its harmonic phase shifted by exactly one period: the same maths, other float rounding, so the model's own
  numerical noise. "first1s" is windowed with a 1 s first window (the setting's default is 1.5 s); "clause" ends the
  first window at the first clause's pause, as a request's first piece does (``first_window_at_clause``).

Run: ``flock /tmp/heavy.lock .venv/bin/python bench/bench_kokoro_stream.py [--repeats 3] [--mos-python PY]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import soxr

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import Gateway, median, stream_timing  # noqa: E402
from gateway.audio.spectral import join_jump_db, log_spectral_distance  # noqa: E402
from gateway.providers.kokoro import KokoroProvider  # noqa: E402
from gateway.providers.kokoro_decode import WindowPlan  # noqa: E402
from gateway.providers.kokoro_windows import FRAME_SAMPLES, first_clause_end, plan_windows  # noqa: E402
from gateway.settings import Settings  # noqa: E402

SHORT = [  # 1-3 sentences
    "Halt! Who goes there?",
    "The forge is hot today, so mind your fingers near the anvil.",
    "Welcome to the Gilded Goose, traveller. Rooms are five silver a night, and the stew is fresh.",
    "Keep your voice down. The guards change shift at midnight. Wait for the bell.",
]
LONG60 = ("Welcome to the Prancing Pony, traveller, so sit by the fire and take off your boots and tell me what news "
          "you bring from the roads to the north, because the last caravan never arrived and the miller swears that "
          "he saw strange lights moving on the hill where the old watchtower used to stand before the war with the "
          "goblin king began.")
SHORT_FIRST_FRAMES = 40  #: the "first1s" variant: a 1 s first window instead of the setting's
MOS_SCRIPT = """
import json, sys, types, numpy as np, torch
try:
    import torchaudio  # noqa: F401 - distillmos imports it for its file CLI only
except (ImportError, OSError):  # a torchaudio built for another torch: the scoring here does not use it
    sys.modules["torchaudio"] = types.ModuleType("torchaudio")
import distillmos
torch.set_num_threads(2)
model = distillmos.ConvTransformerSQAModel(); model.eval()
out = {}
for path in sys.argv[1:]:
    x = torch.from_numpy(np.load(path).astype(np.float32))[None]  # 16 kHz already (soxr, in the bench)
    with torch.no_grad():
        out[path] = float(model(x).squeeze())
print(json.dumps(out))
"""


def gateway_part(repeats: int) -> dict:
    lines = [("short", t) for t in SHORT] + [("60 words", LONG60)]
    modes = ["kokoro windowed", "kokoro whole", "piper"]
    ttfa: dict[tuple[str, str], list[float]] = {}
    rtf: dict[str, list[float]] = {m: [] for m in modes}
    rtf_ratio: list[float] = []
    failovers: dict[str, int] = {}
    with contextlib.ExitStack() as stack:
        env = {"GATEWAY_CACHE_ENABLED": "false", "GATEWAY_CAPACITY_ENABLED": "false"}  # Kokoro serves every line
        gws = {"windowed": stack.enter_context(Gateway(**env, GATEWAY_KOKORO_DECODE="windowed")),
               "whole": stack.enter_context(Gateway(**env, GATEWAY_KOKORO_DECODE="whole"))}
        clients = {k: stack.enter_context(httpx.Client(base_url=g.url, timeout=180)) for k, g in gws.items()}
        for client in clients.values():
            stream_timing(client, {"text": "Warm up.", "voice_id": "kokoro:af_heart"})
        stream_timing(clients["windowed"], {"text": "Warm up.", "voice_id": "piper:joe"})
        for repeat in range(repeats):
            for kind, text in lines:
                results = {}
                order = modes[repeat % 3:] + modes[:repeat % 3]
                for mode in order:
                    if mode == "piper":
                        body, client, want = {"text": text, "voice_id": "piper:joe"}, clients["windowed"], "piper"
                    else:
                        body, client, want = ({"text": text, "voice_id": "kokoro:af_heart"},
                                              clients[mode.split()[1]], "kokoro")
                    first, total, audio, provider = stream_timing(client, body)
                    ttfa.setdefault((mode, kind), []).append(first)  # the first audio is the engine's own
                    if provider != want:  # it failed over mid-line (a chunk-gap timeout): no RTF for it
                        failovers[mode] = failovers.get(mode, 0) + 1
                        continue
                    rtf[mode].append(total / audio)
                    results[mode] = total / audio
                if "kokoro windowed" in results and "kokoro whole" in results:
                    rtf_ratio.append(results["kokoro windowed"] / results["kokoro whole"])
        peak_rss = {k: peak_rss_mb(g.proc.pid) for k, g in gws.items()}
    return {"ttfa_ms": {f"{m} | {k}": round(median(v) * 1000) for (m, k), v in ttfa.items()},
            "ttfa_n": {f"{m} | {k}": len(v) for (m, k), v in ttfa.items()},
            "rtf": {m: round(median(v), 3) for m, v in rtf.items()},
            "rtf_windowed_over_whole": round(median(rtf_ratio), 3), "rtf_pairs": len(rtf_ratio),
            "failed_over_mid_line": failovers, "gateway_peak_rss_mb": peak_rss}


def peak_rss_mb(pid: int) -> int | None:
    """A process's peak resident memory (VmHWM), MB; None off Linux."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) // 1024
    except OSError:
        return None
    return None


def quality_part(mos_python: str | None) -> dict:
    provider = KokoroProvider(Settings(), warmup=True)
    asyncio.run(provider.start())
    engine = provider._session  # noqa: SLF001 - the engine itself: decode the same frames both ways
    pack = provider._pack("af_heart")  # noqa: SLF001
    rows = []
    tmp = Path(tempfile.mkdtemp(prefix="kokoro-stream-"))
    for i, text in enumerate([*SHORT, LONG60]):
        frames = provider._front(provider._symbols(text, "af_heart"), pack, 1.0)  # noqa: SLF001
        t = time.perf_counter()
        whole = engine.decode_whole(frames)
        t_whole = time.perf_counter() - t
        t = time.perf_counter()
        windowed = np.concatenate(list(engine.decode_windows(frames, provider.plan)))
        t_windowed = time.perf_counter() - t
        floor = engine._fit(engine._decode(frames, np.full(9, 1 / 300, np.float32)), frames.count)  # noqa: SLF001
        short_plan = WindowPlan(SHORT_FIRST_FRAMES, provider.plan.growth, provider.plan.context, provider.plan.fade)
        short_first = np.concatenate(list(engine.decode_windows(frames, short_plan)))
        clause = first_clause_end(provider._symbols(text, "af_heart"), frames.durations.tolist(),  # noqa: SLF001
                                  provider.plan.min_first)
        at_clause = np.concatenate(list(engine.decode_windows(frames, provider.plan, clause)))
        windows = plan_windows(frames.count, provider.plan.first, provider.plan.growth, provider.plan.context)
        jumps = join_jump_db(windowed, whole, [w.start * FRAME_SAMPLES for w in windows[1:]])
        floor_jumps = join_jump_db(floor, whole, [w.start * FRAME_SAMPLES for w in windows[1:]])
        seconds = len(whole) / 24000
        clause_jumps = join_jump_db(at_clause, whole, [w.start * FRAME_SAMPLES for w in plan_windows(
            frames.count, provider.plan.first, provider.plan.growth, provider.plan.context, clause)[1:]])
        row = {"line": i, "audio_s": round(seconds, 2), "windows": len(windows),
               "rtf_whole": round(t_whole / seconds, 3), "rtf_windowed": round(t_windowed / seconds, 3),
               "length_diff_samples": len(windowed) - len(whole),
               "max_join_jump_db": round(max(jumps), 2) if jumps else None,
               "floor_max_join_jump_db": round(max(floor_jumps), 2) if floor_jumps else None,
               "clause_first_window_s": round(clause * FRAME_SAMPLES / 24000, 2) if clause else None,
               "clause_max_join_jump_db": round(max(clause_jumps), 2) if clause_jumps else None,
               "lsd_median_db": round(float(np.median(log_spectral_distance(windowed, whole))), 2),
               "floor_lsd_median_db": round(float(np.median(log_spectral_distance(floor, whole))), 2)}
        for name, audio in (("whole", whole), ("windowed", windowed), ("floor", floor), ("first1s", short_first),
                            ("clause", at_clause)):
            np.save(tmp / f"{i}_{name}.npy", audio)
        rows.append(row)
    mos = score_mos(mos_python, sorted(tmp.glob("*.npy")))
    for row in rows:
        for name in ("whole", "windowed", "floor", "first1s", "clause"):
            value = mos.get(str(tmp / f"{row['line']}_{name}.npy"))
            row[f"mos_{name}"] = round(value, 2) if value is not None else None
    return {"rows": rows, "mos": "distillmos" if mos else "not installed (pass --mos-python)"}


def score_mos(python: str | None, paths: list[Path]) -> dict[str, float]:
    """Distill-MOS of each 24 kHz ``.npy`` (resampled to the model's 16 kHz here, with soxr), keyed by path."""
    resampled = {}
    for path in paths:
        target = path.with_name(path.stem + ".16k.npy")
        np.save(target, soxr.resample(np.load(path).astype(np.float32), 24000, 16000))
        resampled[str(target)] = str(path)
    for candidate in [python, sys.executable]:
        if not candidate:
            continue
        proc = subprocess.run([candidate, "-c", MOS_SCRIPT, *resampled], capture_output=True, text=True,
                              timeout=1800, check=False)
        if proc.returncode == 0:
            scores = json.loads(proc.stdout.strip().splitlines()[-1])
            return {resampled[k]: v for k, v in scores.items()}
    return {}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--part", choices=["gateway", "quality", "both"], default="both")
    parser.add_argument("--mos-python", help="interpreter with distillmos installed (pip install .[quality])")
    args = parser.parse_args()
    out = {"load_before": [round(x, 2) for x in os.getloadavg()], "cores": os.cpu_count()}
    if args.part in ("gateway", "both"):
        out["gateway"] = gateway_part(args.repeats)
    if args.part in ("quality", "both"):
        out["quality"] = quality_part(args.mos_python)
    out["load_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
