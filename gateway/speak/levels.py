"""Which degradation level a line is served at, why, and the line's log record and metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator

import structlog

from gateway.core.events import StatusEvent
from gateway.observability.metrics import AUDIO_SECONDS, CACHE_LOOKUPS, labelled
from gateway.policy.chain import ChainOutcome
from gateway.policy.degradation import DegradationLevel, LevelController, level_for
from gateway.speak.line import Line
from gateway.speak.run import LineRun

log = structlog.get_logger("gateway.speak")


class LineLevels:
    """Levels of single lines, read against the gateway's overall level (``controller``)."""

    def __init__(self, controller: LevelController, has_cache: bool) -> None:
        self.controller = controller
        self.has_cache = has_cache

    def during(self, line: Line, outcome: ChainOutcome, current: str | None) -> DegradationLevel:
        """The level while ``current`` serves: a cache hit before any fail-over is normal service."""
        if current == "cache" and outcome.fallbacks == 0:
            return DegradationLevel.NORMAL
        return level_for(current, line.first_choice) if current else self.controller.current.level

    async def label(self, events: AsyncIterator, run: LineRun) -> AsyncIterator:
        """Status events with the level of the provider they name."""
        async for event in events:
            if isinstance(event, StatusEvent):
                level = self.during(run.line, run.outcome, event.provider).value
                event = StatusEvent(event.code, event.provider, level, event.message, event.detail)
            yield event

    def record(self, line: Line, outcome: ChainOutcome, duration_s: float | None) -> DegradationLevel:
        """The served line's level; logs the line and counts its audio and cache lookup."""
        if outcome.provider == "cache" and outcome.step_index == 0:
            level = DegradationLevel.NORMAL  # a cache hit of the first choice is normal service
        else:
            level = level_for(outcome.provider, line.first_choice)
        if duration_s is not None and outcome.provider:
            labelled(AUDIO_SECONDS, outcome.provider).inc(duration_s)
        log.info("line_served" if outcome.provider else "line_failed", provider=outcome.provider,
                 degradation_level=level.value,
                 audio_s=round(duration_s, 3) if duration_s is not None else None,
                 first_audio_s=round(outcome.first_audio_s, 4) if outcome.first_audio_s is not None else None,
                 fallbacks=outcome.fallbacks, retries=outcome.retries, chars=len(line.text))
        if outcome.provider == "cache":
            labelled(CACHE_LOOKUPS, "hit").inc()
        elif self.has_cache:
            labelled(CACHE_LOOKUPS, "miss").inc()
        return level

    def reasons(self, level: DegradationLevel, outcome: ChainOutcome) -> list[str]:
        """Why a response is degraded: its failed attempts, then what the health signals say."""
        if level is DegradationLevel.NORMAL:
            return []
        failed = [f"{a.provider}: {a.reason or a.outcome}" for a in outcome.attempts
                  if a.outcome != "ok" and not (a.provider == "cache" and a.outcome == "unavailable")]
        return failed + [r for r in self.controller.current.reasons if r not in failed]
