"""ONNX Runtime session options shared by the local engines (Piper, Kokoro): threads, spinning and memory.

By default the CPU memory arena and memory patterns are off: the arena keeps the largest buffers any input ever
needed (it never shrinks), so one long line used to leave a gateway at 1.7-2.9 GB. Off, ONNX Runtime allocates per
run and frees after it, and :func:`gateway.providers.delivery.trim_heap` hands the freed memory back to the OS after
each piece (glibc otherwise keeps it). With pieces of bounded length (:mod:`gateway.text.pieces`) memory stays flat.
Measured in docs/benchmarks.md (long lines).
"""

from __future__ import annotations

import onnxruntime

from gateway.settings import EngineSettings


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
