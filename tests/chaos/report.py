"""Chaos results: what each request and health sample recorded, per-fault figures, and the markdown table.

Definitions (all times on the drill's clock):

* **detect** — from injecting the fault to the first sign of it: a request answered by a fallback (another
  provider, another level, another replica) or a health sample that is not normal (level, an open breaker, Redis
  down, a replica not answering).
* **recover** — from removing the fault (the killed process answering again, SIGCONT sent, faults cleared) to
  the first normal answer (first-choice provider, level ``normal``, no client fail-over) / to every replica's
  ``/api/health`` being normal (level ``normal``, no breaker open, Redis up) for good.
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Filled by the drills of a test session; written by the chaos conftest at the end of the session.
RESULTS: list["FaultResult"] = []
REPORT_PATH = Path(__file__).resolve().parent / "last_report.md"
ANSWER_COLUMNS = ("elevenlabs_ws", "elevenlabs_rest", "fish_audio", "piper")


@dataclass
class RequestRecord:
    id: int
    kind: str  #: speak | stream
    first_replica: int
    replica: int  #: the replica that answered (after a client fail-over, the other one)
    start: float
    deadline_s: float
    end: float = 0.0
    latency_s: float = 0.0
    outcome: str = "error"  #: audio | cached | canned | text-only | error
    provider: str | None = None
    level: str | None = None
    status: int | None = None
    retries: int = 0
    fallbacks: int = 0
    switches: int = 0  #: provider_switch events in a stream
    failover: str | None = None  #: the client re-sent the line to the other replica: refused | dropped
    within_deadline: bool = False
    hung: bool = False
    error: str | None = None

    def normal(self, primary: str) -> bool:
        return self.outcome == "audio" and self.provider == primary and self.level == "normal" and not self.failover


@dataclass
class HealthSample:
    t: float
    replica: int
    up: bool = True
    level: str | None = None
    reasons: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    breakers: dict[str, str] = field(default_factory=dict)
    in_flight: int = 0
    retrying: int = 0
    limit: int = 0
    exhausted_total: int = 0
    redis_up: bool | None = None

    @classmethod
    def from_health(cls, t: float, replica: int, h: dict) -> "HealthSample":
        budget = h.get("retry_budget") or {}
        redis = h.get("redis")
        return cls(t, replica, True, h.get("degradation_level"), list(h.get("reasons") or []),
                   list(h.get("warnings") or []),
                   {n: (p.get("breaker") or {}).get("state", "?") for n, p in (h.get("providers") or {}).items()},
                   int(budget.get("in_flight", 0)), int(budget.get("retrying", 0)), int(budget.get("limit", 0)),
                   int(budget.get("exhausted_total", 0)), None if redis is None else bool(redis.get("up")))

    @property
    def normal(self) -> bool:
        """Level normal, no breaker open (half-open: past its reset, waiting for a call), Redis up."""
        return (self.up and self.level == "normal" and all(s != "open" for s in self.breakers.values())
                and self.redis_up is not False)


@dataclass
class FaultResult:
    name: str
    records: list[RequestRecord]
    samples: list[HealthSample]
    marks: dict[str, float]
    metrics_before: list[dict[str, float]]
    metrics_after: list[dict[str, float]]
    primary: str
    settings: Any
    notes: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    # -- requests ---------------------------------------------------------------------------------------------
    @property
    def errors(self) -> list[RequestRecord]:
        return [r for r in self.records if r.outcome == "error" or not r.within_deadline]

    def answered_by(self) -> Counter:
        c: Counter = Counter()
        for r in self.records:
            if r.outcome == "audio":
                c[r.provider] += 1
            elif r.outcome in ("cached", "canned", "text-only"):
                c[r.outcome] += 1
        return c

    def client_failovers(self) -> Counter:
        return Counter(r.failover for r in self.records if r.failover)

    def latency(self, q: float) -> float | None:
        lat = sorted(r.latency_s for r in self.records)
        if not lat:
            return None
        if len(lat) == 1:
            return lat[0]
        return statistics.quantiles(lat, n=100, method="inclusive")[round(q * 100) - 1]

    def between(self, a: str, b: str) -> list[RequestRecord]:
        """Requests that started in the phase from mark ``a`` to mark ``b``."""
        return [r for r in self.records if self.marks[a] <= r.start < self.marks[b]]

    # -- health -----------------------------------------------------------------------------------------------
    def samples_of(self, replica: int, start: str | None = None, end: str | None = None) -> list[HealthSample]:
        lo = self.marks[start] if start else float("-inf")
        hi = self.marks[end] if end else float("inf")
        return [s for s in self.samples if s.replica == replica and lo <= s.t < hi]

    def levels_seen(self, replica: int, start: str | None = None, end: str | None = None) -> list[str]:
        out: list[str] = []
        for s in self.samples_of(replica, start, end):
            level = s.level if s.up else "unreachable"
            if not out or out[-1] != level:
                out.append(level)
        return out

    @property
    def replicas(self) -> list[int]:
        return sorted({s.replica for s in self.samples} | {r.first_replica for r in self.records})

    def max_retrying(self) -> tuple[int, int]:
        """(largest retries in flight seen, the budget limit at that sample)."""
        worst = max((s for s in self.samples if s.up), key=lambda s: (s.retrying - s.limit, s.retrying), default=None)
        return (worst.retrying, worst.limit) if worst else (0, 0)

    def metric_delta(self, name: str) -> float:
        """Counter increase summed over replicas (a restarted replica counts from zero)."""
        total = 0.0
        for before, after in zip(self.metrics_before, self.metrics_after):
            b, a = before.get(name, 0.0), after.get(name, 0.0)
            total += a - b if a >= b else a
        return total

    # -- detection and recovery ---------------------------------------------------------------------------------
    def detect_s(self) -> float | None:
        t_inject = self.marks["inject"]
        times = [r.end for r in self.records if r.end >= t_inject and r.start >= t_inject - r.deadline_s
                 and not r.normal(self.primary)]
        times += [s.t for s in self.samples if s.t >= t_inject and not s.normal]
        return min(times) - t_inject if times else None

    def recover_answer_s(self) -> float | None:
        t = self.marks["recovered"]
        ends = [r.end for r in self.records if r.start >= t and r.normal(self.primary)]
        return min(ends) - t if ends else None

    def recover_level_s(self) -> float | None:
        """When every replica's health turned normal for good after the fault was removed (None: it never did)."""
        t = self.marks["recovered"]
        worst = 0.0
        for replica in self.replicas:
            samples = [s for s in self.samples if s.replica == replica and s.t >= t]
            if not samples or not samples[-1].normal:
                return None
            since = samples[-1].t
            for s in reversed(samples):
                if not s.normal:
                    break
                since = s.t
            worst = max(worst, since - t)
        return worst

    def row(self) -> dict[str, str]:
        answered = self.answered_by()
        failovers = self.client_failovers()
        other = sum(v for k, v in answered.items() if k not in ANSWER_COLUMNS)
        retrying, limit = self.max_retrying()
        return {
            "fault": self.name,
            "result": "FAIL" if self.failures else "pass",
            "requests": str(len(self.records)),
            **{p: str(answered.get(p, 0)) for p in ANSWER_COLUMNS},
            "cached/canned/text": str(other),
            "client fail-overs": str(sum(failovers.values())),
            "errors": str(len(self.errors)),
            "p50": _secs(self.latency(0.50)),
            "p99": _secs(self.latency(0.99)),
            "retries (max in flight / limit)": f"{self.metric_delta('mouthpiece_retries_total'):.0f} "
                                               f"({retrying}/{limit})",
            "detect": _secs(self.detect_s()),
            "recover (answer / level)": f"{_secs(self.recover_answer_s())} / {_secs(self.recover_level_s())}",
        }

    def details(self) -> str:
        lines = [f"### {self.name}", ""]
        m = self.marks
        lines.append(f"- phases (s): steady 0–{m['inject']:.1f}, fault {m['inject']:.1f}–{m['recover']:.1f}, "
                     f"fault removed at {m['recovered']:.1f}, end {m.get('end', 0):.1f}")
        for replica in self.replicas:
            lines.append(f"- replica {replica} levels: {' → '.join(self.levels_seen(replica)) or 'no samples'}")
        kinds = Counter(r.kind for r in self.records)
        lines.append(f"- requests: {dict(kinds)}; client fail-overs {dict(self.client_failovers()) or 0}; "
                     f"stream provider switches {sum(r.switches for r in self.records)}")
        lines.append(f"- retries {self.metric_delta('mouthpiece_retries_total'):.0f} for {len(self.records)} requests "
                     f"({sum(r.retries for r in self.records)} reported in answers); budget exhausted "
                     f"{self.metric_delta('mouthpiece_retry_budget_exhausted_total'):.0f}")
        keys = sorted({k for m in self.metrics_after for k in m if k.startswith("attempts:")})
        attempts = {k.split(":", 1)[1]: round(self.metric_delta(k)) for k in keys}
        attempts = {k: v for k, v in attempts.items() if v}
        if attempts:
            lines.append("- provider attempts by outcome: " + ", ".join(f"{k} {v}" for k, v in attempts.items()))
        lines += [f"- note: {n}" for n in self.notes]
        for r in self.errors[:5]:
            lines.append(f"- error: request {r.id} ({r.kind}, replica {r.replica}, {r.latency_s:.2f} s): {r.error}")
        lines += [f"- **FAILED**: {f}" for f in self.failures]
        return "\n".join(lines) + "\n"


def _secs(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f} s"


def table(results: list[FaultResult]) -> str:
    if not results:
        return ""
    rows = [r.row() for r in results]
    headers = list(rows[0])
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(row[h] for h in headers) + " |" for row in rows]
    return "\n".join(out) + "\n"


def render(results: list[FaultResult], wall_s: float | None = None) -> str:
    s = results[0].settings if results else None
    head = ["# Chaos suite: last run", ""]
    if s is not None:
        head.append(f"Settings: first audio {s.first_audio_s} s, chunk gap {s.chunk_gap_s} s, total {s.total_s} s "
                    f"(client deadline {s.client_deadline_s} s), breaker fail_max {s.breaker_fail_max} / reset "
                    f"{s.breaker_reset_s} s, level recovery {s.level_recovery_s} s, health every "
                    f"{s.health_interval_s} s; recovery bound {s.recovery_bound_s:.2f} s.")
    if wall_s is not None:
        head.append(f"Wall time of the drills: {wall_s:.0f} s.")
    head.append("")
    return "\n".join(head) + "\n" + table(results) + "\n" + "\n".join(r.details() for r in results)


def write(results: list[FaultResult], path: Path = REPORT_PATH, wall_s: float | None = None) -> str:
    text = render(results, wall_s)
    path.write_text(text)
    return text


def dump(results: list[FaultResult], path: Path) -> None:
    """Every request and health sample of every drill, as JSON (for digging into a failure)."""
    import json
    from dataclasses import asdict

    data = [{"name": r.name, "marks": r.marks, "failures": r.failures, "notes": r.notes,
             "metrics_before": r.metrics_before, "metrics_after": r.metrics_after,
             "records": [asdict(x) for x in r.records], "samples": [asdict(x) for x in r.samples]} for r in results]
    path.write_text(json.dumps(data))
