"""The margin the capacity rule needs when lines share the cores, measured from how late their first audio came.

The fluid model (:mod:`.fluid`) shares the cores fairly among the threads of the syntheses in flight. What it leaves
out shows when lines run side by side: ONNX Runtime's threads wait for each other at every operator when they
outnumber the cores, the event loop's own work (encoding, lip-sync, HTTP) takes its turn, caches are shared. So, on
a given machine, a line admitted beside others speaks later than predicted by a factor the model cannot derive. This
measures it: every line that had others beside it before its first audio (when it started, or they joined it) and
was predicted at least ``min_s`` to its first audio adds ``actual / predicted``; the margin for a new line that
would share the cores is the ``quantile`` of the last ``size`` such ratios of the last ``max_age_s`` (never below
the configured margin, never above ``cap``; ``prior`` until ``min_samples`` are measured). A line that starts alone
keeps the configured margin: nothing to correct there. A line already in flight that a new one would join is held to
its promise with its prediction times the measured factor. (Such lines do not teach the model their engine's own
first-audio cost: that is learnt from lines that ran alone, so an engine's speed alone is not mistaken for what
company costs it.)
"""

from __future__ import annotations

from collections import deque


class ContentionMargin:
    def __init__(self, base: float, prior: float = 1.0, size: int = 24, quantile: float = 0.8, cap: float = 4.0,
                 min_s: float = 0.1, min_samples: int = 4, max_age_s: float = 120.0) -> None:
        self.base, self.prior, self.quantile, self.cap, self.min_s = base, prior, quantile, cap, min_s
        self.min_samples, self.max_age_s = min_samples, max_age_s
        self.ratios: deque[tuple[float, float]] = deque(maxlen=size)  #: (when, actual / predicted)
        self.factor = prior  #: how much later than predicted lines beside others speak (the prior until measured)

    def record(self, predicted_s: float, actual_s: float, now: float) -> None:
        """A line that started beside others: its first audio was predicted in ``predicted_s`` (no margin) and came
        after ``actual_s``."""
        if predicted_s >= self.min_s and actual_s > 0:
            self.ratios.append((now, actual_s / predicted_s))
            self._update()

    def age(self, now: float) -> None:
        """Forget what is older than ``max_age_s`` (the machine's load changes)."""
        if self.ratios and now - self.ratios[0][0] > self.max_age_s:
            while self.ratios and now - self.ratios[0][0] > self.max_age_s:
                self.ratios.popleft()
            self._update()

    def _update(self) -> None:
        if len(self.ratios) < self.min_samples:
            self.factor = self.prior
            return
        ranked = sorted(r for _, r in self.ratios)
        self.factor = min(self.cap, max(1.0, ranked[min(len(ranked) - 1, int(self.quantile * len(ranked)))]))

    @property
    def value(self) -> float:
        """The margin on a new line's first audio beside others: the configured one, or the factor when larger."""
        return max(self.base, self.factor)
