"""Cloud benchmark (issue 3 §5): gateway added latency over the ElevenLabs stand-in, and failover time.

Part 1 — added latency to first audio. The ElevenLabs stand-in answers every WebSocket stream with a fixed
75 ms first byte (``latency_ms: 75``, the ElevenLabs Flash figure). Two clients run against it in one
process and one run, in interleaved batches (direct, gateway, gateway, direct, ...):

* **direct**: a raw ``websockets`` client speaking the exact protocol the gateway's primary
  (``elevenlabs_ws``) speaks — same URL and query, same handshake header and connect options, the
  same init message, segment texts with ``flush`` and end-of-input, captured from the stand-in's
  request log while warming up — timed from connect to the first audio message;
* **gateway**: ``POST /api/avatar/speak/stream`` (NDJSON; cache off) through a real gateway process
  whose chain puts ``elevenlabs_ws`` first, timed from connect to the first ``audio`` event. The HTTP
  client is a minimal asyncio HTTP/1.1 reader (no httpx), so client overhead stays small on both sides.

Each level (1, 10, 50 concurrent streams) is a closed loop: C workers each stream k lines back to back;
worker starts are spread over about one stream's length. Both clients read every stream to its end. Requests are paired by
(round, worker, index) — same line, same place in the load — for the median of paired differences.
The stand-in replays repeated lines from memory, so it is warmed with the line set first.

Part 2 — failover. A gateway with ``GATEWAY_FIRST_AUDIO_TIMEOUT_S=1.0`` and the chain
elevenlabs_ws → elevenlabs_rest → piper; per trial: normal TTFA, piper's own TTFA (voice pinned to piper),
TTFA with the stand-in SIGKILLed (connection refused; restarted on the same port afterwards) and
SIGSTOPped (hang; always SIGCONT'd). Failover time = fallback TTFA − piper's own TTFA (paired within the
trial). Breaker and demotion are neutralised in that gateway (fail_max 1000, error_critical 2) so every
trial pays the per-request failover path; a second gateway with default breaker/demotion settings then
shows what consecutive requests pay after the primary dies.

``--peer DIR`` runs the gateway of another checkout (e.g. ``git worktree add /tmp/base main``) as a third mode in
the same part-1 batches (same stand-in, interleaved): its latency and its CPU per line next to this version's, which
is how a change's cost is measured under the same noise. ``--level N`` keeps only the levels with N streams.
``--env K=V`` / ``--peer-env K=V`` add settings to this gateway / the peer's; ``--peer . --env
GATEWAY_ELEVENLABS_WS_MODE=per_line --peer-env GATEWAY_ELEVENLABS_WS_MODE=multi`` compares two settings of one checkout.

Run: ``.venv/bin/python bench/bench_cloud.py [--quick] [--peer DIR] [--level 50]``. All traffic is to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from websockets.asyncio.client import connect

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import Gateway, median, p  # noqa: E402
from ops.standins.process import StandinProcess  # noqa: E402

KEY = "sk_bench_standin_7d1e4b2a90c3"
FIRST_BYTE_MS = 75
PACED_STALL_MS = 150
#: Short one-sentence lines (one flushed segment each).
SHORT_LINES = [
    "Halt, who goes there?",
    "The gate is closed tonight.",
    "Mind the anvil, it is hot.",
    "Rooms are five silver a night.",
    "Keep your voice down.",
    "The northern road is closed.",
    "What brings you to the forge?",
    "The Queen will see you now.",
    "Stay close to the torches.",
    "I have heard that name before.",
    "Dragons were seen near the pass.",
    "Pay the toll and move along.",
]
CHAIN_FULL = '["elevenlabs_ws","elevenlabs_rest","piper"]'
STREAM_PATH = "/api/avatar/speak/stream"
REQUEST_TIMEOUT_S = 30.0
CLK_TCK = os.sysconf("SC_CLK_TCK")


# -- helpers ---------------------------------------------------------------------------------------

def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (threads included)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


class FixedPortStandin(StandinProcess):
    """A stand-in subprocess on a given port (so it can be restarted where the gateway points)."""

    def __init__(self, module: str, args: list[str], port: int) -> None:  # noqa: D107 - no super(): fixed port
        root = Path(__file__).resolve().parent.parent
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.ws_url = f"ws://127.0.0.1:{port}"
        self.log_path = Path(tempfile.mkstemp(prefix="standin-bench-", suffix=".log")[1])
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen([sys.executable, "-m", module, "--port", str(port), *args], cwd=root,
                                     env=dict(os.environ), stdout=self._log, stderr=subprocess.STDOUT)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


STANDIN_ARGS = ["--api-key", KEY, "--concurrency", "100000", "--character-limit", "1000000000"]


def gateway_env(standin: StandinProcess, **extra: str) -> dict[str, str]:
    return {"ELEVENLABS_API_KEY": KEY, "GATEWAY_ELEVENLABS_BASE_URL": standin.url,
            "GATEWAY_ELEVENLABS_WS_URL": standin.ws_url, "GATEWAY_CHAIN": CHAIN_FULL,
            "GATEWAY_CACHE_ENABLED": "false", **extra}


def ms(x: float) -> str:
    return "n/a" if x != x else f"{x * 1000:.1f}"


def sms(x: float) -> str:
    return "n/a" if x != x else f"{x * 1000:+.1f}"


# -- clients ---------------------------------------------------------------------------------------

_PROVIDER = re.compile(rb'"provider":"([^"]*)"')


class StreamResult:
    __slots__ = ("ttfa", "total", "provider", "statuses", "fallbacks", "error")

    def __init__(self) -> None:
        self.ttfa = float("nan")
        self.total = float("nan")
        self.provider: str | None = None
        self.statuses: list[tuple[float, dict]] = []
        self.fallbacks = 0
        self.error: str | None = None


async def gateway_stream(port: int, body: dict, keep_statuses: bool = False) -> StreamResult:
    """POST the NDJSON stream with a minimal HTTP/1.1 client; time to the first ``audio`` line and the end."""
    out = StreamResult()
    payload = json.dumps(body).encode()
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"POST " + STREAM_PATH.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     b"Content-Type: application/json\r\nConnection: close\r\n"
                     b"Content-Length: " + str(len(payload)).encode() + b"\r\n\r\n" + payload)
        status = await reader.readline()
        if b" 200 " not in status:
            out.error = status.decode(errors="replace").strip()
            return out
        chunked = False
        while True:
            header = await reader.readline()
            if header in (b"\r\n", b"\n", b""):
                break
            if header.lower().startswith(b"transfer-encoding:") and b"chunked" in header.lower():
                chunked = True
        buf = b""

        def lines(data: bytes):
            nonlocal buf
            buf += data
            *complete, buf = buf.split(b"\n")
            return complete

        async def chunks():
            if not chunked:
                while data := await reader.read(65536):
                    yield data
                return
            while True:
                size = int((await reader.readline()).split(b";")[0], 16)
                if size == 0:
                    return
                data = await reader.readexactly(size + 2)
                yield data[:-2]

        async for data in chunks():
            for line in lines(data):
                if line.startswith(b'{"type":"audio"'):
                    if out.ttfa != out.ttfa:
                        out.ttfa = time.perf_counter() - started
                elif line.startswith(b'{"type":"final"'):
                    m = _PROVIDER.search(line)
                    out.provider = m.group(1).decode() if m else None
                    fb = re.search(rb'"fallbacks":(\d+)', line)
                    out.fallbacks = int(fb.group(1)) if fb else 0
                elif line.startswith(b'{"type":"error"'):
                    out.error = json.loads(line).get("message")
                elif keep_statuses and line.startswith(b'{"type":"status"'):
                    out.statuses.append((time.perf_counter() - started, json.loads(line)))
        out.total = time.perf_counter() - started
        return out
    finally:
        writer.close()


class DirectProtocol:
    """What the gateway's elevenlabs_ws provider sends for one line, captured from the stand-in's log."""

    def __init__(self, url: str, init: dict, texts: list[str]) -> None:
        self.url = url
        self.messages = [json.dumps(init)] + [json.dumps({"text": t, "flush": True}) for t in texts] \
            + [json.dumps({"text": ""})]


async def direct_stream(proto: DirectProtocol) -> StreamResult:
    """Raw websockets client, same connect options as gateway/providers/elevenlabs_ws.py."""
    out = StreamResult()
    started = time.perf_counter()
    ws = await connect(proto.url, additional_headers={"xi-api-key": KEY}, open_timeout=3.0, max_size=16 * 1024 * 1024,
                       close_timeout=2, ping_interval=20, ping_timeout=20, user_agent_header="mouthpiece")
    try:
        for message in proto.messages:
            await ws.send(message)
        async for raw in ws:
            if isinstance(raw, bytes):
                continue
            if raw.startswith('{"audio": "'):
                if out.ttfa != out.ttfa:
                    out.ttfa = time.perf_counter() - started
            elif '"isFinal": true' in raw[:200] or json.loads(raw).get("isFinal") is True:
                out.provider = "direct"
                break
            elif '"error"' in raw[:400]:
                out.error = raw[:200]
                break
        out.total = time.perf_counter() - started
        return out
    finally:
        await ws.close()


# -- part 1: added latency -------------------------------------------------------------------------

def capture_protocols(standin: StandinProcess, gw_port: int, lines: list[str], character: str) -> dict:
    """One gateway request per line (warms the stand-in's memo) and the exact WebSocket messages it sent."""
    protos = {}
    for text in lines:
        standin.control("DELETE", "requests")
        res = asyncio.run(gateway_stream(gw_port, {"text": text, "character": character}))
        if res.provider != "elevenlabs_ws":
            raise RuntimeError(f"warm-up served by {res.provider}: {res.error}")
        # a socket of its own, or a context of a shared one (GATEWAY_ELEVENLABS_WS_MODE=multi): the same line
        ws_records = [r for r in standin.requests() if r.get("endpoint") in ("ws", "ws_context")]
        if len(ws_records) != 1 or not ws_records[0]["texts"]:
            raise RuntimeError(f"unexpected stand-in log: {ws_records}")
        rec = ws_records[0]
        init: dict = {"text": " "}
        if rec.get("voice_settings"):
            init["voice_settings"] = rec["voice_settings"]
        query = httpx.QueryParams(rec["query"])
        url = f"{standin.ws_url}/v1/text-to-speech/{rec['voice_id']}/stream-input?{query}"
        protos[text] = DirectProtocol(url, init, rec["texts"])
    return protos


async def run_phase(mode: str, conc: int, per_worker: int, round_no: int, lines: list[str], protos: dict,
                    gw_port: int, character: str, stagger_s: float = 0.1) -> dict:
    """One batch: ``mode`` is ``direct`` (raw WebSocket client), else a gateway (``gateway``, ``peer``) on
    ``gw_port``."""
    results: dict[tuple[int, int], StreamResult] = {}
    errors: list[str] = []

    async def one(text: str) -> StreamResult:
        async with asyncio.timeout(REQUEST_TIMEOUT_S):
            if mode == "direct":
                return await direct_stream(protos[text])
            return await gateway_stream(gw_port, {"text": text, "character": character})

    async def worker(w: int) -> None:
        await asyncio.sleep(stagger_s * w / max(1, conc))
        for j in range(per_worker):
            text = lines[(w * per_worker + j + round_no) % len(lines)]
            try:
                res = await one(text)
            except Exception as exc:  # noqa: BLE001 - count, keep going
                errors.append(f"{type(exc).__name__}: {exc}")
                continue
            if res.error or res.ttfa != res.ttfa or (mode != "direct" and res.provider != "elevenlabs_ws"):
                errors.append(res.error or f"provider {res.provider}")
                continue
            results[(w, j)] = res

    await asyncio.gather(*(worker(w) for w in range(conc)))
    return {"results": results, "errors": errors}


def part1(args) -> list[dict]:  # noqa: ANN001
    # (streams, rounds, lines per worker per batch, stall_ms between chunks). The last level paces the stream
    # like a real service delivering a short line over ~0.5 s instead of all at once (a sensitivity check).
    levels = [(1, 6, 40, 0), (10, 6, 6, 0), (50, 6, 4, 0), (50, 4, 3, PACED_STALL_MS)] if not args.quick else \
        [(1, 2, 8, 0), (10, 2, 2, 0), (50, 2, 2, 0), (50, 1, 2, PACED_STALL_MS)]
    if args.level:
        levels = [lv for lv in levels if lv[0] in args.level]
    character = "narrator"
    lines = SHORT_LINES
    standin = StandinProcess("ops.standins.elevenlabs", STANDIN_ARGS).wait_ready()
    rows = []
    try:
        with contextlib.ExitStack() as stack:
            gw = stack.enter_context(Gateway(**gateway_env(standin, **args.env)))
            gateways = {"direct": gw, "gateway": gw}
            if args.peer:
                gateways["peer"] = stack.enter_context(Gateway(args.peer.resolve(),
                                                               **gateway_env(standin, **args.peer_env)))
            standin.control("PUT", "faults", {"latency_ms": FIRST_BYTE_MS, "targets": ["ws"]})
            protos = capture_protocols(standin, gw.port, lines, character)
            for text in lines:  # the direct path once per line too
                asyncio.run(direct_stream(protos[text]))
            if args.peer:
                for text in lines:
                    asyncio.run(gateway_stream(gateways["peer"].port, {"text": text, "character": character}))
            modes = tuple(gateways)

            async def level(conc: int, rounds: int, k: int, stall: int) -> dict:
                # Worker starts are spread over about one whole stream (a short line has ~3 chunks), so a batch
                # does not open with an artificial burst of `conc` simultaneous requests.
                stagger = 0.1 + 3 * stall / 1000
                # Unrecorded warm-up phase at this concurrency, both modes.
                for mode in modes:
                    await run_phase(mode, conc, 1, 0, lines, protos, gateways[mode].port, character, stagger)
                data = {m: {} for m in modes}
                errs = {m: [] for m in modes}
                cpu = {m: {"gw": 0.0, "standin": 0.0, "bench": 0.0, "n": 0, "wall": 0.0} for m in modes}
                per_round_added = []
                for r in range(rounds):
                    order = modes if r % 2 == 0 else modes[::-1]
                    for mode in order:
                        pid = gateways[mode].proc.pid
                        c0 = (cpu_s(pid), cpu_s(standin.proc.pid), time.process_time(), time.perf_counter())
                        out = await run_phase(mode, conc, k, r, lines, protos, gateways[mode].port, character,
                                              stagger)
                        c1 = (cpu_s(pid), cpu_s(standin.proc.pid), time.process_time(), time.perf_counter())
                        cpu[mode]["wall"] += c1[3] - c0[3]
                        cpu[mode]["gw"] += c1[0] - c0[0]
                        cpu[mode]["standin"] += c1[1] - c0[1]
                        cpu[mode]["bench"] += c1[2] - c0[2]
                        cpu[mode]["n"] += len(out["results"])
                        errs[mode] += out["errors"]
                        for key, res in out["results"].items():
                            data[mode][(r, *key)] = res
                    d = [v.ttfa for kk, v in data["direct"].items() if kk[0] == r]
                    g = [v.ttfa for kk, v in data["gateway"].items() if kk[0] == r]
                    per_round_added.append(median(g) - median(d))
                return {"data": data, "errors": errs, "cpu": cpu, "per_round_added": per_round_added}

            for conc, rounds, k, stall in levels:
                standin.control("PUT", "faults", {"latency_ms": FIRST_BYTE_MS, "stall_ms": stall, "targets": ["ws"]})
                t0 = time.monotonic()
                load0 = os.getloadavg()[0]
                out = asyncio.run(level(conc, rounds, k, stall))
                d = {kk: v.ttfa for kk, v in out["data"]["direct"].items()}
                g = {kk: v.ttfa for kk, v in out["data"]["gateway"].items()}
                paired = [g[kk] - d[kk] for kk in d if kk in g]
                dv, gv = list(d.values()), list(g.values())
                cpu = out["cpu"]
                row = {
                    "conc": conc, "stall_ms": stall, "n_direct": len(dv), "n_gateway": len(gv), "n_pairs": len(paired),
                    "direct_p50": median(dv), "direct_p99": p(dv, 0.99),
                    "gw_p50": median(gv), "gw_p99": p(gv, 0.99),
                    "added_p50": median(gv) - median(dv), "added_p99": p(gv, 0.99) - p(dv, 0.99),
                    "paired_median": median(paired), "paired_p99": p(paired, 0.99),
                    "round_added_min": min(out["per_round_added"]), "round_added_max": max(out["per_round_added"]),
                    "direct_total_p50": median([v.total for v in out["data"]["direct"].values()]),
                    "gw_total_p50": median([v.total for v in out["data"]["gateway"].values()]),
                    **({"peer_p50": median(pv), "peer_p99": p(pv, 0.99), "peer_added_p50": median(pv) - median(dv),
                        "peer_added_p99": p(pv, 0.99) - p(dv, 0.99), "n_peer": len(pv)}
                       if (pv := [v.ttfa for v in out["data"].get("peer", {}).values()]) else {}),
                    "errors": {m: len(e) for m, e in out["errors"].items()},
                    "error_samples": {m: e[:3] for m, e in out["errors"].items()},
                    "cpu_ms_per_line": {m: {kk: 1000 * c[kk] / max(1, c["n"]) for kk in ("gw", "standin", "bench")}
                                        for m, c in cpu.items()},
                    "lines_per_s": {m: c["n"] / c["wall"] if c["wall"] else float("nan") for m, c in cpu.items()},
                    "seconds": time.monotonic() - t0,
                    "load": (load0, os.getloadavg()[0]),
                }
                rows.append(row)
                print(f"# level {conc}: {json.dumps(row)}", flush=True)
    finally:
        standin.stop()
    return rows


# -- part 2: failover ------------------------------------------------------------------------------

def _switches(res: StreamResult) -> str:
    parts = []
    for t, ev in res.statuses:
        if ev.get("code") == "provider_switch":
            d = ev.get("detail") or {}
            parts.append(f"{d.get('from')}→{ev.get('provider')} @{t * 1000:.0f} ms ({d.get('reason')})")
    return "; ".join(parts)


def part2(args) -> dict:  # noqa: ANN001
    trials = 3 if args.quick else 10
    seq_n = 4 if args.quick else 8
    lines = SHORT_LINES
    port = free_port()
    standin = FixedPortStandin("ops.standins.elevenlabs", STANDIN_ARGS, port).wait_ready()
    standin.control("PUT", "faults", {"latency_ms": FIRST_BYTE_MS, "targets": ["ws", "rest"]})
    rows: dict[str, list] = {"normal": [], "piper": [], "kill": [], "stop": [], "kill_piper": [], "stop_piper": []}
    details: dict[str, list[str]] = {"kill": [], "stop": []}
    seq: dict[str, list] = {}
    stopped = False

    def req(gw_port: int, text: str, **body) -> StreamResult:  # noqa: ANN003
        return asyncio.run(asyncio.wait_for(gateway_stream(gw_port, {"text": text, **body}, keep_statuses=True),
                                            REQUEST_TIMEOUT_S))

    def restart() -> None:
        nonlocal standin
        standin.stop()
        standin = FixedPortStandin("ops.standins.elevenlabs", STANDIN_ARGS, port).wait_ready()
        standin.control("PUT", "faults", {"latency_ms": FIRST_BYTE_MS, "targets": ["ws", "rest"]})

    try:
        isolated = {"GATEWAY_FIRST_AUDIO_TIMEOUT_S": "1.0", "GATEWAY_BREAKER_FAIL_MAX": "1000",
                    "GATEWAY_ERROR_CRITICAL": "2.0"}
        with Gateway(**gateway_env(standin, **isolated)) as gw:
            for text in lines[:trials]:  # warm the stand-in memo and piper in the gateway
                req(gw.port, text, character="narrator")
                req(gw.port, text, voice_id="piper:joe", character="narrator")
            for i in range(trials):
                text = lines[i % len(lines)]
                req(gw.port, text, character="narrator")  # stand-in memo warm after a restart
                normal = req(gw.port, text, character="narrator")
                assert normal.provider == "elevenlabs_ws", (normal.provider, normal.error)
                rows["normal"].append(normal.ttfa)
                # (b) killed primary: connection refused
                pk = req(gw.port, text, voice_id="piper:joe", character="narrator")
                assert pk.provider == "piper", (pk.provider, pk.error)
                standin.proc.send_signal(signal.SIGKILL)
                standin.proc.wait(10)
                kill = req(gw.port, text, character="narrator")
                assert kill.provider == "piper", (kill.provider, kill.error)
                rows["kill"].append(kill.ttfa)
                rows["kill_piper"].append(pk.ttfa)
                details["kill"].append(_switches(kill))
                restart()
                # (c) hung primary: SIGSTOP
                ps = req(gw.port, text, voice_id="piper:joe", character="narrator")
                assert ps.provider == "piper", (ps.provider, ps.error)
                try:
                    standin.proc.send_signal(signal.SIGSTOP)
                    stopped = True
                    stop = req(gw.port, text, character="narrator")
                finally:
                    standin.proc.send_signal(signal.SIGCONT)
                    stopped = False
                assert stop.provider == "piper", (stop.provider, stop.error)
                rows["stop"].append(stop.ttfa)
                rows["stop_piper"].append(ps.ttfa)
                rows["piper"] += [pk.ttfa, ps.ttfa]
                details["stop"].append(_switches(stop))
                time.sleep(0.3)  # the stand-in drains the abandoned connections
                print(f"# failover trial {i}: normal {ms(normal.ttfa)} piper {ms(pk.ttfa)}/{ms(ps.ttfa)} "
                      f"kill {ms(kill.ttfa)} stop {ms(stop.ttfa)} | {details['stop'][-1]}", flush=True)

        # Consecutive requests after the primary dies, default breaker / demotion settings.
        for fault in ("kill", "stop"):
            with Gateway(**gateway_env(standin, GATEWAY_FIRST_AUDIO_TIMEOUT_S="1.0")) as gw:
                for text in lines[:3]:
                    req(gw.port, text, character="narrator")
                seq[fault] = []
                try:
                    if fault == "kill":
                        standin.proc.send_signal(signal.SIGKILL)
                        standin.proc.wait(10)
                    else:
                        standin.proc.send_signal(signal.SIGSTOP)
                        stopped = True
                    for j in range(seq_n):
                        res = req(gw.port, lines[j % len(lines)], character="narrator")
                        seq[fault].append((res.ttfa, res.provider, _switches(res)))
                        time.sleep(0.2)
                finally:
                    if stopped:
                        standin.proc.send_signal(signal.SIGCONT)
                        stopped = False
                if fault == "kill":
                    restart()
    finally:
        if stopped:
            standin.proc.send_signal(signal.SIGCONT)
        standin.stop()
    return {"rows": rows, "details": details, "seq": seq, "trials": trials}


# -- report ----------------------------------------------------------------------------------------

def _level(r: dict) -> str:
    return f"{r['conc']}" + (f" paced ({r['stall_ms']} ms/chunk)" if r["stall_ms"] else "")


def report1(rows: list[dict]) -> None:
    print(f"\n### Added latency to first audio over the ElevenLabs stand-in ({FIRST_BYTE_MS} ms first byte), ms\n")
    print("| streams | n (direct/gw) | direct p50 | direct p99 | gateway p50 | gateway p99 | added p50 (gw−direct) "
          "| added p99 (gw−direct) | median of paired diffs | p99 of paired diffs | added p50 per round (min…max) "
          "| errors d/g | load avg (start→end) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {_level(r)} | {r['n_direct']}/{r['n_gateway']} | {ms(r['direct_p50'])} | {ms(r['direct_p99'])} | "
              f"{ms(r['gw_p50'])} | {ms(r['gw_p99'])} | {sms(r['added_p50'])} | {sms(r['added_p99'])} | "
              f"{sms(r['paired_median'])} | {sms(r['paired_p99'])} | "
              f"{sms(r['round_added_min'])}…{sms(r['round_added_max'])} | "
              f"{r['errors']['direct']}/{r['errors']['gateway']} | {r['load'][0]:.1f}→{r['load'][1]:.1f} |")
    if any("peer_p50" in r for r in rows):
        print("\nPeer checkout (--peer), same run, same stand-in, batches interleaved with the two above:\n")
        print("| streams | n | peer p50 | peer p99 | peer added p50 | peer added p99 |")
        print("|---|---|---|---|---|---|")
        for r in rows:
            if "peer_p50" in r:
                print(f"| {_level(r)} | {r['n_peer']} | {ms(r['peer_p50'])} | {ms(r['peer_p99'])} | "
                      f"{sms(r['peer_added_p50'])} | {sms(r['peer_added_p99'])} |")
    print("\nLoad and CPU (ms of CPU per streamed line, measured over each mode's batches):\n")
    print("| streams | mode | lines/s | whole-line p50 | gateway CPU/line | stand-in CPU/line | bench client CPU/line |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        for mode in r["cpu_ms_per_line"]:
            c = r["cpu_ms_per_line"][mode]
            total = {"direct": r["direct_total_p50"], "gateway": r["gw_total_p50"]}.get(mode, float("nan"))
            print(f"| {_level(r)} | {mode} | {r['lines_per_s'][mode]:.0f} | {ms(total)} | {c['gw']:.1f} | "
                  f"{c['standin']:.1f} | {c['bench']:.1f} |")
    goal = [r for r in rows if r["conc"] == 50 and not r["stall_ms"]]
    if goal:
        last = goal[-1]
        ok50 = last["added_p50"] <= 0.005 and last["added_p99"] <= 0.025
        print(f"\nGoal at 50 streams (added p50 ≤ 5 ms, p99 ≤ 25 ms): {'MET' if ok50 else 'NOT MET'} "
              f"(p50 {sms(last['added_p50'])}, p99 {sms(last['added_p99'])}; "
              f"paired median {sms(last['paired_median'])})")


def report2(res: dict, deadline_s: float = 1.0) -> None:
    rows = res["rows"]
    print(f"\n### Failover to first fallback audio (first-audio deadline {deadline_s:g} s; goal ≤ "
          f"{(deadline_s + 0.1) * 1000:.0f} ms), ms, {res['trials']} trials\n")
    print("| scenario | TTFA p50 | TTFA max | piper own TTFA p50 (paired) | failover = TTFA − piper, median of pairs "
          "| failover max | goal |")
    print("|---|---|---|---|---|---|---|")
    print(f"| (a) normal (elevenlabs_ws, {FIRST_BYTE_MS} ms first byte) | {ms(median(rows['normal']))} | {ms(max(rows['normal']))} | – | – | – | – |")
    print(f"| piper pinned (own TTFA) | {ms(median(rows['piper']))} | {ms(max(rows['piper']))} | – | – | – | – |")
    for key, label in (("kill", "(b) SIGKILL (refused)"), ("stop", "(c) SIGSTOP (hang)")):
        diffs = [a - b for a, b in zip(rows[key], rows[f"{key}_piper"])]
        ok = max(diffs) <= deadline_s + 0.1
        print(f"| {label} | {ms(median(rows[key]))} | {ms(max(rows[key]))} | {ms(median(rows[f'{key}_piper']))} | "
              f"{ms(median(diffs))} | {ms(max(diffs))} | {'met' if ok else 'NOT met'} |")
    for key in ("kill", "stop"):
        print(f"\n{key}: provider switches (time from request start): {res['details'][key][0]}")
    print("\nConsecutive requests after the primary dies, default breaker (fail_max 5) and demotion settings:\n")
    print("| fault | request # | TTFA | served by | switches |")
    print("|---|---|---|---|---|")
    for fault, items in res["seq"].items():
        for j, (ttfa, provider, sw) in enumerate(items, 1):
            print(f"| {fault} | {j} | {ms(ttfa)} | {provider} | {sw or '–'} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="short run")
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--skip-failover", action="store_true")
    parser.add_argument("--peer", type=Path, help="another checkout whose gateway runs in the same part-1 batches "
                                                  "(e.g. `git worktree add /tmp/base main`): what a change costs")
    parser.add_argument("--level", type=int, action="append", help="run only these stream counts (repeatable)")
    parser.add_argument("--env", action="append", default=[], metavar="K=V", help="a setting for this gateway")
    parser.add_argument("--peer-env", action="append", default=[], metavar="K=V", help="a setting for the peer's")
    args = parser.parse_args()
    args.env = dict(kv.split("=", 1) for kv in args.env)
    args.peer_env = dict(kv.split("=", 1) for kv in args.peer_env)
    rows1 = None if args.skip_latency else part1(args)
    res2 = None if args.skip_failover else part2(args)
    print(f"\n## bench_cloud ({'quick' if args.quick else 'full'}; {os.cpu_count()} CPUs; "
          f"load {os.getloadavg()[0]:.2f})")
    if rows1:
        report1(rows1)
    if res2:
        report2(res2)


if __name__ == "__main__":
    main()
