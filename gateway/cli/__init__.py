"""Command line: ``gateway serve``, ``gateway speak "text" -o line.wav --visemes line.json``, ``gateway voices``,
``gateway speech-worker``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import uvicorn

from gateway.api.app import create_app
from gateway.api.protocol import guarded_protocol
from gateway.cli.align import align_main
from gateway.cli.bake import bake_main
from gateway.cli.embedded_video import embedded_video
from gateway.cli.loudness import loudness_main
from gateway.cli.speech_worker import speech_worker_main
from gateway.core.errors import InputError
from gateway.export.speak import result_body
from gateway.observability.logging import configure_logging
from gateway.observability.metrics import MULTIPROC_ENV
from gateway.observability.tracing import configure_tracing
from gateway.service import Mouthpiece
from gateway.settings import Settings
from gateway.speak.line import SpeakInput


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    settings = settings.model_copy(update={"host": args.host or settings.host, "port": args.port or settings.port,
                                           "workers": args.workers or settings.workers,
                                           "gc_freeze": settings.gc_freeze or "GATEWAY_GC_FREEZE" not in os.environ})
    limits = settings.ingress  # what a connection may cost before the app sees it (docs/api.md, "Limits")
    common = {"host": settings.host, "port": settings.port, "log_level": "warning", "access_log": False,
              "timeout_graceful_shutdown": max(1, int(settings.drain_timeout_s)),
              "http": guarded_protocol(limits), "timeout_keep_alive": limits.keep_alive_timeout_s,
              "limit_concurrency": limits.max_connections, "ws_max_size": limits.ws_max_frame_bytes}
    if settings.workers == 1:
        uvicorn.run(create_app(settings), **common)
        return 0
    # Worker processes build their own app from the environment: hand them what the command line changed.
    os.environ.update({"GATEWAY_HOST": settings.host, "GATEWAY_PORT": str(settings.port),
                       "GATEWAY_GC_FREEZE": str(settings.gc_freeze).lower()})
    with metrics_dir():  # /metrics in any worker answers for all of them
        uvicorn.run("gateway.api.app:create_app", factory=True, workers=settings.workers, **common)
    return 0


@contextlib.contextmanager
def metrics_dir() -> Iterator[None]:
    """Prometheus multiprocess mode for the workers: ``PROMETHEUS_MULTIPROC_DIR`` (the operator's, emptied of the
    last run's files, or a fresh temporary one, removed at exit)."""
    given = os.environ.get(MULTIPROC_ENV)
    path = Path(given) if given else Path(tempfile.mkdtemp(prefix="mouthpiece-metrics-"))
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink(missing_ok=True)
    os.environ[MULTIPROC_ENV] = str(path)
    try:
        yield
    finally:
        if not given:
            shutil.rmtree(path, ignore_errors=True)


async def _speak(args: argparse.Namespace, settings: Settings) -> int:
    configure_logging("WARNING", json_logs=False)
    configure_tracing(settings.observability.otel_exporter, settings.observability.otel_endpoint)
    mouthpiece = Mouthpiece(settings)
    try:
        fmt = args.format or (Path(args.output).suffix.lstrip(".") if args.output else None) or "wav"
        try:
            line = mouthpiece.prepare(SpeakInput(args.text, voice_id=args.voice, character=args.character,
                                                 output_format=fmt, fps=args.fps))
        except InputError as exc:
            print(f"error: {exc.message}" + (f" (valid: {', '.join(exc.detail['valid'])})"
                                             if exc.detail.get("valid") else ""), file=sys.stderr)
            return 2
        await mouthpiece.start()
        result = await mouthpiece.speak(line)
        body = result_body(result)
        if args.output and result.audio is not None:
            Path(args.output).write_bytes(result.audio)
        if args.visemes:
            Path(args.visemes).write_text(json.dumps(body, indent=1))
        print(f"{result.duration_s:.2f} s of audio by {result.provider} "
              f"(level {result.degradation_level.value}) in {result.processing_time_s:.2f} s", file=sys.stderr)
        return 0 if result.audio is not None else 1
    finally:
        await mouthpiece.close()


def _voices(settings: Settings) -> int:
    for voice in Mouthpiece(settings).voices():
        print(f"{voice.voice_id:28} {voice.name:34} {voice.language:6} {voice.gender or ''}")
    return 0


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gateway", description="Mouthpiece TTS gateway")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the HTTP server")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=_positive, help="processes sharing the port (default GATEWAY_WORKERS or 1)")
    speak = sub.add_parser("speak", help="speak one line to a file")
    speak.add_argument("text")
    speak.add_argument("--character")
    speak.add_argument("--voice", help="provider:voice")
    speak.add_argument("-o", "--output", help="audio file to write (format from the extension or --format)")
    speak.add_argument("--format", help="output format name (wav, mp3, pcm_16000, ...)")
    speak.add_argument("--visemes", help="write the speak response JSON (visemes, words, blendshapes) here")
    speak.add_argument("--fps", type=int)
    sub.add_parser("voices", help="list every provider's voices")
    sub.add_parser("align", help="lip-sync data for recorded audio and its text (see `gateway align -h`)",
                   add_help=False)
    sub.add_parser("bake", help="pre-generate a game's dialogue into the cache (see `gateway bake -h`)",
                   add_help=False)
    sub.add_parser("loudness", help="measure the local voices' loudness into config/loudness.yaml "
                   "(see `gateway loudness -h`)", add_help=False)
    sub.add_parser("speech-worker", help="serve the local engines over the OpenAI speech API "
                   "(see `gateway speech-worker -h`)", add_help=False)
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "align":
        return align_main(argv[1:])
    if argv and argv[0] == "bake":
        return bake_main(argv[1:])
    if argv and argv[0] == "loudness":
        return loudness_main(argv[1:])
    if argv and argv[0] == "speech-worker":
        return speech_worker_main(argv[1:])
    args = parser.parse_args(argv)
    settings = Settings()
    if args.command == "serve":
        with embedded_video(settings) as settings:
            return _serve(args, settings)
    if args.command == "speak":
        return asyncio.run(_speak(args, settings))
    return _voices(settings)


if __name__ == "__main__":
    sys.exit(main())
