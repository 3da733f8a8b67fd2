"""Canned clips: the last-resort provider, pre-rendered lines with exact phoneme timings.

Clips live in ``settings.fallback_audio_dir`` (made by ``ops/tools/make_fallback_audio.py``):
``index.json`` lists them, each clip is ``<id>.wav`` (PCM s16le mono) plus ``<id>.json``
(text, phonemes, words). The provider never speaks the requested text: it plays the default
apology, or the clip whose text equals the request (case, spacing and punctuation ignored),
after the character's overrides from ``index.json``'s ``characters`` map
(``{character: {clip_id: replacement_clip_id}}``). Word char offsets index the *clip* text,
which the final event carries as ``spoken_text``.

Every event of a stream is tagged with the last segment index of the request: the clip stands
in for all remaining segments, and one :class:`SegmentEndEvent` closes them.
"""

from __future__ import annotations

import asyncio
import json
import re
import wave
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from gateway.core.errors import ErrorKind, ProviderError
from gateway.core.events import AlignmentEvent, AudioEvent, FinalEvent, ProviderEvent, SegmentEndEvent
from gateway.core.timeline import PhonemeSpan, Timeline, WordSpan, samples_to_ms
from gateway.core.voices import HealthState, ProviderHealth, VoiceInfo
from gateway.providers.base import Provider, SynthesisRequest
from gateway.settings import Settings

#: Audio is sent in chunks of this many milliseconds.
CHUNK_MS = 100
_WORDS = re.compile(r"[\w']+")


def normalize_text(text: str) -> str:
    """Key for exact-text matching: case-folded words, punctuation and spacing ignored."""
    return " ".join(_WORDS.findall(text.replace("’", "'").casefold()))


@dataclass(frozen=True, slots=True)
class CannedClip:
    id: str
    text: str
    tags: tuple[str, ...]
    pcm: bytes
    sample_rate: int
    phonemes: tuple[PhonemeSpan, ...]
    words: tuple[WordSpan, ...]

    @property
    def duration_ms(self) -> int:
        return samples_to_ms(len(self.pcm) // 2, self.sample_rate)


@dataclass(frozen=True, slots=True)
class CannedLibrary:
    clips: dict[str, CannedClip]
    default_clip: str
    characters: dict[str, dict[str, str]]
    by_text: dict[str, str]
    warnings: tuple[str, ...] = ()

    def resolve(self, clip_id: str, character: str | None) -> CannedClip:
        override = self.characters.get(character or "", {}).get(clip_id, clip_id)
        return self.clips.get(override) or self.clips[clip_id]

    def select(self, text: str, character: str | None) -> tuple[CannedClip, str]:
        """The clip for a request, and why: ``"text"`` (exact-text match) or ``"default"``."""
        matched = self.by_text.get(normalize_text(text)) if text else None
        if matched is not None:
            return self.resolve(matched, character), "text"
        return self.resolve(self.default_clip, character), "default"


def _read_wav(path: Path) -> tuple[bytes, int]:
    with wave.open(str(path), "rb") as wav:
        if wav.getnchannels() != 1 or wav.getsampwidth() != 2 or wav.getcomptype() != "NONE":
            raise ValueError(f"{path.name}: not PCM s16 mono")
        rate = wav.getframerate()
        pcm = wav.readframes(wav.getnframes())
    if not pcm:
        raise ValueError(f"{path.name}: no audio")
    return pcm, rate


def _load_clip(directory: Path, entry: dict) -> CannedClip:
    clip_id = str(entry["id"])
    meta = json.loads((directory / entry.get("meta", f"{clip_id}.json")).read_text(encoding="utf-8"))
    pcm, rate = _read_wav(directory / entry.get("file", f"{clip_id}.wav"))
    if int(meta.get("sample_rate", rate)) != rate:
        raise ValueError(f"{clip_id}: metadata sample rate {meta.get('sample_rate')} != wav rate {rate}")
    timeline = Timeline.from_dict(meta)
    return CannedClip(id=clip_id, text=str(meta.get("text", entry.get("text", ""))),
                      tags=tuple(meta.get("tags", entry.get("tags", ()))), pcm=pcm, sample_rate=rate,
                      phonemes=tuple(timeline.phonemes), words=tuple(timeline.words))


def load_library(directory: Path) -> CannedLibrary:
    """Load ``index.json`` and its clips. A clip that fails to load is skipped with a warning;
    raises when the directory, the index or the default clip is unusable."""
    index_path = directory / "index.json"
    if not directory.is_dir():
        raise FileNotFoundError(f"fallback audio directory {directory} missing")
    if not index_path.is_file():
        raise FileNotFoundError(f"{index_path} missing; run ops/tools/make_fallback_audio.py")
    index = json.loads(index_path.read_text(encoding="utf-8"))
    clips: dict[str, CannedClip] = {}
    warnings: list[str] = []
    for entry in index.get("clips", []):
        try:
            clip = _load_clip(directory, entry)
        except Exception as exc:  # noqa: BLE001 - one bad clip must not take the rest down
            warnings.append(f"clip {entry.get('id')!r} skipped: {type(exc).__name__}: {exc}")
            continue
        clips[clip.id] = clip
    default = str(index.get("default_clip") or next((c.id for c in clips.values() if "apology" in c.tags), ""))
    if default not in clips:
        raise ValueError(f"default clip {default!r} not available" + (f" ({'; '.join(warnings)})" if warnings else ""))
    characters: dict[str, dict[str, str]] = {}
    for character, mapping in (index.get("characters") or {}).items():
        kept = {}
        for src, dst in (mapping or {}).items():
            if dst in clips:
                kept[str(src)] = str(dst)
            else:
                warnings.append(f"character {character!r}: clip {dst!r} not available")
        characters[str(character)] = kept
    by_text: dict[str, str] = {}
    for clip in clips.values():
        by_text.setdefault(normalize_text(clip.text), clip.id)
    return CannedLibrary(clips, default, characters, by_text, tuple(warnings))


class CannedProvider(Provider):
    name = "canned"
    family = "canned"
    exact_timing = True

    def __init__(self, settings: Settings, directory: Path | None = None) -> None:
        self.settings = settings
        self.directory = Path(directory or settings.fallback_audio_dir)
        self._library: CannedLibrary | None = None
        self._error = ""
        self._load_lock = asyncio.Lock()

    async def start(self) -> None:
        async with self._load_lock:
            if self._library is None and not self._error:
                try:
                    self._library = await asyncio.to_thread(load_library, self.directory)
                except Exception as exc:  # noqa: BLE001 - reported through health()
                    self._error = f"cannot load canned clips: {exc}"

    @property
    def library(self) -> CannedLibrary | None:
        return self._library

    def voices(self) -> list[VoiceInfo]:
        return []

    async def health(self) -> ProviderHealth:
        await self.start()
        if self._library is None:
            return ProviderHealth(HealthState.DOWN, self._error or "not loaded")
        detail = {"clips": len(self._library.clips)}
        if self._library.warnings:
            detail["warnings"] = list(self._library.warnings)
        return ProviderHealth(HealthState.UP, detail=detail)

    async def stream(self, request: SynthesisRequest) -> AsyncIterator[ProviderEvent]:
        await self.start()
        library = self._library
        if library is None:
            raise ProviderError(ErrorKind.UNAVAILABLE, self._error or "canned clips not loaded", provider=self.name)
        clip, reason = library.select(request.text or request.joined_text, request.character)
        segment = request.segments[-1].index if request.segments else 0
        rate = clip.sample_rate
        step = max(1, rate * CHUNK_MS // 1000) * 2
        for offset in range(0, len(clip.pcm), step):
            yield AudioEvent(clip.pcm[offset:offset + step], rate, segment, samples_to_ms(offset // 2, rate))
        yield AlignmentEvent(clip.phonemes, clip.words, segment)
        yield SegmentEndEvent(segment, clip.duration_ms)
        yield FinalEvent({"provider": self.name, "clip": clip.id, "spoken_text": clip.text, "match": reason,
                          "audio_ms": clip.duration_ms, "sample_rate": rate})
