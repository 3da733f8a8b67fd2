"""Windows over Kokoro's frames: the plan, the harmonic source's phase at each window, the cross-faded joins.

Pure numpy, no model: :mod:`gateway.providers.kokoro_decode` runs the decoder; this module decides which frames
each run covers and how the runs' audio joins into one stream. A frame is 600 samples at 24 kHz (40 per second);
F0 and energy have two values per frame.

Why windows are planned this way (measured; docs/benchmarks.md#kokoro-streaming):

* The decoder normalises its activations over the frames it is given (instance norm in every AdaIN block), so a
  window is decoded as if it were an utterance of its own. Under about 1.5 s of audio those statistics are too
  few and the window sounds worse, so the first window is ``first`` frames long and each later one ``growth``
  times longer (fewer joins, and later windows have time to spare).
* Each run decodes ``context`` extra frames on both sides and keeps the middle; consecutive windows overlap by
  the cross-fade, centred on the join.
* The sine source integrates F0: a window is fed the phase the whole line has reached at its first frame
  (:func:`phase_offsets`), so the harmonics continue across joins instead of restarting at zero.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FRAME_SAMPLES = 600
SAMPLE_RATE = 24000
HARMONICS = 9
#: The sine source's phase is ``2*pi*UPSAMPLE*cumsum(rad)`` with ``rad`` one value per F0 step (300 samples).
UPSAMPLE = 300


@dataclass(frozen=True, slots=True)
class Window:
    """Frames ``[start, end)`` are this window's own; ``[lo, hi)`` are decoded (context on both sides)."""

    start: int
    end: int
    lo: int
    hi: int


def plan_windows(frames: int, first: int, growth: float, context: int, first_end: int | None = None) -> list[Window]:
    """Windows covering ``frames`` in order: ``first`` frames, then each ``growth`` times longer.

    A remainder shorter than half the next window is folded into the last one (no tiny last window). A line
    shorter than ``first`` frames (plus half of it) is one window: decoded whole. ``first_end`` (the end of the
    first clause's pause, for a request's first piece) ends the first window early when it comes before ``first``:
    the first audio then waits for that clause only, and the join falls in a pause.
    """
    if frames <= 0:
        return []
    windows: list[Window] = []
    start, size = 0, max(1, first)
    if first_end is not None and 0 < first_end < min(first, frames):
        windows.append(Window(0, first_end, 0, min(frames, first_end + context)))
        start = first_end
    while start < frames:
        end = min(frames, start + size)
        if frames - end < (size * growth) / 2:
            end = frames
        windows.append(Window(start, end, max(0, start - context), min(frames, end + context)))
        start, size = end, max(1, round(size * growth))
    return windows


def phase_offsets(f0: np.ndarray) -> np.ndarray:
    """``[len(f0) + 1, 9]``: the sine source's running phase before each F0 index, in the units of its CumSum.

    The decoder computes ``rad = frac(f0 * h / 24000)`` per F0 step and harmonic ``h`` and sums it (its phase is
    ``2*pi*300*sum``); entry ``j`` is the sum over ``[0, j)``, reduced modulo one period (1/300), so that a window
    starting at F0 index ``j`` continues the phase the whole line has there.
    """
    rad = (np.asarray(f0, np.float32).reshape(-1, 1) * np.arange(1, HARMONICS + 1, dtype=np.float32)) / np.float32(
        SAMPLE_RATE)
    rad = (rad - np.floor(rad)).astype(np.float64)
    total = np.concatenate([np.zeros((1, HARMONICS)), np.cumsum(rad, axis=0)])
    return (np.mod(total * UPSAMPLE, 1.0) / UPSAMPLE).astype(np.float32)


class Stitcher:
    """Joins the windows' audio into one stream, cross-fading ``fade`` frames centred on each join.

    :meth:`add` takes a window's decoded samples (``[lo, hi)``) and returns what can be played now: everything
    of the window except the part that will be cross-faded with the next one, which it holds back until then.
    The total length is exactly ``frames * 600`` samples.
    """

    def __init__(self, windows: list[Window], fade: int) -> None:
        self.windows = windows
        self.fade = max(0, fade)
        self._held: np.ndarray | None = None  #: the last window's samples over the next join's fade
        self._next = 0

    def _half(self, index: int) -> int:
        """Frames of fade on each side of the join before window ``index`` (limited by both windows' context)."""
        if index <= 0 or index >= len(self.windows):
            return 0
        left, right = self.windows[index - 1], self.windows[index]
        return min(self.fade // 2, left.hi - left.end, right.start - right.lo, (left.end - left.start) // 2,
                   (right.end - right.start) // 2)

    def add(self, audio: np.ndarray) -> np.ndarray:
        index = self._next
        window = self.windows[index]
        self._next += 1
        audio = np.asarray(audio, np.float32).ravel()
        need = (window.hi - window.lo) * FRAME_SAMPLES
        if len(audio) < need:  # the decoder returns 600 samples a frame; pad defensively, never shift the stream
            audio = np.concatenate([audio, np.zeros(need - len(audio), np.float32)])
        head = self._half(index)
        tail = self._half(index + 1)
        begin = (window.start - head - window.lo) * FRAME_SAMPLES
        stop = (window.end - tail - window.lo) * FRAME_SAMPLES
        out = audio[begin:stop].copy()
        if head:
            n = 2 * head * FRAME_SAMPLES
            ramp = (np.arange(n, dtype=np.float32) + 0.5) / n
            held = self._held if self._held is not None and len(self._held) == n else np.zeros(n, np.float32)
            out[:n] = out[:n] * ramp + held * (1.0 - ramp)
        if tail:
            self._held = audio[stop:stop + 2 * tail * FRAME_SAMPLES].copy()
        else:
            self._held = None
        return out

    @property
    def joins(self) -> list[int]:
        """Sample positions of the joins (the first sample of each window after the first)."""
        return [w.start * FRAME_SAMPLES for w in self.windows[1:]]


#: Kokoro symbols after which the speaker pauses: where a short first window may end.
PAUSE_SYMBOLS = frozenset(",;:.!?…—–")


def first_clause_end(symbols: str, durations: list[int], min_frames: int) -> int | None:
    """Frames up to the end of the first pause symbol at or after ``min_frames`` that leaves at least ``min_frames``
    after it (None: no such pause). ``durations`` are per token with both pads (``^`` first), as the front gives them.
    """
    total, whole = 0, int(sum(durations))
    for symbol, frames in zip(["^", *symbols, "$"], durations):
        total += int(frames)
        if symbol in PAUSE_SYMBOLS and total >= min_frames and whole - total >= min_frames:
            return total
    return None


def drop_lead(durations: np.ndarray, keep: int | None) -> tuple[np.ndarray, int]:
    """Durations with the first pad cut to ``keep`` frames, and how many frames were cut from the start.

    The first pad (``^``) is the model's lead-in (13-19 frames of near silence): its frames are removed from the
    decoder's input, not decoded and trimmed. ``None`` keeps them all.
    """
    durations = np.asarray(durations, np.int64).copy()
    if keep is None or len(durations) == 0 or durations[0] <= keep:
        return durations, 0
    cut = int(durations[0] - keep)
    durations[0] = keep
    return durations, cut


#: Energy (the front's log-energy curve, 80 per second) under which a frame is silent: speech sits at 3-8, the
#: model's silence at -5 to -9; the decoded audio falls under -54 dBFS within the frame where the curve crosses ~0
#: (measured on 6 voices, 3 lines each: the estimate is at most one frame late, never early).
SILENT_ENERGY = 0.0


def drop_tail(durations: np.ndarray, energy: np.ndarray, keep: int | None) -> tuple[np.ndarray, int, int]:
    """Durations with the piece's silent tail cut to ``keep`` frames: (durations, frames kept in all, silent frames
    kept at the end).

    Kokoro ends a sentence with up to ~0.7 s of silence, mostly inside its last phoneme's span (af_nicole: 23 frames
    for a final "t"). Silent frames are found on the front's energy curve, so they are removed before decoding and the
    last tokens' durations shrink to match (timings stay exact). ``None`` keeps them all.
    """
    durations = np.asarray(durations, np.int64).copy()
    total = int(durations.sum())
    loud = np.asarray(energy, np.float32).reshape(-1)[: 2 * total].reshape(-1, 2).max(axis=1) >= SILENT_ENERGY
    sounding = np.flatnonzero(loud)
    silent = total - (int(sounding[-1]) + 1 if len(sounding) else 0)
    if keep is None or silent <= keep or not len(sounding):
        return durations, total, silent
    cut = silent - keep
    for k in range(len(durations) - 1, -1, -1):  # the last tokens shrink, down to zero
        take = min(int(durations[k]), cut)
        durations[k] -= take
        cut -= take
        if cut <= 0:
            break
    return durations, int(durations.sum()), keep
