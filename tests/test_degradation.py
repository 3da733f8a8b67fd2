"""Degradation levels from health signals, with hysteresis."""

from __future__ import annotations

import time

from gateway.core.voices import HealthState
from gateway.policy.degradation import Assessment, LevelController, Thresholds, assess
from gateway.policy.degradation import DegradationLevel as L
from gateway.policy.health import HealthSignals, ProviderSignal, ProviderStats, ProviderStatus
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


def test_slow_delivery_inside_every_deadline_demotes_with_hysteresis():
    """First audio fast, but 2 s of audio take 5 s: the listener waits. Demoted below the critical RTF; restored only
    once back above the warning RTF (not merely above the critical one), or when it ages out of the window."""
    signals = HealthSignals(window_s=60, rtf_warn=1.0, rtf_critical=0.6)
    t = Thresholds(delivery_rtf_warn=1.0, delivery_rtf_critical=0.6)
    signals.delivered("elevenlabs_ws", 2.0, 1.6)
    assert assess(providers(), ORDER, signals, t).level is L.NORMAL  # 1.25x: fine
    for _ in range(6):
        signals.attempt("elevenlabs_ws", True, 0.3)
        signals.delivered("elevenlabs_ws", 2.0, 5.0)  # 0.4x real time
    a = assess(providers(), ORDER, signals, t)
    assert a.level is L.FALLBACK_PROVIDER and a.demoted == {"elevenlabs_ws"}
    assert "delivery" in a.reasons[0] and "real time" in a.reasons[0]
    signals.delivered("elevenlabs_ws", 2.0, 2.4)  # 0.83x: above critical, below warning -> still demoted
    assert 0.6 <= signals.signal("elevenlabs_ws").delivery_rtf < 1.0
    assert assess(providers(), ORDER, signals, t).demoted == {"elevenlabs_ws"}
    for _ in range(4):
        signals.delivered("elevenlabs_ws", 2.0, 1.0)  # 2x
    a = assess(providers(), ORDER, signals, t)
    assert a.level is L.NORMAL and not a.demoted and not a.warnings
    signals.delivered("elevenlabs_ws", 0.3, 3.0)  # too short to judge a pace: not counted
    assert signals.signal("elevenlabs_ws").delivery_rtf > 1.0


def test_a_slow_delivery_shows_while_still_in_flight():
    signals = HealthSignals(window_s=60, rtf_warn=1.0, rtf_critical=0.6)
    now = time.monotonic()
    signals.progress("elevenlabs_ws", 1, now - 2.0, 0.25)  # the first chunks: the listener's head start
    signals.progress("elevenlabs_ws", 2, now - 0.4, 0.5)  # too early to judge (and their listeners have audio)
    signals.progress("elevenlabs_ws", 3, now - 0.4, 0.5)
    assert not signals.signal("elevenlabs_ws").slow
    signals.progress("elevenlabs_ws", 1, now - 2.0, 0.85)  # 2 s after its first chunk, 0.6 s more: 0.3x
    assert not signals.signal("elevenlabs_ws").slow  # one line's gap is not the provider's pace
    signals.progress("elevenlabs_ws", 2, now - 1.5, 0.85)
    assert signals.signal("elevenlabs_ws").slow
    signals.delivered("elevenlabs_ws", None, 0.0, key=1)  # it failed: forgotten, not counted
    signals.delivered("elevenlabs_ws", None, 0.0, key=2)
    signals.delivered("elevenlabs_ws", None, 0.0, key=3)
    assert signals.signal("elevenlabs_ws").delivery_rtf is None


def test_listeners_who_ran_out_of_audio_show_a_stall_before_a_second_of_playing():
    # A stall right after each line's first chunk (0.5 s of audio): at 0.4 s the listeners still play it (not
    # judged); at 0.6 s they have heard everything and wait (judged: 0x, slow), well before the 1 s that a delivery
    # still sending keeps as its head start. A vendor's tiny first chunk (0.1 s) is not judged before 0.5 s.
    stats = ProviderStats(window_s=60, rtf_warn=1.0, rtf_critical=0.6)
    for key in (1, 2):
        stats.progress(key, 10.0, 0.5)
    assert stats.delivery_rtf(10.4) is None
    assert stats.delivery_rtf(10.6) == 0.0
    tiny = ProviderStats(window_s=60)
    for key in (1, 2):
        tiny.progress(key, 10.0, 0.1)
    assert tiny.delivery_rtf(10.3) is None and tiny.delivery_rtf(10.5) == 0.0


def test_slow_delivery_ages_out_of_the_window():
    signals = HealthSignals(window_s=0.2, rtf_warn=1.0, rtf_critical=0.6)
    signals.delivered("elevenlabs_ws", 2.0, 6.0)
    assert signals.signal("elevenlabs_ws").slow
    time.sleep(0.3)
    assert not signals.signal("elevenlabs_ws").slow and signals.signal("elevenlabs_ws").delivery_rtf is None


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
