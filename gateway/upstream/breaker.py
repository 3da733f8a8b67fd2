"""One pybreaker circuit breaker per upstream (a provider of the chain, a worker of a pool), used from asyncio.

pybreaker 1.4 has no asyncio API, so the caller checks :meth:`ProviderBreaker.allow` before a call,
awaits the upstream itself, then records the outcome with :meth:`success` / :meth:`failure`.

An operator's force-open (:meth:`ProviderBreaker.hold`) is a **hold**, not a trip: the breaker stays open, with no
trial call after its reset time, until the operator lifts it (:meth:`ProviderBreaker.release`) or its optional
expiry passes. The hold lives in the breaker's storage, so with Redis every replica holds it (key
``mouthpiece:breaker:<name>:held_until``, expiring with the hold).
"""

from __future__ import annotations

import math
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
    held: bool = False  #: held open by an operator (admin API) until lifted
    held_until: float | None = None  #: epoch s when the hold ends by itself (None: until lifted)


class LocalHold:
    """Where a breaker without shared storage keeps its hold: ``held_until`` epoch s, ``inf`` or None."""

    def __init__(self) -> None:
        self.held_until: float | None = None


class ProviderBreaker:
    """Circuit breaker guarding one provider."""

    def __init__(self, name: str, fail_max: int, reset_s: float,
                 storage: pybreaker.CircuitBreakerStorage | None = None) -> None:
        self.name = name
        self.cb = pybreaker.CircuitBreaker(fail_max=fail_max, reset_timeout=reset_s, name=name,
                                           listeners=[_Listener()], state_storage=storage)
        self._trial_started = 0.0
        self._holds = storage if hasattr(storage, "held_until") else LocalHold()
        BREAKER_STATE.labels(name).set(0)

    @property
    def held_until(self) -> float | None:
        """When the operator's hold ends (``inf``: when lifted); None when not held (or expired)."""
        until = self._holds.held_until
        return until if until is not None and until > time.time() else None

    @property
    def state(self) -> str:
        """``closed``, ``open`` or ``half-open`` (an open breaker past its timeout reads ``half-open``, unless an
        operator holds it open)."""
        if self.held_until is not None:
            return "open"
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
        """Trip it now (it half-opens after its reset time, like any trip). Operators use :meth:`hold`."""
        self.cb.open()

    def hold(self, until: float | None = None) -> None:
        """Hold it open until :meth:`release` (or until ``until``, epoch s): no trial calls meanwhile."""
        self.cb.open()
        self._holds.held_until = math.inf if until is None else until

    def release(self) -> None:
        """Lift a hold and close the breaker: normal service again."""
        self._holds.held_until = None
        self.cb.close()

    def force_closed(self) -> None:
        self.release()

    def snapshot(self) -> BreakerSnapshot:
        until = self.held_until
        return BreakerSnapshot(self.state, self.cb.fail_counter, self.cb.fail_max, float(self.cb.reset_timeout),
                               held=until is not None, held_until=None if until in (None, math.inf) else until)
