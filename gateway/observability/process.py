"""Process metrics of a gateway process, from inside it: resident memory, CPU time, open file descriptors, threads,
and the event loop's lag (how late a timer runs: the delay every request sees on top of its own work).

One :class:`ProcessMonitor` task per process (each worker of ``gateway serve --workers N`` runs its own, so in
Prometheus multiprocess mode every worker's numbers reach ``/metrics`` whichever worker answers the scrape). The
lag is sampled every ``interval_s``: the monitor sleeps that long and measures how much later than asked it woke.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import time
from collections import deque
from dataclasses import dataclass

from gateway.observability.metrics import (EVENT_LOOP_LAG, EVENT_LOOP_LAG_MAX, PROCESS_CPU, PROCESS_MAX_FDS,
                                           PROCESS_OPEN_FDS, PROCESS_RSS, PROCESS_THREADS)

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


@dataclass(frozen=True, slots=True)
class ProcessStats:
    rss_bytes: int | None
    cpu_s: float
    open_fds: int | None
    max_fds: int | None
    threads: int | None


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="ascii", errors="replace") as fh:
            return fh.read()
    except OSError:
        return None


def process_stats() -> ProcessStats:
    """This process now (Linux ``/proc/self``; elsewhere what ``resource`` and ``os`` tell)."""
    statm = _read("/proc/self/statm")
    rss = int(statm.split()[1]) * _PAGE if statm else None
    status = _read("/proc/self/status") or ""
    threads = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("Threads:")), None)
    try:
        fds: int | None = len(os.listdir("/proc/self/fd"))
    except OSError:
        fds = None
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    times = os.times()
    return ProcessStats(rss, times.user + times.system, fds, None if soft == resource.RLIM_INFINITY else soft,
                        threads)


class ProcessMonitor:
    """Samples the event loop's lag every ``interval_s`` and the process every ``stats_every_s``."""

    def __init__(self, interval_s: float = 0.25, stats_every_s: float = 1.0, window_s: float = 5.0) -> None:
        self.interval_s, self.stats_every_s = interval_s, stats_every_s
        self._recent: deque[tuple[float, float]] = deque()  #: (time, lag) within the window
        self.window_s = window_s
        self._cpu_s = 0.0
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._cpu_s = os.times().user + os.times().system
        PROCESS_CPU.inc(self._cpu_s)  # what the process used before the monitor (imports, model loading)
        self.sample_stats()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="process-monitor")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def record_lag(self, now: float, lag: float) -> None:
        EVENT_LOOP_LAG.observe(lag)
        self._recent.append((now, lag))
        while self._recent and self._recent[0][0] < now - self.window_s:
            self._recent.popleft()
        EVENT_LOOP_LAG_MAX.set(max(v for _, v in self._recent))

    def sample_stats(self) -> ProcessStats:
        stats = process_stats()
        if stats.rss_bytes is not None:
            PROCESS_RSS.set(stats.rss_bytes)
        if stats.open_fds is not None:
            PROCESS_OPEN_FDS.set(stats.open_fds)
        if stats.max_fds is not None:
            PROCESS_MAX_FDS.set(stats.max_fds)
        if stats.threads is not None:
            PROCESS_THREADS.set(stats.threads)
        if stats.cpu_s > self._cpu_s:
            PROCESS_CPU.inc(stats.cpu_s - self._cpu_s)
            self._cpu_s = stats.cpu_s
        return stats

    async def _run(self) -> None:
        next_stats = time.monotonic() + self.stats_every_s
        while True:
            asked = time.monotonic()
            await asyncio.sleep(self.interval_s)
            now = time.monotonic()
            self.record_lag(now, max(0.0, now - asked - self.interval_s))
            if now >= next_stats:
                next_stats = now + self.stats_every_s
                self.sample_stats()
