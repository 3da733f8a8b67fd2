"""Process metrics on /metrics (resident memory, CPU, open files, threads, event-loop lag), from every worker.

The monitor's arithmetic with plain inputs; then real gateway processes: one, and ``--workers 2`` (Prometheus
multiprocess mode: whichever worker answers the scrape, each worker's gauges are there under its ``pid``).
"""

from __future__ import annotations

import re
import time

import httpx
import pytest

from gateway.observability.metrics import EVENT_LOOP_LAG, EVENT_LOOP_LAG_MAX
from gateway.observability.process import ProcessMonitor, process_stats
from tests.conftest import ServiceProcess

PROCESS_GAUGES = ("mouthpiece_process_resident_memory_bytes", "mouthpiece_process_open_fds",
                  "mouthpiece_process_max_fds", "mouthpiece_process_threads", "mouthpiece_event_loop_lag_max_seconds")
SAMPLE = re.compile(r"^([a-z_]+)(?:\{([^}]*)\})?\s+([0-9.eE+-]+)$")


def samples(text: str) -> list[tuple[str, dict[str, str], float]]:
    out = []
    for line in text.splitlines():
        m = SAMPLE.match(line.strip())
        if m:
            labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
            out.append((m.group(1), labels, float(m.group(3))))
    return out


def test_process_stats_read_this_process():
    stats = process_stats()
    assert stats.rss_bytes and stats.rss_bytes > 10 * 2**20
    assert stats.open_fds and stats.open_fds >= 3 and stats.max_fds and stats.max_fds >= stats.open_fds
    assert stats.threads and stats.threads >= 1 and stats.cpu_s > 0


def test_lag_gauge_is_the_worst_of_the_window_and_the_histogram_counts_every_sample():
    monitor = ProcessMonitor(window_s=5.0)
    before = EVENT_LOOP_LAG.collect()[0]
    count0 = next(s.value for s in before.samples if s.name.endswith("_count"))
    monitor.record_lag(100.0, 0.002)
    monitor.record_lag(101.0, 0.300)
    monitor.record_lag(103.0, 0.004)
    assert EVENT_LOOP_LAG_MAX.collect()[0].samples[0].value == pytest.approx(0.3)
    monitor.record_lag(106.5, 0.001)  # the 0.3 s sample (at 101) left the 5 s window
    assert EVENT_LOOP_LAG_MAX.collect()[0].samples[0].value == pytest.approx(0.004)
    count = next(s.value for s in EVENT_LOOP_LAG.collect()[0].samples if s.name.endswith("_count"))
    assert count == count0 + 4


def gateway(tmp_path, workers: int) -> ServiceProcess:
    env = {"GATEWAY_CHAIN": '["espeak","canned"]', "GATEWAY_ENABLED_PROVIDERS": '["espeak","canned"]',
           "GATEWAY_CACHE_ENABLED": "false", "GATEWAY_DATA_DIR": str(tmp_path / "data"),
           "GATEWAY_VIDEO_EMBEDDED": "false"}
    proc = ServiceProcess(["gateway.cli", "serve", "--workers", str(workers)], env, tmp_path / "gateway.log",
                          "/api/health/ready")
    proc.wait_ready(90)
    return proc


@pytest.mark.slow
def test_one_process_exports_its_process_metrics(tmp_path):
    gw = gateway(tmp_path, 1)
    try:
        httpx.post(gw.url + "/api/avatar/speak", json={"text": "Count my memory."}, timeout=30)
        time.sleep(1.5)  # the monitor samples the process every second
        got = {name: (labels, value) for name, labels, value in samples(httpx.get(gw.url + "/metrics").text)}
        for name in PROCESS_GAUGES:
            assert name in got, f"{name} missing from /metrics"
            assert "pid" not in got[name][0]
        assert got["mouthpiece_process_resident_memory_bytes"][1] > 20 * 2**20
        assert got["mouthpiece_process_open_fds"][1] >= 3 and got["mouthpiece_process_threads"][1] >= 2
        assert got["mouthpiece_process_cpu_seconds_total"][1] > 0
        assert got["mouthpiece_event_loop_lag_seconds_count"][1] >= 1
    finally:
        gw.stop()


@pytest.mark.slow
def test_every_worker_exports_its_process_metrics(tmp_path):
    gw = gateway(tmp_path, 2)
    try:
        pids: dict[str, set[str]] = {}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            for name, labels, value in samples(httpx.get(gw.url + "/metrics", timeout=5).text):
                if name in PROCESS_GAUGES and value >= 0:
                    pids.setdefault(name, set()).add(labels.get("pid", "?"))
            if all(len(pids.get(n, ())) == 2 for n in PROCESS_GAUGES):
                break
            time.sleep(0.5)
        assert all(len(pids.get(n, ())) == 2 and "?" not in pids[n] for n in PROCESS_GAUGES), (pids, gw.logs()[-2000:])
        text = httpx.get(gw.url + "/metrics", timeout=5).text
        rss = [v for n, _, v in samples(text) if n == "mouthpiece_process_resident_memory_bytes"]
        assert len(rss) == 2 and min(rss) > 20 * 2**20
        # Counters and histograms add up over the workers: one series each.
        assert sum(1 for n, _, _ in samples(text) if n == "mouthpiece_process_cpu_seconds_total") == 1
        assert sum(1 for n, _, _ in samples(text) if n == "mouthpiece_event_loop_lag_seconds_count") == 1
    finally:
        gw.stop()
