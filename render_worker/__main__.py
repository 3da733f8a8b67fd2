"""``python -m render_worker --port 8790``: run the CPU render worker.

Flags override the ``RENDER_WORKER_*`` environment (see :mod:`render_worker.config`).
"""

from __future__ import annotations

import argparse

from render_worker.config import WorkerSettings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m render_worker", description=__doc__)
    parser.add_argument("--host")
    parser.add_argument("--port", type=int)
    parser.add_argument("--worker-id")
    parser.add_argument("--slots", type=int, help="renders at once")
    parser.add_argument("--queue-max", type=int, help="requests waiting for a slot before 503")
    parser.add_argument("--size", type=int, help="output width/height in px (even, 128..1024)")
    parser.add_argument("--threads", type=int, help="libx264 threads per render")
    parser.add_argument("--redis-url", help="register in the pool through this Redis")
    parser.add_argument("--redis-prefix")
    parser.add_argument("--advertise-url", help="URL the gateway uses to reach this worker")
    parser.add_argument("--heartbeat-ttl", type=float, dest="heartbeat_ttl_s")
    parser.add_argument("--drain-timeout", type=float, dest="drain_timeout_s",
                        help="on SIGTERM, seconds renders in flight may take to finish (default 30)")
    parser.add_argument("--test-frame-delay-ms", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    overrides = {k: v for k, v in vars(args).items() if v is not None}
    settings = WorkerSettings(**overrides)

    import uvicorn

    from render_worker.server import create_app

    print(f"render worker {settings.resolved_id()} on http://{settings.host}:{settings.port}", flush=True)
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="warning",
                access_log=False, timeout_graceful_shutdown=5)


if __name__ == "__main__":
    main()
