"""The Fish Audio stand-in's state: the wallet (keys, API credit, package, concurrency) and admission."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from starlette.responses import JSONResponse

from ops.standins.fish.errors import ERRORS, error_response
from ops.standins.fish.request import TTSJob
from ops.standins.fish.voices import VOICE_BY_ID
from ops.standins.server import StandinState
from ops.standins.speech import LocalSpeech

#: Fish's price, USD per million UTF-8 bytes of text (the credit is in USD).
PRICE_PER_MILLION_BYTES = Decimal("15")


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class Account:
    keys: set[str] | None = None  #: None: any non-empty bearer token is valid
    credit: Decimal = Decimal("10")
    package_total: int = 1_000_000
    package_balance: int = 1_000_000
    concurrency_limit: int = 5
    active: int = 0
    user_id: str = "standin-user"
    created_at: str = field(default_factory=now)
    #: When the package ends (the legacy SDK requires a string here; the new one allows null).
    finished_at: str = "2099-12-31T00:00:00.000Z"

    def key_ok(self, authorization: str | None) -> bool:
        if not authorization or not authorization.startswith("Bearer "):
            return False
        key = authorization[len("Bearer "):].strip()
        if not key:
            return False
        return key in self.keys if self.keys else True

    def cost(self, text: str) -> Decimal:
        return PRICE_PER_MILLION_BYTES * len(text.encode("utf-8")) / Decimal(1_000_000)

    def to_dict(self) -> dict:
        return {"credit": str(self.credit), "package_total": self.package_total,
                "package_balance": self.package_balance, "concurrency_limit": self.concurrency_limit,
                "active": self.active}


class StandIn(StandinState):
    def __init__(self, keys: set[str] | None = None, credit: Decimal | float | str = Decimal("10"),
                 concurrency_limit: int = 5, speech: LocalSpeech | None = None) -> None:
        super().__init__(Account(keys=keys or None, credit=Decimal(str(credit)), concurrency_limit=concurrency_limit),
                         ERRORS, speech=speech)

    def voice_speed(self, reference_id: str | None) -> float:
        voice = VOICE_BY_ID.get(reference_id or "")
        return float(voice["speed"]) if voice else 1.0

    def job_speed(self, job: TTSJob) -> float:
        """The speech rate: the request's prosody at the voice's own pace."""
        return max(0.25, min(4.0, job.speed * self.voice_speed(job.reference_id)))

    def admit(self, job: TTSJob, target: str) -> JSONResponse | None:
        """Voice, quota and concurrency checks; charges the text on success."""
        if job.reference_id is not None and job.reference_id not in VOICE_BY_ID:
            return error_response("reference_not_found")
        if (self.f.quota_exhausted and self.faults.hits(target)) or self.account.credit <= 0:
            return error_response("insufficient_credits")
        if self.account.active >= self.account.concurrency_limit:
            return error_response("rate_limited")
        self.account.credit -= self.account.cost(job.text)
        self.account.package_balance = max(0, self.account.package_balance - len(job.text.encode("utf-8")))
        return None
