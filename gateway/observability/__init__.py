"""Logs (structlog JSON), Prometheus metrics and OpenTelemetry spans."""
