"""``gateway speech-worker``: serve the local engines over the OpenAI speech API (docs/speech-workers.md)."""

from __future__ import annotations

import argparse
import socket

import uvicorn

from gateway.observability.logging import configure_logging
from gateway.settings import SPEECH_ENGINES, Settings
from gateway.speech_worker.app import create_app
from gateway.speech_worker.engines import Engines

DEFAULT_PORT = 8791


def speech_worker_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="gateway speech-worker",
                                     description="Serve the local speech engines over the OpenAI speech API.")
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    parser.add_argument("--engines", default=",".join(SPEECH_ENGINES),
                        help=f"engines to serve, comma-separated (default {','.join(SPEECH_ENGINES)})")
    parser.add_argument("--worker-id", help="name in the pool (default <hostname>:<port>)")
    parser.add_argument("--api-key", action="append", default=[],
                        help="require this Bearer key on /v1 routes (repeatable; default: no key)")
    parser.add_argument("--max-pending", type=int,
                        help="lines one engine takes before answering 429 busy (default 4 x GATEWAY_ENGINE_CONCURRENCY)")
    args = parser.parse_args(argv)
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = [e for e in engines if e not in SPEECH_ENGINES]
    if not engines or unknown:
        parser.error(f"--engines takes some of {', '.join(SPEECH_ENGINES)}; got {args.engines!r}")
    settings = Settings()
    configure_logging(settings.observability.log_level, settings.observability.log_json)
    worker_id = args.worker_id or f"{socket.gethostname()}:{args.port}"
    app = create_app(Engines(settings, engines, worker_id, args.max_pending), args.api_key)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)
    return 0
