"""One pybreaker circuit breaker per upstream (a provider of the chain, a worker of a pool), used from asyncio.

pybreaker 1.4 has no asyncio API, so the caller checks :meth:`ProviderBreaker.allow` before a call,
awaits the upstream itself, then records the outcome with :meth:`success` / :meth:`failure`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import pybreaker
import structlog

from gateway.observability.metrics import BREAKER_STATE

log = structlog.get_logger(__name__)
_STATE_VALUE = {"closed": 0, "half-open": 1, "open": 2}


class _Recorded(Exception):
    """Raised inside pybreaker to record a failure."""


class _Listener(pybreaker.CircuitBreakerListener):
    def state_change(self, cb, old_state, new_state) -> None:  # noqa: ANN001 - pybreaker's signature
        BREAKER_STATE.labels(cb.name).set(_STATE_VALUE.get(new_state.name, 0))
        log.warning("breaker_state_change", provider=cb.name, old=old_state.name if old_state else None,
                    new=new_state.name)


@dataclass(frozen=True, slots=True)
class BreakerSnapshot:
    """A breaker as health and the admin API show it."""

    state: str  #: closed, open or half-open
    fail_counter: int
    fail_max: int
    reset_timeout_s: float


class ProviderBreaker:
    """Circuit breaker guarding one provider."""

    def __init__(self, name: str, fail_max: int, reset_s: float,
                 storage: pybreaker.CircuitBreakerStorage | None = None) -> None:
        self.name = name
        self.cb = pybreaker.CircuitBreaker(fail_max=fail_max, reset_timeout=reset_s, name=name,
                                           listeners=[_Listener()], state_storage=storage)
        self._trial_started = 0.0
        BREAKER_STATE.labels(name).set(0)

    @property
    def state(self) -> str:
        """``closed``, ``open`` or ``half-open`` (an open breaker past its timeout reads ``half-open``)."""
        state = self.cb.current_state
        if state == "open" and self._timeout_elapsed():
            return "half-open"
        return state

    def _timeout_elapsed(self) -> bool:
        opened = self.cb._state_storage.opened_at  # noqa: SLF001 - pybreaker keeps it there
        if opened is None:
            return True
        opened_ts = opened.timestamp() if hasattr(opened, "timestamp") else float(opened)
        return time.time() >= opened_ts + float(self.cb.reset_timeout)

    def allow(self) -> bool:
        """Whether a call may go through now. Half-open lets one trial call through at a time."""
        state = self.state
        if state == "closed":
            return True
        if state == "open":
            return False
        now = time.monotonic()
        if now - self._trial_started < float(self.cb.reset_timeout):
            return False
        self._trial_started = now
        return True

    def success(self) -> None:
        self._trial_started = 0.0
        try:
            self.cb.call(lambda: None)
        except pybreaker.CircuitBreakerError:
            pass

    def failure(self) -> None:
        self._trial_started = 0.0

        def fail() -> None:
            raise _Recorded()

        try:
            self.cb.call(fail)
        except (_Recorded, pybreaker.CircuitBreakerError):
            pass

    def force_open(self) -> None:
        self.cb.open()

    def force_closed(self) -> None:
        self.cb.close()

    def snapshot(self) -> BreakerSnapshot:
        return BreakerSnapshot(self.state, self.cb.fail_counter, self.cb.fail_max, float(self.cb.reset_timeout))
