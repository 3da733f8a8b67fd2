"""A retry budget (Envoy-style): retries in flight never exceed a share of the requests in flight.

A fault that makes every request retry would otherwise multiply the load on a struggling provider.
The budget allows ``max(min_concurrency, percent × in-flight requests)`` retries at once; a retry that
does not fit is not made, and the chain fails over instead.
"""

from __future__ import annotations

from gateway.observability.metrics import RETRY_BUDGET_EXHAUSTED
from gateway.settings import RetrySettings


class RetryBudget:
    def __init__(self, percent: float, min_concurrency: int) -> None:
        self.percent = percent
        self.min_concurrency = min_concurrency
        self.in_flight = 0
        self.retrying = 0
        self.exhausted = 0

    @classmethod
    def from_settings(cls, retry: RetrySettings) -> "RetryBudget":
        return cls(retry.budget_percent, retry.budget_min)

    def limit(self) -> int:
        return max(self.min_concurrency, int(self.percent * self.in_flight))

    def request_started(self) -> None:
        self.in_flight += 1

    def request_finished(self) -> None:
        self.in_flight = max(0, self.in_flight - 1)

    def try_acquire(self) -> bool:
        if self.retrying >= self.limit():
            self.exhausted += 1
            RETRY_BUDGET_EXHAUSTED.inc()
            return False
        self.retrying += 1
        return True

    def release(self) -> None:
        self.retrying = max(0, self.retrying - 1)

    def snapshot(self) -> dict:
        return {"in_flight": self.in_flight, "retrying": self.retrying, "limit": self.limit(),
                "exhausted_total": self.exhausted}
