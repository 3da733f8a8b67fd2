"""Measure the aligner's signed boundary error by kind of transition on the development lines.

Runs the pocketsphinx aligner with landmark refinement but no bias correction over the ``d``
lines of the set (Festival HTS voice), matches its phones to the exact ones (same phone, in
order), and prints the median error (ms, aligned minus exact) of every boundary kind seen at
least :data:`MIN_COUNT` times whose mean absolute error that correction cuts by
:data:`MIN_GAIN` or more: the table :data:`gateway.timing.aligners.refine.CALIBRATION`
holds. The held-out ``l`` lines are not used.

    .venv/bin/python -m bench.aligner_set.calibrate [--voice festival] [--prefix d]
"""

from __future__ import annotations

import argparse
import difflib
import statistics
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.aligner_set.build import DEFAULT_OUT, build  # noqa: E402
from bench.aligner_set.score import load_set  # noqa: E402
from gateway.timing.aligners.lexicon import ipa_to_arpabet# noqa: E402
from gateway.timing.aligners.refine import SIL, boundary_kind# noqa: E402
from gateway.core.timeline import PhonemeSpan# noqa: E402

MIN_COUNT = 8
#: A correction is kept only if it cuts the kind's mean absolute error by this share.
MIN_GAIN = 0.1


def arpabet_segments(phonemes: list[PhonemeSpan]) -> list[tuple[str, int, int]]:
    """(ARPAbet or SIL, start, end), zero-length spans dropped, silences merged."""
    out: list[tuple[str, int, int]] = []
    for p in phonemes:
        if p.end_ms <= p.start_ms:
            continue
        name = SIL if not p.phoneme.strip() else (ipa_to_arpabet(p.phoneme) or [SIL])[0]
        if out and out[-1][0] == name == SIL:
            out[-1] = (SIL, out[-1][1], p.end_ms)
        else:
            out.append((name, p.start_ms, p.end_ms))
    return out


def boundary_errors(truth: list[PhonemeSpan], pred: list[PhonemeSpan]) -> list[tuple[str, int]]:
    """(kind, aligned minus exact ms) of every boundary between two matched phones."""
    t, p = arpabet_segments(truth), arpabet_segments(pred)
    matcher = difflib.SequenceMatcher(a=[x[0] for x in t], b=[x[0] for x in p], autojunk=False)
    out = []
    for a, b, n in matcher.get_matching_blocks():
        for k in range(n - 1):
            out.append((boundary_kind(t[a + k][0], t[a + k + 1][0]), p[b + k][2] - t[a + k][2]))
    return out


def measure(voice: str = "festival", prefix: str = "d", calibration: dict | None = None) -> dict[str, list[int]]:
    from gateway.timing.aligners import build_aligner

    aligner = build_aligner("pocketsphinx", calibration={} if calibration is None else calibration)
    errors: dict[str, list[int]] = defaultdict(list)
    for ref in load_set(build(DEFAULT_OUT), voice):
        if not ref.id.startswith(prefix) or ref.mismatch:
            continue
        result = aligner.align(ref.pcm, ref.sample_rate, ref.text)
        for kind, err in boundary_errors(ref.phonemes, result.phonemes):
            errors[kind].append(err)
    return errors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--voice", default="festival")
    parser.add_argument("--prefix", default="d")
    args = parser.parse_args(argv)
    errors = measure(args.voice, args.prefix)
    table = {}
    for kind in sorted(errors, key=lambda k: -len(errors[k])):
        values = errors[kind]
        med = statistics.median(values)
        mae = statistics.mean(abs(v) for v in values)
        shift = int(round(med))
        after = statistics.mean(abs(v - shift) for v in values)
        print(f"{kind}  n={len(values):4d}  median {med:+6.1f}  mean abs {mae:5.1f} -> {after:5.1f}", file=sys.stderr)
        if len(values) >= MIN_COUNT and shift and after <= (1 - MIN_GAIN) * mae:
            table[kind] = shift
    print("CALIBRATION: dict[str, int] = {" + ", ".join(f'"{k}": {v}' for k, v in sorted(table.items())) + "}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
