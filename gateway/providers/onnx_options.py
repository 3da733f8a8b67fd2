"""ONNX Runtime session options shared by the local engines (Piper, Kokoro): threads, spinning and memory.

Memory (measured, docs/benchmarks.md "Long lines"): ONNX Runtime's default CPU arena is per session and grows by
powers of two to the largest input it ever saw, never shrinking, so one 1,000-character line left a gateway at
1.7-2.9 GB. Turning the arena off is worse while busy: every run mallocs its buffers afresh and, with 2 Piper and 2
Kokoro pieces in flight, resident memory spiked to 2-5 GB (it returns to 0.4 GB after, with
:func:`gateway.providers.delivery.trim_heap`). What holds: pieces of bounded length (:mod:`gateway.text.pieces`) and
**one arena shared by every session of the process that grows only by what is requested** (``kSameAsRequested``,
registered once with ``create_and_register_allocator``; sessions opt in with ``session.use_env_allocators``). It
settles at the working set of the pieces in flight (about 1.1 GB with both engines' models and 4 pieces) and stays
there, with no spikes.
"""

from __future__ import annotations

import logging
import threading

import onnxruntime

from gateway.settings import EngineSettings

log = logging.getLogger(__name__)

_lock = threading.Lock()
_shared: list[bool] = []  # [registered?] once per process


def shared_arena() -> bool:
    """Register the process-wide CPU arena (``kSameAsRequested``) once; False if this ONNX Runtime cannot."""
    with _lock:
        if not _shared:
            try:
                info = onnxruntime.OrtMemoryInfo("Cpu", onnxruntime.OrtAllocatorType.ORT_ARENA_ALLOCATOR, 0,
                                                 onnxruntime.OrtMemType.DEFAULT)
                # max memory 0 (no cap), extend strategy 1 = kSameAsRequested, default chunk sizes
                onnxruntime.create_and_register_allocator(info, onnxruntime.OrtArenaCfg(0, 1, -1, -1))
                _shared.append(True)
            except Exception as exc:  # noqa: BLE001 - an older runtime: fall back to per-session arenas
                log.warning("onnxruntime: no shared arena (%s); each session keeps its own", exc)
                _shared.append(False)
        return _shared[0]


def session_options(engine: EngineSettings) -> onnxruntime.SessionOptions:
    """Session options for one engine's settings (``settings.piper`` or ``settings.kokoro``)."""
    opts = onnxruntime.SessionOptions()
    opts.intra_op_num_threads = max(1, engine.intra_threads)
    opts.inter_op_num_threads = 1
    opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if engine.spinning else "0")
    opts.enable_cpu_mem_arena = bool(engine.memory_arena)
    opts.enable_mem_pattern = bool(engine.memory_pattern)
    if engine.memory_arena and shared_arena():
        opts.add_session_config_entry("session.use_env_allocators", "1")
    opts.log_severity_level = 3
    return opts
