"""Background trials of a demoted provider (``GATEWAY_TRIAL_*``; docs/resilience.md#trials)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings

from gateway.settings.base import _config


class TrialSettings(BaseSettings):
    """While a provider is demoted (slow first audio, slow delivery, failing), the gateway sends it a short trial line
    of its own now and then, so it can prove itself again as soon as the fault is gone instead of waiting for its
    bad signal to age out of the health window. Each trial is billed by a cloud vendor like any line."""

    model_config = _config("GATEWAY_TRIAL_")

    enabled: bool = True
    """Send trials to demoted providers. Off: a demoted provider comes back once its signal ages out of the health
    window and the level's hysteresis has passed, and one client line in 5 still tries it first (probe lines);
    on, no client line is sent to a demoted provider the trials prove (local engines, unless ``local_engines``, keep
    their probe lines)."""
    interval_s: float = Field(0.5, ge=0.1)
    """Time between the starts of two trials of one provider (at most one in flight per provider). A vendor bills
    ``len(text)`` characters per trial: at 0.5 s, about 7,200 trials an hour per gateway process (each replica, each
    ``--workers`` process) while a provider stays demoted."""
    text: str = Field("Still there? Testing, one, two, three.", min_length=10, max_length=200)
    """What a trial speaks: long enough for several chunks (about 2 s of audio) so its pace can be judged."""
    passes: int = Field(2, ge=1, le=10)
    """Clean, fast trials in a row that clear the provider's slow or failing signal (health and level recover at
    once, without the hysteresis, unless the provider is flapping)."""
    local_engines: bool = False
    """Trial the local engines (kokoro, piper, espeak) too. Off by default: their slowness is usually this machine's
    load, and a trial would take cores from the lines."""
