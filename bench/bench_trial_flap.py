"""Recovery and flapping of the degradation level, with and without background trials, on simulated time.

    .venv/bin/python bench/bench_trial_flap.py [--seed 7] [--minutes 5]

The gateway's own policy objects (``ProviderStats`` per provider, ``assess``, ``LevelController`` with its flap
guard) run on a simulated clock, so the numbers do not depend on this machine's load: client lines arrive at
``--rate`` per second and go to the primary unless the level demotes it (then to the next provider, and with trials
off one line in 5 still probes the primary); every line the primary takes fails with the scenario's probability at
that moment. Trials are simulated as :mod:`gateway.policy.trials` reports them (every ``interval`` while the primary
is a suspect, taking 0.2 s each, a pass confirmed at once, failures counted as errors, ``passes`` in a row —
doubled per flap in a row, and then at the interval — clear the signal); a trial passes with the same probability
a line would. The health loop assesses every 0.25 s. Settings: 5 attempts, 20 % errors demote; the window (also the
flap guard's) and the hysteresis are the chaos drills' (3 s, 2 s) unless given (the defaults: ``--window 60
--hysteresis 10``).

Scenarios: **clean fault** (every request fails for 10 s, then none; recovery is counted from its end),
**intermittent** (30 % of requests fail, for the whole run), **bursts** (2 s of failures every 6 s). Configurations:
the level's hysteresis alone (before trials) and shortened to a quarter; trials with the proof path and its flap
guard (with and without doubling the passes per flap); trials without the guard. Reported per scenario and
configuration: recovery after a clean fault ends (level normal), level changes per minute, client lines that hit a
failing primary (a fail-over each: the listener waits), trials sent.
"""

from __future__ import annotations

import argparse
import logging
import random
import sys
from dataclasses import dataclass
from pathlib import Path

import structlog

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from gateway.core.voices import HealthState
from gateway.policy.degradation import DegradationLevel, LevelController, assess
from gateway.policy.health import ProviderStats, ProviderStatus
from gateway.settings import Thresholds
from gateway.upstream.breaker import BreakerSnapshot

ORDER = ["vendor", "backup", "canned"]
DT = 0.05
HEALTH_TICK = 0.25


@dataclass(frozen=True)
class Config:
    name: str
    recovery_s: float
    trials: bool
    flap_window_s: float = 3.0
    interval_s: float = 0.5
    passes: int = 2
    doubling: bool = True  #: each flap in a row doubles the passes needed


def configs(hysteresis: float, window: float) -> list[Config]:
    return [Config(f"hysteresis {hysteresis:g} s, no trials (before)", hysteresis, False),
            Config(f"hysteresis {hysteresis / 4:g} s, no trials", hysteresis / 4, False),
            Config("trials + proof + flap guard (this change)", hysteresis, True, window),
            Config("trials + proof + flap guard, no doubling", hysteresis, True, window, doubling=False),
            Config("trials + proof, no flap guard", hysteresis, True, 0.0, doubling=False)]
#: How long a trial takes (a short line from a healthy vendor; a failing one answers about as fast).
TRIAL_S = 0.2


def scenarios(minutes: float) -> dict[str, callable]:
    end = 60.0 * minutes
    return {"clean fault 10 s": lambda t: 1.0 if 10.0 <= t < 20.0 else 0.0,
            "intermittent 30 %": lambda t: 0.3 if 10.0 <= t < end else 0.0,
            "bursts 2 s every 6 s": lambda t: 1.0 if t >= 10.0 and (t - 10.0) % 6.0 < 2.0 else 0.0}


class Signals:
    """What ``assess`` reads, on the simulated clock."""

    def __init__(self, window_s: float) -> None:
        self.stats = {n: ProviderStats(window_s) for n in ORDER}
        self.now = 0.0

    def signal(self, name: str):
        return self.stats[name].signal(self.now)


def run(config: Config, fail_p, minutes: float, rate: float, seed: int,
        thresholds: Thresholds) -> dict:
    rng = random.Random(seed)
    signals = Signals(thresholds.health_window_s)
    levels = LevelController(config.recovery_s, config.flap_window_s)
    breaker = BreakerSnapshot("closed", 0, 5, 30.0)
    t, next_line, next_tick, next_trial, probe = 0.0, 0.0, 0.0, 0.0, 0
    changes, hit_failing, trials, normal_at = 0, 0, 0, None
    stats = signals.stats["vendor"]
    while t < 60.0 * minutes:
        signals.now = t
        p = fail_p(t)
        if t >= next_line:
            next_line += 1.0 / rate
            demoted = "vendor" in levels.current.demoted
            if demoted and not config.trials:
                probe += 1
            if not demoted or (not config.trials and probe % 5 == 0):
                ok = rng.random() >= p
                hit_failing += not ok
                stats.record(ok, 0.1 if ok else None, now=t, started=t - (0.1 if ok else 0.05))
        if config.trials and "vendor" in levels.suspects() and t >= next_trial:
            trials += 1
            ok = rng.random() >= p
            flaps = min(levels.flaps.get("vendor", 0), 5) if config.doubling else 0
            # a pass is confirmed at once, unless the provider is flapping
            next_trial = t + (TRIAL_S if ok and not flaps else max(TRIAL_S, config.interval_s))
            if ok:
                stats.record(True, 0.1, now=t)
            else:
                stats.record(False, None, now=t, started=t - 0.05)
            stats.trial(ok, config.passes * 2 ** flaps, now=t)
        if t >= next_tick:
            next_tick += HEALTH_TICK
            statuses = {n: ProviderStatus(HealthState.UP, "", n, breaker, signals.signal(n)) for n in ORDER}
            _, previous = levels.update(assess(statuses, ORDER, signals, thresholds), now=t)
            changes += previous is not None
            if normal_at is None and t >= 20.0 and levels.current.level is DegradationLevel.NORMAL:
                normal_at = t
        t = round(t + DT, 6)
    return {"recover_s": None if normal_at is None else normal_at - 20.0, "changes_per_min": changes / minutes,
            "hit_failing": hit_failing, "trials": trials}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--rate", type=float, default=4.0, help="client lines per second")
    parser.add_argument("--window", type=float, default=3.0, help="health window (and flap window), s")
    parser.add_argument("--hysteresis", type=float, default=2.0, help="GATEWAY_LEVEL_RECOVERY_S")
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))  # (provider_flapping)
    thresholds = Thresholds(health_window_s=args.window, min_attempts=5, error_critical=0.2, error_warn=0.05)
    print(f"seed {args.seed}, {args.minutes:g} simulated minutes, {args.rate:g} lines/s, window {args.window:g} s, "
          f"hysteresis {args.hysteresis:g} s")
    print("| scenario | configuration | recover after the fault | level changes / min | lines on a failing primary "
          "| trials |")
    print("|---|---|---|---|---|---|")
    for scenario, fail_p in scenarios(args.minutes).items():
        for config in configs(args.hysteresis, args.window):
            r = run(config, fail_p, args.minutes, args.rate, args.seed, thresholds)
            recover = f"{r['recover_s']:.2f} s" if scenario.startswith("clean") and r["recover_s"] is not None else "—"
            print(f"| {scenario} | {config.name} | {recover} | {r['changes_per_min']:.1f} | {r['hit_failing']} "
                  f"| {r['trials']} |")


if __name__ == "__main__":
    main()
