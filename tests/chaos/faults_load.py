"""Mixed load and health probes for the fault drills (tests/chaos/test_faults.py), on real processes.

* :class:`MixedLoad` — clients on ``/api/avatar/speak``, ``/api/avatar/speak/stream`` and the ElevenLabs-protocol
  WebSocket, round-robin over the gateways given, each request recorded (:class:`Req`) with what the listener
  got: audio (a URL, inline ``audio_base64``, stream audio events or WebSocket audio), a documented 4xx, or a
  failure (5xx, a stream without ``final``/``error``, a WebSocket closed without ``isFinal``, a hang).
* :class:`Probes` — ``/api/health/live`` every 0.1 s (its latency: the 200 ms bound) and ``/api/health`` plus
  ``/api/health/ready`` every 0.1 s per gateway, kept as samples for the detect / recover times.

Each runs in a thread of its own (its own asyncio loop) so the drill acts meanwhile.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

import httpx
import websockets

from tests.chaos.harness import Pollers

LINES = ["Halt! Who goes there? State your business at the gate.",
         "The bridge is out. Turn back, and take the ford to the east.",
         "Welcome to the forge, traveller. Mind the sparks.",
         "Mind the gate. The guards are tired, and the night is long."]
CHARACTERS = ["narrator", "blacksmith", "guard"]


@dataclass
class Req:
    kind: str  #: speak, stream or ws
    gateway: int
    start: float
    end: float = 0.0
    status: int | None = None  #: HTTP status (101 for a WebSocket that opened)
    outcome: str = "pending"  #: audio, rejected (a documented 4xx), or failed
    provider: str | None = None
    level: str | None = None
    inline: bool = False  #: the audio came inline (audio_base64): the media store could not keep it
    reasons: list[str] = field(default_factory=list)
    fallbacks: int = 0
    error: str = ""


class MixedLoad:
    def __init__(self, urls: list[str], t0: float, *, clients: int = 6, deadline_s: float = 12.0,
                 think_s: float = 0.1, body: dict | None = None) -> None:
        self.urls = urls
        self.t0 = t0
        self.clients = clients
        self.deadline_s = deadline_s
        self.think_s = think_s
        self.body = body or {}
        self.records: list[Req] = []
        self._n = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True, name="mixed-load")

    def start(self) -> "MixedLoad":
        self._thread.start()
        return self

    def stop(self) -> list[Req]:
        self._stop.set()
        self._thread.join(self.deadline_s + 10)
        assert not self._thread.is_alive(), "a request outlived its deadline"
        return self.records

    def now(self) -> float:
        return time.monotonic() - self.t0

    async def _run(self) -> None:
        limits = httpx.Limits(max_keepalive_connections=0)
        async with httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(self.deadline_s, connect=2.0)) as client:
            await asyncio.gather(*(self._client(client, k) for k in range(self.clients)))

    async def _client(self, client: httpx.AsyncClient, k: int) -> None:
        kind = ("speak", "stream", "ws")[k % 3]
        while not self._stop.is_set():
            n, self._n = self._n, self._n + 1
            gw = n % len(self.urls)
            rec = Req(kind, gw, self.now())
            body = {"text": LINES[n % len(LINES)], "character": CHARACTERS[(n // len(LINES)) % len(CHARACTERS)],
                    "visemes": False, **self.body}
            try:
                async with asyncio.timeout(self.deadline_s):
                    if kind == "ws":
                        await self._ws(self.urls[gw], body, rec)
                    else:
                        await self._http(client, self.urls[gw], body, kind == "stream", rec)
            except TimeoutError:
                rec.outcome, rec.error = "failed", f"hung past {self.deadline_s} s"
            except Exception as exc:  # noqa: BLE001 - recorded, judged by the drill
                rec.outcome, rec.error = "failed", f"{type(exc).__name__}: {exc}"[:300]
            rec.end = self.now()
            self.records.append(rec)
            await asyncio.sleep(self.think_s)

    async def _http(self, client: httpx.AsyncClient, url: str, body: dict, stream: bool, rec: Req) -> None:
        path = "/api/avatar/speak/stream" if stream else "/api/avatar/speak"
        async with client.stream("POST", url + path, json=body) as resp:
            rec.status = resp.status_code
            if resp.status_code != 200:
                text = (await resp.aread())[:300].decode(errors="replace")
                rec.outcome = "rejected" if 400 <= resp.status_code < 500 else "failed"
                rec.error = f"HTTP {resp.status_code}: {text}"
                return
            if not stream:
                _final(rec, json.loads(await resp.aread()), audio_events=0)
                return
            last, audio = None, 0
            async for line in resp.aiter_lines():
                if line:
                    last = json.loads(line)
                    audio += last["type"] == "audio"
            if last is None or last["type"] not in ("final", "error"):
                rec.outcome, rec.error = "failed", "stream ended without final or error"
            elif last["type"] == "error":
                rec.outcome, rec.error = "failed", f"error event {last.get('code')}: {last.get('message')}"
            else:
                _final(rec, last, audio_events=audio)

    async def _ws(self, url: str, body: dict, rec: Req) -> None:
        ws_url = (url.replace("http", "ws") + f"/v1/text-to-speech/{body['character']}/stream-input"
                  "?output_format=pcm_16000")
        audio, final = 0, False
        async with websockets.connect(ws_url, open_timeout=3) as ws:
            rec.status = 101
            await ws.send(json.dumps({"text": " "}))
            await ws.send(json.dumps({"text": body["text"] + " ", "flush": True}))
            await ws.send(json.dumps({"text": ""}))
            try:
                async for raw in ws:
                    msg = json.loads(raw)
                    audio += bool(msg.get("audio"))
                    final = final or msg.get("isFinal") is True
                    if msg.get("error") or msg.get("message_type") == "error":
                        rec.error = str(msg)[:200]
            except websockets.ConnectionClosed as exc:
                rec.error = rec.error or f"closed {exc.code}"
            code = ws.close_code
        if final and audio and code == 1000:
            rec.outcome = "audio"
        else:
            rec.outcome = "failed"
            rec.error = rec.error or f"closed {code} with {audio} audio messages, isFinal={final}"


def _final(rec: Req, body: dict, audio_events: int) -> None:
    rec.provider, rec.level = body.get("provider"), body.get("degradation_level")
    rec.reasons, rec.fallbacks = list(body.get("degradation_reasons") or []), int(body.get("fallbacks") or 0)
    rec.inline = bool(body.get("audio_base64"))
    has_audio = bool(body.get("audio_url")) or rec.inline or audio_events > 0
    if body.get("provider") and has_audio:
        rec.outcome = "audio"
    else:
        rec.outcome, rec.error = "failed", f"answered without audio (provider {body.get('provider')})"


#: GET /api/health/live on every gateway every 0.1 s; prints each answer's milliseconds (or "fail") at SIGINT.
LIVE_PROBE = """
import sys, time, httpx
out = []
try:
    with httpx.Client(timeout=2.0) as c:
        while True:
            for url in sys.argv[1:]:
                t = time.monotonic()
                try:
                    c.get(url + "/api/health/live").raise_for_status()
                    out.append(f"{(time.monotonic() - t) * 1000:.1f}")
                except httpx.HTTPError:
                    out.append("fail")
            time.sleep(0.1)
except KeyboardInterrupt:
    pass
print(" ".join(out))
"""


@dataclass
class Sample:
    t: float
    gateway: int
    health: dict | None
    ready: int | None


class Probes(Pollers):
    """Liveness latency of every gateway, and its health and readiness, every ``interval_s``."""

    def __init__(self, urls: list[str], t0: float, interval_s: float = 0.1) -> None:
        self.urls = urls
        self.t0 = t0
        self.interval_s = interval_s
        self.samples: list[Sample] = []
        self.live_ms: list[float] = []
        self.live_failures = 0
        super().__init__(list(range(len(urls))), "fault-probe", join_s=5.0)

    def start(self) -> "Probes":
        # Liveness is timed by a process of its own: this one's threads (the load, JSON, base64) share one GIL, which
        # would add their waits to the gateway's answer time.
        self._live = subprocess.Popen([sys.executable, "-c", LIVE_PROBE, *self.urls], stdout=subprocess.PIPE,
                                      text=True)
        return super().start()

    def stop(self) -> None:
        super().stop()
        self._live.send_signal(signal.SIGINT)
        out, _ = self._live.communicate(timeout=10)
        for line in out.split():
            if line == "fail":
                self.live_failures += 1
            else:
                self.live_ms.append(float(line))

    def _poll(self, i: int) -> None:
        url = self.urls[i]
        with httpx.Client(timeout=2.0) as client:
            while not self._stop.is_set():
                began = time.monotonic()
                try:
                    health = client.get(url + "/api/health").json()
                    ready = client.get(url + "/api/health/ready").status_code
                except (httpx.HTTPError, ValueError):
                    health, ready = None, None
                self.samples.append(Sample(began - self.t0, i, health, ready))
                self._stop.wait(max(0.0, self.interval_s - (time.monotonic() - began)))

    def first(self, pred, after: float, gateways: list[int] | None = None) -> float | None:  # noqa: ANN001
        """When every gateway (of ``gateways``) first had a sample matching ``pred`` at or after ``after``; the
        seconds after ``after``, or None."""
        gateways = list(range(len(self.urls))) if gateways is None else gateways
        times = []
        for g in gateways:
            hit = next((s.t for s in sorted(self.samples, key=lambda s: s.t)
                        if s.gateway == g and s.t >= after and s.health is not None and pred(s)), None)
            if hit is None:
                return None
            times.append(hit - after)
        return max(times)

    def live_p_max(self) -> tuple[float, float]:
        ms = sorted(self.live_ms) or [0.0]
        return ms[int(0.99 * (len(ms) - 1))], ms[-1]
