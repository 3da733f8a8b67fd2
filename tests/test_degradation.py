"""Degradation levels from health signals, with hysteresis."""

from __future__ import annotations

from gateway.core.voices import HealthState
from gateway.policy.degradation import Assessment, LevelController, Thresholds, assess
from gateway.policy.degradation import DegradationLevel as L
from gateway.policy.health import HealthSignals, ProviderSignal, ProviderStatus
from gateway.upstream.breaker import BreakerSnapshot

ORDER = ["elevenlabs_ws", "piper", "espeak", "cache", "canned"]
FAMILY = {"elevenlabs_ws": "elevenlabs", "piper": "piper", "espeak": "espeak", "cache": "cache", "canned": "canned"}


def providers(**states):
    return {n: ProviderStatus(HealthState(states.get(n, "up")), "", FAMILY[n], BreakerSnapshot("closed", 0, 5, 30.0),
                              ProviderSignal(None, None, 0.0, 0)) for n in ORDER}


def test_normal_when_primary_healthy():
    a = assess(providers(), ORDER, HealthSignals(), Thresholds())
    assert a.level is L.NORMAL and a.reasons == []


def test_primary_down_is_fallback_level():
    a = assess(providers(elevenlabs_ws="down"), ORDER, HealthSignals(), Thresholds())
    assert a.level is L.FALLBACK_PROVIDER and "elevenlabs_ws down" in a.reasons[0]


def test_primary_slow_is_demoted():
    signals = HealthSignals()
    for _ in range(5):
        signals.attempt("elevenlabs_ws", True, 6.0)
    a = assess(providers(), ORDER, signals, Thresholds(latency_critical_s=4.0))
    assert a.level is L.FALLBACK_PROVIDER and a.demoted == {"elevenlabs_ws"}
    assert "slow" in a.reasons[0]


def test_error_ratio_warns_then_demotes():
    signals = HealthSignals()
    for ok in [True] * 18 + [False] * 2:
        signals.attempt("elevenlabs_ws", ok, 0.2 if ok else None)
    a = assess(providers(), ORDER, signals, Thresholds())
    assert a.level is L.NORMAL and any("errors" in w for w in a.warnings)
    for _ in range(6):
        signals.attempt("elevenlabs_ws", False, None)
    assert assess(providers(), ORDER, signals, Thresholds()).level is L.FALLBACK_PROVIDER


def test_all_synth_down_is_offline_then_text_only():
    down = {n: "down" for n in ("elevenlabs_ws", "piper", "espeak")}
    assert assess(providers(**down), ORDER, HealthSignals(), Thresholds()).level is L.CACHED_ONLY
    down.update(cache="down", canned="down")
    assert assess(providers(**down), ORDER, HealthSignals(), Thresholds()).level is L.TEXT_ONLY


def test_video_pool_down_is_audio_only_and_quota_warns():
    p = providers()
    p["elevenlabs_ws"].detail["quota_used_ratio"] = 0.9
    a = assess(p, ORDER, HealthSignals(), Thresholds(), video={"healthy": False, "reason": "no worker"})
    assert a.level is L.AUDIO_ONLY and any("quota 90%" in w for w in a.warnings)


def test_hysteresis_worsens_at_once_recovers_after_hold():
    c = LevelController(recovery_s=10)
    _, changed = c.update(Assessment(L.FALLBACK_PROVIDER, ["x down"]), now=0)
    assert changed is L.NORMAL and c.current.level is L.FALLBACK_PROVIDER
    for t in (1, 5, 9):
        _, changed = c.update(Assessment(L.NORMAL), now=t)
        assert changed is None and c.current.level is L.FALLBACK_PROVIDER
    c.update(Assessment(L.FALLBACK_PROVIDER), now=9.5)  # flaps back: the hold restarts
    c.update(Assessment(L.NORMAL), now=10)
    assert c.current.level is L.FALLBACK_PROVIDER
    _, changed = c.update(Assessment(L.NORMAL), now=20.5)
    assert changed is L.FALLBACK_PROVIDER and c.current.level is L.NORMAL


def test_forced_level_wins():
    c = LevelController()
    c.forced = L.TEXT_ONLY
    assert c.update(Assessment(L.NORMAL), now=0)[0].level is L.TEXT_ONLY
    c.forced = None
    assert c.update(Assessment(L.NORMAL), now=100)[0].level is L.TEXT_ONLY  # recovery still needs its hold
    assert c.update(Assessment(L.NORMAL), now=111)[0].level is L.NORMAL
