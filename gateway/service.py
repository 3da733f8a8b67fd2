"""The speak pipeline: a line of dialogue in, speech and lip-sync data out.

The recipe (:meth:`Mouthpiece.stream`):

1. ``prepare``      — clean and validate the text, resolve character, voice and output format;
2. ``plan``         — order the providers (a cache hit of the first choice first);
3. ``synthesize``   — run the provider chain (breakers, retries, deadlines, fail-over);
4. ``to_output``    — resample every chunk to the output rate;
5. ``lip_sync``     — phoneme timeline -> visemes per finished sentence;
6. ``finish``       — encode the file, keep it by request id, store the line in the cache.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import aclosing

import structlog
from opentelemetry import trace

from gateway.audio.encode import encode_all, encode_wav
from gateway.audio.formats import parse_output_format, valid_output_formats
from gateway.media.audio import AudioStore
from gateway.cache.factory import build_cache
from gateway.cache.key import delivery_key
from gateway.characters import CastError, Character, check_voices, load_cast
from gateway.text.emotions import Emotion, UnknownEmotion
from gateway.text.plan import Planned, plan_segments
from gateway.text.ssml import SsmlError, is_ssml
from gateway.core.errors import InputError
from gateway.speak.line import Line, OutputAudio, SpeakInput, SpeakResult, with_ipa
from gateway.core.events import (AlignmentEvent, AudioEvent, ErrorEvent, FinalEvent, SegmentEndEvent, StatusEvent,
    VisemesEvent)
from gateway.timing.estimate import estimate_timeline_from_text
from gateway.lipsync.expression import expression_curves, merge_curves, spans_from_segments
from gateway.lipsync.build import LipSyncStream, build_lipsync
from gateway.video.pool import VideoPool
from gateway.video.settings import VideoSettings
from gateway.observability.metrics import (AUDIO_SECONDS, CACHE_LOOKUPS, DEGRADATION_LEVEL, LEVEL_TRANSITIONS,
                                           PROVIDER_QUOTA_USED)
from gateway.policy.breakers import ProviderBreaker
from gateway.policy.chain import ChainOutcome, ChainPlan, ChainStep, ProviderChain, RetryPolicy
from gateway.policy.deadlines import Deadlines
from gateway.policy.degradation import (CACHED_FAMILIES, DegradationLevel, LevelController, Thresholds, assess,
                                        level_for)
from gateway.policy.health import HealthSignals
from gateway.policy.rate_limit import RateLimiter
from gateway.policy.retry_budget import RetryBudget
from gateway.policy.shared_state import RedisLink, SharedBreakerStorage
from gateway.core.voices import HealthState, ProviderHealth, VoiceInfo
from gateway.providers.base import Provider
from gateway.providers.cache import store_line
from gateway.providers.factory import build_providers
from gateway.settings import Settings
from gateway.text.clean import clean_text
from gateway.core.timeline import Timeline

log = structlog.get_logger(__name__)
#: Lip-sync results of cached lines kept in memory (a repeated line costs a lookup, not a recomputation).
LIPSYNC_MEMO_SIZE = 512
#: While the primary is demoted (slow or failing), one line in this many still tries it first.
PROBE_EVERY = 5
tracer = trace.get_tracer("mouthpiece.pipeline")


class Mouthpiece:
    """The gateway service: providers, their breakers, the cache, the cast and the chain."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.cast = load_cast(settings.characters_file)
        self.cache = build_cache(settings) if settings.cache_enabled else None
        self.providers: dict[str, Provider] = build_providers(settings, self.cache)
        problems = check_voices(self.cast, {name: {v.voice for v in p.voices()} for name, p in self.providers.items()
                                            if name in ("kokoro", "espeak", "piper")})
        if problems:
            raise CastError(f"{settings.characters_file}: " + "; ".join(problems))
        self.redis = RedisLink(settings.redis_url) if settings.redis_url else None
        self.breakers = {name: ProviderBreaker(name, settings.breaker_fail_max, settings.breaker_reset_s,
                                               SharedBreakerStorage(self.redis, name) if self.redis else None)
                         for name in self.providers}
        self.signals = HealthSignals(settings.health_window_s)
        self.retry_budget = RetryBudget(settings.retry_budget_percent, settings.retry_budget_min)
        self.chain = ProviderChain(Deadlines.from_settings(settings),
                                   RetryPolicy(settings.retry_attempts, settings.retry_initial_s, settings.retry_max_s),
                                   self.signals, self.retry_budget)
        self.rate_limiter = RateLimiter(self.redis)
        self.levels = LevelController(settings.level_recovery_s)
        self.thresholds = Thresholds(settings.latency_warn_s, settings.latency_critical_s, settings.error_warn,
                                     settings.error_critical, settings.quota_warn)
        self.draining = False
        self._demoted_lines = 0
        self._lipsync_memo: dict[tuple, dict] = {}
        self.audio_store = AudioStore(settings.data_dir / "audio", settings.audio_ttl_s)
        video_settings = VideoSettings()
        if "media_dir" not in video_settings.model_fields_set:
            video_settings = video_settings.model_copy(update={"media_dir": settings.data_dir / "video"})
        self.video = VideoPool(video_settings)
        self._health_task: asyncio.Task | None = None
        self._set_level(DegradationLevel.NORMAL)

    async def start(self) -> None:
        results = await asyncio.gather(*(p.start() for p in self.providers.values()), return_exceptions=True)
        for name, result in zip(self.providers, results):
            if isinstance(result, BaseException):
                log.warning("provider_start_failed", provider=name, error=str(result))
        await self.video.start()
        await self.health()
        self._health_task = asyncio.create_task(self._health_loop(), name="health-loop")

    async def close(self) -> None:
        if self._health_task is not None:
            self._health_task.cancel()
        await self.video.close()
        for provider in self.providers.values():
            await provider.close()
        if self.cache is not None:
            await self.cache.close()

    async def _health_loop(self) -> None:
        """Recompute the overall level from the health signals, so transitions happen (and are logged) on time."""
        while True:
            await asyncio.sleep(self.settings.health_interval_s)
            try:
                await self.health()
            except Exception as exc:  # noqa: BLE001 - the loop must survive a broken probe
                log.warning("health_loop_failed", error_type=type(exc).__name__)

    # ---- 1. prepare -------------------------------------------------------------------------------------------
    def prepare(self, inp: SpeakInput) -> Line:
        character = self._character(inp.character)
        planned = self._plan_text(inp, character)
        text = planned.text
        if not text.strip():
            raise InputError(400, "Text is required")
        if len(planned.display) > self.settings.max_text_chars:
            raise InputError(400, f"Text is too long: {len(planned.display)} characters; the limit is "
                                  f"{self.settings.max_text_chars}", limit=self.settings.max_text_chars)
        try:
            output = parse_output_format(inp.output_format or self.settings.default_output_format)
        except ValueError:
            raise InputError(400, f"Unknown output_format {inp.output_format!r}",
                             valid=valid_output_formats()) from None
        fps = self.settings.blendshape_fps if inp.fps is None else inp.fps
        if not 1 <= fps <= 240:
            raise InputError(400, "fps must be between 1 and 240")
        pinned = self._resolve_voice(inp.voice_id) if inp.voice_id else None
        steps, first_choice = self._plan(character, pinned)
        avatar = inp.avatar_id or (character.avatar if self.video.mode != "disabled" else None)
        return Line(uuid.uuid4().hex, text, with_ipa(planned), character, output, steps, first_choice,
                    character.settings_for(planned.emotion), inp.visemes, inp.blendshapes, fps, avatar, planned)

    def _plan_text(self, inp: SpeakInput, character: Character) -> Planned:
        """SSML or plain text -> spoken text and segments with their prosody and emotion."""
        raw = inp.text or ""
        if len(raw) > 20 * self.settings.max_text_chars:
            raise InputError(400, f"Text is too long; the limit is {self.settings.max_text_chars} characters",
                             limit=self.settings.max_text_chars)
        if inp.text_type not in ("auto", "ssml", "plain"):
            raise InputError(400, f"Unknown text_type {inp.text_type!r}", valid=["auto", "ssml", "plain"])
        if inp.text_type == "ssml" and not raw.lstrip().startswith("<speak"):
            raw = f"<speak>{raw}</speak>"
        elif inp.text_type == "plain" or not is_ssml(raw):
            raw = character.apply_pronunciations(clean_text(raw))  # names of the game world, said right
        emotion = inp.emotion or (character.emotion if character.emotion != "neutral" else None)
        try:
            return plan_segments(raw, emotion=emotion, intensity=inp.intensity)
        except SsmlError as exc:
            raise InputError(400, f"Invalid SSML: {exc.message}", element=exc.element, line=exc.line,
                             column=exc.column) from None
        except UnknownEmotion:
            raise InputError(400, f"Unknown emotion {emotion!r}", valid=[e.value for e in Emotion]) from None

    def _character(self, character_id: str | None) -> Character:
        cid = character_id or self.settings.default_character
        character = self.cast.get(cid)
        if character is None:
            raise InputError(404, f"Unknown character {cid!r}", valid=self.cast.ids)
        return character

    def _resolve_voice(self, voice_id: str) -> tuple[str, str]:
        voices = self.voices()
        if ":" in voice_id:
            provider, _, voice = voice_id.partition(":")
            matches = [v for v in voices if v.provider == provider and v.voice == voice]
        else:
            matches = [v for v in voices if v.voice == voice_id]
        if not matches:
            raise InputError(404, f"Unknown voice_id {voice_id!r}", valid=sorted(v.voice_id for v in voices))
        return matches[0].provider, matches[0].voice

    # ---- 2. plan ----------------------------------------------------------------------------------------------
    def _plan(self, character: Character, pinned: tuple[str, str] | None) -> tuple[list[ChainStep], str | None]:
        order = list(character.chain or self.settings.chain)
        voices = dict(character.voices)
        if pinned is not None:
            provider, voice = pinned
            order = [provider] + [p for p in order if p != provider]
            voices[provider] = voice
        steps: list[ChainStep] = []
        for name in order:
            provider = self.providers.get(name)
            if provider is None:
                continue
            voice = voices.get(name) or voices.get(provider.family) or provider.default_voice()
            steps.append(ChainStep(provider, voice, self.breakers[name]))
        synthesizers = [s for s in steps if s.provider.family not in CACHED_FAMILIES]
        demoted = self.levels.current.demoted
        if (pinned is None and len(synthesizers) > 1 and synthesizers[0].provider.name in demoted
                and not self._probe_demoted()):
            # Primary slow or failing: the next provider goes first, the primary right after it. One line in
            # PROBE_EVERY still tries the primary first, so its signals refresh and it can come back.
            slow = synthesizers[0]
            steps.remove(slow)
            steps.insert(steps.index(synthesizers[1]) + 1, slow)
        first = synthesizers[0] if synthesizers else None
        cache = self.providers.get("cache")
        if cache is not None and first is not None:
            # A cache hit of the first choice's voice is served before anything is synthesized.
            steps.insert(0, ChainStep(cache, first.voice, self.breakers["cache"],
                                      cache_candidates=((first.provider.family, first.voice),)))
        return steps, first.provider.name if first else None

    def _probe_demoted(self) -> bool:
        self._demoted_lines += 1
        return self._demoted_lines % PROBE_EVERY == 0

    # ---- 3-6. the stream --------------------------------------------------------------------------------------
    async def stream(self, line: Line, per_segment_visemes: bool = True) -> AsyncIterator:
        """Events for ``line`` in utterance time; ends with one ``FinalEvent`` or one ``ErrorEvent``."""
        outcome = ChainOutcome()
        audio = OutputAudio(line.output)
        timeline = Timeline()
        span = tracer.start_span("speak", attributes={"request_id": line.request_id, "character": line.character.id,
                                                      "chars": len(line.text)})
        plan = ChainPlan(line.steps, line.segments, line.text, line.settings, line.request_id,
                         line.character.id, line.output.name, trace.set_span_in_context(span))
        self.retry_budget.request_started()
        try:
            async with aclosing(self._events(line, plan, outcome, audio, timeline, per_segment_visemes)) as events:
                async for event in events:
                    yield event
        finally:
            self.retry_budget.request_finished()
            span.set_attribute("provider", outcome.provider or "none")
            span.end()

    async def _events(self, line, plan, outcome, audio, timeline, per_segment_visemes) -> AsyncIterator:  # noqa: ANN001
        segment_start_ms = 0
        last_segment = line.segments[-1].index
        visemes = LipSyncStream(fps=line.fps, include=("visemes", "azure"))
        segment_times: dict[int, tuple[int, int]] = {}
        async with aclosing(self.chain.stream(plan, outcome)) as chain_events:
            async for event in chain_events:
                if isinstance(event, AudioEvent):
                    for chunk in audio.add(event):
                        yield chunk
                elif isinstance(event, AlignmentEvent):
                    timeline.extend(list(event.phonemes), list(event.words))
                    words = list(event.words)
                    if not (outcome.providers_used and outcome.providers_used[-1] == "canned"):
                        words = line.display_words(words)  # a canned clip's words index the clip's own text
                    yield AlignmentEvent(event.phonemes, tuple(words), event.segment)
                elif isinstance(event, SegmentEndEvent):
                    timeline.duration_ms = max(timeline.duration_ms, event.end_ms)
                    segment_times[event.segment] = (segment_start_ms, event.end_ms)
                    if per_segment_visemes and line.visemes:
                        phonemes = [p for p in timeline.phonemes if p.start_ms >= segment_start_ms]
                        final = event.segment == last_segment
                        data = visemes.push(phonemes, event.end_ms, final=final).to_dict()
                        if line.blendshapes:
                            data["expression"] = self.expression(line, segment_times, segment_start_ms,
                                                                 event.end_ms, final).to_dict()
                        yield VisemesEvent(data, segment_start_ms, event.end_ms)
                    segment_start_ms = event.end_ms
                    yield event
                elif isinstance(event, StatusEvent):
                    yield StatusEvent(event.code, event.provider, self._level_during(line, outcome, event.provider).value,
                                      event.message, event.detail)
                elif isinstance(event, ErrorEvent):
                    self._record(line, outcome, None)
                    yield event
                    return
                elif isinstance(event, FinalEvent):
                    audio.flush()
                    timeline.duration_ms = max(timeline.duration_ms, outcome.audio_ms)
                    result = await self.finish(line, audio, timeline, outcome, event.stats, segment_times,
                                               whole_lipsync=not per_segment_visemes)
                    if line.avatar_id is not None:
                        yield StatusEvent("rendering", result.provider, result.degradation_level.value,
                                          f"rendering video for avatar {line.avatar_id}")
                        await self.render_video(line, result, audio)
                    yield FinalEvent({"result": result})
                    await self.remember(line, result, audio.pcm)  # after the client has its final event
                    return

    def lip_sync(self, line: Line, timeline: Timeline, segment_times: dict[int, tuple[int, int]]) -> dict:
        """Step 5 for a whole line: visemes, Azure ids and blendshape curves (mouth and expression merged)."""
        include = ("visemes", "azure", "blendshapes") if line.blendshapes else ("visemes", "azure")
        data = build_lipsync(timeline.phonemes, timeline.duration_ms, fps=line.fps, include=include)
        if data.blendshapes is not None:
            face = self.expression(line, segment_times, 0, timeline.duration_ms, final=True)
            data.blendshapes = merge_curves(data.blendshapes, face)
        return data.to_dict()

    def expression(self, line: Line, segment_times: dict[int, tuple[int, int]], start_ms: int, end_ms: int,
                   final: bool):
        """Brows, eyes, cheeks and smile/frown from each segment's emotion and emphasis (ARKit curves)."""
        by_index = {s.index: s for s in line.segments}
        timed = [(by_index[i], t) for i, t in sorted(segment_times.items()) if i in by_index]
        if not timed:  # a whole-line replay (cache, canned): the line's own emotion over all of it
            timed = [(line.segments[-1], (0, end_ms))]
        spans = spans_from_segments([s for s, _ in timed], [t for _, t in timed])
        return expression_curves(spans, end_ms, fps=line.fps, start_ms=start_ms, final=final)

    async def finish(self, line: Line, audio: OutputAudio, timeline: Timeline, outcome: ChainOutcome,
                     stats: dict, segment_times: dict[int, tuple[int, int]],
                     whole_lipsync: bool = True) -> SpeakResult:
        """Step 6: encode, keep by request id, cache the line, build the result.

        ``whole_lipsync`` is false for streams, which already sent lip-sync data sentence by sentence.
        """
        pcm = audio.pcm
        rate = audio.rate or 22050
        served = outcome.provider

        def encode_and_keep() -> bytes:
            data = encode_all(pcm, rate, line.output)
            self.audio_store.save(line.request_id, data, line.output.extension, line.output.media_type)
            return data

        encoded = await asyncio.to_thread(encode_and_keep)  # one hop off the event loop for both
        duration_s = len(pcm) / 2 / rate
        lipsync = None
        if line.visemes and whole_lipsync:
            # A cached line's lip-sync is the same every time it is served: computed once, then remembered.
            memo = (stats["cache_key"], line.fps, line.blendshapes, delivery_key(line.segments)) \
                if served == "cache" and stats.get("cache_key") else None
            lipsync = self._lipsync_memo.get(memo) if memo else None
            if lipsync is None:
                lipsync = self.lip_sync(line, timeline, segment_times)
                if memo:
                    self._lipsync_memo[memo] = lipsync
                    while len(self._lipsync_memo) > LIPSYNC_MEMO_SIZE:
                        self._lipsync_memo.pop(next(iter(self._lipsync_memo)))
        level = self._record(line, outcome, duration_s)
        source = stats.get("source_provider") if served in CACHED_FAMILIES else served
        spoken_text = stats.get("spoken_text")
        words = timeline.words if spoken_text else line.display_words(timeline.words)
        return SpeakResult(line.request_id, served, level, duration_s, time.perf_counter() - line.started, encoded,
                           line.output, rate, timeline, lipsync, line.display, outcome, source,
                           reasons=self._reasons(level, outcome), spoken_text=spoken_text, words=words)

    def _reasons(self, level: DegradationLevel, outcome: ChainOutcome) -> list[str]:
        """Why a response is degraded: its failed attempts, then what the health signals say."""
        if level is DegradationLevel.NORMAL:
            return []
        failed = [f"{a['provider']}: {a.get('reason') or a['outcome']}" for a in outcome.attempts
                  if a["outcome"] not in ("ok",) and a.get("reason") != "no cached line"
                  and not (a["provider"] == "cache" and a["outcome"] == "unavailable")]
        return failed + [r for r in self.levels.current.reasons if r not in failed]

    async def render_video(self, line: Line, result: SpeakResult, audio: OutputAudio) -> None:
        """Step 7 (when an avatar is asked for): a lip-synced video from the pool, or audio-only with the reason."""
        visemes = (result.lipsync or {}).get("visemes")
        if visemes is None:
            visemes = build_lipsync(result.timeline.phonemes, result.timeline.duration_ms, include=("visemes",)
                                    ).to_dict()["visemes"]
        wav = encode_wav(audio.pcm, audio.rate or 22050)
        emotion = line.planned.emotion if line.planned is not None else None
        outcome = await self.video.render(line.request_id, wav, visemes, line.avatar_id, emotion,
                                          self.settings.total_timeout_s)
        result.video_outcome = outcome.to_dict()
        result.video = outcome.ok
        if not outcome.ok:
            if result.degradation_level.rank < DegradationLevel.AUDIO_ONLY.rank:
                result.degradation_level = DegradationLevel.AUDIO_ONLY
            result.reasons.append(outcome.reason or "video not delivered")

    async def remember(self, line: Line, result: SpeakResult, pcm: bytes) -> None:
        """Store a freshly synthesized line in the cache (one provider made all of it)."""
        served = result.provider
        if self.cache is None or not served or served in CACHED_FAMILIES or len(result.outcome.providers_used) != 1:
            return
        step = next(s for s in line.steps if s.provider.name == served)
        await store_line(self.cache, text=line.text, family=step.provider.family, voice=step.voice,
                         settings=line.settings, output_format=line.output.name, pcm=pcm,
                         sample_rate=result.sample_rate or 22050, timeline=result.timeline, provider=served,
                         delivery=delivery_key(line.segments))

    async def speak(self, line: Line) -> SpeakResult:
        """The whole line at once; when every provider fails, a text-only result with estimated timings."""
        error: ErrorEvent | None = None
        result: SpeakResult | None = None
        async with aclosing(self.stream(line, per_segment_visemes=False)) as events:
            async for event in events:  # consumed to the end: the cache store follows the final event
                if isinstance(event, FinalEvent):
                    result = event.stats["result"]
                elif isinstance(event, ErrorEvent):
                    error = event
        if result is not None:
            return result
        if error is not None and error.code == "bad_request":
            raise InputError(400, error.message)
        return self.text_only(line, error)

    def text_only(self, line: Line, error: ErrorEvent | None) -> SpeakResult:
        timeline = estimate_timeline_from_text(line.display)
        lipsync = None
        if line.visemes:
            lipsync = self.lip_sync(line, timeline, {})
        reasons = ([error.message] if error else []) + self.levels.current.reasons
        return SpeakResult(line.request_id, None, DegradationLevel.TEXT_ONLY, timeline.duration_ms / 1000,
                           time.perf_counter() - line.started, None, line.output, None, timeline, lipsync,
                           line.display, ChainOutcome(), reasons=reasons, words=timeline.words)

    # ---- levels -----------------------------------------------------------------------------------------------
    def _level_during(self, line: Line, outcome: ChainOutcome, current: str | None) -> DegradationLevel:
        """The level while ``current`` serves: a cache hit before any fail-over is normal service."""
        if current == "cache" and outcome.fallbacks == 0:
            return DegradationLevel.NORMAL
        return level_for(current, line.first_choice) if current else self.levels.current.level

    def _record(self, line: Line, outcome: ChainOutcome, duration_s: float | None) -> DegradationLevel:
        if outcome.provider == "cache" and outcome.step_index == 0:
            level = DegradationLevel.NORMAL  # a cache hit of the first choice is normal service
        else:
            level = level_for(outcome.provider, line.first_choice)
        if duration_s is not None and outcome.provider:
            AUDIO_SECONDS.labels(outcome.provider).inc(duration_s)
        log.info("line_served" if outcome.provider else "line_failed", provider=outcome.provider,
                 degradation_level=level.value,
                 audio_s=round(duration_s, 3) if duration_s is not None else None,
                 first_audio_s=round(outcome.first_audio_s, 4) if outcome.first_audio_s is not None else None,
                 fallbacks=outcome.fallbacks, retries=outcome.retries, chars=len(line.text))
        if outcome.provider == "cache":
            CACHE_LOOKUPS.labels("hit").inc()
        elif "cache" in self.providers:
            CACHE_LOOKUPS.labels("miss").inc()
        return level

    def _set_level(self, level: DegradationLevel) -> None:
        for lv in DegradationLevel:
            DEGRADATION_LEVEL.labels(lv.value).set(1 if lv is level else 0)

    # ---- health and voices ------------------------------------------------------------------------------------
    def voices(self) -> list[VoiceInfo]:
        return [v for p in self.providers.values() for v in p.voices()]

    async def health(self) -> dict:
        """Per-provider state with reasons and breakers; the overall level (with hysteresis) and its reasons."""
        reports = await asyncio.gather(*(p.health() for p in self.providers.values()), return_exceptions=True)
        providers = {}
        for (name, provider), report in zip(self.providers.items(), reports):
            if isinstance(report, BaseException):
                report = ProviderHealth(HealthState.DOWN, f"health check failed: {type(report).__name__}")
            breaker = self.breakers[name].snapshot()
            state = report.state
            if breaker["state"] == "open":
                state = HealthState.DOWN
            elif breaker["state"] == "half-open" and state is HealthState.UP:
                state = HealthState.DEGRADED
            reason = report.reason or (f"breaker {breaker['state']}" if breaker["state"] != "closed" else "")
            signal = self.signals.signal(name)
            quota = (report.detail or {}).get("quota_used_ratio")
            if isinstance(quota, (int, float)):
                PROVIDER_QUOTA_USED.labels(name).set(quota)
            providers[name] = {"state": state.value, "reason": reason, "breaker": breaker, "family": provider.family,
                               "signals": {"first_audio_ewma_s": signal.ewma_s, "first_audio_p95_s": signal.p95_s,
                                           "error_ratio": round(signal.error_ratio, 4), "attempts": signal.attempts},
                               **({"detail": report.detail} if report.detail else {})}
        self.signals.refresh()
        redis_up = None if self.redis is None else await asyncio.to_thread(self.redis.ping)
        video = await self.video.health() if self.video.mode != "disabled" else None
        candidate = assess(providers, self.settings.chain, self.signals, self.thresholds, video, redis_up)
        current, previous = self.levels.update(candidate)
        if previous is not None:
            LEVEL_TRANSITIONS.labels(previous.value, current.level.value).inc()
            log.warning("degradation_level_changed", old=previous.value, new=current.level.value,
                        reasons=current.reasons)
        self._set_level(current.level)
        return {"status": "draining" if self.draining else ("ok" if current.level is DegradationLevel.NORMAL
                                                             else "degraded"),
                "degradation_level": current.level.value, "reasons": current.reasons, "warnings": current.warnings,
                "forced_level": self.levels.forced.value if self.levels.forced else None,
                "draining": self.draining, "retry_budget": self.retry_budget.snapshot(),
                "redis": None if self.redis is None else self.redis.snapshot(),
                "video": video if video is not None else {"healthy": False, "mode": "disabled",
                                                          "reason": "no video workers configured"},
                "providers": providers}
