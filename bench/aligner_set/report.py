"""Run aligners over the aligner set and print one markdown table (same run, same lines).

Rows: a plain pocketsphinx forced alignment (its bundled model and dictionary, no pre- or
post-processing: the reference point the issue measured), the gateway aligner without and with
boundary refinement, the audio-only path (recogniser then aligner), and the gateway aligner on
the espeak-ng voice and on the partial-mismatch lines. CPU is ``time.process_time`` around one
call (recognition included for audio-only rows): total over total audio, and the median of the
per-line ratios.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from bench.aligner_set.score import RefLine, Score
from gateway.core.timeline import PhonemeSpan

#: (phonemes, whole line estimated) for one line.
AlignFn = Callable[[RefLine], tuple[list[PhonemeSpan], bool]]


@dataclass
class Row:
    name: str
    score: Score = field(default_factory=Score)
    ratios: list[float] = field(default_factory=list)

    def cells(self) -> list[str]:
        s = self.score
        med = statistics.median(self.ratios) if self.ratios else float("nan")
        return [self.name, f"{s.lines}", f"{s.audio_s:.0f}", f"{100 * s.phone_accuracy:.1f} %",
                f"{100 * s.shape_accuracy:.1f} %", f"{s.closure_mean_ms:.1f} / {s.closure_median_ms:.0f}",
                f"{s.closures_missed}", f"{s.whole_line_estimates}", f"{s.cpu_per_audio_s:.3f} / {med:.3f}"]


HEADER = ["case", "lines", "audio s", "phone track", "mouth shapes", "closure onset mean / median ms",
          "closures missed", "whole-line estimates", "CPU s per audio s (total / median)"]


def run(name: str, refs: Sequence[RefLine], align: AlignFn) -> Row:
    row = Row(name)
    for ref in refs:
        t0 = time.process_time()
        phonemes, whole = align(ref)
        cpu = time.process_time() - t0
        row.score.add(ref, phonemes, estimated_whole=whole, cpu_s=cpu)
        row.ratios.append(cpu / max(ref.audio_s, 1e-9))
    return row


def ceiling_row(name: str, refs: Sequence[RefLine]) -> Row:
    """The lip-sync pipeline fed the exact phones (its mouth shapes are the ceiling of the others)."""
    return run(name, refs, lambda ref: (list(ref.phonemes), False))


def table(rows: Sequence[Row]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(row.cells()) + " |" for row in rows]
    return "\n".join(lines)
