"""Background trials of demoted providers (gateway/policy/trials.py): when they run, how they are judged, what a
clean streak clears, and the level's fast recovery on proof with its flap guard. Real objects, no timings asserted."""

from __future__ import annotations

import asyncio

import numpy as np

from gateway.characters import Character
from gateway.core.errors import ErrorKind
from gateway.core.events import AudioEvent, FinalEvent, SegmentEndEvent
from gateway.core.voices import HealthState
from gateway.observability.metrics import REGISTRY
from gateway.policy.deadlines import Deadlines
from gateway.policy.degradation import Assessment, LevelController, assess
from gateway.policy.degradation import DegradationLevel as L
from gateway.policy.health import (
    HealthSignals,
    ProviderSignal,
    ProviderStats,
    ProviderStatus,
)
from gateway.policy.trials import Trials
from gateway.settings import Thresholds, TrialSettings
from gateway.speak.route import Router
from gateway.upstream.breaker import BreakerSnapshot, ProviderBreaker
from tests.scripted import RATE, ScriptedProvider

ORDER = ["vendor", "backup", "kokoro", "canned"]
DEADLINES = Deadlines(connect_s=1.0, first_audio_s=1.0, chunk_gap_s=1.0, total_s=5.0)
THRESHOLDS = Thresholds(delivery_rtf_warn=1.0, delivery_rtf_critical=0.6)


class PacedProvider(ScriptedProvider):
    """Audio in ``chunk_ms`` chunks, ``gap_s`` apart: slower than real time when ``gap_s`` > ``chunk_ms``."""

    def __init__(self, name: str, chunk_ms: int, gap_s: float, chunks: int = 4) -> None:
        super().__init__(name)
        self.chunk_ms, self.gap_s, self.chunks = chunk_ms, gap_s, chunks

    async def stream(self, request):
        self.calls += 1
        self.requests.append(request)
        n = RATE * self.chunk_ms // 1000
        for k in range(self.chunks):
            if k:
                await asyncio.sleep(self.gap_s)
            yield AudioEvent(np.zeros(n, "<i2").tobytes(), RATE, 0, k * self.chunk_ms)
        yield SegmentEndEvent(0, self.chunks * self.chunk_ms)
        yield FinalEvent({"provider": self.name})


def statuses(signals: HealthSignals) -> dict[str, ProviderStatus]:
    family = {"canned": "canned"}
    return {n: ProviderStatus(HealthState.UP, "", family.get(n, n), BreakerSnapshot("closed", 0, 5, 30.0),
                              signals.signal(n)) for n in ORDER}


def make(vendor, settings: TrialSettings | None = None, demoted: set[str] | None = None):
    providers = {"vendor": vendor, "backup": ScriptedProvider("backup"), "kokoro": ScriptedProvider("kokoro"),
                 "canned": ScriptedProvider("canned", family="canned")}
    breakers = {n: ProviderBreaker(f"trial-test-{n}", 3, 30.0) for n in providers}
    signals = HealthSignals(window_s=60.0, rtf_warn=1.0, rtf_critical=0.6)
    levels = LevelController(recovery_s=10.0, flap_window_s=60.0)
    trials = Trials(providers, breakers, signals, (lambda: demoted) if demoted is not None else
                    levels.suspects, DEADLINES, THRESHOLDS, settings or TrialSettings(passes=2))
    return trials, signals, levels, breakers


def slow_down(signals: HealthSignals, name: str = "vendor") -> None:
    for _ in range(4):
        signals.attempt(name, True, 0.2)
        signals.delivered(name, 2.0, 5.0)  # 0.4x real time: the listener waits


def trials_counted(provider: str, outcome: str) -> float:
    return REGISTRY.get_sample_value("mouthpiece_provider_trials_total",
                                     {"provider": provider, "outcome": outcome}) or 0.0


async def test_clean_trials_clear_a_slow_provider_and_the_level_recovers_at_once():
    trials, signals, levels, _ = make(ScriptedProvider("vendor"))
    slow_down(signals)
    levels.update(assess(statuses(signals), ORDER, signals, THRESHOLDS))
    assert levels.current.level is L.FALLBACK_PROVIDER and levels.current.demoted == {"vendor"}
    assert trials.due() == ["vendor"]  # demoted, closed breaker; backup is healthy, kokoro local, canned cached
    before = trials_counted("vendor", "passed")

    assert trials.tick() == ["vendor"]  # the interval (0.5 s) runs from here
    await trials.wait()
    assert trials.state("vendor").last == "passed"
    assert signals.signal("vendor").slow and trials.state("vendor").streak == 1  # one pass is not enough (passes=2)
    assert trials.due() == ["vendor"]  # a pass is confirmed at once, without waiting for the interval
    await trials.run("vendor")
    signal = signals.signal("vendor")
    assert not signal.slow and signal.proven and signal.delivery_rtf is None
    assert trials_counted("vendor", "passed") == before + 2
    assert trials.state("vendor").cleared_at is not None

    candidate = assess(statuses(signals), ORDER, signals, THRESHOLDS)
    assert candidate.level is L.NORMAL and candidate.proven == {"vendor"}
    current, previous = levels.update(candidate)  # no hysteresis wait: the recovery is proven
    assert current.level is L.NORMAL and previous is L.FALLBACK_PROVIDER
    assert trials.due() == []  # not demoted any more: no trials


async def test_a_trial_sends_the_configured_text_with_the_providers_voice():
    vendor = ScriptedProvider("vendor")
    trials, *_ = make(vendor, TrialSettings(text="Are you back yet, friend?"), demoted={"vendor"})
    await trials.run("vendor")
    request = vendor.requests[-1]
    assert request.text == "Are you back yet, friend?" and [s.text for s in request.segments] == [request.text]
    assert request.voice == vendor.default_voice() and request.request_id.startswith("trial-")


async def test_a_trial_speaks_with_the_voice_of_the_last_line_the_provider_delivered():
    # An account may not have the provider's default voice; the last voice that served a whole line it does have.
    vendor = ScriptedProvider("vendor")
    trials, signals, *_ = make(vendor, demoted={"vendor"})
    signals.delivered("vendor", 2.0, 1.0, voice="account-voice-7")
    signals.delivered("vendor", None, 0.5, voice="broken-voice")  # a failed attempt proves nothing about its voice
    await trials.run("vendor")
    assert vendor.requests[-1].voice == "account-voice-7"


async def test_a_trial_whose_listener_runs_dry_is_slow_and_keeps_the_provider_demoted():
    trials, signals, *_ = make(PacedProvider("vendor", chunk_ms=100, gap_s=0.5), demoted={"vendor"})
    slow_down(signals)
    verdict = await trials.run("vendor")
    assert verdict.outcome == "slow" and verdict.pace is not None and verdict.pace < 1.0
    assert verdict.audio_s < 0.4  # cut off once the listener ran dry, not played to the end
    assert signals.signal("vendor").slow and not signals.signal("vendor").proven
    assert trials.state("vendor").streak == 0


async def test_a_trial_without_first_audio_by_the_critical_latency_is_cut_off_as_slow():
    thresholds = Thresholds(latency_critical_s=0.2, delivery_rtf_warn=1.0, delivery_rtf_critical=0.6)
    vendor = ScriptedProvider("vendor", hang_before_audio=True)
    providers = {"vendor": vendor}
    signals = HealthSignals(window_s=60.0)
    trials = Trials(providers, {}, signals, lambda: {"vendor"}, DEADLINES, thresholds, TrialSettings())
    verdict = await trials.run("vendor")
    assert verdict.outcome == "slow" and verdict.error is None and verdict.first_audio_s is None
    assert signals.signal("vendor").ewma_s >= 0.2  # what a line would have waited at least


async def test_a_fast_paced_trial_passes():
    trials, *_ = make(PacedProvider("vendor", chunk_ms=400, gap_s=0.01), demoted={"vendor"})
    verdict = await trials.run("vendor")
    assert verdict.passed and abs(verdict.audio_s - 1.6) < 1e-6


async def test_a_rejected_trial_counts_as_an_error_and_resets_the_streak():
    vendor = ScriptedProvider("vendor", fail_first=1, fail_kind=ErrorKind.REJECTED)
    trials, signals, *_ = make(vendor, TrialSettings(passes=2), demoted={"vendor"})
    stats = signals.stats.setdefault("vendor", ProviderStats(60.0))
    stats.trial_streak = 1  # one pass already
    verdict = await trials.run("vendor")
    assert verdict.outcome == "upstream_rejected" and not verdict.passed
    signal = signals.signal("vendor")
    assert signal.attempts == 1 and signal.error_ratio == 1.0 and stats.trial_streak == 0
    assert trials_counted("vendor", "upstream_rejected") >= 1


async def test_an_inconclusive_trial_counts_nothing_against_the_provider():
    vendor = ScriptedProvider("vendor", fail_first=1, fail_kind=ErrorKind.UNAVAILABLE)
    trials, signals, *_ = make(vendor, demoted={"vendor"})
    verdict = await trials.run("vendor")
    assert verdict.outcome == "unavailable" and signals.signal("vendor").attempts == 0


async def test_trials_only_for_demoted_providers_with_a_closed_breaker():
    demoted = {"vendor", "kokoro", "canned"}
    trials, _, _, breakers = make(ScriptedProvider("vendor"), demoted=demoted)
    assert trials.due() == ["vendor"]  # kokoro: a local engine; canned: no synthesis
    breakers["vendor"].hold()  # an operator's hold: no trial
    assert trials.due() == []
    breakers["vendor"].release()
    breakers["vendor"].force_open()  # open (then half-open): the breaker's own trial call decides
    assert trials.due() == []
    breakers["vendor"].force_closed()
    assert trials.due() == ["vendor"]
    demoted.discard("vendor")
    assert trials.due() == []
    assert make(ScriptedProvider("vendor"), TrialSettings(enabled=False), demoted={"vendor"})[0].due() == []
    local = make(ScriptedProvider("vendor"), TrialSettings(local_engines=True), demoted={"kokoro"})[0]
    assert local.due() == ["kokoro"]


async def test_one_trial_in_flight_per_provider_and_the_interval_between_starts():
    trials, *_ = make(ScriptedProvider("vendor", hang_before_audio=True), TrialSettings(interval_s=0.1),
                      demoted={"vendor"})
    assert trials.tick() == ["vendor"]
    assert trials.state("vendor").running and trials.tick() == []  # one in flight: no second
    assert trials.due(now=float("inf")) == []  # even once the interval has passed
    await trials.close()
    await asyncio.sleep(0)
    assert not trials.state("vendor").running
    assert trials.due(now=0.0) == []  # the interval since the last start has not passed
    assert trials.due(now=float("inf")) == ["vendor"]


def test_attempts_begun_before_a_proof_do_not_count_after_it():
    stats = ProviderStats(60.0, rtf_warn=1.0, rtf_critical=0.6)
    for k in range(3):
        stats.delivered(2.0, 5.0, now=10.0 + k)
    assert stats.quick(now=13.0).slow
    stats.trial(True, needed=1, now=20.0)
    assert stats.proven and not stats.quick(now=20.0).slow
    stats.progress(7, first_audio_at=18.0, audio_s=0.2)  # a slow line that began before the proof, still going
    stats.delivered(2.0, 5.0, now=21.0, key=7)  # ... and ending after it: began at 16
    stats.record(False, None, now=21.0, started=19.5)  # a rejection in flight at the proof
    signal = stats.quick(now=21.0)
    assert not signal.slow and signal.attempts == 0 and signal.delivery_rtf is None and signal.proven
    stats.record(False, None, now=22.0, started=21.5)  # a new failure: counted, no longer proven
    assert stats.quick(now=22.0).attempts == 1 and not stats.proven


def test_proven_ends_with_anything_that_would_demote():
    def proven_stats() -> ProviderStats:
        stats = ProviderStats(60.0, rtf_warn=1.0, rtf_critical=0.6, latency_critical_s=4.0)
        stats.trial(True, needed=1, now=10.0)
        return stats

    stats = proven_stats()
    stats.record(True, 0.3, now=11.0)
    stats.delivered(2.0, 1.5, now=12.0)
    assert stats.proven  # good lines keep it
    stats.record(True, 6.0, now=20.0)  # one slow first audio: the EWMA (2.0 s) is still under the critical 4 s
    assert stats.proven
    for k in range(3):
        stats.record(True, 6.0, now=21.0 + k)  # the EWMA past the critical latency: what demotes
    assert stats.ewma_s >= 4.0 and not stats.proven
    stats = proven_stats()
    for k in range(3):
        stats.delivered(2.0, 5.0, now=20.0 + k)  # slow deliveries (begun after the proof)
    assert stats.slow and not stats.proven


def test_a_proven_recovery_skips_the_hysteresis_but_a_flapping_provider_waits_for_it():
    levels = LevelController(recovery_s=10.0, flap_window_s=30.0)
    demoted = Assessment(L.FALLBACK_PROVIDER, ["vendor slow"], demoted={"vendor"})
    aged_out = Assessment(L.NORMAL)  # the signal aged out: no proof
    proven = Assessment(L.NORMAL, proven={"vendor"})
    levels.update(demoted, now=0.0)
    assert levels.update(aged_out, now=1.0)[0].level is L.FALLBACK_PROVIDER  # hysteresis holds
    levels.update(demoted, now=2.0)
    assert levels.update(proven, now=3.0)[0].level is L.NORMAL  # proof: at once
    levels.update(demoted, now=8.0)  # demoted again 5 s after: flapping
    assert "vendor" in levels.flapping and levels.flaps == {"vendor": 1}
    assert levels.update(proven, now=9.0)[0].level is L.FALLBACK_PROVIDER  # now it must hold for the hysteresis
    assert levels.update(proven, now=19.0)[0].level is L.NORMAL
    levels.update(demoted, now=25.0)  # and again, 6 s after a recovery by the hysteresis: a second flap
    assert levels.flaps == {"vendor": 2}
    assert levels.update(proven, now=26.0)[0].level is L.FALLBACK_PROVIDER  # the hysteresis again
    assert levels.update(proven, now=36.0)[0].level is L.NORMAL
    levels.update(Assessment(L.NORMAL), now=50.0)
    levels.update(Assessment(L.NORMAL), now=66.0)  # undemoted for the flap window: no longer flapping
    assert "vendor" not in levels.flapping and levels.flaps == {}
    levels.update(demoted, now=100.0)  # long after its last proven recovery: not a flap
    assert levels.update(proven, now=101.0)[0].level is L.NORMAL


async def test_a_flapping_provider_must_pass_twice_as_many_trials_per_flap():
    flaps = {"vendor": 0}
    trials, signals, *_ = make(ScriptedProvider("vendor"), TrialSettings(passes=2), demoted={"vendor"})
    trials.flaps = flaps.get
    assert trials.passes_needed("vendor") == 2
    flaps["vendor"] = 2
    assert trials.passes_needed("vendor") == 8
    assert trials.tick() == ["vendor"]
    await trials.wait()
    assert trials.state("vendor").last == "passed" and trials.due() == []  # flapping: the next at the interval
    slow_down(signals)
    for _ in range(6):
        await trials.run("vendor")
    assert signals.signal("vendor").slow and trials.state("vendor").streak == 7  # 7 passes: not yet
    await trials.run("vendor")
    assert signals.signal("vendor").proven and not signals.signal("vendor").slow
    flaps["vendor"] = 50
    assert trials.passes_needed("vendor") == 2 * 32  # bounded


def test_a_recovery_is_proven_only_when_every_restored_provider_is():
    levels = LevelController(recovery_s=10.0)
    levels.update(Assessment(L.FALLBACK_PROVIDER, demoted={"vendor", "backup"}), now=0.0)
    half = Assessment(L.NORMAL, proven={"vendor"})  # backup's signal aged out, unproven
    assert levels.update(half, now=1.0)[0].level is L.FALLBACK_PROVIDER
    assert levels.suspects() == {"backup"}  # still to be proven while the level holds


def test_a_provider_that_aged_out_is_still_tried_and_its_proof_ends_the_hysteresis():
    levels = LevelController(recovery_s=10.0)
    levels.update(Assessment(L.FALLBACK_PROVIDER, demoted={"vendor"}), now=0.0)
    assert levels.suspects() == {"vendor"}
    levels.update(Assessment(L.FALLBACK_PROVIDER, demoted={"vendor", "backup"}), now=1.0)
    # vendor's slowness aged out of the window (no proof): the level holds, vendor stays a suspect
    assert levels.update(Assessment(L.NORMAL, demoted={"backup"}), now=2.0)[0].level is L.FALLBACK_PROVIDER
    assert levels.suspects() == {"vendor", "backup"}
    # backup proven: not enough, vendor's recovery is unproven
    assert levels.update(Assessment(L.NORMAL, proven={"backup"}), now=3.0)[0].level is L.FALLBACK_PROVIDER
    assert levels.suspects() == {"vendor"}
    assert levels.update(Assessment(L.NORMAL, proven={"backup", "vendor"}), now=4.0)[0].level is L.NORMAL
    assert levels.suspects() == set() and levels.recovering == set()


def test_router_sends_no_client_line_first_to_a_demoted_primary_when_probes_are_off():
    providers = {n: ScriptedProvider(n) for n in ("vendor", "backup")}
    breakers = {n: ProviderBreaker(f"route-test-{n}", 3, 30.0) for n in providers}
    character = Character(id="guard")
    with_probes = Router(providers, breakers, ["vendor", "backup"], lambda: {"vendor"})
    without = Router(providers, breakers, ["vendor", "backup"], lambda: {"vendor"}, probe_every=0)
    firsts = [with_probes.steps(character).steps[0].provider.name for _ in range(10)]
    assert firsts.count("vendor") == 2  # one line in 5 probes the demoted primary
    assert all(without.steps(character).steps[0].provider.name == "backup" for _ in range(10))
    assert without.steps(character).first_choice == "vendor"  # still the primary: its lines are degraded service
    # A demoted provider trials do not cover (a local engine, by default) still gets probe lines; one they cover
    # gets none.
    covered = Router(providers, breakers, ["vendor", "backup"], lambda: {"vendor"}, trialled=lambda n: n == "vendor")
    assert all(covered.steps(character).steps[0].provider.name == "backup" for _ in range(10))
    uncovered = Router(providers, breakers, ["vendor", "backup"], lambda: {"vendor"}, trialled=lambda n: False)
    assert [uncovered.steps(character).steps[0].provider.name for _ in range(10)].count("vendor") == 2


def test_trials_cover_cloud_providers_not_the_local_engines_unless_asked():
    trials = make(ScriptedProvider("vendor"))[0]
    assert trials.covers("vendor") and not trials.covers("kokoro") and not trials.covers("canned")
    assert make(ScriptedProvider("vendor"), TrialSettings(local_engines=True))[0].covers("kokoro")
    assert not make(ScriptedProvider("vendor"), TrialSettings(enabled=False))[0].covers("vendor")


def test_signal_without_trials_is_not_proven():
    assert ProviderSignal(None, None, 0.0, 0).proven is False
