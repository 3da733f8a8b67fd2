"""``python -m ops.standins.fish --port 8702 [--api-key KEY ...] [--credit 10] [--concurrency 5]``."""

from __future__ import annotations

from ops.standins.fish.app import DEFAULT_PORT, create_app
from ops.standins.fish.state import StandIn
from ops.standins.server import api_keys, base_arg_parser, serve


def main(argv: list[str] | None = None) -> None:
    parser = base_arg_parser("ops.standins.fish",
                             "Fish Audio stand-in (HTTP + live WebSocket TTS spoken by local Piper)", DEFAULT_PORT,
                             "accepted bearer token (repeatable; env STANDIN_FISH_API_KEYS, comma-separated); "
                             "none configured: any non-empty token is accepted")
    parser.add_argument("--credit", default="10", help="API credit in USD (default 10)")
    parser.add_argument("--concurrency", type=int, default=5, help="concurrent syntheses before 429 (default 5)")
    args = parser.parse_args(argv)
    app = create_app(StandIn(keys=api_keys(args.api_key, "STANDIN_FISH_API_KEYS"), credit=args.credit,
                             concurrency_limit=args.concurrency))
    serve(app, args.host, args.port, args.log_level)


if __name__ == "__main__":
    main()
