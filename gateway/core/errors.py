"""Error taxonomy: every provider failure is classified, and the class decides what the chain does."""

from __future__ import annotations

from enum import StrEnum


class ErrorKind(StrEnum):
    """Why a provider call failed, and what that means for the chain."""

    RETRYABLE = "retryable"  #: transient (5xx, reset, engine hiccup): retry with back-off, then fail over
    TIMEOUT = "timeout"  #: a deadline passed (connect, first audio, chunk gap): fail over, counts on the breaker
    OVERLOADED = "overloaded"  #: provider busy / concurrency cap: fail over now, breaker stays closed
    #: the gateway's own cores cannot start this local synthesis in time: fail over now; not a fault of the
    #: provider (no breaker, no error ratio), the gateway's admission decision (gateway/policy/capacity.py)
    CAPACITY = "capacity"
    QUOTA = "quota"  #: credits exhausted: fail over, don't page; breaker opens
    AUTH = "auth"  #: bad or missing key: fail over and alert; breaker opens
    BAD_REQUEST = "bad_request"  #: the request itself is wrong: never retried, no fail-over, error out
    UNAVAILABLE = "unavailable"  #: provider cannot serve this (no voice, no cache entry, not configured): skip

    @property
    def retryable(self) -> bool:
        return self in (ErrorKind.RETRYABLE, ErrorKind.TIMEOUT)

    @property
    def fails_over(self) -> bool:
        return self is not ErrorKind.BAD_REQUEST

    @property
    def counts_on_breaker(self) -> bool:
        """Whether this failure is a sign the provider is unhealthy."""
        return self in (ErrorKind.RETRYABLE, ErrorKind.TIMEOUT, ErrorKind.QUOTA, ErrorKind.AUTH)


class ProviderError(Exception):
    """A classified provider failure. ``message`` must never contain secrets."""

    def __init__(self, kind: ErrorKind, message: str, *, provider: str = "", status: int | None = None,
                 retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.provider = provider
        self.status = status
        self.retry_after_s = retry_after_s

    def __str__(self) -> str:
        return f"{self.provider or 'provider'}: {self.kind.value}: {self.message}"


class InputError(Exception):
    """Bad client input: ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str, **detail) -> None:  # noqa: ANN003
        super().__init__(message)
        self.status = status
        self.message = message
        self.detail = detail


def validation_problems(exc) -> str:  # noqa: ANN001 - a pydantic ValidationError
    """A config file's validation error as ``field.path: message; ...`` (start-up errors name the field)."""
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'entry'}: {e['msg']}"
                     for e in exc.errors(include_url=False))
