"""The gateway service: builds and wires every dependency of the speak recipe, starts and stops them.

``Mouthpiece(settings)`` builds everything from settings; any dependency may be passed in instead (tests give
their own providers, breakers, cache, media store, video pool, aligner or clock). Speaking itself is the
recipe's (:mod:`gateway.speak.recipe`); this class only owns the parts and their lifecycle.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import AsyncIterator, Callable

import structlog

from gateway.audio.loudness import Calibration
from gateway.audio.vendor_level import VoiceLoudness
from gateway.cache.base import LineCache
from gateway.cache.factory import build_cache
from gateway.characters import KNOWN_PROVIDERS, Cast, CastError, check_voices, load_cast
from gateway.core.voices import VoiceInfo
from gateway.media.factory import build_media_store
from gateway.media.monitored import monitored
from gateway.media.store import MediaStore
from gateway.observability.metrics import DRAINING
from gateway.policy.capacity import Rule
from gateway.policy.capacity_gate import Capacity
from gateway.policy.chain import ProviderChain, RetryPolicy
from gateway.policy.deadlines import Deadlines
from gateway.policy.degradation import LevelController
from gateway.policy.health import HealthSignals
from gateway.policy.rate_limit import RateLimiter
from gateway.policy.retry_budget import RetryBudget
from gateway.policy.shared_state import RedisLink, SharedBreakerStorage
from gateway.policy.trials import Trials
from gateway.providers.base import Provider
from gateway.providers.factory import LOCAL_ENGINES, build_providers
from gateway.service.health import HealthReport, HealthReporter
from gateway.service.storage import StorageWatch
from gateway.settings import Settings
from gateway.speak.events import StreamEvent
from gateway.speak.finish import Finisher
from gateway.speak.levels import LineLevels
from gateway.speak.line import Line, SpeakInput
from gateway.speak.prepare import LinePreparer
from gateway.speak.recipe import SpeakRecipe
from gateway.speak.result import SpeakResult
from gateway.speak.route import Router
from gateway.speak.steps import Steps
from gateway.speak.voice_ids import LiveVoices, VoiceIds, VoicePin
from gateway.timing.aligners import Aligner, Recognizer, build_aligner, build_recognizer
from gateway.upstream.breaker import ProviderBreaker
from gateway.video.metrics import VIDEO_MEDIA_BYTES
from gateway.video.pool import VideoPool
from gateway.voices.catalogue import CatalogueError, VoiceCatalogue, load_catalogue

log = structlog.get_logger(__name__)
#: Providers whose voices are listed locally, so the cast can be checked against them at start-up.
LOCAL_VOICE_PROVIDERS = ("kokoro", "espeak", "piper")
_BUILD = object()  #: "build it from settings" (None is a real value for the cache and Redis)


class Mouthpiece:
    def __init__(self, settings: Settings, *, cast: Cast | None = None, cache: LineCache | None | object = _BUILD,
                 aligner: Aligner | None = None, recognizer: Recognizer | None = None,
                 providers: dict[str, Provider] | None = None,
                 breakers: dict[str, ProviderBreaker] | None = None, redis: RedisLink | None | object = _BUILD,
                 media: MediaStore | None = None, video: VideoPool | None = None,
                 catalogue: VoiceCatalogue | None = None, capacity: Capacity | None | object = _BUILD,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self.settings = s = settings
        self.cast = cast or load_cast(s.characters_file)
        self.catalogue = catalogue or load_catalogue(s.voices_file)
        self.cache = (build_cache(s) if s.cache.enabled else None) if cache is _BUILD else cache
        self.aligner = aligner or build_aligner()
        self.recognizer = recognizer or build_recognizer(models_dir=s.models_dir)
        #: One model of the cores for every local engine (None: each engine only caps its own concurrency).
        self.capacity = (Capacity(Rule.from_settings(s), {n: engine_threads(s, n) for n in LOCAL_ENGINES
                                                          if n in s.enabled_providers and not s.speech.serves(n)})
                         if s.capacity.enabled else None) if capacity is _BUILD else capacity
        self.providers = providers if providers is not None else build_providers(s, self.cache, self.aligner,
                                                                                  self.cast, self.capacity)
        self._check_cast()
        self.redis = (RedisLink(s.redis_url) if s.redis_url else None) if redis is _BUILD else redis
        self.breakers = breakers if breakers is not None else {
            name: ProviderBreaker(name, s.breaker.fail_max, s.breaker.reset_s,
                                  SharedBreakerStorage(self.redis, name) if self.redis else None)
            for name in self.providers}
        self.media = monitored(media or build_media_store(s))
        self.video = video or VideoPool(s.video, self.media)
        self.signals = HealthSignals(s.thresholds.health_window_s, s.thresholds.delivery_rtf_warn,
                                     s.thresholds.delivery_rtf_critical, s.thresholds.latency_critical_s)
        self.retry_budget = RetryBudget.from_settings(s.retry)
        self.levels = LevelController(s.thresholds.level_recovery_s, s.thresholds.health_window_s)
        self.rate_limiter = RateLimiter(self.redis)
        deadlines = Deadlines.from_settings(s.deadlines)
        #: Background trials of demoted providers, so they prove themselves again (gateway/policy/trials.py).
        self.trials = Trials(self.providers, self.breakers, self.signals, self.levels.suspects,
                             deadlines, s.thresholds, s.trials, on_cleared=self.health,
                             flaps=lambda name: self.levels.flaps.get(name, 0))
        self.health_reporter = HealthReporter(self.providers, self.breakers, s.chain, self.signals, s.thresholds,
                                              self.levels, self.retry_budget, self.redis, self.video, self.capacity,
                                              StorageWatch(self.media, self.cache,
                                                           s.thresholds.storage_probe_interval_s), self.trials)
        live = LiveVoices(self.providers)
        self.router = router = Router(self.providers, self.breakers, s.chain, lambda: self.levels.current.demoted,
                                      self.catalogue, live, trialled=self.trials.covers)
        self.voice_ids = VoiceIds(self.cast, self.catalogue, self.providers, live)
        line_levels = LineLevels(self.levels, "cache" in self.providers)
        #: cloud voices' loudness, learnt from what they send (None when vendor levelling is off)
        self.vendor_loudness = VoiceLoudness(s.delivery.vendor_prior_lufs, Calibration.load(
            s.delivery.calibration_file)) if s.delivery.vendor_levelling else None
        self.recipe = SpeakRecipe(Steps(
            preparer=LinePreparer(s, self.cast, self.voice_ids, router, self._character_avatars, clock),
            router=router,
            chain=ProviderChain(deadlines, RetryPolicy.from_settings(s.retry),
                                self.signals, self.retry_budget),
            levels=line_levels, finisher=Finisher(self.media, line_levels, clock), video=self.video,
            cache=self.cache, retry_budget=self.retry_budget, total_deadline_s=s.deadlines.total_timeout_s,
            loudness=self.vendor_loudness, delivery=s.delivery))
        self._tasks: list[asyncio.Task] = []

    def _character_avatars(self) -> bool:
        """Whether every line of a character with an avatar gets a video without asking: with a pool you configured
        (not the embedded worker, which renders only lines that name an ``avatar_id``)."""
        return self.video.mode != "disabled" and not self.settings.video.embedded_worker

    def _check_cast(self) -> None:
        voices = {name: {v.voice for v in p.voices()} for name, p in self.providers.items()
                  if name in LOCAL_VOICE_PROVIDERS}
        problems = check_voices(self.cast, voices)
        if problems:
            raise CastError(f"{self.settings.characters_file}: " + "; ".join(problems))
        sections = set(self.catalogue.sections)
        problems = [f"section {name!r} names no provider (known: {', '.join(sorted(KNOWN_PROVIDERS))})"
                    for name in sorted(sections - KNOWN_PROVIDERS)]
        problems += [f"{name} voice {voice!r} is not in the catalogue" for name, listed in voices.items()
                     for voice in sorted(listed) if self.catalogue.get(name, voice) is None]
        if problems:
            raise CatalogueError(f"{self.settings.voices_file}: " + "; ".join(problems))

    # ---- lifecycle --------------------------------------------------------------------------------------------
    async def start(self) -> None:
        results = await asyncio.gather(*(p.start() for p in self.providers.values()), return_exceptions=True)
        for name, result in zip(self.providers, results):
            if isinstance(result, BaseException):
                log.warning("provider_start_failed", provider=name, error=str(result))
        try:
            await self.media.start()
        except Exception as exc:  # noqa: BLE001 - reported by the health endpoint; lines still get spoken
            log.warning("media_store_start_failed", backend=self.media.backend, error=type(exc).__name__)
        await self.video.start()
        await self.health()
        self._tasks = [asyncio.create_task(self._health_loop(), name="health-loop"),
                       asyncio.create_task(self._media_loop(), name="media-cleanup")]
        if self.settings.trials.enabled:
            self._tasks.append(asyncio.create_task(self.trials.loop(), name="provider-trials"))
        if self.settings.gc_freeze:  # start-up's objects live as long as the process: no collection needs to walk them
            gc.collect()
            gc.freeze()

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await self.trials.close()
        await self.video.close()
        await self.media.close()
        for provider in self.providers.values():
            await provider.close()
        if self.cache is not None:
            await self.cache.close()

    async def _health_loop(self) -> None:
        """Recompute the overall level from the health signals, so transitions happen (and are logged) on time."""
        while True:
            await asyncio.sleep(self.settings.thresholds.health_interval_s)
            try:
                await self.health()
            except Exception as exc:  # noqa: BLE001 - the loop must survive a broken probe
                log.warning("health_loop_failed", error_type=type(exc).__name__)

    async def _media_loop(self) -> None:
        """Expired media out, size caps applied (every replica may run it: each pass is idempotent)."""
        while True:
            try:
                result = await self.media.cleanup()
                if "video" in result:
                    VIDEO_MEDIA_BYTES.set(result["video"]["kept_bytes"])
            except Exception as exc:  # noqa: BLE001 - the loop must survive a broken backend
                log.warning("media_cleanup_failed", error_type=type(exc).__name__)
            await asyncio.sleep(self.settings.media.cleanup_interval_s)

    # ---- what the API calls -----------------------------------------------------------------------------------
    def prepare(self, inp: SpeakInput) -> Line:
        return self.recipe.prepare(inp)

    def stream(self, line: Line, per_sentence: bool = True) -> AsyncIterator[StreamEvent]:
        return self.recipe.stream(line, per_sentence)

    async def speak(self, line: Line) -> SpeakResult:
        return await self.recipe.speak(line)

    async def health(self) -> HealthReport:
        return await self.health_reporter.report()

    def voices(self) -> list[VoiceInfo]:
        return [v for p in self.providers.values() for v in p.voices()]

    def resolve_voice(self, voice_id: str) -> VoicePin:
        """A request's ``voice_id`` (character, ``provider:voice`` or vendor id); :class:`InputError` 404 with a
        hint when it names nothing. HTTP and the WebSocket both resolve through this."""
        return self.voice_ids.resolve(voice_id)

    @property
    def draining(self) -> bool:
        return self.health_reporter.draining

    @draining.setter
    def draining(self, value: bool) -> None:
        self.health_reporter.draining = value
        DRAINING.set(1 if value else 0)

    @property
    def in_flight(self) -> int:
        """Lines being spoken now (every endpoint: speak, stream, WebSocket)."""
        return self.retry_budget.in_flight

    async def drain(self, timeout_s: float, poll_s: float = 0.05) -> bool:
        """Stop taking new lines (readiness 503 at once) and wait up to ``timeout_s`` for the lines in flight to
        finish; True when they all did."""
        self.draining = True
        log.warning("drain_started", in_flight=self.in_flight, timeout_s=timeout_s)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while self.in_flight > 0 and loop.time() < deadline:
            await asyncio.sleep(poll_s)
        log.warning("drain_finished", in_flight=self.in_flight)
        return self.in_flight == 0


def engine_threads(settings: Settings, engine: str) -> int:
    """Cores one synthesis of a local engine can keep busy: its ONNX Runtime threads (espeak-ng: one)."""
    group = {"piper": settings.piper, "kokoro": settings.kokoro}.get(engine)
    return max(1, group.intra_threads) if group is not None else 1
