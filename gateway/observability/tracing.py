"""OpenTelemetry set-up: a span per request and per provider attempt; console or OTLP exporter by config."""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

_configured = False


def configure_tracing(exporter: str, endpoint: str | None = None) -> None:
    """``exporter``: ``none``, ``console`` or ``otlp``.

    ``none`` installs no SDK tracer provider: spans are OpenTelemetry's non-recording ones and cost next to nothing
    (with an SDK provider every span, and FastAPI's own per-request instrumentation, is built only to be dropped).
    """
    global _configured
    if _configured or exporter == "none":
        return
    provider = TracerProvider(resource=Resource.create({"service.name": "mouthpiece-gateway"}))
    if exporter == "console":
        provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
    elif exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint) if endpoint
                                                       else OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    _configured = True
