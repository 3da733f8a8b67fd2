"""The ElevenLabs stand-in's state: the subscription (keys, characters, concurrency) and its faults."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Literal

from ops.standins.elevenlabs.errors import ERRORS
from ops.standins.elevenlabs.voices import max_chars
from ops.standins.faults import Faults
from ops.standins.server import StandinState
from ops.standins.speech import LocalSpeech


class ElevenLabsFaults(Faults):
    #: WebSocket alignment spelling of the durations key (SDK types: charDurationsMs; docs: charsDurationsMs).
    ws_duration_key: Literal["charDurationsMs", "charsDurationsMs"] = "charDurationsMs"


@dataclass
class Account:
    keys: set[str] | None = None  #: None: any non-empty key is valid
    tier: str = "creator"
    character_limit: int = 100_000
    character_count: int = 0
    concurrency_limit: int = 5
    active: int = 0
    reset_unix: int = field(default_factory=lambda: int(time.time()) + 30 * 86400)

    def key_ok(self, key: str | None) -> bool:
        if not key:
            return False
        return key in self.keys if self.keys else True

    def to_dict(self) -> dict:
        return {"tier": self.tier, "character_limit": self.character_limit, "character_count": self.character_count,
                "concurrency_limit": self.concurrency_limit, "active": self.active}


class StandIn(StandinState):
    def __init__(self, keys: set[str] | None = None, character_limit: int = 100_000, concurrency_limit: int = 5,
                 speech: LocalSpeech | None = None) -> None:
        super().__init__(Account(keys=keys or None, character_limit=character_limit,
                                 concurrency_limit=concurrency_limit), ERRORS, ElevenLabsFaults, speech)

    @property
    def f(self) -> ElevenLabsFaults:
        return self.faults.faults  # type: ignore[return-value]

    def quota_error(self, required: int, target: str) -> dict | None:
        remaining = max(0, self.account.character_limit - self.account.character_count)
        exhausted = self.f.quota_exhausted and self.faults.hits(target)
        if exhausted or required > remaining:
            return {"limit": self.account.character_limit, "remaining": 0 if exhausted else remaining,
                    "required": required}
        return None

    def error_values(self, voice_id: str, required: int, model: str) -> dict:
        """What the error messages may name: quota, concurrency, the voice, the model's limit."""
        a = self.account
        return {"limit": a.character_limit, "remaining": max(0, a.character_limit - a.character_count),
                "required": required, "concurrency": a.concurrency_limit, "voice_id": voice_id,
                "max_chars": max_chars(model), "model": model}
