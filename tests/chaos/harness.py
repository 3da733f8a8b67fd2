"""The chaos cluster: real processes on loopback, a load generator and a health monitor.

* :class:`RedisServer` — a private ``redis-server`` on a free port (no persistence) that a drill
  can stop and start again on the same port.
* :class:`Standin` — a provider stand-in (``ops.standins.elevenlabs`` / ``ops.standins.fish``) on
  a fixed port, so it can be SIGKILLed, SIGSTOPped or restarted and the gateways still find it.
* :class:`Replica` — a gateway (``python -m gateway.cli serve``) on a fixed port; two of them share
  the Redis (breaker state, rate limits).
* :class:`Cluster` — all of the above with tight settings (:class:`ChaosSettings`) so every fault
  is detected and recovered from in seconds.
* :class:`LoadGenerator` — N concurrent clients (some on ``/api/avatar/speak/stream``), round-robin
  over the replicas, bounded in request count and duration. A connection refused, or dropped before
  the answer was complete, is sent once more to the other replica and counted. Every request is recorded
  (:class:`RequestRecord`).
* :class:`HealthMonitor` — polls ``/api/health`` of every replica (level, reasons, breakers, retry
  budget, Redis) every ``health_interval_s``.
* :class:`Drill` — one fault: steady load, inject, keep load, recover, keep load; the recorded
  requests, health samples and metrics become a :class:`tests.chaos.report.FaultResult`.

Everything listens on and talks to 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import httpx

from tests.chaos.report import FaultResult, HealthSample, RequestRecord

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
API_KEY = "sk_chaos_standin_7d41c09e2b"
ADMIN_KEY = "chaos-admin-3f9a61d2c8"

#: The provider chain of the drills: ElevenLabs (WebSocket, then REST) first, then Fish Audio, then local Piper,
#: canned clips last. The line cache is off: lines repeat (so the stand-ins replay them without re-synthesizing),
#: and cache hits would hide the providers from the faults.
CHAIN = ["elevenlabs_ws", "elevenlabs_rest", "fish_audio", "piper", "canned"]
PRIMARY = CHAIN[0]
#: Characters whose ElevenLabs voice the stand-in knows; short lines (one or two sentences).
CHARACTERS = ["narrator", "blacksmith", "guard"]
LINES = ["Halt! Who goes there?", "The bridge is out. Turn back.", "Welcome to the forge, traveller.",
         "Mind the gate. The guards are tired."]


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class ChaosSettings:
    """Gateway knobs for the drills: tight, so a fault resolves in seconds."""

    connect_s: float = 1.0
    first_audio_s: float = 1.5
    chunk_gap_s: float = 1.5
    total_s: float = 8.0
    breaker_fail_max: int = 3
    breaker_reset_s: float = 3.0
    level_recovery_s: float = 2.0
    health_interval_s: float = 0.25
    #: Error ratios over this window demote a primary; as long as the breaker reset, so a demotion ages out with it.
    health_window_s: float = 3.0
    #: First-audio EWMA thresholds (streaming: much tighter than the seed's 5 s / 15 s).
    latency_warn_s: float = 0.4
    latency_critical_s: float = 0.8
    retry_attempts: int = 3
    retry_initial_s: float = 0.1
    retry_max_s: float = 0.4
    retry_budget_percent: float = 0.2
    retry_budget_min: int = 3
    #: Client-side allowance on top of the gateway's total deadline (lip-sync, encoding, scheduling on 2 cores).
    deadline_grace_s: float = 2.0

    @property
    def client_deadline_s(self) -> float:
        """A request not answered by then is hanging."""
        return self.total_s + self.deadline_grace_s

    @property
    def recovery_bound_s(self) -> float:
        """How long after the fault is removed the cluster must be normal again.

        An attempt still in flight when the fault goes away can fail up to a first-audio (or chunk-gap) deadline
        later and re-open its breaker; the breaker then lets a trial call through after its reset time; the level
        holds the better value for the hysteresis before reporting it; the health loop and the monitor each add up
        to one tick. Plus 0.5 s of slack for two busy cores.
        """
        return (max(self.first_audio_s, self.chunk_gap_s) + self.breaker_reset_s + self.level_recovery_s
                + 2 * self.health_interval_s + 0.5)

    def gateway_env(self) -> dict[str, str]:
        return {
            "GATEWAY_CHAIN": json.dumps(CHAIN),
            "GATEWAY_CACHE_ENABLED": "false",
            "GATEWAY_VIDEO_EMBEDDED": "false",  # no render worker beside each replica: the drills are about speech
            "GATEWAY_ADMIN_KEY": ADMIN_KEY,
            "GATEWAY_CONNECT_TIMEOUT_S": str(self.connect_s),
            "GATEWAY_FIRST_AUDIO_TIMEOUT_S": str(self.first_audio_s),
            "GATEWAY_CHUNK_GAP_TIMEOUT_S": str(self.chunk_gap_s),
            "GATEWAY_TOTAL_TIMEOUT_S": str(self.total_s),
            "GATEWAY_BREAKER_FAIL_MAX": str(self.breaker_fail_max),
            "GATEWAY_BREAKER_RESET_S": str(self.breaker_reset_s),
            "GATEWAY_LEVEL_RECOVERY_S": str(self.level_recovery_s),
            "GATEWAY_HEALTH_INTERVAL_S": str(self.health_interval_s),
            "GATEWAY_HEALTH_WINDOW_S": str(self.health_window_s),
            "GATEWAY_LATENCY_WARN_S": str(self.latency_warn_s),
            "GATEWAY_LATENCY_CRITICAL_S": str(self.latency_critical_s),
            "GATEWAY_RETRY_ATTEMPTS": str(self.retry_attempts),
            "GATEWAY_RETRY_INITIAL_S": str(self.retry_initial_s),
            "GATEWAY_RETRY_MAX_S": str(self.retry_max_s),
            "GATEWAY_RETRY_BUDGET_PERCENT": str(self.retry_budget_percent),
            "GATEWAY_RETRY_BUDGET_MIN": str(self.retry_budget_min),
            "GATEWAY_PIPER_INTRA_THREADS": "1",
            "GATEWAY_ENGINE_CONCURRENCY": "1",
            "GATEWAY_LOG_LEVEL": "INFO",
        }


# -- processes ---------------------------------------------------------------------------------------------------

class ManagedProcess:
    """A subprocess on a fixed port that can be signalled, killed and started again (same port, same log)."""

    name = "process"

    def __init__(self, port: int, log_path: Path) -> None:
        self.port = port
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None
        self._log = None
        self.starts = 0

    def argv(self) -> list[str]:
        raise NotImplementedError

    def env(self) -> dict[str, str]:
        return dict(os.environ)

    def start(self) -> "ManagedProcess":
        assert self.proc is None or self.proc.poll() is not None, f"{self.name} already running"
        self._log = open(self.log_path, "ab")
        self._log.write(f"\n==== start {self.starts} at {time.time():.3f}\n".encode())
        self._log.flush()
        self.proc = subprocess.Popen(self.argv(), cwd=ROOT, env=self.env(), stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        self.starts += 1
        return self

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig: int) -> None:
        """Send ``sig`` to this process (by its own pid, never by name)."""
        assert self.proc is not None
        self.proc.send_signal(sig)

    def kill(self) -> None:
        """SIGKILL and reap."""
        if self.alive:
            self.proc.send_signal(signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait(10)
        self._close_log()

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.alive:
            try:
                self.proc.send_signal(signal.SIGCONT)  # a stopped process cannot act on SIGTERM
            except ProcessLookupError:
                pass
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def logs(self, tail: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-tail:]
        except OSError:
            return ""

    def wait_ready(self, timeout: float = 90.0) -> "ManagedProcess":
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive:
                raise RuntimeError(f"{self.name} exited: {self.logs()}")
            if self.ready():
                return self
            time.sleep(0.1)
        raise TimeoutError(f"{self.name} not ready after {timeout:.0f} s: {self.logs()}")

    def ready(self) -> bool:
        raise NotImplementedError


class RedisServer(ManagedProcess):
    name = "redis"

    def __init__(self, port: int, log_path: Path) -> None:
        super().__init__(port, log_path)
        self.binary = shutil.which("redis-server")

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    def argv(self) -> list[str]:
        return [self.binary, "--port", str(self.port), "--bind", HOST, "--save", "", "--appendonly", "no"]

    def ready(self) -> bool:
        try:
            with socket.create_connection((HOST, self.port), timeout=0.5) as sock:
                sock.settimeout(0.5)
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False


class Standin(ManagedProcess):
    def __init__(self, module: str, args: list[str], port: int, log_path: Path) -> None:
        super().__init__(port, log_path)
        self.module = module
        self.args = args
        self.name = module.rsplit(".", 1)[-1]
        self.url = f"http://{HOST}:{port}"
        self.ws_url = f"ws://{HOST}:{port}"

    def argv(self) -> list[str]:
        return [sys.executable, "-m", self.module, "--host", HOST, "--port", str(self.port), *self.args]

    def ready(self) -> bool:
        try:
            return httpx.get(self.url + "/__control/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def control(self, method: str, path: str, body=None):  # noqa: ANN001, ANN201
        resp = httpx.request(method, f"{self.url}/__control/{path}", json=body, timeout=5)
        resp.raise_for_status()
        return resp.json()

    def set_faults(self, **faults) -> dict:  # noqa: ANN003
        return self.control("POST", "faults", faults)

    def clear_faults(self) -> dict:
        return self.control("DELETE", "faults")


class Replica(ManagedProcess):
    def __init__(self, index: int, port: int, env: dict[str, str], log_path: Path) -> None:
        super().__init__(port, log_path)
        self.index = index
        self.name = f"gateway-{index}"
        self.url = f"http://{HOST}:{port}"
        self._env = env

    def argv(self) -> list[str]:
        return [sys.executable, "-m", "gateway.cli", "serve", "--host", HOST, "--port", str(self.port)]

    def env(self) -> dict[str, str]:
        return {**os.environ, **self._env}

    def ready(self) -> bool:
        try:
            return httpx.get(self.url + "/api/health", timeout=3).status_code == 200
        except httpx.HTTPError:
            return False

    def health(self, timeout: float = 3.0) -> dict:
        return httpx.get(self.url + "/api/health", timeout=timeout).json()

    def metrics(self) -> dict[str, float]:
        """Counters of interest, summed over their labels (empty when the replica does not answer)."""
        try:
            text = httpx.get(self.url + "/metrics", timeout=3).text
        except httpx.HTTPError:
            return {}
        return parse_metrics(text)

    def admin(self, method: str, path: str, body=None):  # noqa: ANN001, ANN201
        resp = httpx.request(method, self.url + "/admin/" + path, json=body, timeout=5,
                             headers={"Authorization": f"Bearer {ADMIN_KEY}"})
        resp.raise_for_status()
        return resp.json()


_METRIC_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+([-+0-9.eEinfNa]+)$")
METRICS_OF_INTEREST = ("mouthpiece_retries_total", "mouthpiece_retry_budget_exhausted_total",
                       "mouthpiece_provider_attempts_total", "mouthpiece_fallbacks_total")


def parse_metrics(text: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in text.splitlines():
        m = _METRIC_LINE.match(line.strip())
        if not m or m.group(1) not in METRICS_OF_INTEREST:
            continue
        name, labels, value = m.groups()
        out[name] = out.get(name, 0.0) + float(value)
        if name == "mouthpiece_provider_attempts_total" and labels:
            outcome = re.search(r'outcome="([^"]*)"', labels)
            if outcome:
                key = f"attempts:{outcome.group(1)}"
                out[key] = out.get(key, 0.0) + float(value)
    return out


class Cluster:
    """Private Redis, the ElevenLabs and Fish stand-ins, two gateway replicas."""

    def __init__(self, workdir: Path, settings: ChaosSettings = ChaosSettings(), replicas: int = 2) -> None:
        self.workdir = workdir
        self.settings = settings
        workdir.mkdir(parents=True, exist_ok=True)
        self.redis = RedisServer(free_port(), workdir / "redis.log")
        self.elevenlabs = Standin("ops.standins.elevenlabs",
                                  ["--api-key", API_KEY, "--concurrency", "64", "--character-limit", "100000000"],
                                  free_port(), workdir / "elevenlabs.log")
        self.fish = Standin("ops.standins.fish", ["--api-key", API_KEY, "--concurrency", "64", "--credit", "100000"],
                            free_port(), workdir / "fish.log")
        env = {**settings.gateway_env(), "GATEWAY_REDIS_URL": self.redis.url, "ELEVENLABS_API_KEY": API_KEY,
               "GATEWAY_ELEVENLABS_BASE_URL": self.elevenlabs.url, "GATEWAY_ELEVENLABS_WS_URL": self.elevenlabs.ws_url,
               "FISH_API_KEY": API_KEY, "GATEWAY_FISH_BASE_URL": self.fish.url}
        self.replicas = [Replica(i, free_port(), {**env, "GATEWAY_DATA_DIR": str(workdir / f"replica-{i}")},
                                 workdir / f"replica-{i}.log") for i in range(replicas)]

    @property
    def processes(self) -> list[ManagedProcess]:
        return [self.redis, self.elevenlabs, self.fish, *self.replicas]

    def start(self) -> "Cluster":
        if self.redis.binary is None:
            raise RuntimeError("redis-server is not installed")
        # Stand-ins first: a gateway probes its providers at start-up (and caches the answer).
        for p in (self.redis, self.elevenlabs, self.fish):
            p.start()
        for p in (self.redis, self.elevenlabs, self.fish):
            p.wait_ready()
        for r in self.replicas:
            r.start()
        for r in self.replicas:
            r.wait_ready()
        return self

    def stop(self) -> None:
        for p in reversed(self.processes):
            try:
                p.stop()
            except Exception:  # noqa: BLE001 - tear everything down regardless
                pass

    def warm_up(self) -> None:
        """Speak every line of the load once per character through ElevenLabs and Fish Audio (pinned), so the
        stand-ins replay them from then on; a few lines through each replica."""
        jobs = []
        for character in CHARACTERS:
            for line in LINES:
                jobs.append({"text": line, "character": character})
                jobs.append({"text": line, "character": character, "voice_id": f"fish_audio:{_fish_voice(character)}"})

        async def run() -> None:
            sem = asyncio.Semaphore(3)
            async with httpx.AsyncClient(timeout=30) as client:
                async def one(i: int, body: dict) -> None:
                    async with sem:
                        r = await client.post(self.replicas[i % len(self.replicas)].url + "/api/avatar/speak",
                                              json={**body, "visemes": False})
                        r.raise_for_status()
                await asyncio.gather(*(one(i, b) for i, b in enumerate(jobs)))

        asyncio.run(run())

    # -- state ----------------------------------------------------------------------------------------------------
    def healths(self) -> list[dict | None]:
        out = []
        for r in self.replicas:
            try:
                out.append(r.health())
            except (httpx.HTTPError, ValueError):
                out.append(None)
        return out

    def all_normal(self) -> bool:
        return all(h is not None and health_is_normal(h) for h in self.healths())

    def wait_normal(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.all_normal():
                return True
            time.sleep(self.settings.health_interval_s)
        return False

    def metrics(self) -> list[dict[str, float]]:
        return [r.metrics() for r in self.replicas]

    def reset(self, timeout: float = 10.0) -> None:
        """Back to a clean, normal cluster before a drill: every process up, faults cleared, every replica normal,
        every breaker closed (an idle breaker stays half-open until a call tries it; the admin API closes it).

        A replica that does not come back to normal by itself (a previous drill failed) is restarted, so one
        failure does not cascade into the next drill.
        """
        for p in (self.redis, self.elevenlabs, self.fish):
            if p.alive:
                p.signal(signal.SIGCONT)
            else:
                p.start()
                p.wait_ready()
        for s in (self.elevenlabs, self.fish):
            s.clear_faults()
        for r in self.replicas:
            if not r.alive:
                r.start()
                r.wait_ready()
        normal = self.wait_normal(timeout)
        self.close_breakers()
        if normal:
            return
        for r in self.replicas:
            try:
                h = r.health()
            except (httpx.HTTPError, ValueError):
                h = None
            if h is None or not health_is_normal(h):
                r.stop()
                r.start()
                r.wait_ready()
        self.close_breakers()
        if not self.wait_normal(timeout):
            raise RuntimeError(f"cluster not normal after a restart: {self.healths()}")

    def close_breakers(self) -> None:
        for r in self.replicas:
            for name, b in r.admin("GET", "breakers").items():
                if b["state"] != "closed":
                    r.admin("POST", f"breakers/{name}", {"state": "closed"})


def _fish_voice(character: str) -> str:
    import yaml

    cast = yaml.safe_load((ROOT / "config" / "characters.yaml").read_text())["characters"]
    return cast[character]["voices"]["fish_audio"]


def health_is_normal(h: dict) -> bool:
    """Level normal, no breaker open, Redis up.

    A breaker past its reset time reads half-open until a call tries it, and a provider the chain no longer
    reaches (ElevenLabs REST once the WebSocket serves again) gets no call: half-open is not a fault.
    """
    if h.get("degradation_level") != "normal":
        return False
    if any(p.get("breaker", {}).get("state") == "open" for p in h.get("providers", {}).values()):
        return False
    return not (h.get("redis") is not None and not h["redis"].get("up", True))


# -- pollers ---------------------------------------------------------------------------------------------------------

class Pollers:
    """One daemon thread per target running ``self._poll(target)`` until :meth:`stop` (drills' probes and samplers)."""

    def __init__(self, targets: list, name: str, join_s: float = 10.0) -> None:
        self._stop = threading.Event()
        self._join_s = join_s
        self._threads = [threading.Thread(target=self._poll, args=(target,), daemon=True, name=f"{name}-{i}")
                         for i, target in enumerate(targets)]

    def _poll(self, target) -> None:  # noqa: ANN001 - each poller's own target type
        raise NotImplementedError

    def start(self):  # noqa: ANN201 - returns the poller itself, whatever its class
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(self._join_s)


# -- health monitor -------------------------------------------------------------------------------------------------

class HealthMonitor(Pollers):
    """Polls every replica's /api/health (one thread per replica) and keeps the samples."""

    def __init__(self, cluster: Cluster, interval_s: float, t0: float) -> None:
        self.cluster = cluster
        self.interval_s = interval_s
        self.t0 = t0
        self.samples: list[HealthSample] = []
        self._lock = threading.Lock()
        super().__init__(cluster.replicas, "health")

    def _poll(self, replica: Replica) -> None:
        with httpx.Client(timeout=3, limits=httpx.Limits(max_keepalive_connections=0)) as client:
            while not self._stop.is_set():
                started = time.monotonic()
                try:
                    h = client.get(replica.url + "/api/health").json()
                    sample = HealthSample.from_health(started - self.t0, replica.index, h)
                except (httpx.HTTPError, ValueError):
                    sample = HealthSample(started - self.t0, replica.index, up=False)
                with self._lock:
                    self.samples.append(sample)
                self._stop.wait(max(0.0, self.interval_s - (time.monotonic() - started)))


# -- load ----------------------------------------------------------------------------------------------------------

class _Dropped(Exception):
    """The connection failed before the answer was complete: the client sends the line to the other replica."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


class LoadGenerator:
    """``clients`` concurrent clients (the first ``stream_clients`` on the NDJSON stream), round-robin over the replicas.

    Bounded: at most ``max_requests`` requests, no new request after ``max_duration_s``; every request is bounded by
    the client deadline. Runs its own asyncio loop in a thread so the drill can act meanwhile.
    """

    def __init__(self, cluster: Cluster, t0: float, clients: int = 5, stream_clients: int = 2,
                 max_requests: int = 600, max_duration_s: float = 60.0, think_s: float = 0.2) -> None:
        self.cluster = cluster
        self.t0 = t0
        self.clients = clients
        self.stream_clients = stream_clients
        self.max_requests = max_requests
        self.max_duration_s = max_duration_s
        self.think_s = think_s
        self.deadline_s = cluster.settings.client_deadline_s
        self.records: list[RequestRecord] = []
        self._issued = 0
        self._rr = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._main, daemon=True, name="load")
        self.error: BaseException | None = None

    def start(self) -> "LoadGenerator":
        self._thread.start()
        return self

    def stop(self, timeout: float | None = None) -> None:
        """No new requests; wait for those in flight (each is bounded by the client deadline)."""
        self._stop.set()
        self._thread.join(timeout if timeout is not None else self.deadline_s * 2 + 5)
        if self._thread.is_alive():
            raise RuntimeError("load generator did not stop: a request outlived its deadline")
        if self.error is not None:
            raise self.error

    def _main(self) -> None:
        try:
            asyncio.run(self._run())
        except BaseException as exc:  # noqa: BLE001 - surfaced by stop()
            self.error = exc

    async def _run(self) -> None:
        started = time.monotonic()
        # No keep-alive: a pooled connection closed by the server at the wrong moment is a client artefact, and a
        # fresh connection per request makes "refused" mean exactly that.
        limits = httpx.Limits(max_keepalive_connections=0, max_connections=self.clients * 2)
        timeout = httpx.Timeout(self.deadline_s, connect=2.0)
        async with httpx.AsyncClient(limits=limits, timeout=timeout) as client:
            async def worker(k: int) -> None:
                stream = k < self.stream_clients
                while not self._stop.is_set() and self._issued < self.max_requests \
                        and time.monotonic() - started < self.max_duration_s:
                    n = self._issued
                    self._issued += 1
                    await self._one(client, n, stream)
                    await asyncio.sleep(self.think_s)

            await asyncio.gather(*(worker(k) for k in range(self.clients)))

    def _pick(self) -> int:
        i = self._rr % len(self.cluster.replicas)
        self._rr += 1
        return i

    async def _one(self, client: httpx.AsyncClient, n: int, stream: bool) -> None:
        replicas = self.cluster.replicas
        first = self._pick()
        body = {"text": LINES[n % len(LINES)], "character": CHARACTERS[(n // len(LINES)) % len(CHARACTERS)],
                "visemes": True, "output_format": "pcm_16000" if stream else "wav"}
        rec = RequestRecord(id=n, kind="stream" if stream else "speak", first_replica=first, replica=first,
                            start=time.monotonic() - self.t0, deadline_s=self.deadline_s)
        began = time.monotonic()
        target = first
        try:
            async with asyncio.timeout(self.deadline_s):
                for attempt in range(2):
                    try:
                        await self._send(client, replicas[target].url, body, stream, rec)
                        break
                    except _Dropped as exc:
                        if attempt == 1:
                            rec.outcome, rec.error = "error", f"{exc.reason} on both replicas: {exc}"
                            break
                        rec.failover = exc.reason
                        target = (target + 1) % len(replicas)
                        rec.replica = target
        except TimeoutError:
            rec.outcome, rec.error = "error", f"no answer within the {self.deadline_s:.1f} s deadline (hanging)"
            rec.hung = True
        except Exception as exc:  # noqa: BLE001 - a broken answer is recorded, never raised
            rec.outcome, rec.error = "error", f"{type(exc).__name__}: {exc}"
        rec.latency_s = time.monotonic() - began
        rec.end = rec.start + rec.latency_s
        rec.within_deadline = rec.latency_s <= self.deadline_s and not rec.hung
        self.records.append(rec)

    async def _send(self, client: httpx.AsyncClient, url: str, body: dict, stream: bool, rec: RequestRecord) -> None:
        path = "/api/avatar/speak/stream" if stream else "/api/avatar/speak"
        got_bytes = False
        try:
            async with client.stream("POST", url + path, json=body) as resp:
                rec.status = resp.status_code
                if resp.status_code != 200:
                    text = (await resp.aread())[:300].decode(errors="replace")
                    rec.outcome, rec.error = "error", f"HTTP {resp.status_code}: {text}"
                    return
                if not stream:
                    got_bytes = True
                    _classify(rec, json.loads(await resp.aread()))
                    return
                final = None
                switches = 0
                async for line in resp.aiter_lines():
                    if not line:
                        continue
                    got_bytes = True
                    event = json.loads(line)
                    if event["type"] == "status" and event.get("code") == "provider_switch":
                        switches += 1
                    elif event["type"] in ("final", "error"):
                        final = event
                rec.switches = switches
                if final is None:
                    rec.outcome, rec.error = "error", "stream ended without a final or error event"
                elif final["type"] == "error":
                    rec.outcome, rec.error = "error", f"error event: {final.get('code')}: {final.get('message')}"
                else:
                    _classify(rec, final)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise _Dropped("refused", f"{type(exc).__name__}: {exc}") from None
        except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
            # The connection died before the answer was complete (a stream cut mid-line included): the client sends
            # the line to the other replica. Outside the replica-kill drill the checks count this as a failure.
            raise _Dropped("dropped" if not got_bytes else "cut", f"{type(exc).__name__}: {exc}") from None


def _classify(rec: RequestRecord, body: dict) -> None:
    provider = body.get("provider")
    rec.provider = provider
    rec.level = body.get("degradation_level")
    rec.retries = int(body.get("retries") or 0)
    rec.fallbacks = int(body.get("fallbacks") or 0)
    if provider is None:
        rec.outcome = "text-only"
    elif provider == "cache":
        rec.outcome = "cached"
    elif provider == "canned":
        rec.outcome = "canned"
    else:
        rec.outcome = "audio"
    if rec.outcome in ("audio", "cached", "canned") and not body.get("audio_url"):
        rec.outcome, rec.error = "error", f"{provider} answer without audio_url"
    if rec.outcome == "text-only" and not body.get("text"):
        rec.outcome, rec.error = "error", "text-only answer without its text"


# -- one drill -------------------------------------------------------------------------------------------------------

@dataclass
class Drill:
    """One fault under load. Use :meth:`run`; phases are marked on the drill's clock (seconds from its start)."""

    cluster: Cluster
    name: str
    clients: int = 5
    stream_clients: int = 2
    steady_s: float = 2.5
    marks: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.t0 = time.monotonic()

    def now(self) -> float:
        return time.monotonic() - self.t0

    def mark(self, name: str) -> float:
        self.marks[name] = self.now()
        return self.marks[name]

    def run(self, inject: Callable[["Drill"], None], recover: Callable[["Drill"], None], *, fault_s: float,
            settle: Callable[["Drill"], bool] | None = None, after_s: float = 2.0,
            settle_timeout_s: float | None = None) -> FaultResult:
        """Steady load, ``inject``, ``fault_s`` of load under the fault, ``recover``, load until the cluster is normal
        again (``settle``, bounded), then ``after_s`` more."""
        s = self.cluster.settings
        settle = settle or (lambda d: d.cluster.all_normal())
        settle_timeout_s = settle_timeout_s if settle_timeout_s is not None else s.recovery_bound_s + 4.0
        metrics_before = self.cluster.metrics()
        monitor = HealthMonitor(self.cluster, s.health_interval_s, self.t0).start()
        load = LoadGenerator(self.cluster, self.t0, clients=self.clients, stream_clients=self.stream_clients,
                             max_duration_s=self.steady_s + fault_s + settle_timeout_s + after_s + 30).start()
        try:
            time.sleep(self.steady_s)
            self.mark("inject")
            inject(self)
            self.mark("injected")
            time.sleep(fault_s)
            self.mark("recover")
            recover(self)
            self.mark("recovered")
            deadline = time.monotonic() + settle_timeout_s
            while time.monotonic() < deadline and not settle(self):
                time.sleep(s.health_interval_s)
            self.mark("settled")
            time.sleep(after_s)
        finally:
            load.stop()
            self.mark("end")
            monitor.stop()
        metrics_after = self.cluster.metrics()
        return FaultResult(name=self.name, records=sorted(load.records, key=lambda r: r.start),
                           samples=sorted(monitor.samples, key=lambda x: x.t), marks=dict(self.marks),
                           metrics_before=metrics_before, metrics_after=metrics_after, primary=PRIMARY,
                           settings=replace(s), notes=list(self.notes))
