"""The objects the recipe's steps run on, wired once by :class:`~gateway.service.Mouthpiece`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from opentelemetry import trace
from opentelemetry.context import Context

from gateway.audio.vendor_level import VoiceLoudness
from gateway.cache.base import LineCache
from gateway.observability.metrics import LINES_IN_FLIGHT
from gateway.policy.chain import ChainPlan, ChainStep, ProviderChain
from gateway.policy.retry_budget import RetryBudget
from gateway.settings.audio import DeliverySettings
from gateway.speak.finish import Finisher
from gateway.speak.levels import LineLevels
from gateway.speak.line import Line
from gateway.speak.prepare import LinePreparer
from gateway.speak.route import Router
from gateway.speak.run import LineRun
from gateway.video.pool import VideoPool

tracer = trace.get_tracer("mouthpiece.speak")


@dataclass(slots=True)
class Steps:
    preparer: LinePreparer
    router: Router
    chain: ProviderChain
    levels: LineLevels
    finisher: Finisher
    video: VideoPool
    cache: LineCache | None
    retry_budget: RetryBudget
    #: A video render may take what is left of a line's total deadline.
    total_deadline_s: float
    #: Cloud voices' learnt loudness (None: vendor audio passes as it comes).
    loudness: VoiceLoudness | None = None
    delivery: DeliverySettings | None = None

    def plan(self, line: Line, steps: list[ChainStep], trace_context: Context) -> ChainPlan:
        return ChainPlan(steps, line.segments, line.text, line.settings, line.request_id, line.character.id,
                         line.output.name, trace_context, line.live)

    @contextmanager
    def accounting(self, run: LineRun) -> Iterator[Context]:
        """The line's trace span (attempt spans are its children) and its place in the retry budget."""
        line = run.line
        span = tracer.start_span("speak", attributes={"request_id": line.request_id, "character": line.character.id,
                                                      "chars": len(line.text)})
        self.retry_budget.request_started()
        LINES_IN_FLIGHT.inc()
        try:
            yield trace.set_span_in_context(span)
        finally:
            LINES_IN_FLIGHT.dec()
            self.retry_budget.request_finished()
            span.set_attribute("provider", run.outcome.provider or "none")
            span.end()
