"""The video pool with real worker processes: modes, health, Redis registration and job queue, failures."""

from __future__ import annotations

import asyncio
import os
import time
import uuid

import httpx
import pytest

from gateway.media.disk import DiskMediaStore, cleanup_dir
from gateway.media.store import MediaKind, Retention
from gateway.policy.breakers import ProviderBreaker
from gateway.settings import VideoSettings
from gateway.video.jobs import JobQueue
from gateway.video.pool import NO_WORKERS
from gateway.video.pool import VideoPool as _VideoPool
from gateway.video.workers import WorkerHandle
from tests.redis_fixture import closed_port_url, free_port
from tests.test_render_worker import TRACK, WorkerProc, tone_wav

pytestmark = pytest.mark.slow
SLOW = ("--test-frame-delay-ms", "25")  # ~35 fps: a job lasts long enough to kill
LENIENT = {"min_realtime_factor": 0.3}  # slow test workers stay in rotation on a busy machine


def rid() -> str:
    return uuid.uuid4().hex


def settings(tmp_path, **kw) -> VideoSettings:
    base = {"media_dir": tmp_path / "video", "health_interval_s": 0.3, "health_timeout_s": 1.0}
    return VideoSettings(**{**base, **kw})


def VideoPool(s: VideoSettings) -> _VideoPool:  # noqa: N802 - the pool with its MP4s on disk in media_dir
    return _VideoPool(s, DiskMediaStore({MediaKind.VIDEO: s.media_dir},
                                        {MediaKind.VIDEO: Retention(s.media_max_age_s, s.media_max_bytes)}))


async def wait_healthy(pool: VideoPool, workers: int, timeout: float = 20) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        h = await pool.health()
        if h["healthy"] and sum(w["healthy"] for w in h["workers"]) >= workers:
            return h
        await asyncio.sleep(0.1)
    raise AssertionError(h)


async def wait_busy(workers: list[WorkerProc], timeout: float = 10) -> WorkerProc:
    async with httpx.AsyncClient() as client:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for w in workers:
                try:
                    if (await client.get(w.url + "/v1/worker", timeout=1)).json()["active"]:
                        return w
                except httpx.HTTPError:
                    pass
            await asyncio.sleep(0.03)
    raise AssertionError("no worker picked the job up")


@pytest.fixture(scope="module")
def worker(tmp_path_factory):
    proc = WorkerProc(tmp_path_factory.mktemp("pool-worker"))
    try:
        yield proc.wait_ready()
    finally:
        proc.stop()


@pytest.fixture
def spawn(tmp_path):
    procs: list[WorkerProc] = []

    def start(*args: str) -> WorkerProc:
        proc = WorkerProc(tmp_path, *args)
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        proc.stop()


async def test_embedded_default_is_unhealthy_and_renders_nothing(tmp_path):
    pool = VideoPool(settings(tmp_path))
    await pool.start()
    try:
        health = await pool.health()
        assert health["healthy"] is False and health["reason"] == NO_WORKERS and health["workers"] == []
        started = time.monotonic()
        outcome = await pool.render(rid(), tone_wav(0.5), TRACK, None, None, 5.0)
        assert outcome.media is None and outcome.reason == NO_WORKERS
        assert time.monotonic() - started < 0.05
    finally:
        await pool.close()


async def test_unhealthy_pool_returns_none_with_reason(tmp_path):
    dead = f"http://127.0.0.1:{free_port()}"
    pool = VideoPool(settings(tmp_path, workers=[dead]))
    await pool.start()
    try:
        health = await pool.health()
        assert health["healthy"] is False and "not ready" in health["reason"]
        started = time.monotonic()
        outcome = await pool.render(rid(), tone_wav(0.5), TRACK, None, None, 5.0)
        assert outcome.media is None and outcome.reason.startswith("video pool unhealthy")
        assert time.monotonic() - started < 0.05
    finally:
        await pool.close()


async def test_direct_mode_renders_and_fails_over(tmp_path, worker):
    dead = f"http://127.0.0.1:{free_port()}"
    pool = VideoPool(settings(tmp_path, workers=[dead, worker.url]))
    await pool.start()
    try:
        health = await wait_healthy(pool, 1)
        assert health["mode"] == "direct"
        request_id = rid()
        outcome = await pool.render(request_id, tone_wav(1.0), TRACK, "blacksmith", "angry", 10.0)
        assert outcome.ok, outcome
        assert outcome.worker == worker.worker_id and outcome.media == await pool.media.info(MediaKind.VIDEO,
                                                                                             request_id)
        assert (await pool.media.read_all(outcome.media))[4:8] == b"ftyp"
        assert outcome.timings["render_ms"] > 0 and outcome.timings["total_ms"] >= outcome.timings["render_ms"]
        bad = await pool.render(rid(), tone_wav(1.0), TRACK, "dragon", None, 10.0)
        assert bad.media is None and "unknown avatar" in bad.reason and "innkeeper" in bad.reason
    finally:
        await pool.close()


async def test_slow_worker_is_taken_out_of_rotation(tmp_path, spawn):
    slow = spawn("--test-frame-delay-ms", "90").wait_ready()
    pool = VideoPool(settings(tmp_path, workers=[slow.url]))
    await pool.start()
    try:
        health = await pool.health()
        assert health["healthy"] is False and "slower than real time" in health["reason"]
        assert (await pool.render(rid(), tone_wav(0.5), TRACK, None, None, 5.0)).media is None
    finally:
        await pool.close()


async def test_kill_only_worker_mid_job_degrades_within_deadline(tmp_path, spawn):
    w = spawn(*SLOW).wait_ready()
    pool = VideoPool(settings(tmp_path, workers=[w.url], **LENIENT))
    await pool.start()
    try:
        await wait_healthy(pool, 1)
        started = time.monotonic()
        task = asyncio.create_task(pool.render(rid(), tone_wav(3.0), TRACK, None, None, 6.0))
        (await wait_busy([w])).kill()
        outcome = await task
        assert outcome.media is None and "dropped" in outcome.reason
        assert time.monotonic() - started < 6.0
        snap = (await pool.health())["workers"][0]
        assert snap["healthy"] is False
    finally:
        await pool.close()


async def test_redis_registration_and_queue(tmp_path, spawn, redis_url, redis_prefix):
    w = spawn("--redis-url", redis_url, "--redis-prefix", redis_prefix, "--heartbeat-ttl", "3").wait_ready()
    pool = VideoPool(settings(tmp_path, redis_url=redis_url, redis_prefix=redis_prefix))
    await pool.start()
    try:
        health = await wait_healthy(pool, 1)
        assert health["mode"] == "redis" and health["redis"]["ok"]
        assert [x["source"] for x in health["workers"]] == ["redis"]
        outcome = await pool.render(rid(), tone_wav(1.0), TRACK, "rogue", "happy", 10.0)
        assert outcome.ok and outcome.mode == "redis" and outcome.worker == w.worker_id and outcome.attempts == 1
        w.stop()  # graceful: deregisters
        deadline = time.monotonic() + 10
        while (await pool.health())["workers"] and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        health = await pool.health()
        assert health["healthy"] is False and health["reason"] == "no video workers registered"
    finally:
        await pool.close()


async def test_kill_worker_mid_job_redelivers_to_another(tmp_path, spawn, redis_url, redis_prefix):
    reg = ("--redis-url", redis_url, "--redis-prefix", redis_prefix, "--heartbeat-ttl", "3")
    workers = [spawn(*SLOW, *reg), spawn(*SLOW, *reg)]
    for w in workers:
        w.wait_ready()
    pool = VideoPool(settings(tmp_path, redis_url=redis_url, redis_prefix=redis_prefix, **LENIENT))
    await pool.start()
    try:
        await wait_healthy(pool, 2)
        started = time.monotonic()
        task = asyncio.create_task(pool.render(rid(), tone_wav(2.0), TRACK, None, None, 12.0))
        victim = await wait_busy(workers)
        victim.kill()
        outcome = await task
        assert outcome.ok, outcome
        assert outcome.worker != victim.worker_id and outcome.attempts == 2
        assert time.monotonic() - started < 12.0
    finally:
        await pool.close()


async def test_job_left_by_a_dead_dispatcher_is_claimed_after_idle(tmp_path, worker, redis_url, redis_prefix):
    queue = JobQueue(redis_url, redis_prefix)
    await queue.ensure_group()
    job_id = await queue.submit(request_id=rid(), wav=tone_wav(1.0), visemes=TRACK, avatar_id=None, emotion=None,
                                deadline_at=time.time() + 20, audio_s=1.0)
    ghost = await queue.read("dead-gateway/ghost/0", block_ms=100)  # taken, then its gateway "died"
    taken = time.monotonic()
    assert ghost is not None and ghost.job_id == job_id
    pool = VideoPool(settings(tmp_path, workers=[worker.url], redis_url=redis_url, redis_prefix=redis_prefix,
                              claim_idle_s=1.0))
    await pool.start()
    try:
        result = await queue.wait(job_id, 15)
        assert result is not None
        header, data = result
        assert header["ok"] is True and header["attempts"] == 2 and data[4:8] == b"ftyp"
        assert time.monotonic() - taken >= 1.0  # only once the entry had been idle for claim_idle_s
    finally:
        await pool.close()
        await queue.close()


async def test_redis_down_falls_back_to_direct(tmp_path, worker):
    pool = VideoPool(settings(tmp_path, workers=[worker.url], redis_url=closed_port_url()))
    await pool.start()
    try:
        health = await wait_healthy(pool, 1)
        assert health["redis"]["ok"] is False and "direct" in health["reason"]
        outcome = await pool.render(rid(), tone_wav(0.6), TRACK, None, None, 10.0)
        assert outcome.ok and outcome.mode == "direct"
    finally:
        await pool.close()


def test_breaker_takes_a_failing_worker_out():
    w = WorkerHandle(url="http://x", source="config", breaker=ProviderBreaker("video:test", 2, 60), fps_target=25,
                     min_realtime_factor=1.0, max_queue_wait_s=3.0, ready=True, probe_error=None)
    assert w.health() == (True, "ok")
    w.breaker.failure()
    w.breaker.failure()
    assert w.health() == (False, "circuit breaker open")
    w.breaker.force_closed()
    w.info = {"fps": 30.0, "queue_wait_ms": 5000}
    assert "queue wait" in w.health()[1]


def test_cleanup_media_by_age_then_size(tmp_path):
    now = time.time()
    names = {}
    for k, (age, size) in enumerate([(7200, 10), (100, 400), (50, 400), (10, 400)]):
        path = tmp_path / f"{k:032x}.mp4"
        path.write_bytes(b"x" * size)
        os.utime(path, (now - age, now - age))
        names[k] = path
    (tmp_path / "keep.txt").write_text("not a video")
    result = cleanup_dir(tmp_path, max_age_s=3600, max_bytes=900, now=now)
    assert result["removed"] == 2 and result["kept_bytes"] == 800
    assert not names[0].exists() and not names[1].exists() and names[2].exists() and names[3].exists()
    assert (tmp_path / "keep.txt").exists()


def test_settings_from_env(monkeypatch):
    monkeypatch.setenv("GATEWAY_VIDEO_WORKERS", "http://a:8790, http://b:8790/")
    monkeypatch.setenv("GATEWAY_VIDEO_DEADLINE_MAX_S", "12")
    s = VideoSettings()
    assert s.workers == ["http://a:8790", "http://b:8790"]
    assert s.job_deadline_s(2.0) == 5.0 and s.job_deadline_s(60) == 12.0
