"""Step: finish a line. Encode the audio, keep it by request id, and build the :class:`SpeakResult`.

A whole-line response also gets its lip-sync here (a cached line's lip-sync is the same every time it is served:
computed once, then remembered). :meth:`Finisher.text_only` is the result when no provider could speak.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import structlog

from gateway.audio.encode import encode_all
from gateway.cache.key import delivery_key
from gateway.core.events import ErrorEvent
from gateway.lipsync.build import LipSyncData
from gateway.media.store import MediaKind, MediaStore
from gateway.observability.metrics import MEDIA_WRITES, labelled
from gateway.policy.chain import ChainOutcome
from gateway.policy.degradation import CACHED_FAMILIES, DegradationLevel
from gateway.speak.levels import LineLevels
from gateway.speak.line import Line
from gateway.speak.result import SpeakResult
from gateway.speak.run import LineRun
from gateway.speak.visemes import line_lipsync
from gateway.timing.estimate import estimate_timeline_from_text

log = structlog.get_logger(__name__)

#: Lip-sync results of cached lines kept in memory (a repeated line costs a lookup, not a recomputation).
LIPSYNC_MEMO_SIZE = 512
#: Sample rate assumed for a line that produced no audio event (nothing to encode either way).
DEFAULT_RATE = 22050


class Finisher:
    def __init__(self, store: MediaStore, levels: LineLevels, clock: Callable[[], float] = time.perf_counter) -> None:
        self.store = store
        self.levels = levels
        self.clock = clock
        self._memo: dict[tuple, LipSyncData] = {}

    async def finish(self, run: LineRun, whole_lipsync: bool) -> SpeakResult:
        """``whole_lipsync`` is false for streams, which already sent lip-sync data sentence by sentence."""
        line, outcome, timeline = run.line, run.outcome, run.timeline
        pcm, rate = run.audio.pcm, run.audio.rate or DEFAULT_RATE
        timeline.duration_ms = max(timeline.duration_ms, outcome.audio_ms)

        # MP3/Opus encoding takes milliseconds: a worker thread. WAV/PCM is a header and a copy, cheaper than the hop.
        encoded = await asyncio.to_thread(encode_all, pcm, rate, line.output) if line.output.lossy \
            else encode_all(pcm, rate, line.output)
        stored = await self._keep(line, encoded)
        duration_s = len(pcm) / 2 / rate
        lipsync = self._lipsync(run) if line.visemes and whole_lipsync else None
        level = self.levels.record(line, outcome, duration_s)
        stats = outcome.stats
        spoken_text = stats.get("spoken_text")
        reasons = self.levels.reasons(level, outcome) + ([] if stored is None else [stored])
        return SpeakResult(line.request_id, outcome.provider, level, duration_s, self.clock() - line.started,
                           encoded, line.output, rate, timeline, lipsync, line.display, outcome,
                           stats.get("source_provider") if outcome.provider in CACHED_FAMILIES else outcome.provider,
                           reasons=reasons, spoken_text=spoken_text,
                           words=timeline.words if spoken_text else line.display_words(timeline.words),
                           voice=run.voice, voice_changes=list(run.voice_changes), audio_stored=stored is None)

    async def _keep(self, line: Line, data: bytes) -> str | None:
        """Put the audio into the media store; the reason when it could not (the line is still answered)."""
        try:
            await self.store.put(MediaKind.AUDIO, line.request_id, data, line.output.media_type, line.output.extension)
        except Exception as exc:  # noqa: BLE001 - a store outage costs the audio_url, never the line
            MEDIA_WRITES.labels("audio", self.store.backend, "failed").inc()
            log.warning("media_store_failed", kind="audio", backend=self.store.backend, error=type(exc).__name__)
            return (f"media_unwritable: audio not stored ({self.store.backend}: {type(exc).__name__}), "
                    "served inline (audio_base64), no audio_url")
        labelled(MEDIA_WRITES, "audio", self.store.backend, "ok").inc()
        return None

    def _lipsync(self, run: LineRun) -> LipSyncData:
        line, key = run.line, run.outcome.stats.get("cache_key")
        memo = (key, line.fps, line.blendshapes, delivery_key(line.segments)) \
            if run.outcome.provider == "cache" and key else None
        data = self._memo.get(memo) if memo else None
        if data is None:
            data = line_lipsync(line, run.timeline, run.segment_times)
            if memo:
                self._memo[memo] = data
                while len(self._memo) > LIPSYNC_MEMO_SIZE:
                    self._memo.pop(next(iter(self._memo)))
        return data

    def text_only(self, line: Line, error: ErrorEvent | None) -> SpeakResult:
        """Every provider failed: the text with estimated timings and visemes, no audio."""
        timeline = estimate_timeline_from_text(line.display)
        lipsync = line_lipsync(line, timeline, {}) if line.visemes else None
        reasons = ([error.message] if error else []) + self.levels.controller.current.reasons
        return SpeakResult(line.request_id, None, DegradationLevel.TEXT_ONLY, timeline.duration_ms / 1000,
                           self.clock() - line.started, None, line.output, None, timeline, lipsync, line.display,
                           ChainOutcome(), reasons=reasons, words=timeline.words)
