"""The soak drill's parts: the ElevenLabs-protocol WebSocket clients, the liveness prober, the /metrics sampler, the
fault schedule drawn from a seed, and the per-minute figures (see tests/chaos/test_soak.py)."""

from __future__ import annotations

import asyncio
import bisect
import json
import random
import re
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
import websockets

from tests.chaos.harness import CHARACTERS, LINES, Cluster, ManagedProcess, Pollers, Standin

# -- WebSocket load ----------------------------------------------------------------------------------------------------


@dataclass
class WsRecord:
    id: int
    replica: int
    start: float
    latency_s: float = 0.0
    outcome: str = "error"  #: ok | error
    audio_messages: int = 0
    close_code: int | None = None
    hung: bool = False
    error: str | None = None


class WsLoad:
    """``clients`` concurrent ElevenLabs-protocol WebSocket sessions (``/v1/text-to-speech/{character}/stream-input``),
    round-robin over the replicas, one line each, until stopped. Runs its own loop in a thread."""

    def __init__(self, cluster: Cluster, t0: float, clients: int, deadline_s: float, think_s: float = 0.3) -> None:
        self.cluster, self.t0, self.clients, self.deadline_s, self.think_s = cluster, t0, clients, deadline_s, think_s
        self.records: list[WsRecord] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True, name="ws-load")
        self._n = 0

    def start(self) -> WsLoad:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(self.deadline_s * 2 + 5)
        if self._thread.is_alive():
            raise RuntimeError("WebSocket load did not stop: a session outlived its deadline")

    async def _run(self) -> None:
        async def client(k: int) -> None:
            while not self._stop.is_set():
                n, self._n = self._n, self._n + 1
                await self._one(n)
                await asyncio.sleep(self.think_s)

        await asyncio.gather(*(client(k) for k in range(self.clients)))

    async def _one(self, n: int) -> None:
        replica = n % len(self.cluster.replicas)
        character = CHARACTERS[n % len(CHARACTERS)]
        url = (self.cluster.replicas[replica].url.replace("http", "ws", 1)
               + f"/v1/text-to-speech/{character}/stream-input?output_format=pcm_16000")
        rec = WsRecord(n, replica, time.monotonic() - self.t0)
        began = time.monotonic()
        try:
            async with asyncio.timeout(self.deadline_s):
                async with websockets.connect(url, open_timeout=2, close_timeout=2) as ws:
                    await ws.send(json.dumps({"text": " "}))
                    await ws.send(json.dumps({"text": LINES[n % len(LINES)] + " "}))
                    await ws.send(json.dumps({"text": ""}))
                    last = None
                    async for raw in ws:
                        last = json.loads(raw)
                        rec.audio_messages += bool(last.get("audio"))
                    rec.close_code = ws.close_code
            if rec.close_code == 1000 and last == {"isFinal": True} and rec.audio_messages:
                rec.outcome = "ok"
            else:
                rec.error = f"closed {rec.close_code}, {rec.audio_messages} audio messages, last {str(last)[:120]}"
        except TimeoutError:
            rec.error, rec.hung = f"no end within the {self.deadline_s:.1f} s deadline (hanging)", True
        except Exception as exc:  # noqa: BLE001 - recorded, never raised
            rec.error = f"{type(exc).__name__}: {exc}"[:300]
        rec.latency_s = time.monotonic() - began
        self.records.append(rec)


# -- liveness and /metrics ---------------------------------------------------------------------------------------------


class Sampler(Pollers):
    """Per replica, every ``live_every_s``: ``/api/health/live`` (kept-alive connection, its latency); every
    ``metrics_every_s``: the process gauges and the event-loop lag histogram from ``/metrics``."""

    def __init__(self, cluster: Cluster, t0: float, live_every_s: float = 0.25, metrics_every_s: float = 2.0) -> None:
        self.cluster, self.t0 = cluster, t0
        self.live_every_s, self.metrics_every_s = live_every_s, metrics_every_s
        self.live: list[tuple[float, int, float, int | None]] = []  #: (t, replica, seconds, status or None)
        self.metrics: list[tuple[float, int, dict[str, float]]] = []  #: (t, replica, samples)
        super().__init__(list(range(len(cluster.replicas))), "soak-probe")

    def _poll(self, i: int) -> None:
        url = self.cluster.replicas[i].url
        next_metrics = 0.0
        with httpx.Client(timeout=2.0) as client:
            while not self._stop.is_set():
                began = time.monotonic()
                try:
                    status: int | None = client.get(url + "/api/health/live").status_code
                except httpx.HTTPError:
                    status = None
                self.live.append((began - self.t0, i, time.monotonic() - began, status))
                if began >= next_metrics:
                    next_metrics = began + self.metrics_every_s
                    try:
                        self.metrics.append((time.monotonic() - self.t0, i, parse(client.get(url + "/metrics").text)))
                    except httpx.HTTPError:
                        pass
                self._stop.wait(max(0.0, self.live_every_s - (time.monotonic() - began)))


_LINE = re.compile(r'^(mouthpiece_process_\w+|mouthpiece_event_loop_lag_seconds_bucket)(?:\{le="([^"]+)"\})?'
                   r'\s+([0-9.eE+-]+)$')


def parse(text: str) -> dict[str, float]:
    """The process gauges by name, and the lag histogram's cumulative buckets as ``lag_le:<bound>``."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        m = _LINE.match(line.strip())
        if m:
            out[f"lag_le:{m.group(2)}" if m.group(2) else m.group(1)] = float(m.group(3))
    return out


@dataclass
class Window:
    """One replica over one minute."""

    rss_mb: float  #: median resident memory
    fds: float  #: median open file descriptors
    threads: float  #: median OS threads
    lag_p99_ms: float  #: p99 of the event-loop lag samples taken within the window (from the histogram)
    lag_samples: int


def window(samples: list[tuple[float, dict[str, float]]], start: float, end: float) -> Window | None:
    """Figures of one replica's /metrics samples over ``[start, end)``."""
    inside = [m for t, m in samples if start <= t < end]
    before = [m for t, m in samples if t < start] or inside[:1]
    if len(inside) < 3 or not before:
        return None

    def median(key: str) -> float:
        values = sorted(m.get(key, 0.0) for m in inside)
        return values[len(values) // 2]

    first, last = before[-1], inside[-1]
    bounds = sorted((float(k.split(":", 1)[1]), k) for k in last if k.startswith("lag_le:"))
    counts = [(b, last[k] - first.get(k, 0.0)) for b, k in bounds]
    p99, total = quantile(counts, 0.99)
    return Window(median("mouthpiece_process_resident_memory_bytes") / 2**20, median("mouthpiece_process_open_fds"),
                  median("mouthpiece_process_threads"), p99 * 1000, int(total))


def quantile(buckets: list[tuple[float, float]], q: float) -> tuple[float, float]:
    """``q``-quantile of cumulative histogram buckets ``(upper bound, count)``, interpolated within its bucket (as
    PromQL's ``histogram_quantile``); and the number of samples."""
    finite = [(b, c) for b, c in buckets if b != float("inf")]
    total = buckets[-1][1] if buckets else 0.0
    if total <= 0:
        return 0.0, 0.0
    rank = q * total
    counts = [c for _, c in finite]
    k = bisect.bisect_left(counts, rank)
    if k >= len(finite):
        return finite[-1][0], total
    lower_bound, lower_count = (0.0, 0.0) if k == 0 else finite[k - 1]
    bound, count = finite[k]
    return lower_bound + (bound - lower_bound) * (rank - lower_count) / max(1e-9, count - lower_count), total


# -- faults ------------------------------------------------------------------------------------------------------------


@dataclass
class Fault:
    at_s: float
    kind: str
    duration_s: float
    detail: str = ""
    done: list[str] = field(default_factory=list)  #: what was really done, with the soak clock


KINDS = ("sigkill elevenlabs", "sigstop elevenlabs", "sigkill fish", "sigstop fish", "redis restart", "redis pause",
         "latency burst elevenlabs", "latency burst fish")


def schedule(seed: int, start_s: float, end_s: float) -> list[Fault]:
    """Faults at random times in ``[start_s, end_s)``: each 2-6 s long, 6-16 s apart, of a random kind."""
    rng = random.Random(seed)
    out, t = [], start_s + rng.uniform(0, 6)
    while t < end_s:
        kind = rng.choice(KINDS)
        fault = Fault(round(t, 2), kind, round(rng.uniform(2, 6), 2))
        if kind.startswith("latency"):
            fault.detail = f"latency_ms={rng.randint(500, 1500)}"
        out.append(fault)
        t += fault.duration_s + rng.uniform(6, 16)
    return out


class Injector:
    """Plays a fault schedule on the soak clock in a thread (every process by its own pid, never by name)."""

    def __init__(self, cluster: Cluster, t0: float, faults: list[Fault]) -> None:
        self.cluster, self.t0, self.faults = cluster, t0, faults
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._main, daemon=True, name="soak-faults")

    def start(self) -> Injector:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(60)
        if self.error is not None:
            raise self.error

    def _target(self, kind: str) -> ManagedProcess:
        name = kind.rsplit(" ", 1)[-1]
        return {"elevenlabs": self.cluster.elevenlabs, "fish": self.cluster.fish}.get(name, self.cluster.redis)

    def _main(self) -> None:
        try:
            for fault in self.faults:
                if self._stop.wait(max(0.0, fault.at_s - (time.monotonic() - self.t0))):
                    return
                undo = self._inject(fault)
                fault.done.append(f"{time.monotonic() - self.t0:.1f} s: {fault.kind} {fault.detail}".strip())
                self._stop.wait(fault.duration_s)  # stopping early still undoes the fault
                undo()
                fault.done.append(f"{time.monotonic() - self.t0:.1f} s: undone")
        except BaseException as exc:  # noqa: BLE001 - surfaced by stop()
            self.error = exc

    def _inject(self, fault: Fault) -> Callable[[], None]:
        proc = self._target(fault.kind)
        if fault.kind.startswith("sigkill") or fault.kind == "redis restart":
            proc.kill()
            return lambda: proc.start().wait_ready()
        if fault.kind.startswith("sigstop") or fault.kind == "redis pause":
            proc.signal(signal.SIGSTOP)
            return lambda: proc.signal(signal.SIGCONT)
        assert isinstance(proc, Standin)
        proc.set_faults(latency_ms=int(fault.detail.split("=")[1]))
        return proc.clear_faults
