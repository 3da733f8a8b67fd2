"""The health report as ``GET /api/health`` (and the admin state) answer it."""

from __future__ import annotations

from dataclasses import asdict

from gateway.policy.capacity_view import CapacitySnapshot
from gateway.policy.health import ProviderStatus
from gateway.service.health import HealthReport


def provider_json(status: ProviderStatus) -> dict:
    signal = status.signal
    return {"state": status.state.value, "reason": status.reason, "breaker": asdict(status.breaker),
            "family": status.family,
            "signals": {"first_audio_ewma_s": signal.ewma_s, "first_audio_p95_s": signal.p95_s,
                        "error_ratio": round(signal.error_ratio, 4), "attempts": signal.attempts,
                        "delivery_rtf": None if signal.delivery_rtf is None else round(signal.delivery_rtf, 3),
                        "slow_delivery": signal.slow, "proven": signal.proven},
            **({"detail": status.detail} if status.detail else {}),
            **({"capacity": asdict(status.capacity)} if status.capacity is not None else {}),
            **({"trial": status.trial} if status.trial is not None else {})}


def capacity_json(capacity: CapacitySnapshot | None) -> dict:
    """The local engines' shared cores (each engine's own figures are under its provider)."""
    if capacity is None:
        return {"enabled": False}
    return {"enabled": True, **{k: v for k, v in asdict(capacity).items() if k != "engines"}}


def health_json(report: HealthReport) -> dict:
    return {"status": report.status, "timestamp": report.timestamp, "services": report.services,
            "degradation_level": report.degradation_level.value,
            "reasons": report.reasons, "warnings": report.warnings,
            "forced_level": report.forced_level.value if report.forced_level else None,
            "draining": report.draining, "retry_budget": report.retry_budget, "redis": report.redis,
            "video": report.video, "media": report.media, "cache": report.cache,
            "capacity": capacity_json(report.capacity),
            "providers": {name: provider_json(status) for name, status in report.providers.items()}}
