"""Error taxonomy: every provider failure is classified, and the class decides what the chain does."""

from __future__ import annotations

import re
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
    #: the vendor refused the line for a cause that is the line's own (too long for it): no fail-over, a 4xx
    BAD_REQUEST = "bad_request"
    #: the vendor refused (400/422) a request the gateway had validated, naming no cause of the line's: the
    #: vendor's problem (an API change, a stricter check): no retry, fail over; counts in the error ratio, not
    #: on the breaker (it may be one line's)
    REJECTED = "upstream_rejected"
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


#: What a vendor's 4xx says when the cause really is the line's (its length), not the vendor's.
_LINE_CAUSE = re.compile(r"too.long|max_character|character.limit|characters? in a single request|text_too_long"
                         r"|exceeds the maximum", re.IGNORECASE)


def rejected_kind(status: int | None, text: str) -> ErrorKind:
    """A vendor's 400/413/422 to a line the gateway validated: ``bad_request`` when it names a cause of the line's
    (too long: 413, "max_character_limit_exceeded", "text too long"), else ``upstream_rejected`` (fail over)."""
    return ErrorKind.BAD_REQUEST if status == 413 or _LINE_CAUSE.search(text or "") else ErrorKind.REJECTED


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
