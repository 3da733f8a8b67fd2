"""The local engines a speech worker serves: loaded once, in this process, through their provider classes.

Each engine is a model of the API (``piper``, ``kokoro``, ``espeak``), with OpenAI's names as aliases: ``tts-1``
is the fast voice (Piper when served), ``tts-1-hd`` the better one (Kokoro when served). An engine that cannot
load (Kokoro not prepared) stays listed with ``ready: false`` and its reason; the others serve.
"""

from __future__ import annotations

import asyncio
import socket
import time
from dataclasses import dataclass, field

import structlog

from gateway.core.voices import HealthState, VoiceInfo
from gateway.providers.base import Provider
from gateway.providers.factory import build_local_engine
from gateway.settings import Settings
from gateway.upstream.speech_api import EVENTS, EXTENSION

log = structlog.get_logger(__name__)
#: OpenAI model names and the engines they stand for, first served wins.
ALIASES = {"tts-1": ("piper", "espeak", "kokoro"), "tts-1-hd": ("kokoro", "piper", "espeak")}
CREATED = 1735689600  #: the ``created`` stamp of every model entry (2025-01-01)


@dataclass(slots=True)
class Engine:
    name: str
    provider: Provider
    ready: bool = False
    reason: str = "loading"
    in_flight: int = 0
    served: int = 0
    failed: int = 0
    sample_rate: int | None = None
    voice_list: list[VoiceInfo] = field(default_factory=list)

    @property
    def voices(self) -> list[str]:
        return [v.voice for v in self.voice_list]

    def entry(self, slots: int) -> dict:
        """The engine as a ``/v1/models`` entry, with the extension's fields."""
        ext = {"ready": self.ready, "reason": self.reason, "timing": EVENTS, "exact_timing": self.provider.exact_timing,
               "sample_rate": self.sample_rate,
               "voices": [{"id": v.voice, "name": v.name, "language": v.language, "gender": v.gender}
                          for v in self.voice_list],
               "default_voice": self.provider.default_voice() if self.voices else None,
               "slots": slots, "in_flight": self.in_flight}
        return {"id": self.name, "object": "model", "created": CREATED, "owned_by": "mouthpiece", EXTENSION: ext}


class Engines:
    def __init__(self, settings: Settings, names: list[str], worker_id: str | None = None,
                 max_pending: int | None = None) -> None:
        self.settings = settings
        self.engines = {name: Engine(name, build_local_engine(name, settings)) for name in names}
        self.worker_id = worker_id or f"{socket.gethostname()}:speech"
        self.slots = max(1, settings.engine_concurrency)
        #: Requests one engine takes before answering "busy" (those beyond its slots wait for one).
        self.max_pending = max_pending or 4 * self.slots
        self.started = time.time()
        self.loading = True

    async def start(self) -> None:
        await asyncio.gather(*(self._load(e) for e in self.engines.values()))
        self.loading = False
        log.info("speech_worker_ready", worker=self.worker_id,
                 engines={e.name: e.reason or "ready" for e in self.engines.values()})

    async def _load(self, engine: Engine) -> None:
        try:
            await engine.provider.start()
            health = await engine.provider.health()
        except Exception as exc:  # noqa: BLE001 - reported, the other engines still serve
            engine.ready, engine.reason = False, f"failed to load: {type(exc).__name__}: {exc}"[:300]
            return
        voices = engine.provider.voices()
        engine.voice_list = voices
        engine.sample_rate = voices[0].sample_rate if voices else None
        engine.ready = health.state is not HealthState.DOWN and bool(voices)
        engine.reason = "" if engine.ready else (health.reason or "no voices")

    async def close(self) -> None:
        for engine in self.engines.values():
            await engine.provider.close()

    def resolve(self, model: str | None) -> Engine | None:
        """The engine a model name stands for (None: the first engine); None when it is not served here."""
        if model is None:
            return next(iter(self.engines.values()), None)
        if model in self.engines:
            return self.engines[model]
        for name in ALIASES.get(model, ()):
            if name in self.engines:
                return self.engines[name]
        return None

    @property
    def ready(self) -> bool:
        return not self.loading and any(e.ready for e in self.engines.values())

    def models(self) -> list[dict]:
        entries = [e.entry(self.slots) for e in self.engines.values()]
        for alias in ALIASES:
            target = self.resolve(alias)
            if target is not None:
                entries.append({"id": alias, "object": "model", "created": CREATED, "owned_by": "mouthpiece",
                                EXTENSION: {**target.entry(self.slots)[EXTENSION], "alias_of": target.name}})
        return entries

    def info(self) -> dict:
        return {"worker_id": self.worker_id, "ready": self.ready, "slots": self.slots,
                "max_pending": self.max_pending, "uptime_s": round(time.time() - self.started, 1),
                "engines": {e.name: {"ready": e.ready, "reason": e.reason, "in_flight": e.in_flight,
                                     "served": e.served, "failed": e.failed} for e in self.engines.values()}}
