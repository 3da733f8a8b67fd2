"""Prometheus metrics. Names are prefixed ``mouthpiece_``; labels never carry user text or secrets."""

from __future__ import annotations

import os
from functools import lru_cache

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess
from prometheus_client.metrics import MetricWrapperBase

REGISTRY = CollectorRegistry(auto_describe=True)
#: Set (by ``gateway serve --workers N``, or by the operator) before prometheus_client is imported: every worker writes
#: its samples to files there, and ``/metrics`` in any worker reads them all (prometheus_client's multiprocess mode).
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def exposition() -> bytes:
    """What ``/metrics`` answers: this process's registry, or every worker's in multiprocess mode."""
    path = os.environ.get(MULTIPROC_ENV)
    if not path:
        return generate_latest(REGISTRY)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path)
    return generate_latest(registry)


@lru_cache(maxsize=2048)
def labelled(metric: MetricWrapperBase, *values: str) -> MetricWrapperBase:
    """``metric.labels(*values)``, remembered: the children of the per-line metrics are looked up a dozen times a
    line, and ``labels()`` (a lock, the values checked and joined) cost more than the ``inc``/``set`` itself. Label
    values are bounded sets (providers, outcomes, routes), so the cache never evicts in practice."""
    return metric.labels(*values)


def worker_exited(pid: int) -> None:
    """Drop a worker's live gauges (its memory, fds, threads, lag) once it stops; its counters still count."""
    if os.environ.get(MULTIPROC_ENV):
        multiprocess.mark_process_dead(pid)

REQUESTS = Counter("mouthpiece_requests_total", "Lines served, by provider that served them and outcome",
                   ["endpoint", "provider", "outcome"], registry=REGISTRY)
PROVIDER_ATTEMPTS = Counter("mouthpiece_provider_attempts_total", "Provider attempts by outcome/error kind",
                            ["provider", "outcome"], registry=REGISTRY)
TIME_TO_FIRST_AUDIO = Histogram(
    "mouthpiece_time_to_first_audio_seconds", "From request start to the first audio byte, per provider",
    ["provider"], buckets=(0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 8, 15, 20, 30),
    registry=REGISTRY)
REQUEST_DURATION = Histogram("mouthpiece_request_duration_seconds", "Whole request time", ["endpoint"],
                             buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32, 60),
                             registry=REGISTRY)
FALLBACKS = Counter("mouthpiece_fallbacks_total", "Fail-overs from one provider to the next",
                    ["from_provider", "to_provider", "reason"], registry=REGISTRY)
RETRIES = Counter("mouthpiece_retries_total", "Retries before first audio", ["provider"], registry=REGISTRY)
BREAKER_STATE = Gauge("mouthpiece_breaker_state", "Circuit breaker state (0 closed, 1 half-open, 2 open)",
                      ["provider"], registry=REGISTRY)
CACHE_LOOKUPS = Counter("mouthpiece_cache_lookups_total", "Line cache lookups", ["result"], registry=REGISTRY)
DEGRADATION_LEVEL = Gauge("mouthpiece_degradation_level", "Current degradation level (1 for the active one)",
                          ["level"], registry=REGISTRY)
AUDIO_SECONDS = Counter("mouthpiece_audio_seconds_total", "Seconds of audio served", ["provider"],
                        registry=REGISTRY)
REDIS_UP = Gauge("mouthpiece_redis_up", "Whether Redis (shared breaker state, rate limits) answers (1/0); "
                 "1 when no Redis is configured", registry=REGISTRY)
REDIS_UP.set(1)
PROVIDER_LATENCY = Gauge("mouthpiece_provider_latency_seconds", "First-audio latency per provider (EWMA, p95)",
                         ["provider", "stat"], registry=REGISTRY)
PROVIDER_DELIVERY_RTF = Gauge("mouthpiece_provider_delivery_rtf",
                              "Audio seconds delivered per wall second of an attempt (EWMA; 0: no data): below 1 "
                              "the listener waits", ["provider"], registry=REGISTRY)
PROVIDER_ERROR_RATIO = Gauge("mouthpiece_provider_error_ratio", "Share of failed attempts over the health window",
                             ["provider"], registry=REGISTRY)
PROVIDER_QUOTA_USED = Gauge("mouthpiece_provider_quota_used_ratio", "Share of the provider's quota used (0..1)",
                            ["provider"], registry=REGISTRY)
PROVIDER_TRIALS = Counter("mouthpiece_provider_trials_total",
                          "Background trials of demoted providers (no client's line), by verdict: passed, slow, "
                          "incomplete or the error kind", ["provider", "outcome"], registry=REGISTRY)
PROVIDER_TRIAL_CHARS = Counter("mouthpiece_provider_trial_chars_total",
                               "Characters sent in background trials (what a vendor bills for them)", ["provider"],
                               registry=REGISTRY)
RETRY_BUDGET_EXHAUSTED = Counter("mouthpiece_retry_budget_exhausted_total",
                                 "Retries not made because the retry budget was spent", registry=REGISTRY)
RATE_LIMITED = Counter("mouthpiece_rate_limited_total", "Requests refused by rate limits", ["scope"],
                       registry=REGISTRY)
ADMIN_ACTIONS = Counter("mouthpiece_admin_actions_total", "Admin API actions", ["action"], registry=REGISTRY)
LEVEL_TRANSITIONS = Counter("mouthpiece_degradation_transitions_total", "Changes of the overall level",
                            ["from_level", "to_level"], registry=REGISTRY)
MEDIA_WRITES = Counter("mouthpiece_media_writes_total", "Audio/video results written to the media store",
                       ["kind", "backend", "outcome"], registry=REGISTRY)
MEDIA_READS = Counter("mouthpiece_media_reads_total", "audio_url/video_url fetches by outcome",
                      ["kind", "backend", "outcome"], registry=REGISTRY)
LINES_IN_FLIGHT = Gauge("mouthpiece_lines_in_flight", "Lines being spoken now (the autoscaling signal; drain waits "
                        "for it to reach 0)", registry=REGISTRY)
DRAINING = Gauge("mouthpiece_draining", "1 while this process drains (readiness 503, new lines refused)",
                 registry=REGISTRY)
# Capacity of the local engines (gateway/policy/capacity.py): what the syntheses in flight need, what is usable.
CAPACITY_LOAD = Gauge("mouthpiece_capacity_load_cores",
                      "Cores the local syntheses in flight need to keep up in real time (sum of their measured costs)",
                      registry=REGISTRY)
CAPACITY_AVAILABLE = Gauge("mouthpiece_capacity_available_cores",
                           "Cores the local syntheses really got when they could use every core (measured)",
                           registry=REGISTRY)
CAPACITY_USABLE = Gauge("mouthpiece_capacity_usable_cores",
                        "Cores the local syntheses may count on (available x GATEWAY_CAPACITY_MAX_LOAD)",
                        registry=REGISTRY)
CAPACITY_HEADROOM_LINES = Gauge("mouthpiece_capacity_headroom_lines",
                                "Lines of this engine that would start now (cores and concurrency left)",
                                ["provider"], registry=REGISTRY)
CAPACITY_IN_FLIGHT = Gauge("mouthpiece_capacity_in_flight", "Local syntheses in flight", ["provider"],
                           registry=REGISTRY)
CAPACITY_WAITING = Gauge("mouthpiece_capacity_waiting", "Lines waiting for cores", ["provider"], registry=REGISTRY)
ENGINE_RTF = Gauge("mouthpiece_engine_rtf", "Measured cost of a local engine: core-seconds per audio-second (EWMA)",
                   ["provider"], registry=REGISTRY)
CAPACITY_DECISIONS = Counter("mouthpiece_capacity_decisions_total",
                             "Admissions of local syntheses: start, wait, refuse (to the next provider), expired "
                             "(waited, then refused)", ["provider", "decision"], registry=REGISTRY)
CAPACITY_WAIT = Histogram("mouthpiece_capacity_wait_seconds", "How long a line waited for cores before it started",
                          ["provider"], buckets=(0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 8),
                          registry=REGISTRY)
# The process itself (gateway/observability/process.py), from every worker of `gateway serve --workers N`: in
# multiprocess mode each gauge carries the worker's `pid` label; CPU and the lag histogram add up over the workers.
PROCESS_RSS = Gauge("mouthpiece_process_resident_memory_bytes", "Resident memory of this gateway process",
                    registry=REGISTRY, multiprocess_mode="liveall")
PROCESS_CPU = Counter("mouthpiece_process_cpu_seconds", "CPU time of the gateway processes (user + system)",
                      registry=REGISTRY)
PROCESS_OPEN_FDS = Gauge("mouthpiece_process_open_fds", "Open file descriptors of this gateway process",
                         registry=REGISTRY, multiprocess_mode="liveall")
PROCESS_MAX_FDS = Gauge("mouthpiece_process_max_fds", "File descriptor limit of this gateway process (soft)",
                        registry=REGISTRY, multiprocess_mode="liveall")
PROCESS_THREADS = Gauge("mouthpiece_process_threads", "OS threads of this gateway process (engines' pools included)",
                        registry=REGISTRY, multiprocess_mode="liveall")
EVENT_LOOP_LAG = Histogram("mouthpiece_event_loop_lag_seconds",
                           "How late the event loop ran a timer (scheduling delay, sampled every 0.25 s)",
                           buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
                           registry=REGISTRY)
EVENT_LOOP_LAG_MAX = Gauge("mouthpiece_event_loop_lag_max_seconds",
                           "Worst event-loop lag of this gateway process over the last 5 s", registry=REGISTRY,
                           multiprocess_mode="liveall")
