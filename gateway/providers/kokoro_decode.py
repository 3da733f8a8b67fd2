"""Kokoro's two ONNX Runtime sessions: the front (text -> frames, F0, energy, durations) and the decoder.

The model is split once at install (:mod:`gateway.install.kokoro_split`). :class:`KokoroEngine` runs the front
for a whole piece, cuts the lead-in from the frames before any decoding (:func:`kokoro_windows.drop_lead`), then
decodes either whole (one run, as the full model would) or window by window (:func:`kokoro_windows.plan_windows`),
yielding audio as each window is done. Timings stay exact: ``sum(durations) * 600`` is the audio's length.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gateway.install.kokoro_split import ASR, ENERGY, F0, HARMONICS, PHASE_INPUT
from gateway.providers.kokoro_windows import FRAME_SAMPLES, Stitcher, drop_lead, phase_offsets, plan_windows


@dataclass(frozen=True, slots=True)
class Frames:
    """One piece's front output, lead-in already cut: ``asr [1, 512, F]``, ``f0``/``energy [1, 2F]``, the
    style row used, and per-token ``durations`` (frames, both pads included, ``sum == F``)."""

    asr: np.ndarray
    f0: np.ndarray
    energy: np.ndarray
    style: np.ndarray
    durations: np.ndarray

    @property
    def count(self) -> int:
        return int(self.asr.shape[2])

    def window(self, lo: int, hi: int) -> Frames:
        return Frames(self.asr[:, :, lo:hi], self.f0[:, 2 * lo:2 * hi], self.energy[:, 2 * lo:2 * hi], self.style,
                      self.durations)


@dataclass(frozen=True, slots=True)
class WindowPlan:
    """How to cut a piece into windows, in frames (from :class:`gateway.settings.KokoroSettings`)."""

    first: int = 60
    growth: float = 2.0
    context: int = 8
    fade: int = 4
    min_first: int = 40  #: a request's first window may end at its first clause, if that is at least this long

    @classmethod
    def from_ms(cls, first_ms: int, growth: float, context_ms: int, crossfade_ms: int,
                min_first_ms: int = 1000) -> WindowPlan:
        frame_ms = 1000 * FRAME_SAMPLES / 24000
        return cls(max(1, round(first_ms / frame_ms)), growth, round(context_ms / frame_ms),
                   round(crossfade_ms / frame_ms), max(1, round(min_first_ms / frame_ms)))


class KokoroEngine:
    """The front and decoder sessions. Not thread-safe per call order; ORT sessions themselves are."""

    def __init__(self, front_path: Path, decoder_path: Path, *, intra_threads: int, spinning: bool) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = max(1, intra_threads)
        opts.inter_op_num_threads = 1
        opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
        opts.log_severity_level = 3
        self.front_session = ort.InferenceSession(str(front_path), sess_options=opts,
                                                  providers=["CPUExecutionProvider"])
        self.decoder_session = ort.InferenceSession(str(decoder_path), sess_options=opts,
                                                    providers=["CPUExecutionProvider"])
        self.decoded_frames = 0  #: frames fed to the decoder so far (context included): what was computed
        self.decoder_runs = 0

    def front(self, tokens: list[int], style: np.ndarray, speed: float, keep_lead: int | None) -> Frames:
        """Text side for a whole piece; the first pad cut to ``keep_lead`` frames (None: all kept)."""
        asr, f0, energy, dur = self.front_session.run(None, {
            "tokens": np.array([[0, *tokens, 0]], dtype=np.int64),
            "style": style.reshape(1, 256).astype(np.float32),
            "speed": np.array([speed], dtype=np.float32),
        })
        durations = np.rint(np.asarray(dur, np.float64).ravel()).astype(np.int64)
        if int(durations.sum()) != asr.shape[2]:  # should not happen: the alignment sums the durations
            durations[-1] += asr.shape[2] - int(durations.sum())
        durations, cut = drop_lead(durations, keep_lead)
        return Frames(asr[:, :, cut:], f0[:, 2 * cut:], energy[:, 2 * cut:], style.reshape(1, 256), durations)

    def _decode(self, frames: Frames, phase: np.ndarray) -> np.ndarray:
        self.decoded_frames += frames.count
        self.decoder_runs += 1
        audio = self.decoder_session.run(None, {
            ASR: frames.asr, F0: frames.f0, ENERGY: frames.energy, "style": frames.style,
            PHASE_INPUT: phase.reshape(1, 1, HARMONICS).astype(np.float32),
        })[0]
        return np.nan_to_num(np.asarray(audio, np.float32).ravel())

    def decode_whole(self, frames: Frames) -> np.ndarray:
        """All frames in one run: ``frames.count * 600`` samples, as the full model would make them."""
        return self._fit(self._decode(frames, np.zeros(HARMONICS, np.float32)), frames.count)

    def decode_windows(self, frames: Frames, plan: WindowPlan, first_end: int | None = None) -> Iterator[np.ndarray]:
        """Audio window by window (cross-faded, phase carried); the chunks add up to ``frames.count * 600``.
        ``first_end``: end the first window there when it is shorter (:func:`plan_windows`)."""
        windows = plan_windows(frames.count, plan.first, plan.growth, plan.context, first_end)
        if len(windows) <= 1:
            yield self.decode_whole(frames)
            return
        phases = phase_offsets(frames.f0)
        stitcher = Stitcher(windows, plan.fade)
        for window in windows:
            part = frames.window(window.lo, window.hi)
            yield stitcher.add(self._fit(self._decode(part, phases[2 * window.lo]), part.count))

    @staticmethod
    def _fit(audio: np.ndarray, count: int) -> np.ndarray:
        need = count * FRAME_SAMPLES
        if len(audio) == need:
            return audio
        if len(audio) > need:
            return audio[:need]
        return np.concatenate([audio, np.zeros(need - len(audio), np.float32)])
