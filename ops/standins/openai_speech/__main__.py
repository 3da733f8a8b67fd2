"""``python -m ops.standins.openai_speech --port 8703 [--api-key KEY ...]``."""

from __future__ import annotations

from ops.standins.openai_speech.app import DEFAULT_PORT, StandIn, create_app
from ops.standins.server import api_keys, base_arg_parser, serve


def main(argv: list[str] | None = None) -> None:
    parser = base_arg_parser("ops.standins.openai_speech",
                             "OpenAI speech API stand-in shaped like Kokoro-FastAPI (speech by local Piper)",
                             DEFAULT_PORT, "required bearer key (repeatable; env STANDIN_OPENAI_SPEECH_API_KEYS, "
                             "comma-separated); none configured: no key needed")
    args = parser.parse_args(argv)
    serve(create_app(StandIn(keys=api_keys(args.api_key, "STANDIN_OPENAI_SPEECH_API_KEYS"))), args.host, args.port,
          args.log_level)


if __name__ == "__main__":
    main()
