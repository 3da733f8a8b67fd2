"""Deadlines for one provider attempt: connect, first audio byte, gap between chunks, total."""

from __future__ import annotations

import time
from dataclasses import dataclass

from gateway.settings import Deadlines as DeadlineSettings


@dataclass(frozen=True, slots=True)
class Deadlines:
    connect_s: float
    first_audio_s: float
    chunk_gap_s: float
    total_s: float
    #: A live line's first-audio budget: what local engines are admitted against (gateway/policy/capacity.py).
    first_audio_budget_s: float = 1.0

    @classmethod
    def from_settings(cls, deadlines: DeadlineSettings) -> "Deadlines":
        return cls(deadlines.connect_timeout_s, deadlines.first_audio_timeout_s, deadlines.chunk_gap_timeout_s,
                   deadlines.total_timeout_s, min(deadlines.first_audio_budget_s, deadlines.first_audio_timeout_s))


class Clock:
    """The total deadline of one request, shared by every provider it tries."""

    def __init__(self, total_s: float) -> None:
        self.started = time.monotonic()
        self.deadline = self.started + total_s

    def remaining(self) -> float:
        return max(0.0, self.deadline - time.monotonic())

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def due(self, budget_s: float) -> float:
        """The ``time.monotonic()`` at which ``budget_s`` from the start is spent (capped by the total deadline)."""
        return min(self.started + budget_s, self.deadline)

    def bound(self, timeout_s: float) -> float:
        """``timeout_s`` capped by what is left of the total deadline."""
        return min(timeout_s, self.remaining())
