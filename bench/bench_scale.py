"""Scale-out: HAProxy (round robin, no stickiness) in front of 2 gateway replicas sharing one Redis, a render worker.

    .venv/bin/python bench/bench_scale.py [--lines 80] [--video-every 5] [--concurrency 4]

Lines are spoken through HAProxy and every ``audio_url``/``video_url`` is fetched through HAProxy right away (so
about half land on the other replica), with a Range request; half-way, replica 1 is killed with SIGKILL while
requests are in flight. At the end every URL ever returned, including those replica 1 made, is fetched again
through HAProxy (only replica 2 is left) and compared byte for byte with the first fetch. Printed: speak and fetch
success, which replica served what, fetch latency (median, p95), and how long HAProxy took to stop sending to the
dead replica. ``tests/test_scale.py`` runs the same workload and asserts 100 %.

The gateways speak with espeak (fast, local) so the media path, not synthesis, is what is measured.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import signal
import sys
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import median, p  # noqa: E402
from ops.deploy.local import LocalDeployment  # noqa: E402

WORDS = ("lantern", "harbour", "copper", "thistle", "raven", "meadow", "anvil", "ember", "frost", "willow")
#: espeak: synthesis stays cheap. Lenient video deadlines and speed: on a loaded 2-core machine a render may be slow,
#: and render speed is not what is measured here.
GATEWAY_ENV = {"GATEWAY_CHAIN": "espeak", "GATEWAY_CACHE_TTL_S": "600", "GATEWAY_LOG_LEVEL": "WARNING",
               "GATEWAY_VIDEO_MIN_REALTIME_FACTOR": "0.2", "GATEWAY_VIDEO_DEADLINE_BASE_S": "15",
               "GATEWAY_VIDEO_MAX_QUEUE_WAIT_S": "15"}


def line_text(n: int) -> str:
    """A different short line each time (no cache hits), like a game's dialogue."""
    a, b = WORDS[n % len(WORDS)], WORDS[(n * 7 + 3) % len(WORDS)]
    return f"Line {n}: the {a} by the {b} is yours, traveller."


@dataclass
class Media:
    url: str
    kind: str
    made_by: str
    sha: str = ""
    size: int = 0


@dataclass
class MediaRun:
    """What the workload saw; ``ok`` is every count being a success."""

    speaks: int = 0
    speak_failures: list[str] = field(default_factory=list)
    #: Lines asked for a video that came back audio-only (render too slow or failed): the video pool's business,
    #: not the media path's; reported, not counted as failures.
    video_degraded: list[str] = field(default_factory=list)
    media: list[Media] = field(default_factory=list)
    fetches: int = 0
    fetch_failures: list[str] = field(default_factory=list)
    range_fetches: int = 0
    served_by: Counter = field(default_factory=Counter)
    fetch_ms: list[float] = field(default_factory=list)
    speak_ms: list[float] = field(default_factory=list)
    killed_at: float | None = None
    served_by_dead: int = 0  #: answers from the killed replica after the kill
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail(self, where: list[str], what: str) -> None:
        with self.lock:
            where.append(what)

    @property
    def ok(self) -> bool:
        return not self.speak_failures and not self.fetch_failures and self.fetches > 0


def fetch(client: httpx.Client, run: MediaRun, item: Media, byte_range: tuple[int, int] | None = None) -> bytes | None:
    headers = {"Range": f"bytes={byte_range[0]}-{byte_range[1]}"} if byte_range else {}
    started = time.perf_counter()
    try:
        r = client.get(item.url, headers=headers)
    except httpx.HTTPError as exc:
        run.fail(run.fetch_failures, f"{item.url}: {type(exc).__name__}")
        return None
    with run.lock:
        run.fetches += 1
        run.fetch_ms.append((time.perf_counter() - started) * 1000)
        run.served_by[("fetch", r.headers.get("x-served-by", "?"))] += 1
        run.range_fetches += bool(byte_range)
        if run.killed_at is not None and r.headers.get("x-served-by") == "gateway1":
            run.served_by_dead += 1
    want = 206 if byte_range else 200
    if r.status_code != want:
        run.fail(run.fetch_failures, f"{item.url}{' ' + str(headers) if headers else ''}: {r.status_code}")
        return None
    return r.content


def speak_one(client: httpx.Client, run: MediaRun, n: int, video: bool) -> None:
    body = {"text": line_text(n), "visemes": False, **({"avatar_id": "innkeeper"} if video else {})}
    started = time.perf_counter()
    try:
        r = client.post("/api/avatar/speak", json=body, headers={"X-Request-ID": uuid.uuid4().hex})
    except httpx.HTTPError as exc:
        run.fail(run.speak_failures, f"line {n}: {type(exc).__name__}")
        return
    with run.lock:
        run.speaks += 1
        run.speak_ms.append((time.perf_counter() - started) * 1000)
        run.served_by[("speak", r.headers.get("x-served-by", "?"))] += 1
    if r.status_code != 200 or not r.json().get("audio_url"):
        run.fail(run.speak_failures, f"line {n}: {r.status_code} {r.text[:200]}")
        return
    result, made_by = r.json(), r.headers.get("x-served-by", "?")
    items = [Media(result["audio_url"], "audio", made_by)]
    if video:
        if not result.get("video_url"):
            run.fail(run.video_degraded, f"line {n}: no video_url ({result.get('degradation_reasons')})")
        else:
            items.append(Media(result["video_url"], "video", made_by))
    for item in items:
        data = fetch(client, run, item)
        if data is None:
            continue
        item.sha, item.size = hashlib.sha256(data).hexdigest(), len(data)
        part = fetch(client, run, item, (item.size // 3, item.size // 3 + 999))
        if part is not None and part != data[item.size // 3:item.size // 3 + 1000]:
            run.fail(run.fetch_failures, f"{item.url}: range bytes differ")
        with run.lock:
            run.media.append(item)


def verify_all(client: httpx.Client, run: MediaRun, times: int = 2) -> None:
    """Fetch every URL ever returned ``times`` times more through the balancer; bytes must match the first fetch."""
    for item in list(run.media):
        for _ in range(times):
            data = fetch(client, run, item)
            if data is not None and hashlib.sha256(data).hexdigest() != item.sha:
                run.fail(run.fetch_failures, f"{item.url}: bytes differ from the first fetch")


def wants_video(n: int, video_every: int) -> bool:
    return video_every > 0 and n % video_every == 0


def run_workload(deployment: LocalDeployment, lines: int = 80, video_every: int = 5, concurrency: int = 4,
                 kill: bool = True) -> MediaRun:
    """Speak ``lines`` lines through HAProxy (every ``video_every``-th with a video; 0: none), fetching each URL
    at once; kill replica 1 half-way; then fetch every URL again."""
    run = MediaRun()
    half = lines // 2
    with httpx.Client(base_url=deployment.lb.url, timeout=60) as client:
        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(lambda n: speak_one(client, run, n, wants_video(n, video_every)), range(half)))
        before = list(run.media)
        for item in before:  # any replica answers any URL: fetched directly from each one
            for gateway in deployment.gateways:
                r = httpx.get(gateway.url + item.url, timeout=30)
                with run.lock:
                    run.fetches += 1
                if r.status_code != 200 or hashlib.sha256(r.content).hexdigest() != item.sha:
                    run.fail(run.fetch_failures, f"{gateway.name} {item.url}: {r.status_code}")
        if kill:
            with ThreadPoolExecutor(concurrency) as pool:
                futures = [pool.submit(speak_one, client, run, n, wants_video(n, video_every))
                           for n in range(half, half + concurrency * 2)]
                time.sleep(0.3)  # requests in flight on both replicas
                deployment.kill_replica(1, signal.SIGKILL)
                run.killed_at = time.monotonic()
                for f in futures:
                    f.result()
            start = half + concurrency * 2
        else:
            start = half
        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(lambda n: speak_one(client, run, n, wants_video(n, video_every)), range(start, lines)))
        verify_all(client, run)
    return run


def report(run: MediaRun, label: str) -> dict:
    made = Counter(item.made_by for item in run.media)
    out = {"label": label, "speaks": run.speaks, "speak_failures": len(run.speak_failures),
           "media": len(run.media), "videos": sum(i.kind == "video" for i in run.media),
           "made_by_gateway1": made.get("gateway1", 0), "fetches": run.fetches, "range_fetches": run.range_fetches,
           "fetch_failures": len(run.fetch_failures),
           "fetch_success_pct": round(100.0 * (run.fetches - len(run.fetch_failures)) / max(1, run.fetches), 1),
           "fetch_ms_median": round(median(run.fetch_ms), 1), "fetch_ms_p95": round(p(run.fetch_ms, 0.95), 1),
           "speak_ms_median": round(median(run.speak_ms), 1),
           "served_by": {f"{k[0]}:{k[1]}": v for k, v in sorted(run.served_by.items())},
           "video_degraded": len(run.video_degraded), "answers_from_dead_replica_after_kill": run.served_by_dead}
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=80)
    parser.add_argument("--video-every", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    missing = _missing(args.redis_url)
    if missing:
        print(f"bench_scale skipped: {missing}")
        return 0
    prefix = f"mouthpiece:bench:{uuid.uuid4().hex[:8]}:"
    results = []
    # Control first: the same round robin with each replica keeping media on its own disk (the 404s).
    control = LocalDeployment(replicas=2, render_workers=0, redis_url=args.redis_url, redis_prefix=prefix,
                              env={**GATEWAY_ENV, "GATEWAY_MEDIA_BACKEND": "disk"})
    try:
        control.start()
        results.append(report(run_workload(control, 20, 0, args.concurrency, kill=False),
                              "control: media on each replica's disk, no kill"))
    finally:
        control.stop()
    deployment = LocalDeployment(replicas=2, render_workers=1, redis_url=args.redis_url, redis_prefix=prefix,
                                 env=GATEWAY_ENV)
    try:
        deployment.start()
        run = run_workload(deployment, args.lines, args.video_every, args.concurrency)
    finally:
        deployment.stop()
        _forget(args.redis_url, prefix)
    results.append(report(run, "haproxy + 2 replicas + redis media, replica 1 SIGKILLed half-way"))
    for result in results:
        print()
        for key, value in result.items():
            print(f"{key:36} {value}")
    for failure in (run.speak_failures + run.fetch_failures)[:20]:
        print("FAILED", failure)
    for note in run.video_degraded[:5]:
        print("video degraded:", note)
    return 0 if run.ok else 1


def _missing(redis_url: str) -> str | None:
    """Why this benchmark cannot run here (no HAProxy, no Redis), or None."""
    if shutil.which("haproxy") is None:
        return "haproxy is not installed (apt-get install haproxy; ./run test installs it)"
    client = redis.Redis.from_url(redis_url, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError as exc:
        return f"no Redis at {redis_url} ({type(exc).__name__})"
    finally:
        client.close()
    return None


def _forget(redis_url: str, prefix: str) -> None:
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=prefix + "*", count=500))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


if __name__ == "__main__":
    sys.exit(main())
