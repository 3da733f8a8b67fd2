"""What the capacity model shows: each engine, and the cores (``/api/health`` and ``/metrics`` read these)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class EngineCapacity:
    """One engine in ``/api/health``."""

    in_flight: int
    waiting: int
    limit: int
    rtf: float  #: measured core-seconds per audio-second
    first_audio_fixed: float  #: core-seconds to the first audio: a fixed part, ...
    first_audio_rtf: float  #: ... plus this per second of the first sentence's audio
    ms_per_char: float
    samples: int
    headroom_lines: int  #: lines of this engine the cores could keep up with on top of those in flight


@dataclass(frozen=True, slots=True)
class CapacitySnapshot:
    cores: float
    available_cores: float  #: measured: what the syntheses got when they could use every core
    usable_cores: float  #: available x max_load
    contention_margin: float  #: the margin on a line that would share the cores (measured: :mod:`.capacity_margin`)
    load_cores: float  #: cores the syntheses in flight need to keep up
    headroom_cores: float
    in_flight: int
    waiting: int
    engines: dict[str, EngineCapacity]
