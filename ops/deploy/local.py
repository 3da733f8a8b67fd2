"""The reference deployment as processes on one machine (no containers): HAProxy in front of N gateway replicas,
render workers, all sharing one Redis (breakers, rate limits, cache, video jobs, media).

    .venv/bin/python -m ops.deploy.local --replicas 2 --workers 1 --render-workers 1 --port 8080

Needs ``haproxy`` and a Redis (``--redis-url``, default ``redis://127.0.0.1:6379/0``; Debian's ``redis-server``).
Each replica has its own data dir, so nothing is shared through the disk: what the replicas share, they share
through Redis. Ctrl+C (or SIGTERM) stops everything, replicas first with their graceful drain.

Tests and ``bench/bench_scale.py`` use :class:`LocalDeployment` directly.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
HAPROXY_CFG = Path(__file__).resolve().parent / "haproxy.cfg"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def render_haproxy(template: str, servers: list[str], bind: str, stats_bind: str) -> str:
    """The reference config for processes on this machine: one ``server`` line per replica instead of the
    ``server-template`` (Docker DNS), no resolvers section, and the given binds. Everything else as in the file."""
    out, skip = [], False
    for line in template.splitlines():
        stripped = line.strip()
        if stripped.startswith("resolvers "):
            skip = True
        elif skip and stripped and not line.startswith((" ", "\t")):
            skip = False
        if skip:
            continue
        if stripped.startswith("server-template "):
            indent = line[:len(line) - len(line.lstrip())]
            out += [f"{indent}server gateway{n} {addr} check" for n, addr in enumerate(servers, 1)]
            continue
        out.append(re.sub(r"^(\s*)bind :8080$", rf"\g<1>bind {bind}", re.sub(r"^(\s*)bind :8404$",
                                                                             rf"\g<1>bind {stats_bind}", line)))
    return "\n".join(out) + "\n"


@dataclass
class Proc:
    name: str
    url: str
    popen: subprocess.Popen
    log_path: Path

    def alive(self) -> bool:
        return self.popen.poll() is None

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@dataclass
class LocalDeployment:
    replicas: int = 2
    workers: int = 1
    render_workers: int = 1
    port: int | None = None
    redis_url: str = "redis://127.0.0.1:6379/0"
    #: Prefix of this deployment's media and video keys in Redis (several deployments may share one Redis).
    redis_prefix: str = "mouthpiece:"
    env: dict[str, str] = field(default_factory=dict)
    root: Path | None = None
    procs: list[Proc] = field(default_factory=list)
    gateways: list[Proc] = field(default_factory=list)
    lb: Proc | None = None
    stats_url: str = ""

    def _spawn(self, name: str, argv: list[str], env: dict[str, str], url: str) -> Proc:
        log_path = self.root / f"{name}.log"
        popen = subprocess.Popen(argv, cwd=ROOT, env={**os.environ, **env}, stdout=open(log_path, "wb"),
                                 stderr=subprocess.STDOUT, start_new_session=True)
        proc = Proc(name, url, popen, log_path)
        self.procs.append(proc)
        return proc

    def gateway_env(self, n: int) -> dict[str, str]:
        return {"GATEWAY_REDIS_URL": self.redis_url, "GATEWAY_VIDEO_REDIS_URL": self.redis_url,
                "GATEWAY_VIDEO_REDIS_PREFIX": self.redis_prefix + "video:",
                "GATEWAY_MEDIA_REDIS_PREFIX": self.redis_prefix + "media:",
                "GATEWAY_DATA_DIR": str(self.root / f"replica{n}"), "GATEWAY_DRAIN_DELAY_S": "2", **self.env}

    def start(self, timeout: float = 120) -> "LocalDeployment":
        haproxy = shutil.which("haproxy")
        if haproxy is None:
            raise RuntimeError("haproxy is not installed (Debian package haproxy)")
        self.root = Path(self.root or tempfile.mkdtemp(prefix="mouthpiece-deploy-"))
        self.root.mkdir(parents=True, exist_ok=True)
        for n in range(1, self.render_workers + 1):
            port = free_port()
            self._spawn(f"render{n}", [sys.executable, "-m", "render_worker", "--port", str(port), "--redis-url",
                                       self.redis_url, "--redis-prefix", self.redis_prefix + "video:",
                                       "--advertise-url", f"http://127.0.0.1:{port}"], {},
                        f"http://127.0.0.1:{port}")
        for n in range(1, self.replicas + 1):
            port = free_port()
            self.gateways.append(self._spawn(
                f"gateway{n}", [sys.executable, "-m", "gateway.cli", "serve", "--port", str(port), "--workers",
                                str(self.workers)], self.gateway_env(n), f"http://127.0.0.1:{port}"))
        lb_port, stats_port = self.port or free_port(), free_port()
        cfg = self.root / "haproxy.cfg"
        cfg.write_text(render_haproxy(HAPROXY_CFG.read_text(), [g.url.removeprefix("http://") for g in self.gateways],
                                      f"127.0.0.1:{lb_port}", f"127.0.0.1:{stats_port}"))
        self.lb = self._spawn("haproxy", [haproxy, "-db", "-f", str(cfg)], {}, f"http://127.0.0.1:{lb_port}")
        self.stats_url = f"http://127.0.0.1:{stats_port}"
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float) -> None:
        """Every process answers its readiness probe, and HAProxy sees every replica up."""
        deadline = time.monotonic() + timeout
        pending = [(p, "/readyz" if p.name.startswith("render") else "/api/health/ready")
                   for p in self.procs if p is not self.lb]
        while pending:
            proc, path = pending[0]
            if not proc.alive():
                raise RuntimeError(f"{proc.name} exited: {proc.logs()[-2000:]}")
            try:
                if httpx.get(proc.url + path, timeout=2).status_code == 200:
                    pending.pop(0)
                    continue
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{proc.name} not ready: {proc.logs()[-2000:]}")
            time.sleep(0.2)
        while self.servers_up() < self.replicas:
            if time.monotonic() > deadline or not self.lb.alive():
                raise TimeoutError(f"haproxy sees {self.servers_up()} replicas up: {self.lb.logs()[-2000:]}")
            time.sleep(0.2)

    def servers_up(self) -> int:
        """Replicas HAProxy's health checks see up (from its Prometheus exporter)."""
        try:
            text = httpx.get(self.stats_url + "/metrics", timeout=2).text
        except httpx.HTTPError:
            return 0
        return sum(1 for line in text.splitlines() if line.startswith("haproxy_server_status{")
                   and 'state="UP"' in line and line.endswith(" 1"))

    def kill_replica(self, n: int, sig: int = signal.SIGKILL) -> None:
        """Kill replica ``n`` (1-based) and its worker processes: SIGKILL is a crash, SIGTERM a graceful drain."""
        os.killpg(self.gateways[n - 1].popen.pid, sig)

    def stop(self) -> None:
        for proc in reversed(self.procs):  # haproxy first, then replicas (they drain), render workers last
            if proc.alive():
                os.killpg(proc.popen.pid, signal.SIGTERM)
        for proc in reversed(self.procs):
            try:
                proc.popen.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.popen.pid, signal.SIGKILL)
                proc.popen.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--workers", type=int, default=1, help="server processes per replica")
    parser.add_argument("--render-workers", type=int, default=1)
    parser.add_argument("--port", type=int, default=8080, help="HAProxy's port")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    deployment = LocalDeployment(args.replicas, args.workers, args.render_workers, args.port, args.redis_url)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        deployment.start()
        print(f"Mouthpiece behind HAProxy: {deployment.lb.url}  (HAProxy stats {deployment.stats_url}/stats; "
              f"logs in {deployment.root})", file=sys.stderr)
        while all(p.alive() for p in deployment.procs):
            time.sleep(1)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        deployment.stop()


if __name__ == "__main__":
    sys.exit(main())
