"""Chaos suite fixtures: one cluster for the module, reset to normal before each drill; the report at the end."""

from __future__ import annotations

import shutil
import time

import pytest

from tests.chaos import report
from tests.chaos.harness import Cluster

_started: list[float] = []
_workdir: list = []


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "chaos: fault drills on real processes (two gateway replicas, stand-ins, "
                                       "Redis) under load; run with `pytest tests/chaos -q -s`")


@pytest.fixture(scope="session")
def chaos_cluster(tmp_path_factory):
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    _started.append(time.monotonic())
    cluster = Cluster(tmp_path_factory.mktemp("chaos"))
    _workdir.append(cluster.workdir)
    try:
        cluster.start()
        cluster.warm_up()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def cluster(chaos_cluster):
    """The shared cluster, back to normal (every process up, faults cleared, replicas normal)."""
    chaos_cluster.reset()
    return chaos_cluster


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # noqa: ANN001
    if not report.RESULTS:
        return
    wall = time.monotonic() - _started[0] if _started else None
    report.write(report.RESULTS, wall_s=wall)
    terminalreporter.write_sep("=", "chaos suite")
    terminalreporter.write_line(report.table(report.RESULTS))
    terminalreporter.write_line(f"full report: {report.REPORT_PATH}"
                                + (f" (cluster up + drills: {wall:.0f} s)" if wall is not None else ""))
    if _workdir:
        raw = _workdir[0] / "chaos_raw.json"
        report.dump(report.RESULTS, raw)
        terminalreporter.write_line(f"raw requests and health samples: {raw}; process logs: {_workdir[0]}")
