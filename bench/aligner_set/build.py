"""Build the aligner evaluation set: speech whose exact phone timings are known, reproducibly, offline.

Two synthesizers, both from Debian packages:

* **Festival 2.5 with the HTS voice ``cmu_us_slt_arctic_hts``** (``festival``, ``festvox-us-slt-hts``):
  an HMM voice generates its audio frame by frame from the state durations it chose, so the
  ``Segment`` relation's end times are exact for its audio. Festival's "radio" phones are mapped
  to IPA here (:data:`FESTIVAL_TO_IPA`).
* **espeak-ng** (``libespeak-ng1``, through the gateway's own espeak provider code): phoneme events
  carry the sample index where each phoneme starts.

For each entry of ``lines.txt`` and each voice it writes ``<out>/<voice>/<id>.wav`` (16-bit mono)
and ``<id>.json``: ``{"id", "text", "spoken", "voice", "sample_rate", "duration_ms",
"phonemes": [[ipa, start_ms, end_ms], ...], "words": [[word, start_ms, end_ms], ...]}`` where
``text`` is what the aligner is given and ``spoken`` what the audio says (they differ only for the
partial-mismatch entries). Silence is ``" "``. ``manifest.json`` records the inputs' hash, so a
second run with the same inputs does nothing.

    .venv/bin/python -m bench.aligner_set.build [--out data/aligner_set] [--voices festival,espeak]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

LINES = Path(__file__).with_name("lines.txt")
DEFAULT_OUT = ROOT / "data" / "aligner_set"
VOICES = ("festival", "espeak")
FESTIVAL_VOICE = "cmu_us_slt_arctic_hts"
#: Bump when the output format or the synthesis settings change.
FORMAT = 1

#: Festival's US "radio" phone set -> IPA as the gateway's lip-sync tables read it.
FESTIVAL_TO_IPA: dict[str, str] = {
    "aa": "ɑ", "ae": "æ", "ah": "ʌ", "ao": "ɔ", "aw": "aʊ", "ax": "ə", "axr": "ɚ", "ay": "aɪ", "b": "b",
    "ch": "tʃ", "d": "d", "dh": "ð", "dx": "ɾ", "eh": "ɛ", "el": "l", "em": "m", "en": "n", "er": "ɝ",
    "ey": "eɪ", "f": "f", "g": "ɡ", "hh": "h", "hv": "h", "ih": "ɪ", "iy": "i", "jh": "dʒ", "k": "k",
    "l": "l", "m": "m", "n": "n", "nx": "n", "ng": "ŋ", "ow": "oʊ", "oy": "ɔɪ", "p": "p", "r": "ɹ",
    "s": "s", "sh": "ʃ", "t": "t", "th": "θ", "uh": "ʊ", "uw": "u", "v": "v", "w": "w", "y": "j",
    "z": "z", "zh": "ʒ", "pau": " ", "h#": " ", "brth": " ",
}


@dataclass(frozen=True, slots=True)
class Entry:
    id: str
    text: str  #: given to the aligner
    spoken: str  #: said by the audio

    @property
    def mismatch(self) -> bool:
        return self.text != self.spoken


def read_lines(path: Path = LINES) -> list[Entry]:
    out = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        if not raw.strip() or raw.startswith("#"):
            continue
        parts = raw.split("\t")
        spoken = parts[1]
        if len(parts) > 2 and parts[2].startswith("spoken:"):
            spoken = parts[2][len("spoken:"):].strip()
        out.append(Entry(parts[0], parts[1], spoken))
    return out


# ---- Festival --------------------------------------------------------------------------------------------

def _scheme_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def festival_batch(entries: list[Entry], out: Path) -> None:
    """Synthesize every entry in one Festival process; write wav + json per entry."""
    if shutil.which("festival") is None:
        raise RuntimeError("festival is not installed (Debian: festival festvox-us-slt-hts)")
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        script = [f"(voice_{FESTIVAL_VOICE})"]
        for e in entries:
            wav = Path(tmp) / f"{e.id}.wav"
            script.append(
                f"(set! utt (SynthText {_scheme_string(e.spoken)}))"
                f'(utt.save.wave utt "{wav}" \'riff)'
                f'(format t "BEGIN {e.id}\\n")'
                '(mapcar (lambda (s) (format t "SEG %s %f\\n" (item.name s) (item.feat s "end")))'
                " (utt.relation.items utt 'Segment))"
                '(mapcar (lambda (w) (format t "WORD %s %f %f\\n" (item.name w) (item.feat w "word_start")'
                ' (item.feat w "word_end"))) (utt.relation.items utt \'Word))')
        scm = Path(tmp) / "build.scm"
        scm.write_text("\n".join(script) + "\n", encoding="utf-8")
        proc = subprocess.run(["festival", "-b", str(scm)], capture_output=True, text=True, timeout=600)
        if proc.returncode != 0:
            raise RuntimeError(f"festival failed: {proc.stderr[-500:]}")
        blocks = _parse_festival(proc.stdout)
        for e in entries:
            segs, words = blocks[e.id]
            pcm, rate = _read_wav(Path(tmp) / f"{e.id}.wav")
            duration = round(len(pcm) / 2 * 1000 / rate)
            phonemes = []
            t = 0
            for name, end in segs:
                end_ms = min(duration, round(end * 1000))
                phonemes.append([FESTIVAL_TO_IPA[name], t, end_ms])
                t = end_ms
            if t < duration:
                phonemes.append([" ", t, duration])
            word_spans = [[w, round(a * 1000), round(b * 1000)] for w, a, b in words]
            _write(out, e, "festival", pcm, rate, phonemes, word_spans)


def _parse_festival(stdout: str) -> dict[str, tuple[list[tuple[str, float]], list[tuple[str, float, float]]]]:
    blocks: dict[str, tuple[list, list]] = {}
    current = None
    for line in stdout.splitlines():
        parts = line.split()
        if not parts:
            continue
        if parts[0] == "BEGIN":
            current = blocks.setdefault(parts[1], ([], []))
        elif parts[0] == "SEG" and current is not None:
            current[0].append((parts[1], float(parts[2])))
        elif parts[0] == "WORD" and current is not None:
            current[1].append((parts[1], float(parts[2]), float(parts[3])))
    return blocks


# ---- espeak-ng ------------------------------------------------------------------------------------------

def espeak_batch(entries: list[Entry], out: Path) -> None:
    from gateway.providers.espeak import ESPEAK_LOCK, build_timeline, load_library
    from gateway.core.segments import Segment

    lib = load_library()
    if lib is None:
        raise RuntimeError("libespeak-ng is not installed (Debian: libespeak-ng1)")
    out.mkdir(parents=True, exist_ok=True)
    for e in entries:
        with ESPEAK_LOCK:
            synth = lib.synthesize(e.spoken, "en-us", 175)
        phonemes, words = build_timeline(synth, Segment(0, e.spoken, 0), 0, lib.sample_rate)
        spans = [[" " if not p.phoneme.strip() else p.phoneme, p.start_ms, p.end_ms]
                 for p in phonemes if p.end_ms > p.start_ms]
        _write(out, e, "espeak", synth.pcm, lib.sample_rate, spans,
               [[w.word, w.start_ms, w.end_ms] for w in words])


# ---- files ----------------------------------------------------------------------------------------------

def _read_wav(path: Path) -> tuple[bytes, int]:
    with wave.open(str(path), "rb") as wf:
        if wf.getsampwidth() != 2 or wf.getnchannels() != 1:
            raise RuntimeError(f"{path}: expected 16-bit mono")
        return wf.readframes(wf.getnframes()), wf.getframerate()


def _write(out: Path, e: Entry, voice: str, pcm: bytes, rate: int, phonemes: list, words: list) -> None:
    with wave.open(str(out / f"{e.id}.wav"), "wb") as wf:
        wf.setnchannels(1)
        wf.setsampwidth(2)
        wf.setframerate(rate)
        wf.writeframes(pcm)
    body = {"id": e.id, "text": e.text, "spoken": e.spoken, "voice": voice, "sample_rate": rate,
            "duration_ms": round(len(pcm) / 2 * 1000 / rate), "phonemes": phonemes, "words": words}
    (out / f"{e.id}.json").write_text(json.dumps(body, ensure_ascii=False) + "\n", encoding="utf-8")


def inputs_hash(voices: tuple[str, ...]) -> str:
    h = hashlib.sha256()
    h.update(LINES.read_bytes())
    h.update(Path(__file__).read_bytes())
    h.update(repr((FORMAT, sorted(voices))).encode())
    return h.hexdigest()[:16]


def build(out: Path = DEFAULT_OUT, voices: tuple[str, ...] = VOICES, *, force: bool = False) -> Path:
    """Build the set into ``out`` unless it is already there for the same inputs; returns ``out``."""
    manifest = out / "manifest.json"
    want = inputs_hash(voices)
    if not force and manifest.exists():
        try:
            if json.loads(manifest.read_text())["inputs"] == want:
                return out
        except (ValueError, KeyError):
            pass
    entries = read_lines()
    for voice in voices:
        target = out / voice
        if target.exists():
            shutil.rmtree(target)
        if voice == "festival":
            festival_batch(entries, target)
        elif voice == "espeak":
            espeak_batch(entries, target)
        else:
            raise ValueError(f"unknown voice {voice!r}")
    manifest.write_text(json.dumps({"inputs": want, "voices": list(voices), "entries": len(entries)}) + "\n")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--voices", default=",".join(VOICES))
    parser.add_argument("--force", action="store_true")
    args = parser.parse_args(argv)
    out = build(args.out, tuple(v for v in args.voices.split(",") if v), force=args.force)
    print(f"aligner set in {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
