"""``gateway align line.wav [--text "…"] -o track.json``: lip-sync track for a recorded or cached line.

The JSON is the body ``POST /api/lipsync`` returns: phonemes, words (with character offsets
into the text), visemes, azure_visemes, blendshapes, duration, method (``forced``,
``partial`` or ``estimated``) and estimated_spans. Without ``--text``/``--text-file`` the
words are recognised from the audio first (``--recognizer``) and ``text`` says what was heard.
Exit codes: 0 written (also when the alignment fell back to an estimate; see ``method``),
2 bad arguments or unreadable audio.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from gateway.audio.decode import AudioDecodeError
from gateway.export.alignment import lipsync_body
from gateway.settings import Settings
from gateway.timing.align import MAX_AUDIO_SECONDS, LipsyncInputError, LipsyncOptions, align_file, check_fps, check_text
from gateway.timing.aligners import RECOGNIZERS, RecognizerUnavailable, build_aligner, build_recognizer


def build_parser(prog: str = "gateway align") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description="Align an audio file to its text and write a "
                                                            "lip-sync track (phonemes, words, visemes, blendshapes).")
    parser.add_argument("audio", help="audio file (wav, mp3, ogg/opus, flac, m4a...)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--text", "-t", help="the words the audio speaks (default: recognise them)")
    source.add_argument("--text-file", help="read the text from this file ('-' = stdin)")
    parser.add_argument("--recognizer", choices=RECOGNIZERS, default="auto",
                        help="without text: whisper (faster-whisper, Whisper base), pocketsphinx (its language "
                             "model), or auto (whisper when installed; default)")
    parser.add_argument("-o", "--output", help="write the JSON here (default: stdout)")
    parser.add_argument("--fps", type=int, default=60, help="blendshape frame rate (default 60)")
    parser.add_argument("--no-visemes", action="store_true", help="leave out Oculus and Azure visemes")
    parser.add_argument("--no-blendshapes", action="store_true", help="leave out ARKit blendshape curves")
    parser.add_argument("--aligner", choices=("pocketsphinx", "proportional"), default="pocketsphinx",
                        help="pocketsphinx forced alignment (default) or the text-based estimate")
    parser.add_argument("--max-seconds", type=float, default=MAX_AUDIO_SECONDS,
                        help=f"refuse longer audio (default {MAX_AUDIO_SECONDS:g})")
    parser.add_argument("--indent", type=int, default=None, help="pretty-print the JSON")
    return parser


def align_main(argv: list[str] | None = None) -> int:
    """Run ``gateway align``; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        if args.text_file is not None:
            text = sys.stdin.read() if args.text_file == "-" else Path(args.text_file).read_text(encoding="utf-8")
        else:
            text = args.text
        text = None if text is None else check_text(text)
        recognizer = build_recognizer(args.recognizer, models_dir=Settings().models_dir) if text is None else None
        options = LipsyncOptions(check_fps(args.fps), not args.no_visemes, not args.no_blendshapes)
        data = Path(args.audio).read_bytes()
    except (LipsyncInputError, OSError, UnicodeDecodeError, RecognizerUnavailable) as exc:
        print(f"error: {getattr(exc, 'message', None) or exc}", file=sys.stderr)
        return 2
    try:
        result = align_file(data, text, build_aligner(args.aligner), recognizer, max_seconds=args.max_seconds)
    except AudioDecodeError as exc:
        print(f"error: {args.audio}: {exc.message}", file=sys.stderr)
        return 2
    body = json.dumps(lipsync_body(result, text, options), indent=args.indent, ensure_ascii=False)
    if args.output:
        Path(args.output).write_text(body + "\n", encoding="utf-8")
    else:
        sys.stdout.write(body + "\n")
    note = f" ({result.reason})" if result.reason else ""
    if text is None:
        note += f"; heard: {result.heard!r}"
    print(f"{result.duration_ms / 1000:.2f} s, {len(result.words)} words, method {result.method}{note}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(align_main())
