"""Files for a game's content pipeline, from a :class:`SpeakResult`: the audio, visemes as JSON, ARKit curves
as CSV (one row per frame, one column per channel) and SRT subtitles (``gateway bake --export``)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from gateway.export.speak import result_body
from gateway.speak.result import SpeakResult

#: The files written per line, by suffix.
SUFFIXES = (".wav", ".visemes.json", ".arkit.csv", ".srt")
#: Keys of the speak body kept in ``.visemes.json``.
VISEME_KEYS = ("text", "duration", "provider", "visemes", "azure_visemes", "words", "phonemes")


def write_line_files(files: dict[str, Path], result: SpeakResult) -> None:
    """Write every file of ``files`` (suffix -> path), each atomically; the audio is the result's (WAV)."""
    files[".wav"].parent.mkdir(parents=True, exist_ok=True)
    _atomic_write(files[".wav"], result.audio or b"")
    body = result_body(result)
    lips = {k: body[k] for k in VISEME_KEYS}
    _atomic_write(files[".visemes.json"], json.dumps(lips, ensure_ascii=False).encode())
    _atomic_write(files[".arkit.csv"], arkit_csv(body.get("blendshapes") or {}).encode())
    _atomic_write(files[".srt"], srt(body["words"], body["text"]).encode())


def arkit_csv(blendshapes: dict) -> str:
    """``time_s`` then one column per curve, one row per frame."""
    curves = blendshapes.get("curves") or {}
    fps = blendshapes.get("fps", 60)
    names = list(curves)
    frames = len(next(iter(curves.values()), []))
    lines = ["time_s," + ",".join(names)]
    lines += [f"{i / fps:.4f}," + ",".join(str(curves[n][i]) for n in names) for i in range(frames)]
    return "\n".join(lines) + "\n"


def srt(words: list[dict], text: str, max_words: int = 7) -> str:
    """Subtitles: up to ``max_words`` written words a cue, timed by the word timings."""
    cues, out = [words[i:i + max_words] for i in range(0, len(words), max_words)], []
    for n, cue in enumerate(cues, 1):
        start, end = cue[0]["start_ms"], cue[-1]["end_ms"]
        first, last = cue[0].get("char_start"), cue[-1].get("char_end")
        caption = text[first:last] if first is not None and last is not None else " ".join(w["word"] for w in cue)
        out.append(f"{n}\n{_ts(start)} --> {_ts(end)}\n{caption}\n")
    return "\n".join(out)


def _ts(ms: int) -> str:
    return f"{ms // 3600000:02d}:{ms // 60000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".part")
    tmp.write_bytes(data)
    os.replace(tmp, path)
