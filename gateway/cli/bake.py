"""``gateway bake``: pre-generate a game's dialogue into the cache (and optionally export files).

    gateway bake dialogue.csv                      # every line, into the cache
    gateway bake lines.jsonl --export out/ --jobs 2

Input rows have ``text`` and optionally ``character`` (absent or empty: every character of the cast),
``emotion``, ``id`` (names exported files; default: the row number). CSV needs a header row; JSONL has
one object per line. Lines already in the cache are skipped, so an interrupted bake resumes where it
stopped; exported files that exist are kept. Work is spread over ``--jobs`` processes (default: one per
core), each with its own models; a summary lists every failure.

Export (``--export DIR``): ``DIR/<character>/<id>.wav``, ``.visemes.json`` (the speak response's lip-sync
fields), ``.arkit.csv`` (one row per frame, one column per ARKit channel) and ``.srt`` (word subtitles).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import multiprocessing as mp
import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from gateway.cache.key import delivery_key, line_key
from gateway.characters import load_cast
from gateway.core.errors import InputError
from gateway.export.files import SUFFIXES, write_line_files
from gateway.observability.logging import configure_logging
from gateway.service import Mouthpiece
from gateway.settings import Settings
from gateway.speak.line import Line, SpeakInput


@dataclass(frozen=True, slots=True)
class Job:
    row: int
    id: str
    character: str
    text: str
    emotion: str | None


class BakeInputError(ValueError):
    """The dialogue file cannot be read; the message names the row."""


def read_jobs(path: Path, characters: list[str]) -> list[Job]:
    rows: list[dict] = []
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except ValueError as exc:
                raise BakeInputError(f"{path}:{n}: not JSON ({exc})") from None
            if not isinstance(obj, dict):
                raise BakeInputError(f"{path}:{n}: each line must be a JSON object")
            rows.append({**obj, "_row": n})
    else:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            if not reader.fieldnames or "text" not in reader.fieldnames:
                raise BakeInputError(f"{path}: needs a header row with a 'text' column")
            for n, row in enumerate(reader, 2):
                rows.append({**row, "_row": n})
    jobs = []
    for row in rows:
        text = str(row.get("text") or "").strip()
        if not text:
            continue
        who = [str(row["character"]).strip()] if str(row.get("character") or "").strip() else characters
        line_id = _safe(str(row.get("id") or row["_row"]))
        for character in who:
            jobs.append(Job(row["_row"], line_id, character, text, (row.get("emotion") or None)))
    return jobs


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)[:80] or "line"


# ---- worker processes ------------------------------------------------------------------------------------------
_mouthpiece = None
_loop: asyncio.AbstractEventLoop | None = None
_export: Path | None = None


def _init(settings: Settings, export: str | None) -> None:
    global _mouthpiece, _loop, _export
    configure_logging("ERROR", json_logs=False)
    _loop = asyncio.new_event_loop()
    _mouthpiece = Mouthpiece(settings)
    _loop.run_until_complete(_mouthpiece.start())
    _export = Path(export) if export else None


def _bake_one(job: Job) -> tuple[Job, str, str]:
    """(job, outcome, detail): outcome is ``baked``, ``cached`` or ``failed``."""
    try:
        return _loop.run_until_complete(_bake(job))
    except Exception as exc:  # noqa: BLE001 - one bad line must not stop the bake
        return job, "failed", f"{type(exc).__name__}: {exc}"


async def _bake(job: Job) -> tuple[Job, str, str]:
    try:
        line = _mouthpiece.prepare(SpeakInput(job.text, character=job.character, emotion=job.emotion,
                                           output_format="wav", live=False))
    except InputError as exc:
        return job, "failed", exc.message
    files = _export_paths(job)
    if await _is_cached(line) and (files is None or all(p.exists() for p in files.values())):
        return job, "cached", ""
    result = await _mouthpiece.speak(line)
    if result.audio is None:
        return job, "failed", "; ".join(result.reasons) or "no provider could speak it"
    if files is not None:
        write_line_files(files, result)
    outcome = "cached" if result.provider == "cache" else "baked"
    return job, outcome, result.provider or ""


async def _is_cached(line: Line) -> bool:
    cache = _mouthpiece.cache
    if cache is None:
        return False
    candidates = [(s.provider.family, s.voice) for s in line.steps if s.provider.family not in ("cache", "canned")]
    if not candidates:
        return False
    family, voice = candidates[0]
    key = line_key(text=line.text, family=family, voice=voice, settings=line.settings,
                   output_format=line.output.name, delivery=delivery_key(line.segments))
    return await cache.get(key) is not None


def _export_paths(job: Job) -> dict[str, Path] | None:
    if _export is None:
        return None
    base = _export / _safe(job.character) / job.id
    return {ext: base.with_name(f"{job.id}{ext}") for ext in SUFFIXES}


# ---- driver ----------------------------------------------------------------------------------------------------
def run(path: Path, *, jobs: int | None = None, export: Path | None = None, settings: Settings | None = None,
        out=sys.stderr) -> dict:  # noqa: ANN001
    """Bake every line of ``path``; returns the summary (counts, failures, lines per minute)."""

    settings = settings or Settings()
    todo = read_jobs(path, load_cast(settings.characters_file).ids)
    workers = max(1, min(jobs or os.cpu_count() or 1, len(todo) or 1))
    if workers > 1:  # each process gets a share of the cores
        settings = settings.model_copy(update={"piper": settings.piper.model_copy(update={"intra_threads": 1}),
                                               "kokoro": settings.kokoro.model_copy(update={"intra_threads": 1})})
    counts = {"baked": 0, "cached": 0, "failed": 0}
    failures: list[dict] = []
    started = time.monotonic()
    ctx = mp.get_context("spawn")
    # The settings travel pickled (not as JSON, which would mask the API keys).
    with ctx.Pool(workers, _init, (settings, str(export) if export else None)) as pool:
        for done, (job, outcome, detail) in enumerate(pool.imap_unordered(_bake_one, todo), 1):
            counts[outcome] += 1
            if outcome == "failed":
                failures.append({"row": job.row, "id": job.id, "character": job.character, "error": detail})
            _progress(out, done, len(todo), counts, started)
    elapsed = time.monotonic() - started
    summary = {"lines": len(todo), **counts, "failures": failures, "seconds": round(elapsed, 2),
               "lines_per_minute": round(60 * counts["baked"] / elapsed, 1) if elapsed and counts["baked"] else 0.0,
               "jobs": workers}
    print(file=out)
    return summary


def _progress(out, done: int, total: int, counts: dict, started: float) -> None:  # noqa: ANN001
    width = 30
    filled = width * done // max(1, total)
    rate = done / max(1e-6, time.monotonic() - started) * 60
    out.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}  baked {counts['baked']}  "
              f"cached {counts['cached']}  failed {counts['failed']}  {rate:.0f} lines/min")
    out.flush()


def bake_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="gateway bake", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dialogue", type=Path, help="CSV (with a header) or JSONL of lines")
    parser.add_argument("--jobs", type=int, help="processes (default: one per core)")
    parser.add_argument("--export", type=Path, help="also write WAV, visemes JSON, ARKit CSV and SRT files here")
    parser.add_argument("--summary", type=Path, help="write the summary as JSON here")
    args = parser.parse_args(argv)
    if not args.dialogue.exists():
        print(f"error: {args.dialogue} not found", file=sys.stderr)
        return 2
    try:
        summary = run(args.dialogue, jobs=args.jobs, export=args.export)
    except BakeInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.summary:
        args.summary.write_text(json.dumps(summary, indent=1))
    print(f"{summary['lines']} lines: {summary['baked']} baked, {summary['cached']} already cached, "
          f"{summary['failed']} failed in {summary['seconds']} s ({summary['lines_per_minute']} lines/min, "
          f"{summary['jobs']} processes)", file=sys.stderr)
    for failure in summary["failures"]:
        print(f"  row {failure['row']} ({failure['character']}): {failure['error']}", file=sys.stderr)
    return 1 if summary["failed"] else 0
