"""Scale-out with real processes: HAProxy (round robin, no stickiness) in front of 2 gateway replicas sharing one
Redis, and a render worker. 100 % of audio_url/video_url fetches succeed, including after one replica is killed
mid-run (its URLs still resolve). A control run with media on each replica's own disk shows what the test catches.
The workload is bench/bench_scale.py's; docs/benchmarks.md has its numbers."""

from __future__ import annotations

import shutil

import pytest

from bench.bench_scale import GATEWAY_ENV, report, run_workload
from ops.deploy.local import LocalDeployment

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("haproxy") is None, reason="haproxy (Debian package) not installed")]


def deployment(redis_url: str, prefix: str, tmp_path, **env: str) -> LocalDeployment:
    return LocalDeployment(replicas=2, render_workers=1, redis_url=redis_url, redis_prefix=prefix,
                           env={**GATEWAY_ENV, **env}, root=tmp_path)


def test_any_replica_serves_any_media_url_even_after_one_dies(redis_url, redis_prefix, tmp_path):
    d = deployment(redis_url, redis_prefix, tmp_path / "shared").start()
    try:
        run = run_workload(d, lines=40, video_every=5, concurrency=4, kill=True)
    finally:
        d.stop()
    result = report(run, "shared")
    assert run.ok, (result, run.speak_failures[:5], run.fetch_failures[:5])
    assert result["videos"] >= 4 and result["range_fetches"] == result["media"]
    assert result["made_by_gateway1"] > 0  # the dead replica's URLs were among those verified afterwards
    assert result["served_by"].get("speak:gateway1", 0) > 0 and result["served_by"].get("fetch:gateway2", 0) > 0
    assert not d.gateways[0].alive()


def test_control_media_on_each_replicas_disk_fail_without_stickiness(redis_url, redis_prefix, tmp_path):
    d = deployment(redis_url, redis_prefix, tmp_path / "disk", GATEWAY_MEDIA_BACKEND="disk")
    d.render_workers = 0
    d.start()
    try:
        run = run_workload(d, lines=12, video_every=0, concurrency=2, kill=False)
    finally:
        d.stop()
    assert not run.speak_failures
    assert len(run.fetch_failures) >= 6, report(run, "disk")  # about half of every round-robin fetch: 404
