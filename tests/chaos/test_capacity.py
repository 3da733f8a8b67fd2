"""Capacity drill: 6 concurrent live lines on this machine's cores, through a real gateway with the local engines.

A gateway process (``python -m gateway.cli serve``) with the chain ``kokoro -> piper -> espeak -> canned`` (line cache
off, first-audio budget 1.0 s) gets 6 clients on ``/api/avatar/speak/stream``, each speaking game lines back to back.
Kokoro cannot start six lines at once on two cores, so the capacity rule must send the surplus on or make it wait.
After a warm-up round (the gateway measures its engines), the drill asserts, per line:

* it was answered with audio (no error, no canned clip, no text-only answer);
* its first audio reached the client within its budget (plus a small allowance for HTTP on a busy machine), unless
  its engine alone is slower than the budget, or other processes took its cores after the gateway admitted it
  (``OTHERS_EXTRA_CORES``; both counted apart in the table);
* it was served by its first choice (started at once, or after a ``capacity_wait`` within its budget), or every
  provider before the one that served it declined with reason ``capacity`` (nothing timed out or failed);
* its audio kept ahead of playback (a listener starting at the first audio never waits long for the next piece);

and for the gateway: ``/api/health`` showed the headroom (load, in flight, waiting, each engine's measured cost) while
the lines ran, ``/metrics`` counted the same refusals and waits the clients saw, and some lines really were surplus.
The same load through a gateway with the rule off (``GATEWAY_CAPACITY_ENABLED=false``) is the control: it shows what the
rule prevents (lines far over budget), so the drill can fail. The table goes to ``tests/chaos/last_capacity_report.md``.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import statistics
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from gateway.policy.capacity_gate import machine_cpu
from tests.chaos.harness import Replica, free_port

pytestmark = [pytest.mark.chaos, pytest.mark.slow, pytest.mark.timeout(240)]

BUDGET_S = 1.0
#: Request parsing, the line's preparation and the NDJSON hop on a busy 2-core machine, on top of the budget (which
#: the gateway counts from the start of the line's provider chain).
ALLOWANCE_S = 0.25
#: A listener who starts at the first audio may wait this long for a later piece (the rule allows 0.2 s, plus the
#: error of its estimates on a machine shared with other work).
STALL_S = 0.6
#: A line is not held to its budget when, while it waited for its first audio, the other processes on the machine (not
#: the gateway, not this test) took this many cores more than the gateway last measured them taking: the rule admits
#: on what it measured, and cannot see the future load of other work (a shared machine; CI has it to itself).
OTHERS_EXTRA_CORES = 0.5
CLIENTS = 6
OVER_BUDGET = "over its budget of"  #: the words of a line over its budget (the one failure a second attempt may excuse)
ROUNDS = 3
CHAIN = ["kokoro", "piper", "espeak", "canned"]
CHARACTERS = ["innkeeper", "narrator", "blacksmith", "queen", "guard", "rogue"]
LINES = ["Welcome to the Gilded Goose. The stew is hot and the ale is cold.",
         "Halt there, traveller. State your business at the gate.",
         "The bridge is out past the mill. Take the ford instead.",
         "Mind the sparks from the forge. They bite harder than I do.",
         "The queen will see you at dawn. Do not be late.",
         "They say the oracle speaks in riddles. Listen closely."]
REPORT_PATH = Path(__file__).resolve().parent / "last_capacity_report.md"


@dataclass
class LineRecord:
    client: int
    text: str
    character: str
    ttfa_s: float | None = None
    provider: str | None = None
    outcome: str = "error"  #: audio | canned | text-only | error
    switches: list[str] = field(default_factory=list)  #: provider_switch reasons
    why: list[str] = field(default_factory=list)  #: provider_switch messages (what each provider said)
    waited_ms: int = 0  #: capacity_wait
    stall_s: float = 0.0  #: worst lateness of a piece against playback from the first audio
    error: str | None = None
    others_cores: float = 0.0  #: cores other processes took while it waited for its first audio
    sent_at: float = 0.0


class Others:
    """The CPU time other processes than the gateway and this test got on this process's cores, so far."""

    def __init__(self, gateway_pid: int) -> None:
        self.machine, self.pid = machine_cpu(), gateway_pid
        self.tick = os.sysconf("SC_CLK_TCK")

    def __call__(self) -> tuple[float, float]:
        if self.machine is None:
            return time.monotonic(), 0.0
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
            gateway = (int(fields[11]) + int(fields[12])) / self.tick
        except (OSError, IndexError, ValueError):
            gateway = 0.0
        own = os.times()
        return time.monotonic(), self.machine() - gateway - own.user - own.system


@dataclass
class RunResult:
    name: str
    records: list[LineRecord]
    health: list[tuple[float, dict]]  #: (monotonic time, /api/health body)
    metrics_before: dict[str, float]
    metrics_after: dict[str, float]
    wall_s: float
    load_avg: float  #: the machine's 1-minute load average when the run began (other work on the cores)
    #: Each engine alone on the gateway (its own speed), speaking the line with the longest first sentence.
    alone: dict[str, LineRecord] = field(default_factory=dict)
    #: Excuse lines whose cores other processes took (the rule's run; the control shows every line as it came).
    judge_others: bool = True

    def by_engine(self, rec: LineRecord) -> bool:
        """The engine that spoke it is slower than the budget by itself (its own speed is not capacity)."""
        alone = self.alone.get(rec.provider or "")
        return alone is not None and (alone.ttfa_s > BUDGET_S or alone.stall_s > STALL_S)

    def by_others(self, rec: LineRecord) -> bool:
        """Other processes took the cores from under it: more than the gateway measured them taking (its
        ``available_cores``, last polled before the line was sent) plus ``OTHERS_EXTRA_CORES``."""
        if not self.judge_others:
            return False
        seen = [h["capacity"] for t, h in self.health if t <= rec.sent_at and h.get("capacity", {}).get("enabled")]
        believed = seen[-1]["cores"] - seen[-1]["available_cores"] if seen else 0.0
        return rec.others_cores > believed + OTHERS_EXTRA_CORES

    def held(self, rec: LineRecord) -> bool:
        """Whether the line is held to its budget (and the stall bound)."""
        return not self.by_engine(rec) and not self.by_others(rec)

    def over_budget(self) -> list[LineRecord]:
        return [x for x in self.records if self.held(x) and (x.ttfa_s is None or x.ttfa_s > BUDGET_S + ALLOWANCE_S)]

    def made_late_by_load(self) -> list[LineRecord]:
        """Lines over the budget that their engine's own speed does not explain: later than twice what the engine
        alone took (the control's proof, also when Kokoro alone is just over the budget and so is never held)."""
        alone = {name: rec.ttfa_s for name, rec in self.alone.items() if rec.ttfa_s is not None}
        return [x for x in self.records if x.ttfa_s is not None and x.ttfa_s > BUDGET_S + ALLOWANCE_S
                and x.ttfa_s > 2 * alone.get(x.provider or "", 0.0)]

    def delta(self, key: str) -> float:
        return self.metrics_after.get(key, 0.0) - self.metrics_before.get(key, 0.0)


def gateway_env(data_dir: Path, capacity: bool) -> dict[str, str]:
    # The control must put the load on Kokoro: without it, the warm-up's slow Kokoro lines demote it (delivery or
    # first-audio latency), and with trials on no client line probes a demoted local engine, so every control line
    # went to Piper (a CI run) and the control proved nothing. The rule-on run keeps the defaults.
    demotion = {} if capacity else {"GATEWAY_LATENCY_CRITICAL_S": "60", "GATEWAY_DELIVERY_RTF_CRITICAL": "0"}
    return {"GATEWAY_CHAIN": json.dumps(CHAIN), "GATEWAY_CACHE_ENABLED": "false",
            "GATEWAY_DATA_DIR": str(data_dir), "GATEWAY_FIRST_AUDIO_BUDGET_S": str(BUDGET_S),
            "GATEWAY_CAPACITY_ENABLED": "true" if capacity else "false", "GATEWAY_LOG_LEVEL": "INFO",
            "GATEWAY_VIDEO_EMBEDDED": "false", **demotion}


# -- load and monitoring -----------------------------------------------------------------------------------------------

async def speak(client: httpx.AsyncClient, url: str, rec: LineRecord, voice_id: str | None = None,
                others: Others | None = None) -> None:
    body = {"text": rec.text, "character": rec.character, "output_format": "pcm_16000", "visemes": True,
            **({"voice_id": voice_id} if voice_id else {})}
    at0, others0 = others() if others else (0.0, 0.0)
    sent = rec.sent_at = time.monotonic()
    first: float | None = None
    try:
        async with client.stream("POST", url + "/api/avatar/speak/stream", json=body) as resp:
            if resp.status_code != 200:
                rec.error = f"HTTP {resp.status_code}"
                return
            async for line in resp.aiter_lines():
                if not line:
                    continue
                now = time.monotonic()
                event = json.loads(line)
                kind = event["type"]
                if kind == "audio":
                    if first is None:
                        first = now
                        rec.ttfa_s = now - sent
                        if others is not None:
                            at1, others1 = others()
                            rec.others_cores = (others1 - others0) / max(1e-3, at1 - at0)
                    rec.stall_s = max(rec.stall_s, (now - first) - event["start_ms"] / 1000)
                elif kind == "status" and event["code"] == "provider_switch":
                    rec.switches.append(event["detail"].get("reason") or "?")
                    rec.why.append(event.get("message") or "")
                elif kind == "status" and event["code"] == "capacity_wait":
                    rec.waited_ms += int(event["detail"]["waited_ms"])
                elif kind == "final":
                    rec.provider = event.get("provider")
                    rec.outcome = "audio" if rec.provider not in (None, "canned") else (rec.provider or "text-only")
                elif kind == "error":
                    rec.error = f"{event['code']}: {event['message']}"
    except httpx.HTTPError as exc:
        rec.error = f"{type(exc).__name__}: {exc}"


async def alone_line(url: str, rec: LineRecord, voice_id: str) -> None:
    async with httpx.AsyncClient(timeout=httpx.Timeout(30, connect=5)) as client:
        await speak(client, url, rec, voice_id)


async def load(url: str, rounds: int, others: Others | None = None) -> list[LineRecord]:
    records: list[LineRecord] = []
    async with httpx.AsyncClient(timeout=httpx.Timeout(30, connect=5),
                                 limits=httpx.Limits(max_connections=CLIENTS * 2)) as client:
        async def client_loop(k: int) -> None:
            for r in range(rounds):
                rec = LineRecord(k, LINES[(k + r) % len(LINES)], CHARACTERS[(k + 2 * r) % len(CHARACTERS)])
                await speak(client, url, rec, others=others)
                records.append(rec)

        await asyncio.gather(*(client_loop(k) for k in range(CLIENTS)))
    return records


class HealthMonitor:
    def __init__(self, url: str, interval_s: float = 0.25) -> None:
        self.url, self.interval_s = url, interval_s
        self.samples: list[dict] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> "HealthMonitor":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:  # noqa: ANN002
        self._stop.set()
        self._thread.join(10)

    def _poll(self) -> None:
        with httpx.Client(timeout=3) as client:
            while not self._stop.is_set():
                try:
                    self.samples.append((time.monotonic(), client.get(self.url + "/api/health").json()))
                except (httpx.HTTPError, ValueError):
                    pass
                self._stop.wait(self.interval_s)


_SAMPLE = re.compile(r'^(mouthpiece_capacity_decisions_total|mouthpiece_fallbacks_total)\{([^}]*)\}\s+([0-9.eE+-]+)$')


def capacity_metrics(url: str) -> dict[str, float]:
    """Capacity decisions by decision, and fail-overs by reason, summed over providers."""
    out: dict[str, float] = {}
    for line in httpx.get(url + "/metrics", timeout=5).text.splitlines():
        m = _SAMPLE.match(line.strip())
        if m:
            label = re.search(r'(decision|reason)="([^"]*)"', m.group(2)).group(2)
            key = f"{m.group(1)}:{label}"
            out[key] = out.get(key, 0.0) + float(m.group(3))
    return out


def wait_idle(url: str, timeout_s: float = 15.0) -> None:
    """Until no synthesis is in flight (one the chain gave up on finishes its piece in its worker thread)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        capacity = httpx.get(url + "/api/health", timeout=5).json()["capacity"]
        if not capacity.get("in_flight") and not capacity.get("waiting"):
            return
        time.sleep(0.1)


def engines_alone(url: str) -> dict[str, LineRecord]:
    """Kokoro and Piper alone (one line at a time, nothing else in flight): what each engine does by itself."""
    text = max(LINES, key=lambda t: len(t.split(". ")[0]))
    out = {}
    for voice_id in ("kokoro:af_heart", "piper:joe"):
        wait_idle(url)
        rec = LineRecord(-1, text, "innkeeper")
        asyncio.run(alone_line(url, rec, voice_id))
        if rec.provider == voice_id.split(":")[0] and rec.ttfa_s is not None:
            out[rec.provider] = rec
    return out


def drill(tmp_path: Path, capacity: bool, rounds: int, alone: dict[str, LineRecord] | None = None) -> RunResult:
    """The load through one gateway; ``alone``: the engines' own speed (measured here when not given)."""
    name = "capacity rule on" if capacity else "capacity rule off (control)"
    tag = "on" if capacity else "off"
    gateway = Replica(0, free_port(), gateway_env(tmp_path / f"data-{tag}", capacity), tmp_path / f"gateway-{tag}.log")
    gateway.start()
    try:
        gateway.wait_ready(120)
        asyncio.run(load(gateway.url, 1))  # warm-up: the gateway measures its engines
        alone = alone if alone is not None else engines_alone(gateway.url)
        before = capacity_metrics(gateway.url)
        load_avg = os.getloadavg()[0]
        started = time.monotonic()
        with HealthMonitor(gateway.url) as monitor:
            records = asyncio.run(load(gateway.url, rounds, Others(gateway.pid)))
        wall = time.monotonic() - started
        return RunResult(name, records, monitor.samples, before, capacity_metrics(gateway.url), wall, load_avg, alone,
                         judge_others=capacity)
    finally:
        gateway.stop()


# -- report -------------------------------------------------------------------------------------------------------------

def row(r: RunResult) -> str:
    recs = r.records
    ttfa = sorted(x.ttfa_s for x in recs if x.ttfa_s is not None)
    served = {p: sum(1 for x in recs if x.provider == p) for p in CHAIN}
    late = [x for x in recs if not r.held(x) and (x.ttfa_s or 0.0) > BUDGET_S + ALLOWANCE_S]
    excused = [f"+{n} {why}" for n, why in ((sum(1 for x in late if r.by_engine(x)), "by the engine alone"),
               (sum(1 for x in late if not r.by_engine(x)), "other processes took the cores")) if n]
    over = f"{len(r.over_budget())}" + (f" ({', '.join(excused)})" if excused else "")
    refused = sum(x.switches.count("capacity") for x in recs)
    other = sum(len(x.switches) - x.switches.count("capacity") for x in recs)
    waited = [x.waited_ms for x in recs if x.waited_ms]
    p95 = ttfa[min(len(ttfa) - 1, int(0.95 * len(ttfa)))] if ttfa else float("nan")
    stalls = sorted(x.stall_s for x in recs)
    caps = [h["capacity"] for _, h in r.health if h.get("capacity", {}).get("enabled")]
    available = f"{statistics.median(c['available_cores'] for c in caps):.2f}" if caps else "-"
    last = r.health[-1][1]["providers"] if r.health else {}
    costs = " / ".join(f"{(last.get(p, {}).get('capacity') or {}).get('rtf', '-')}" for p in CHAIN[:3])
    return (f"| {r.name} | {len(recs)} | {served['kokoro']} | {served['piper']} | {served['espeak']} | "
            f"{served['canned']} | {sum(1 for x in recs if x.error)} | {len(waited)} "
            f"({max(waited, default=0)} ms max) | {refused} | {other} | "
            f"{statistics.median(ttfa) if ttfa else float('nan'):.2f} / {p95:.2f} / {max(ttfa, default=float('nan')):.2f} s "
            f"| {over} | {statistics.median(stalls):.2f} / {max(stalls):.2f} s | {available} | {costs} | {r.load_avg:.1f} | {r.wall_s:.1f} s |")


HEADER = ("| run | lines | kokoro | piper | espeak | canned | errors | waited (max) | declined: capacity | fail-overs: "
          "other | first audio p50 / p95 / max | over budget | stall p50 / max | cores available | cost kokoro / piper / "
          "espeak | load avg | wall |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")


def write_report(results: list[RunResult]) -> str:
    table = "\n".join([HEADER, *(row(r) for r in results)])
    alone = results[0].alone
    table += "\n\nEach engine alone (the line with the longest first sentence): " + (", ".join(
        f"{p} {a.ttfa_s:.2f} s to first audio, stall {a.stall_s:.2f} s" for p, a in alone.items()) or "not measured") + \
        ". A line spoken by an engine slower than the budget by itself is not held to the budget (its own speed is " \
        "not capacity)."
    lines = [f"- {r.name}: client {x.client}, {x.character}: {x.provider or x.outcome}, first audio "
             f"{x.ttfa_s if x.ttfa_s is None else round(x.ttfa_s, 3)} s, declined {x.switches}, waited {x.waited_ms} ms, "
             f"stall {x.stall_s:.2f} s{', ' + x.error if x.error else ''}" for r in results for x in r.records]
    REPORT_PATH.write_text(f"# Capacity drill\n\n{CLIENTS} concurrent live lines, chain {' -> '.join(CHAIN)}, first-audio "
                           f"budget {BUDGET_S} s (+{ALLOWANCE_S} s allowance at the client).\n\n{table}\n\n"
                           + "\n".join(lines) + "\n")
    return table


# -- the drill ------------------------------------------------------------------------------------------------------------

def test_six_concurrent_live_lines_keep_their_budget(tmp_path):
    failures, table = judge(tmp_path / "first")
    if failures and all(OVER_BUDGET in f for f in failures):
        # Kokoro alone speaks at 0.7-1.0 s here, at the budget's edge: one line a little late in 18 on two shared
        # cores happens (about one run in five). Once more, and that run must pass whole; both tables are printed.
        print("\nfirst attempt: " + "; ".join(failures))
        failures, table = judge(tmp_path / "second")
    assert not failures, "\n".join(failures[:12]) + f"\n{table}"


def judge(tmp_path: Path) -> tuple[list[str], str]:
    """One drill (the rule on, then the control): what failed, and the table."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    on = drill(tmp_path, capacity=True, rounds=ROUNDS)
    off = drill(tmp_path, capacity=False, rounds=1, alone=on.alone)
    table = write_report([on, off])
    print("\n" + table)
    failures: list[str] = []
    recs = on.records
    for x in recs:
        where = f"{x.character} ({x.text[:24]}...)"
        if x.error or x.outcome != "audio":
            failures.append(f"{where}: {x.outcome} {x.error or ''} (after: {' | '.join(x.why) or '-'})")
            continue
        if on.held(x) and (x.ttfa_s is None or x.ttfa_s > BUDGET_S + ALLOWANCE_S):
            failures.append(f"{where}: {x.provider}'s first audio {x.ttfa_s:.2f} s, {OVER_BUDGET} {BUDGET_S} s "
                            f"(+{ALLOWANCE_S})")
        if any(reason != "capacity" for reason in x.switches):
            failures.append(f"{where}: fail-over for another reason than capacity: {x.switches}")
        if x.waited_ms > BUDGET_S * 1000:
            failures.append(f"{where}: waited {x.waited_ms} ms for cores, longer than its budget")
        if on.held(x) and x.stall_s > STALL_S:
            failures.append(f"{where}: a piece reached the client {x.stall_s:.2f} s after the listener needed it")
    if sum(1 for x in recs if on.held(x)) < len(recs) / 3:
        failures.append("fewer than a third of the lines were held to their budget (other processes took the cores, "
                        "or the engines are slower than the budget alone): this run proves nothing")
    surplus = [x for x in recs if x.switches or x.waited_ms]
    if not surplus:
        failures.append("every line started at once on its first choice: the load had no surplus to place")
    # What the clients saw is what the gateway counted: declines (refused at once or after a wait) and waits.
    declined = sum(x.switches.count("capacity") for x in recs)
    counted = on.delta("mouthpiece_capacity_decisions_total:refuse") + \
        on.delta("mouthpiece_capacity_decisions_total:expired")
    if counted != declined or on.delta("mouthpiece_fallbacks_total:capacity") != declined:
        failures.append(f"clients saw {declined} capacity fail-overs; /metrics counted {counted} declines and "
                        f"{on.delta('mouthpiece_fallbacks_total:capacity')} fail-overs")
    local = sum(1 for x in recs if x.provider in CHAIN[:3])
    admitted = on.delta("mouthpiece_capacity_decisions_total:start") + \
        on.delta("mouthpiece_capacity_decisions_total:wait") - on.delta("mouthpiece_capacity_decisions_total:expired")
    if admitted != local:
        failures.append(f"/metrics admitted {admitted} syntheses (started, or waited and started); {local} lines were "
                        f"served by a local engine")
    # /api/health showed the headroom while the lines ran.
    busy = [h["capacity"] for _, h in on.health if h.get("capacity", {}).get("in_flight")]
    engines = [h["providers"][p].get("capacity") for _, h in on.health for p in ("kokoro", "piper", "espeak")]
    if not busy or not all(e and {"in_flight", "waiting", "rtf", "headroom_lines"} <= set(e) for e in engines):
        failures.append("/api/health did not show the syntheses in flight and each engine's capacity")
    elif any(c["headroom_cores"] != pytest.approx(c["usable_cores"] - c["load_cores"], abs=1e-3) for c in busy):
        failures.append("/api/health: headroom is not usable cores minus load")
    if not any(c["load_cores"] > 0 for c in busy):
        failures.append("/api/health never showed any load while lines were in flight")
    # The control shows what the rule prevents: without it, lines miss their budget.
    if not off.over_budget() and not off.made_late_by_load():
        failures.append("with the rule off every line still met its budget: this drill proves nothing on this machine")
    return failures, table
