"""Running a stand-in process: the common command-line options and the server."""

from __future__ import annotations

import argparse


def base_arg_parser(description: str, default_port: int) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=default_port, help=f"port (default {default_port})")
    parser.add_argument("--log-level", default="warning", help="uvicorn log level (default warning)")
    return parser


def serve(app, host: str, port: int, log_level: str = "warning") -> None:  # noqa: ANN001
    import importlib.util

    import uvicorn

    # uvicorn >= 0.35 has the sans-I/O websockets protocol (the legacy one warns it is deprecated).
    sansio = importlib.util.find_spec("uvicorn.protocols.websockets.websockets_sansio_impl") is not None
    uvicorn.run(app, host=host, port=port, log_level=log_level, ws="websockets-sansio" if sansio else "websockets",
                lifespan="on", timeout_graceful_shutdown=2)
