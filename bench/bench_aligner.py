"""Benchmark the forced aligner against exact timings.

Default report: the aligner set (``bench/aligner_set``: Festival HTS and espeak-ng speech with
exact phone timings, built offline by ``bench/aligner_set/build.py``), scored as strict frame
accuracy on Rhubarb's mouth-shape classes at 100 fps and closure-onset error
(``bench/aligner_set/score.py``), one markdown table, every row from the same run
(``bench/aligner_set/report.py``).

``--piper`` adds the older robustness table on Piper speech, whose phoneme sample counts we
know. For each line: synthesize it with the local Piper provider (exact per-phoneme alignment),
align the audio to the text with the aligner, and compare:

* word boundaries (start and end of each word, matched by character offsets);
* phoneme starts, after matching the two phone sequences (Piper's espeak IPA, normalized by
  :func:`gateway.lipsync.phonemes.normalize`, against the aligner's CMU phones) with an edit-distance
  alignment; only pairs of the same kind (vowel/vowel, same consonant) are scored;
* CPU seconds per second of audio (``time.process_time`` around ``align``; goal <= 0.03).

Variants: the native 22.05 kHz audio, the same resampled to 8 kHz and 44.1 kHz, a ~1 minute
monologue (chunked path), and mismatched text (every pair must fall back to ``estimated``).
Prints a markdown table.

    .venv/bin/python bench/bench_aligner.py [--quick] [--piper]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gateway.core.events import AlignmentEvent, AudioEvent  # noqa: E402
from gateway.core.timeline import PhonemeSpan, WordSpan  # noqa: E402
from gateway.lipsync.phonemes import SILENCE as NORM_SILENCE  # noqa: E402
from gateway.lipsync.phonemes import normalize  # noqa: E402
from gateway.timing.aligners.base import AlignmentResult  # noqa: E402
from gateway.timing.aligners.lexicon import ARPABET_TO_IPA, ipa_to_arpabet  # noqa: E402

LINES = [
    "Halt! Who goes there?",
    "The forge is hot today, so mind your fingers near the anvil.",
    "Welcome to the Gilded Goose, traveller. Rooms are five silver a night, and the stew is fresh.",
    "I have seen dragons burn whole cities, and I have seen them weep.",
    "Keep your voice down; the guards change shift at midnight.",
    "By order of the Queen, the northern road is closed until further notice.",
    "Brannoc forged the Xylarinth blade in 1999, and it still cuts through dragon-scale armour.",
    "You owe me 42 gold pieces, plus the 3rd round of ale you spilled on my well-known tapestry.",
]
_IPA_TO_ARPA = {v: k for k, v in ARPABET_TO_IPA.items()}
_VOWELS = frozenset({"AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY", "UH", "UW"})


@dataclass
class Reference:
    text: str
    pcm: bytes
    sample_rate: int
    phonemes: list[PhonemeSpan]  #: Piper's own, exact
    words: list[WordSpan]


def synthesize(texts: list[str], provider: str = "piper") -> list[Reference]:
    """Audio and exact timings for each text from a local engine (``piper`` or ``espeak``; loads it once).

    Reference words are kept only for sentences where the engine's phoneme words and the text's
    words correspond one to one (elsewhere the engine's word timings are themselves a guess).
    """
    from gateway.providers.base import SynthesisRequest
    from gateway.settings import Settings
    from gateway.text.clean import split_sentences, words_with_offsets
    from gateway.timing.words import phoneme_words

    if provider == "piper":
        from gateway.providers.piper import PiperProvider as Engine
        voice = "joe"
    else:
        from gateway.providers.espeak import EspeakProvider as Engine
        voice = "en-us"

    async def run() -> list[Reference]:
        engine = Engine(Settings())
        await engine.start()
        out = []
        for text in texts:
            segments = tuple(split_sentences(text))
            pcm = b""
            rate = 22050
            phonemes: list[PhonemeSpan] = []
            words: list[WordSpan] = []
            seg_phonemes: dict[int, list[PhonemeSpan]] = {}
            seg_words: dict[int, list[WordSpan]] = {}
            async for ev in engine.stream(SynthesisRequest(segments=segments, voice=voice, text=text)):
                if isinstance(ev, AudioEvent):
                    pcm += ev.pcm
                    rate = ev.sample_rate
                elif isinstance(ev, AlignmentEvent):
                    phonemes += ev.phonemes
                    seg_phonemes.setdefault(ev.segment, []).extend(ev.phonemes)
                    seg_words.setdefault(ev.segment, []).extend(ev.words)
            for seg in segments:
                if len(phoneme_words(seg_phonemes.get(seg.index, []))) == len(words_with_offsets(seg.text)):
                    words += seg_words.get(seg.index, [])
            out.append(Reference(text, pcm, rate, phonemes, words))
        await engine.close()
        return out

    return asyncio.run(run())


def concatenate(refs: list[Reference], gap_ms: int = 300) -> Reference:
    """One long reference from several (``gap_ms`` of silence between them)."""
    rate = refs[0].sample_rate
    pcm = b""
    phonemes: list[PhonemeSpan] = []
    words: list[WordSpan] = []
    text = ""
    for ref in refs:
        offset_ms = round(len(pcm) / 2 * 1000 / rate)
        chars = len(text) + (1 if text else 0)
        text = f"{text} {ref.text}" if text else ref.text
        phonemes += [p.shifted(offset_ms) for p in ref.phonemes]
        words += [w.shifted(offset_ms, chars) for w in ref.words]
        pcm += ref.pcm + bytes(2 * (rate * gap_ms // 1000))
    return Reference(text, pcm, rate, phonemes, words)


def _arpa_of_truth(phone: str) -> str | None:
    if phone == NORM_SILENCE:
        return None
    arpa = ipa_to_arpabet(phone)
    return arpa[0] if arpa else None


def phone_pairs(truth: list[PhonemeSpan], pred: list[PhonemeSpan]) -> list[tuple[int, int]]:
    """(true start, predicted start) of phones matched by an edit-distance alignment of the two sequences."""
    t = [(a, p.start_ms) for p in normalize(truth) if (a := _arpa_of_truth(p.phoneme))]
    q = [(a, p.start_ms) for p in pred if (a := _IPA_TO_ARPA.get(p.phoneme))]
    n, m = len(t), len(q)

    def sub(i: int, j: int) -> float:
        a, b = t[i][0], q[j][0]
        if a == b:
            return 0.0
        return 0.6 if (a in _VOWELS) == (b in _VOWELS) else 1.5

    gap = 0.8
    cost = [[0.0] * (m + 1) for _ in range(n + 1)]
    for i in range(1, n + 1):
        cost[i][0] = i * gap
    for j in range(1, m + 1):
        cost[0][j] = j * gap
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            cost[i][j] = min(cost[i - 1][j - 1] + sub(i - 1, j - 1), cost[i - 1][j] + gap, cost[i][j - 1] + gap)
    pairs = []
    i, j = n, m
    while i and j:
        if cost[i][j] == cost[i - 1][j - 1] + sub(i - 1, j - 1):
            a, b = t[i - 1][0], q[j - 1][0]
            if a == b or (a in _VOWELS and b in _VOWELS):
                pairs.append((t[i - 1][1], q[j - 1][1]))
            i, j = i - 1, j - 1
        elif cost[i][j] == cost[i - 1][j] + gap:
            i -= 1
        else:
            j -= 1
    return pairs[::-1]


def word_errors(truth: list[WordSpan], pred: list[WordSpan]) -> list[int]:
    """Signed boundary errors (pred - true, ms) of words present in both, matched by char offsets."""
    by_chars = {(w.char_start, w.char_end): w for w in truth}
    errors = []
    for w in pred:
        ref = by_chars.get((w.char_start, w.char_end))
        if ref is not None:
            errors += [w.start_ms - ref.start_ms, w.end_ms - ref.end_ms]
    return errors


def phone_errors(truth: list[PhonemeSpan], pred: list[PhonemeSpan]) -> list[int]:
    return [b - a for a, b in phone_pairs(truth, pred)]


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


@dataclass
class Row:
    name: str
    audio_s: float = 0.0
    cpu_s: float = 0.0
    word_err: list[int] | None = None
    phone_err: list[int] | None = None
    forced: int = 0
    total: int = 0

    def cells(self) -> list[str]:
        w = [abs(e) for e in self.word_err or []]
        p = [abs(e) for e in self.phone_err or []]
        bias = statistics.median(self.phone_err) if self.phone_err else float("nan")
        return [self.name, f"{self.forced}/{self.total}", f"{self.audio_s:.1f}",
                f"{statistics.median(w):.0f}" if w else "-", f"{pct(w, 0.9):.0f}" if w else "-",
                f"{statistics.median(p):.0f}" if p else "-", f"{pct(p, 0.9):.0f}" if p else "-",
                f"{bias:+.0f}" if p else "-", f"{self.cpu_s / max(self.audio_s, 1e-9):.4f}"]


def measure(aligner, name: str, refs: list[Reference], rate: int | None = None, texts: list[str] | None = None) -> Row:
    from gateway.audio.resample import resample_pcm

    row = Row(name, word_err=[], phone_err=[])
    for k, ref in enumerate(refs):
        pcm, sr = ref.pcm, ref.sample_rate
        if rate and rate != sr:
            pcm, sr = resample_pcm(pcm, sr, rate), rate
        text = texts[k] if texts else ref.text
        t0 = time.process_time()
        result: AlignmentResult = aligner.align(pcm, sr, text)
        row.cpu_s += time.process_time() - t0
        row.audio_s += len(pcm) / 2 / sr
        row.total += 1
        row.forced += result.method == "forced"
        if texts is None and result.method == "forced":
            row.word_err += word_errors(ref.words, result.words)
            row.phone_err += phone_errors(ref.phonemes, result.phonemes)
    return row


HEADER = ["case", "forced", "audio s", "word med ms", "word p90 ms", "phone med ms", "phone p90 ms",
          "phone bias ms", "CPU s / audio s"]


def aligner_set_rows(quick: bool = False) -> list:
    """The aligner-set table's rows (see the module docstring)."""
    from bench.aligner_set import report
    from bench.aligner_set.build import DEFAULT_OUT, build
    from bench.aligner_set.plain import PlainPocketsphinx
    from bench.aligner_set.score import load_set
    from gateway.timing.align import align_pcm
    from gateway.timing.aligners import ESTIMATED, build_aligner
    from gateway.settings import Settings
    from gateway.timing.aligners import RecognizerUnavailable, build_recognizer

    root = build(DEFAULT_OUT)
    festival = load_set(root, "festival")
    held_out = [r for r in festival if r.id.startswith("l")]
    mismatch = [r for r in festival if r.id.startswith("x")]
    aligner = build_aligner("pocketsphinx")
    aligner.warm_up()
    decoder_only = build_aligner("pocketsphinx", refine=False)
    decoder_only.warm_up()
    plain = PlainPocketsphinx()

    def gateway(a):  # noqa: ANN001, ANN202
        def run(ref):  # noqa: ANN001, ANN202
            result = a.align(ref.pcm, ref.sample_rate, ref.text)
            return result.phonemes, result.method == ESTIMATED
        return run

    def plain_run(ref):  # noqa: ANN001, ANN202
        phonemes = plain.align(ref.pcm, ref.sample_rate, ref.text)
        return phonemes or [], phonemes is None

    def audio_only(recognizer):  # noqa: ANN001, ANN202
        def run(ref):  # noqa: ANN001, ANN202
            result = align_pcm(ref.pcm, ref.sample_rate, None, aligner, recognizer)
            return result.phonemes, result.method == ESTIMATED
        return run

    rows = [report.ceiling_row("exact phones through the lip-sync pipeline (the ceiling)", held_out),
            report.run("plain pocketsphinx 5.1.1 forced alignment", held_out, plain_run),
            report.run("gateway aligner, decoder boundaries (refine=False)", held_out, gateway(decoder_only)),
            report.run("gateway aligner", held_out, gateway(aligner))]
    if not quick:
        dev = [r for r in festival if r.id.startswith("d")]
        rows.append(report.run("gateway aligner, development lines (calibrated on these)", dev, gateway(aligner)))
    for name in (("whisper",) if quick else ("whisper", "pocketsphinx")):
        try:
            recognizer = build_recognizer(name, models_dir=Settings().models_dir)
            recognizer.warm_up()
        except RecognizerUnavailable as exc:
            print(f"(audio-only with {name} skipped: {exc})", file=sys.stderr)
            continue
        label = "Whisper base (faster-whisper)" if name == "whisper" else "pocketsphinx language model"
        rows.append(report.run(f"audio only: {label} + gateway aligner", held_out, audio_only(recognizer)))
    rows += [report.run("partial mismatch lines x01-x04, plain pocketsphinx", mismatch, plain_run),
             report.run("partial mismatch lines x01-x04, gateway aligner", mismatch, gateway(aligner))]
    if not quick:
        espeak = [r for r in load_set(root, "espeak") if r.id.startswith("l")]
        rows += [report.run("espeak-ng voice, plain pocketsphinx", espeak, plain_run),
                 report.run("espeak-ng voice, gateway aligner", espeak, gateway(aligner))]
    return rows


def piper_rows(quick: bool = False) -> list[Row]:
    from gateway.timing.aligners import build_aligner

    lines = LINES[:4] if quick else LINES
    refs = synthesize(lines)
    aligner = build_aligner("pocketsphinx")
    aligner.warm_up()
    rows = [measure(aligner, "Piper 22.05 kHz", refs),
            measure(aligner, "espeak-ng 22.05 kHz (formant voice)", synthesize(lines, "espeak")),
            measure(aligner, "resampled to 8 kHz", refs, rate=8000),
            measure(aligner, "resampled to 44.1 kHz", refs, rate=44100)]
    if not quick:
        long_ref = concatenate(refs * 2)
        rows.append(measure(aligner, f"monologue ({len(long_ref.pcm) / 2 / long_ref.sample_rate:.0f} s, chunked)",
                            [long_ref]))
    wrong = [refs[(k + 1) % len(refs)].text for k in range(len(refs))]
    rows.append(measure(aligner, "mismatched text (must not be forced)", refs, texts=wrong))
    estimated = Row("proportional estimate (the fallback), Piper", word_err=[], phone_err=[])
    fallback = build_aligner("proportional")
    for ref in refs:
        t0 = time.process_time()
        result = fallback.align(ref.pcm, ref.sample_rate, ref.text)
        estimated.cpu_s += time.process_time() - t0
        estimated.audio_s += len(ref.pcm) / 2 / ref.sample_rate
        estimated.total += 1
        estimated.word_err += word_errors(ref.words, result.words)
    rows.append(estimated)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rows and lines")
    parser.add_argument("--piper", action="store_true", help="also the robustness table on Piper speech")
    args = parser.parse_args(argv)
    from bench.aligner_set.report import table

    print(table(aligner_set_rows(args.quick)))
    if args.piper:
        print()
        print("| " + " | ".join(HEADER) + " |")
        print("|" + "---|" * len(HEADER))
        for row in piper_rows(args.quick):
            print("| " + " | ".join(row.cells()) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
