"""gateway bake: pre-generates lines into the cache, resumes after interruption, exports files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import wave

import pytest

from gateway.cli.bake import BakeInputError, read_jobs, run
from gateway.export.files import srt
from gateway.settings import ObservabilitySettings, Settings
from tests.conftest import ROOT

pytestmark = pytest.mark.slow
CHAIN = ["piper", "espeak", "cache", "canned"]


def settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path / "data", chain=CHAIN, observability=ObservabilitySettings(log_level="ERROR"))


def test_read_jobs_csv_jsonl_and_every_character(tmp_path):
    (tmp_path / "a.csv").write_text("id,text\nhello,Hello there.\n,\n")
    jobs = read_jobs(tmp_path / "a.csv", ["guard", "queen"])
    assert [(j.character, j.id) for j in jobs] == [("guard", "hello"), ("queen", "hello")]
    (tmp_path / "b.jsonl").write_text('{"text": "Hi.", "character": "rogue", "emotion": "happy"}\n\n')
    assert read_jobs(tmp_path / "b.jsonl", ["x"])[0].emotion == "happy"
    (tmp_path / "c.jsonl").write_text("[1, 2]\n")
    with pytest.raises(BakeInputError, match="c.jsonl:1"):
        read_jobs(tmp_path / "c.jsonl", ["x"])
    (tmp_path / "d.csv").write_text("line\nHello\n")
    with pytest.raises(BakeInputError, match="'text' column"):
        read_jobs(tmp_path / "d.csv", ["x"])


def test_bake_exports_and_skips_what_is_cached(tmp_path):
    dialogue = tmp_path / "lines.csv"
    dialogue.write_text('id,character,text,emotion\ngreet,innkeeper,"Welcome, friend!",happy\n'
                        'price,blacksmith,"That costs 40 gold.",\nbad,dragon,"Not in the cast.",\n')
    first = run(dialogue, jobs=1, export=tmp_path / "out", settings=settings(tmp_path), out=open(os.devnull, "w"))
    assert (first["baked"], first["cached"], first["failed"]) == (2, 0, 1)
    assert first["failures"][0]["character"] == "dragon" and "Unknown character" in first["failures"][0]["error"]
    with wave.open(str(tmp_path / "out" / "blacksmith" / "price.wav")) as w:
        assert w.getnframes() > 0.5 * w.getframerate()
    lips = json.loads((tmp_path / "out" / "blacksmith" / "price.visemes.json").read_text())
    assert lips["visemes"] and lips["words"]
    header = (tmp_path / "out" / "blacksmith" / "price.arkit.csv").read_text().splitlines()[0]
    assert header.startswith("time_s,") and "jawOpen" in header
    assert "40 gold" in (tmp_path / "out" / "blacksmith" / "price.srt").read_text()
    dialogue.write_text(dialogue.read_text() + 'new,guard,"Halt!",\n')
    second = run(dialogue, jobs=1, export=tmp_path / "out", settings=settings(tmp_path), out=open(os.devnull, "w"))
    assert (second["baked"], second["cached"], second["failed"]) == (1, 2, 1)


def test_interrupted_bake_resumes(tmp_path):
    dialogue = tmp_path / "many.jsonl"
    dialogue.write_text("".join(json.dumps({"text": f"Line number {n} of the bake.", "character": "guard"}) + "\n"
                                for n in range(8)))
    env = {**os.environ, "GATEWAY_DATA_DIR": str(tmp_path / "data"), "GATEWAY_CHAIN": json.dumps(CHAIN)}
    proc = subprocess.Popen([sys.executable, "-m", "gateway.cli", "bake", str(dialogue), "--jobs", "1"], cwd=ROOT,
                            env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    seen = ""
    deadline = time.monotonic() + 120
    while "baked 2" not in seen and time.monotonic() < deadline:
        seen += proc.stderr.read(1)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    resumed = run(dialogue, jobs=1, settings=settings(tmp_path), out=open(os.devnull, "w"))
    assert resumed["cached"] >= 2 and resumed["baked"] + resumed["cached"] == 8 and resumed["failed"] == 0


def test_srt_cues():
    words = [{"word": w, "start_ms": i * 500, "end_ms": i * 500 + 400, "char_start": i * 2, "char_end": i * 2 + 1}
             for i, w in enumerate("abcdefghi")]
    text = " ".join("abcdefghi")
    out = srt(words, text)
    assert out.startswith("1\n00:00:00,000 --> 00:00:03,400\na b c d e f g\n")
    assert "2\n00:00:03,500 --> 00:00:04,400\nh i" in out
