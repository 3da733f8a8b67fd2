"""One stand-in process: the state it holds, its FastAPI app's skeleton, its command line, serving.

Each vendor's stand-in subclasses :class:`StandinState` (adding its account) and builds its app
on :func:`standin_app`, which carries what every stand-in has: the local voice loaded at start-up
and the ``/__control`` endpoints.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from ops.standins.control import RequestLog, control_router, requests_and_health_router
from ops.standins.faults import Faults, FaultState
from ops.standins.speech import LocalSpeech


class StandinState:
    """What a stand-in process holds: the vendor account, the faults, the request log, the local voice."""

    def __init__(self, account: Any, errors: Iterable[str], faults_model: type[Faults] = Faults,
                 speech: LocalSpeech | None = None) -> None:
        self.account = account
        self.faults = FaultState(errors, faults_model)
        self.requests = RequestLog()
        self.speech = speech or LocalSpeech()

    @property
    def f(self) -> Faults:
        return self.faults.faults

    def record_request(self, key_ok: bool, **fields: Any) -> dict:
        """Log and count a synthesis request; its ``status`` is filled in when it is answered."""
        record = self.requests.add(**fields, status=None)
        self.faults.counters["requests"] += 1
        record["key_ok"] = key_ok
        return record

    def slot_releaser(self) -> Callable[[], None]:
        """A callable that gives back one active synthesis on the account, once however often it runs."""
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self.account.active -= 1

        return release


def standin_app(title: str, standin: StandinState, default_port: int) -> FastAPI:
    """The app with the local voice started in its lifespan and the shared control endpoints."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        await standin.speech.start()
        yield
        standin.faults.release_hangs()

    app = FastAPI(title=title, lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.standin = standin
    app.include_router(control_router(standin.faults))
    app.include_router(requests_and_health_router(standin, default_port))
    return app


def base_arg_parser(module: str, description: str, default_port: int, key_help: str) -> argparse.ArgumentParser:
    """The options every stand-in takes; ``module`` is what ``python -m`` runs."""
    parser = argparse.ArgumentParser(prog=f"python -m {module}", description=description)
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=default_port, help=f"port (default {default_port})")
    parser.add_argument("--log-level", default="warning", help="uvicorn log level (default warning)")
    parser.add_argument("--api-key", action="append", default=[], help=key_help)
    return parser


def api_keys(given: Iterable[str], env_var: str) -> set[str] | None:
    """The accepted keys: ``--api-key`` values plus the comma-separated ``env_var``; None when none."""
    keys = set(given) | {k.strip() for k in os.environ.get(env_var, "").split(",") if k.strip()}
    return keys or None


def serve(app, host: str, port: int, log_level: str = "warning") -> None:  # noqa: ANN001
    import importlib.util

    import uvicorn

    # uvicorn >= 0.35 has the sans-I/O websockets protocol (the legacy one warns it is deprecated).
    sansio = importlib.util.find_spec("uvicorn.protocols.websockets.websockets_sansio_impl") is not None
    uvicorn.run(app, host=host, port=port, log_level=log_level, ws="websockets-sansio" if sansio else "websockets",
                lifespan="on", timeout_graceful_shutdown=2)
