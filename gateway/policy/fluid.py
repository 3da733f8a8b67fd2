"""The fluid model of cores shared fairly among syntheses (what :mod:`gateway.policy.capacity` predicts with)."""

from __future__ import annotations

from collections.abc import Sequence

EPS = 1e-9


def simulate(runners: Sequence[tuple[int, Sequence[float]]], cores: float) -> list[list[float]]:
    """Fair share of ``cores``: each of n runners (threads, core-seconds to the end of each of its pieces) runs at
    ``min(threads, cores / n)`` until its last piece. Returns the seconds until each piece is ready."""
    out = [[0.0] * len(works) for _, works in runners]
    done = [0.0] * len(runners)
    nxt = [0] * len(runners)
    active = [i for i, (_, works) in enumerate(runners) if works]
    now = 0.0
    while active:
        rate = {i: max(EPS, min(runners[i][0], cores / len(active))) for i in active}
        dt = max(0.0, min((runners[i][1][nxt[i]] - done[i]) / rate[i] for i in active))
        now += dt
        for i in active:
            done[i] += rate[i] * dt
            works = runners[i][1]
            while nxt[i] < len(works) and works[nxt[i]] - done[i] <= EPS:
                out[i][nxt[i]] = now
                nxt[i] += 1
        active = [i for i in active if nxt[i] < len(runners[i][1])]
    return out
