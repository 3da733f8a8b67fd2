"""``python -m ops.standins.elevenlabs --port 8701 [--api-key KEY ...] [--character-limit N] [--concurrency N]``."""

from __future__ import annotations

from ops.standins.elevenlabs.app import DEFAULT_PORT, create_app
from ops.standins.elevenlabs.state import StandIn
from ops.standins.server import api_keys, base_arg_parser, serve


def main(argv: list[str] | None = None) -> None:
    parser = base_arg_parser("ops.standins.elevenlabs",
                             "ElevenLabs stand-in (REST + WebSocket TTS spoken by local Piper)", DEFAULT_PORT,
                             "accepted xi-api-key (repeatable; env STANDIN_ELEVENLABS_API_KEYS, comma-separated); "
                             "none configured: any non-empty key is accepted")
    parser.add_argument("--character-limit", type=int, default=100_000, help="subscription character limit")
    parser.add_argument("--concurrency", type=int, default=5, help="concurrent requests before 429 (Creator: 5)")
    args = parser.parse_args(argv)
    app = create_app(StandIn(keys=api_keys(args.api_key, "STANDIN_ELEVENLABS_API_KEYS"),
                             character_limit=args.character_limit, concurrency_limit=args.concurrency))
    serve(app, args.host, args.port, args.log_level)


if __name__ == "__main__":
    main()
