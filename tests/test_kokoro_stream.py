"""Kokoro streaming inside a sentence: the split model, the lead-in never decoded, windows vs whole decoding.

Window planning, phase and stitching are checked on numbers (no model); the rest needs the prepared model
(``python -m gateway.install``) and skips without it. The seam bound is measured (docs/benchmarks.md#kokoro-streaming).
"""

from __future__ import annotations

import asyncio
import itertools

import numpy as np
import pytest

from gateway.audio.spectral import join_jump_db, log_spectral_distance
from gateway.core.events import AlignmentEvent, AudioEvent
from gateway.install.kokoro import kokoro_decoder_path, kokoro_front_path, kokoro_model_path, kokoro_ready
from gateway.install.kokoro_split import prepare_kokoro_split
from gateway.providers.kokoro import KokoroProvider
from gateway.providers.kokoro_decode import WindowPlan
from gateway.providers.kokoro_windows import (
    FRAME_SAMPLES,
    Stitcher,
    drop_lead,
    first_clause_end,
    phase_offsets,
    plan_windows,
)
from gateway.settings import Settings
from tests.test_kokoro import check_timeline, collect, request

MODELS_DIR = Settings().models_dir
needs_model = pytest.mark.skipif(not kokoro_ready(MODELS_DIR),
                                 reason=f"Kokoro not prepared in {MODELS_DIR}: run `python -m gateway.install`")

#: Largest extra spectral jump at a join over the whole decode's at the same instant, in dB. Measured on the
#: bench lines: at most ~0.6 dB (the whole decode's own numerical noise moves it by ~±1 dB); 3 dB is audible.
SEAM_BOUND_DB = 3.0
LONG = ("Welcome to the Prancing Pony, traveller; sit by the fire, take off your boots, and tell me what news you "
        "bring from the roads to the north, because the last caravan never arrived.")


# --- numbers only ------------------------------------------------------------------------------------

def test_plan_covers_every_frame_once_and_grows():
    windows = plan_windows(700, first=60, growth=2.0, context=8)
    assert windows[0].start == 0 and windows[-1].end == 700
    assert all(a.end == b.start for a, b in itertools.pairwise(windows))
    sizes = [w.end - w.start for w in windows]
    assert sizes[0] == 60 and sizes[1] == 120 and sizes[2] == 240
    for w in windows:
        assert w.lo == max(0, w.start - 8) and w.hi == min(700, w.end + 8)
    assert len(plan_windows(80, 60, 2.0, 8)) == 1  # a remainder under half the next window is folded in
    assert plan_windows(0, 60, 2.0, 8) == []


def test_first_window_may_end_at_the_first_clause():
    # ^ H a , _ w o r l d . $  -> the pause "," ends at frame 2+5+5+4 = 16
    symbols, durations = "Ha, world.", [2, 5, 5, 4, 6, 3, 3, 3, 3, 3, 6, 4]
    assert first_clause_end(symbols, durations, min_frames=16) == 16
    assert first_clause_end(symbols, durations, min_frames=17) is None  # "." leaves only the end pad after it
    assert first_clause_end("Halt!", [2, 5, 5, 5, 5, 6, 9], min_frames=16) is None  # nothing after the clause
    windows = plan_windows(300, first=60, growth=2.0, context=8, first_end=22)
    assert [(w.start, w.end) for w in windows] == [(0, 22), (22, 82), (82, 300)]
    assert windows[0].hi == 30 and windows[1].lo == 14
    assert plan_windows(300, 60, 2.0, 8, first_end=75)[0].end == 60  # a clause past the first window: no change


def test_stitcher_rebuilds_a_signal_exactly_and_holds_back_only_the_fade():
    frames = 437
    signal = np.random.default_rng(1).normal(size=frames * FRAME_SAMPLES).astype(np.float32)
    windows = plan_windows(frames, first=40, growth=1.5, context=8)
    stitcher = Stitcher(windows, fade=4)
    chunks = [stitcher.add(signal[w.lo * FRAME_SAMPLES:w.hi * FRAME_SAMPLES]) for w in windows]
    out = np.concatenate(chunks)
    assert len(out) == frames * FRAME_SAMPLES
    assert np.allclose(out, signal, atol=1e-6)  # the same audio on both sides of a join cross-fades to itself
    assert len(chunks[0]) == (windows[0].end - 2) * FRAME_SAMPLES  # 2 frames (half the fade) held back
    assert stitcher.joins == [w.start * FRAME_SAMPLES for w in windows[1:]]


def test_stitcher_fades_between_different_windows():
    windows = plan_windows(200, first=60, growth=2.0, context=8)
    stitcher = Stitcher(windows, fade=4)
    first = stitcher.add(np.ones((windows[0].hi - windows[0].lo) * FRAME_SAMPLES, np.float32))
    second = stitcher.add(np.zeros((windows[1].hi - windows[1].lo) * FRAME_SAMPLES, np.float32))
    fade = second[:4 * FRAME_SAMPLES]
    assert np.all(first == 1.0) and np.all(np.diff(fade) < 0) and fade[0] > 0.99 and fade[-1] < 0.01
    assert np.all(second[4 * FRAME_SAMPLES:] == 0.0)


def test_phase_offsets_are_the_running_sum_modulo_one_period():
    f0 = np.array([0.0, 120.0, 180.5, 0.0, 2000.0, 95.25], np.float32)
    offsets = phase_offsets(f0)
    rad = (f0[:, None] * np.arange(1, 10, dtype=np.float32)) / np.float32(24000)
    rad = rad - np.floor(rad)
    total = np.concatenate([np.zeros((1, 9)), np.cumsum(rad.astype(np.float64), axis=0)])
    assert offsets.shape == (7, 9) and np.all(offsets >= 0) and np.all(offsets < 1 / 300 + 1e-7)
    assert np.allclose(np.sin(2 * np.pi * 300 * offsets), np.sin(2 * np.pi * 300 * total), atol=1e-3)


def test_drop_lead_cuts_the_first_pad_only():
    durations, cut = drop_lead(np.array([15, 3, 4, 7]), 2)
    assert cut == 13 and durations.tolist() == [2, 3, 4, 7]
    assert drop_lead(np.array([1, 3]), 2)[1] == 0
    assert drop_lead(np.array([15, 3]), None)[0].tolist() == [15, 3]


def test_window_plan_from_settings():
    plan = WindowPlan.from_ms(1500, 2.0, 200, 100)
    assert (plan.first, plan.growth, plan.context, plan.fade) == (60, 2.0, 8, 4)
    with pytest.raises(ValueError):
        Settings(kokoro={"crossfade_ms": 500, "context_ms": 200})


# --- the model ----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def providers() -> dict[str, KokoroProvider]:
    if not kokoro_ready(MODELS_DIR):
        pytest.skip("Kokoro not prepared: run `python -m gateway.install`")
    out = {}
    for mode in ("windowed", "whole"):
        settings = Settings()
        settings.kokoro.decode = mode
        out[mode] = KokoroProvider(settings, warmup=False)
        asyncio.run(out[mode].start())
    return out


def _frames(provider: KokoroProvider, text: str, keep: int | None = 2):
    provider.lead_silence_ms = None if keep is None else keep * 25
    pack = provider._pack("af_heart")
    try:
        return provider._front(provider._symbols(text, "af_heart"), pack, 1.0)
    finally:
        provider.lead_silence_ms = 50


@pytest.mark.slow
@needs_model
def test_split_is_idempotent_and_front_plus_decoder_is_the_full_model(providers):
    import onnxruntime as ort

    before = kokoro_decoder_path(MODELS_DIR).stat().st_mtime_ns, kokoro_front_path(MODELS_DIR).stat().st_mtime_ns
    prepare_kokoro_split(MODELS_DIR)
    assert (kokoro_decoder_path(MODELS_DIR).stat().st_mtime_ns, kokoro_front_path(MODELS_DIR).stat().st_mtime_ns) \
        == before
    provider = providers["whole"]
    full = ort.InferenceSession(str(kokoro_model_path(MODELS_DIR)), providers=["CPUExecutionProvider"])
    symbols = provider._symbols("I found three goblins.", "af_heart")
    pack = provider._pack("af_heart")
    tokens = [provider._vocab[c] for c in symbols]
    audio, dur = full.run(None, {"tokens": np.array([[0, *tokens, 0]], np.int64),
                                 "style": pack[len(tokens) - 1].reshape(1, 256), "speed": np.array([1.0], np.float32)})
    frames = _frames(provider, "I found three goblins.", keep=None)  # nothing cut: the model's own input
    ours = provider._session.decode_whole(frames)
    assert np.array_equal(ours, np.asarray(audio, np.float32).ravel())
    assert frames.durations.tolist() == np.rint(dur).astype(int).ravel().tolist()
    assert int(frames.durations.sum()) * FRAME_SAMPLES == len(ours)


@pytest.mark.slow
@needs_model
def test_lead_in_is_not_decoded(providers):
    provider = providers["whole"]
    full = _frames(provider, "Halt! Who goes there?", keep=None)
    cut = _frames(provider, "Halt! Who goes there?", keep=2)
    lead = int(full.durations[0])
    assert lead >= 8  # the model's lead-in: 13-19 frames measured
    assert cut.durations[0] == 2 and cut.durations[1:].tolist() == full.durations[1:].tolist()
    assert cut.count == full.count - (lead - 2)
    assert np.array_equal(cut.asr, full.asr[:, :, lead - 2:])
    engine = provider._session
    before = engine.decoded_frames
    audio = engine.decode_whole(cut)
    assert engine.decoded_frames - before == cut.count  # only the kept frames reached the decoder
    assert len(audio) == int(cut.durations.sum()) * FRAME_SAMPLES


@pytest.mark.slow
@needs_model
def test_windowed_equals_whole_in_length_and_stays_within_the_seam_bound(providers):
    provider = providers["windowed"]
    frames = _frames(provider, LONG)
    engine = provider._session
    whole = engine.decode_whole(frames)
    before = engine.decoder_runs
    chunks = list(engine.decode_windows(frames, provider.plan))
    windowed = np.concatenate(chunks)
    windows = plan_windows(frames.count, provider.plan.first, provider.plan.growth, provider.plan.context)
    assert len(chunks) == len(windows) >= 3 and engine.decoder_runs - before == len(windows)
    assert abs(len(windowed) - len(whole)) <= FRAME_SAMPLES and len(windowed) == len(whole)
    assert len(chunks[0]) < 0.3 * len(whole)  # first audio is a fraction of the sentence
    jumps = join_jump_db(windowed, whole, [w.start * FRAME_SAMPLES for w in windows[1:]])
    assert jumps and max(jumps) <= SEAM_BOUND_DB, jumps
    lsd = log_spectral_distance(windowed, whole)
    assert np.median(lsd) < 6.0  # same voice: the spectra agree to a few dB frame by frame
    assert 0.5 < np.sqrt(np.mean(windowed ** 2)) / np.sqrt(np.mean(whole ** 2)) < 2.0


@pytest.mark.slow
@needs_model
async def test_windowed_stream_has_exact_timings_and_streams_inside_a_sentence(providers):
    provider = providers["windowed"]
    req = request(LONG)
    assert len(req.segments) == 1
    out = await collect(provider, req)
    check_timeline(out, req)  # sum of durations == audio length, words and phonemes contiguous
    assert len(out["audio"]) >= 3  # one sentence, several audio events
    events = out["events"]
    first_audio = next(i for i, e in enumerate(events) if isinstance(e, AudioEvent))
    assert isinstance(events[first_audio + 1], AlignmentEvent)  # timings right after the first chunk
    lead = out["phonemes"][0]
    assert lead.phoneme == "^" and lead.end_ms - lead.start_ms == 50  # lead-in: 2 frames kept


@pytest.mark.slow
@needs_model
async def test_whole_mode_keeps_the_first_clause_split_and_exact_timings(providers):
    provider = providers["whole"]
    req = request(LONG)
    out = await collect(provider, req)
    check_timeline(out, req)
    assert len(out["align"]) == 2  # first clause, then the rest
