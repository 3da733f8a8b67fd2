"""Score phone timelines against the aligner set's exact ones, on Rhubarb's mouth-shape classes.

* **Phone-track accuracy** (strict): the timeline is sampled at 100 fps (the centre of each
  10 ms frame); each frame's phone becomes its Rhubarb class (``A``..``H``, ``X`` for silence)
  through the gateway's own tables (:data:`gateway.lipsync.rhubarb.RHUBARB`); the score is the
  share of frames whose class equals the reference's, over the whole audio.
* **Mouth-shape accuracy**: the same, for the Rhubarb track the lip-sync pipeline builds from
  the timeline (:func:`gateway.lipsync.rhubarb.rhubarb_track`: pauses under 100 ms shared out,
  short spans merged), against the reference's phone classes. The pipeline fed the exact phones
  is the ceiling (it smooths on purpose).
* **Closure onsets**: every start of a lip closure (class ``A``: p, b, m) in the reference is
  matched to the nearest predicted one within :data:`CLOSURE_WINDOW_MS`; the error is the
  absolute difference (ms), and unmatched closures are counted.
"""

from __future__ import annotations

import json
import wave
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gateway.lipsync.phonemes import normalize
from gateway.lipsync.rhubarb import RHUBARB, rhubarb_track
from gateway.core.timeline import PhonemeSpan

FPS = 100
CLOSURE = "A"
CLOSURE_WINDOW_MS = 80


@dataclass(slots=True)
class RefLine:
    """One line of the set: audio, the text given to the aligner, and the exact phones."""

    id: str
    voice: str
    text: str
    spoken: str
    pcm: bytes
    sample_rate: int
    duration_ms: int
    phonemes: list[PhonemeSpan]

    @property
    def mismatch(self) -> bool:
        return self.text != self.spoken

    @property
    def audio_s(self) -> float:
        return len(self.pcm) / 2 / self.sample_rate


def load_set(root: Path, voice: str, ids: Iterable[str] | None = None) -> list[RefLine]:
    wanted = set(ids) if ids is not None else None
    out = []
    for path in sorted((root / voice).glob("*.json")):
        body = json.loads(path.read_text(encoding="utf-8"))
        if wanted is not None and body["id"] not in wanted:
            continue
        with wave.open(str(path.with_suffix(".wav")), "rb") as wf:
            pcm = wf.readframes(wf.getnframes())
        out.append(RefLine(body["id"], voice, body["text"], body["spoken"], pcm, body["sample_rate"],
                           body["duration_ms"], [PhonemeSpan(p, a, b) for p, a, b in body["phonemes"]]))
    return out


def _shape_at(phoneme: str, frac: float) -> str:
    parts = RHUBARB.classify(phoneme)
    acc = 0.0
    for label, share in parts:
        acc += share
        if frac < acc:
            return label.value
    return parts[-1][0].value


def frame_classes(phonemes: Sequence[PhonemeSpan], duration_ms: int) -> np.ndarray:
    """Rhubarb class of the phone at the centre of each 10 ms frame (``X`` where there is none)."""
    n = max(0, duration_ms * FPS // 1000)
    out = np.full(n, "X", dtype="<U1")
    for p in normalize(phonemes):
        if p.is_silence or p.end_ms <= p.start_ms:
            continue
        first = max(0, -(-(p.start_ms * FPS - 500) // 1000))  # frames whose centre lies in the phone
        last = min(n, -(-(p.end_ms * FPS - 500) // 1000))
        for f in range(first, last):
            centre = (f * 1000 + 500) / FPS
            out[f] = _shape_at(p.phoneme, (centre - p.start_ms) / (p.end_ms - p.start_ms))
    return out


def shape_frames(phonemes: Sequence[PhonemeSpan], duration_ms: int) -> np.ndarray:
    """Frames of the Rhubarb track the lip-sync pipeline builds from ``phonemes``."""
    n = max(0, duration_ms * FPS // 1000)
    out = np.full(n, "X", dtype="<U1")
    for span in rhubarb_track(normalize(phonemes), duration_ms):
        first = max(0, -(-(span.start_ms * FPS - 500) // 1000))
        last = min(n, -(-(span.end_ms * FPS - 500) // 1000))
        out[first:last] = span.shape.value
    return out


def closure_onsets(frames: np.ndarray) -> list[int]:
    """Times (ms) where a closure starts: frames entering class ``A``."""
    is_a = frames == CLOSURE
    starts = np.flatnonzero(is_a & ~np.concatenate(([False], is_a[:-1])))
    return [int(f) * 1000 // FPS for f in starts]


def closure_onsets_of(phonemes: Sequence[PhonemeSpan]) -> list[int]:
    """Start times (ms) of closure phones, a run of closure phones counting once."""
    out = []
    prev_closure = False
    for p in normalize(phonemes):
        closure = not p.is_silence and _shape_at(p.phoneme, 0.0) == CLOSURE
        if closure and not prev_closure:
            out.append(p.start_ms)
        prev_closure = closure
    return out


def closure_errors(truth: list[int], pred: list[int]) -> tuple[list[int], int]:
    """Absolute onset errors of matched closures (ms) and how many reference closures had no match."""
    errors = []
    missed = 0
    for t in truth:
        best = min(pred, key=lambda p: abs(p - t), default=None)
        if best is None or abs(best - t) > CLOSURE_WINDOW_MS:
            missed += 1
        else:
            errors.append(abs(best - t))
    return errors, missed


@dataclass(slots=True)
class Score:
    """Totals over lines (frame counts, closure errors, CPU)."""

    frames: int = 0
    phone_ok: int = 0
    shape_ok: int = 0
    ceiling_ok: int = 0
    closure_err: list[int] = field(default_factory=list)
    closures_missed: int = 0
    lines: int = 0
    whole_line_estimates: int = 0
    audio_s: float = 0.0
    cpu_s: float = 0.0
    per_line: dict[str, float] = field(default_factory=dict)

    def add(self, ref: RefLine, pred: Sequence[PhonemeSpan], *, estimated_whole: bool = False,
            cpu_s: float = 0.0) -> float:
        truth = frame_classes(ref.phonemes, ref.duration_ms)
        phone = frame_classes(pred, ref.duration_ms)
        shapes = shape_frames(pred, ref.duration_ms)
        ceiling = shape_frames(ref.phonemes, ref.duration_ms)
        self.frames += len(truth)
        ok = int(np.sum(truth == phone))
        self.phone_ok += ok
        self.shape_ok += int(np.sum(truth == shapes))
        self.ceiling_ok += int(np.sum(truth == ceiling))
        errors, missed = closure_errors(closure_onsets_of(ref.phonemes), closure_onsets_of(pred))
        self.closure_err += errors
        self.closures_missed += missed
        self.lines += 1
        self.whole_line_estimates += int(estimated_whole)
        self.audio_s += ref.audio_s
        self.cpu_s += cpu_s
        accuracy = ok / max(1, len(truth))
        self.per_line[ref.id] = accuracy
        return accuracy

    @property
    def phone_accuracy(self) -> float:
        return self.phone_ok / max(1, self.frames)

    @property
    def shape_accuracy(self) -> float:
        return self.shape_ok / max(1, self.frames)

    @property
    def ceiling_accuracy(self) -> float:
        return self.ceiling_ok / max(1, self.frames)

    @property
    def closure_mean_ms(self) -> float:
        return float(np.mean(self.closure_err)) if self.closure_err else float("nan")

    @property
    def closure_median_ms(self) -> float:
        return float(np.median(self.closure_err)) if self.closure_err else float("nan")

    @property
    def cpu_per_audio_s(self) -> float:
        return self.cpu_s / max(1e-9, self.audio_s)
