"""ONNX Runtime sessions of the local engines (Piper, Kokoro): threads, spinning and memory, in one place.

Memory (measured, docs/benchmarks.md "Long lines"): ONNX Runtime's CPU arena grows to the largest input a session
ever saw and never shrinks, so one 1,000-character line left a gateway at 1.7-2.9 GB. With pieces of bounded length
(:mod:`gateway.text.pieces`) it is bounded, but still held: 2 Kokoro + 2 Piper 180-character pieces at once kept
1.35 GB. Turning the arena off is worse while busy (every run mallocs afresh: 4.9 GB spikes, 0.4 GB after); one
arena shared by the process (``kSameAsRequested``) held 1.1-1.3 GB. What holds: each session keeps its arena for
speed, and every run ends with **arena shrinkage** (``memory.enable_memory_arena_shrinkage``), which hands the
chunks that run no longer uses back: the same 4 pieces peaked at 1.0 GB and left 0.39 GB.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import onnxruntime

from gateway.settings import EngineSettings

__all__ = ["ShrinkingSession", "open_session", "session_options"]


def session_options(engine: EngineSettings) -> onnxruntime.SessionOptions:
    """Session options for one engine's settings (``settings.piper`` or ``settings.kokoro``)."""
    opts = onnxruntime.SessionOptions()
    opts.intra_op_num_threads = max(1, engine.intra_threads)
    opts.inter_op_num_threads = 1
    opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if engine.spinning else "0")
    opts.enable_cpu_mem_arena = bool(engine.memory_arena)
    opts.enable_mem_pattern = bool(engine.memory_pattern)
    opts.log_severity_level = 3
    return opts


class ShrinkingSession:
    """An ``InferenceSession`` whose every ``run`` ends by shrinking its CPU arena (when the engine's
    ``memory_arena`` and ``arena_shrinkage`` are on); anything else is the session's own."""

    def __init__(self, session: onnxruntime.InferenceSession, engine: EngineSettings) -> None:
        self._session = session
        self._options = onnxruntime.RunOptions()
        if engine.memory_arena and engine.arena_shrinkage:
            self._options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")

    def run(self, output_names: Any, input_feed: dict, run_options: onnxruntime.RunOptions | None = None) -> Any:
        return self._session.run(output_names, input_feed, run_options or self._options)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)


def open_session(path: Path | str, engine: EngineSettings) -> ShrinkingSession:
    """A CPU session of the model at ``path`` with :func:`session_options` and arena shrinkage after each run."""
    session = onnxruntime.InferenceSession(str(path), sess_options=session_options(engine),
                                           providers=["CPUExecutionProvider"])
    return ShrinkingSession(session, engine)
