import { describe, expect, it } from "vitest";

import { parseRetryAfter } from "@/lib/api";
import { AudioScheduler, type ClockContext } from "@/lib/audio";
import { LineSession } from "@/lib/session";
import { checkText, cleanText, estimateSegments } from "@/lib/text";
import { mouthGeometry } from "@/components/avatar";
import { shapeAt } from "@/lib/track";
import { VISEME_SHAPES } from "@/lib/visemes";

const pcmB64 = (ms: number, rate = 1000) => Buffer.from(new Int16Array((ms * rate) / 1000).buffer).toString("base64");

function fakeCtx() {
  const ctx = {
    currentTime: 0,
    outputLatency: 0,
    destination: {},
    createBuffer: (_c: number, length: number) => {
      const d = new Float32Array(length);
      return { getChannelData: () => d } as unknown as AudioBuffer;
    },
    createBufferSource: () => ({ connect() {}, start() {}, stop() {}, buffer: null }) as unknown as AudioBufferSourceNode,
  };
  return ctx as ClockContext & { currentTime: number };
}

describe("LineSession", () => {
  it("folds a stream into stages, provider, level, words and tracks", () => {
    let now = 0;
    const ctx = fakeCtx();
    const s = new LineSession("Hello there. Bye.", 2, false, new AudioScheduler(ctx), () => now);
    expect(s.steps).toEqual({ synth: "active", lipsync: "pending", video: null, play: "pending" });
    now = 40;
    s.handle({ type: "status", code: "provider", provider: "piper", degradation_level: "normal", message: "" });
    now = 90;
    s.handle({ type: "audio", segment: 0, start_ms: 0, sample_rate: 1000, encoding: "pcm_s16le", audio: pcmB64(600) });
    s.handle({ type: "alignment", segment: 0, phonemes: [], words: [{ word: "Hello", start_ms: 10, end_ms: 300, char_start: 0, char_end: 5 }] });
    s.handle({ type: "visemes", start_ms: 0, end_ms: 600, visemes: [{ viseme: "aa", start_ms: 0, end_ms: 600 }],
               expression: { fps: 10, start_frame: 0, frame_count: 6, curves: { mouthSmileLeft: [0.5, 0.5, 0.5, 0.5, 0.5, 0.5] } } });
    s.handle({ type: "segment_end", segment: 0, end_ms: 600 });
    expect(s.provider).toBe("piper");
    expect(s.steps).toMatchObject({ synth: "active", lipsync: "active", play: "active" });
    expect(s.synthPercent).toBe(50);
    expect(s.timings.firstEventMs).toBe(40);
    expect(s.timings.firstAudioMs).toBe(90);
    expect(s.clock.bufferedMs).toBe(600);
    now = 200;
    s.handle({ type: "final", complete: true, request_id: "r", text: "Hello there. Bye.", spoken_text: null, audio_url: "/a",
               video_url: null, duration: 0.6, processing_time: 0.05, provider: "piper", source_provider: "piper",
               degradation_level: "normal", degradation_reasons: [], fallbacks: 0, retries: 0 });
    expect(s.steps).toMatchObject({ synth: "done", lipsync: "done", play: "active" });
    expect(s.timings).toMatchObject({ streamMs: 200, serverMs: 50, durationMs: 600 });
    expect(s.settled).toBe(false);
    ctx.currentTime = 5;
    expect(s.tick()).toBe(true);
    expect(s.steps.play).toBe("done");
    expect(s.settled).toBe(true);
    expect(s.notices()).toEqual([]);
  });

  it("cuts the tracks at a provider switch and says who took over", () => {
    const s = new LineSession("x", 1, false, new AudioScheduler(fakeCtx()), () => 0);
    s.handle({ type: "audio", segment: 0, start_ms: 0, sample_rate: 1000, encoding: "pcm_s16le", audio: pcmB64(800) });
    s.handle({ type: "visemes", start_ms: 0, end_ms: 800, visemes: [{ viseme: "aa", start_ms: 0, end_ms: 800 }] });
    s.handle({ type: "alignment", segment: 1, phonemes: [], words: [{ word: "late", start_ms: 500, end_ms: 700 }] });
    s.handle({ type: "status", code: "provider_switch", provider: "espeak", degradation_level: "degraded-2", message: "",
               detail: { from: "piper", resume_segment: 1, at_ms: 400, reason: "timeout" } });
    expect(s.clock.bufferedMs).toBe(400);
    expect(s.visemes.endMs).toBe(400);
    expect(s.words).toEqual([]);
    expect(s.notices()[0]).toMatchObject({ kind: "switch", title: expect.stringContaining("espeak took over") });
  });

  it("waits for the text-only answer when every provider failed, then mouths it on a wall clock", () => {
    let now = 0;
    const s = new LineSession("Hi", 1, true, new AudioScheduler(fakeCtx()), () => now);
    s.handle({ type: "error", code: "all_providers_failed", message: "every provider failed", complete: false });
    expect(s.awaitingFallback).toBe(true);
    expect(s.settled).toBe(false);
    s.applyTextOnly({ text: "Hi", words: [{ word: "Hi", start_ms: 0, end_ms: 300, char_start: 0, char_end: 2 }],
                      visemes: [{ viseme: "kk", start_ms: 0, end_ms: 100 }, { viseme: "ih", start_ms: 100, end_ms: 300 }],
                      blendshapes: null, duration: 0.3, degradation_level: "degraded-3", degradation_reasons: ["x down"],
                      provider: null, processing_time: 0.01 });
    expect(s.textOnly).toBe(true);
    expect(s.steps).toEqual({ synth: "failed", lipsync: "done", video: "skipped", play: "active" });
    expect(s.notices().map((n) => n.kind)).toEqual(["text-only"]);
    now = 150;
    expect(s.clock.mediaTimeMs()).toBe(150);
    now = 400;
    expect(s.tick()).toBe(true);
    expect(s.steps.play).toBe("done");
    expect(s.settled).toBe(true);
  });

  it("names the fallback that answered when a provider is down", () => {
    const s = new LineSession("x", 1, false, null, () => 0);
    s.handle({ type: "final", complete: true, request_id: "r", text: "x", spoken_text: null, audio_url: "/a", video_url: null,
               duration: 0.1, processing_time: 0.01, provider: "espeak", source_provider: "espeak",
               degradation_level: "degraded-2", degradation_reasons: ["piper down: model missing"], fallbacks: 1, retries: 0 });
    const n = s.notices();
    expect(n).toHaveLength(1);
    expect(n[0].title).toContain("espeak");
    expect(n[0].detail).toContain("piper down");
  });

  it("times each sentence from Speak and keeps its words and provider", () => {
    let now = 0;
    const s = new LineSession("One. Two.", 2, false, null, () => now);
    s.handle({ type: "status", code: "provider", provider: "piper", degradation_level: "normal", message: "" });
    now = 120;
    s.handle({ type: "audio", segment: 0, start_ms: 0, sample_rate: 1000, encoding: "pcm_s16le", audio: pcmB64(300) });
    now = 150;
    s.handle({ type: "audio", segment: 0, start_ms: 300, sample_rate: 1000, encoding: "pcm_s16le", audio: pcmB64(200) });
    s.handle({ type: "alignment", segment: 0, phonemes: [], words: [{ word: "One", start_ms: 0, end_ms: 400, char_start: 0, char_end: 3 }] });
    now = 160;
    s.handle({ type: "segment_end", segment: 0, end_ms: 500 });
    now = 400;
    s.handle({ type: "audio", segment: 1, start_ms: 500, sample_rate: 1000, encoding: "pcm_s16le", audio: pcmB64(300) });
    expect(s.sentences).toEqual([
      { segment: 0, firstAudioMs: 120, doneMs: 160, startMs: 0, endMs: 500, provider: "piper",
        words: [{ word: "One", start_ms: 0, end_ms: 400, char_start: 0, char_end: 3 }] },
      { segment: 1, firstAudioMs: 400, doneMs: null, startMs: 500, endMs: null, provider: "piper", words: [] },
    ]);
    expect(s.waveform.endMs).toBe(800); // the waveform grows with the audio
    // a switch re-speaks sentence 1: its timing starts over
    s.handle({ type: "status", code: "provider_switch", provider: "espeak", degradation_level: "degraded-2", message: "",
               detail: { from: "piper", resume_segment: 1, at_ms: 500, reason: "timeout" } });
    expect(s.sentences.map((t) => t.segment)).toEqual([0]);
    expect(s.waveform.endMs).toBe(500);
    now = 700;
    s.handle({ type: "audio", segment: 1, start_ms: 500, sample_rate: 1000, encoding: "pcm_s16le", audio: pcmB64(300) });
    expect(s.sentences[1]).toMatchObject({ segment: 1, firstAudioMs: 700, provider: "espeak" });
  });

  it("stops without a failure: open stages are skipped and the mouth closes", () => {
    let now = 0;
    const ctx = fakeCtx();
    const s = new LineSession("Hello there.", 1, false, new AudioScheduler(ctx), () => now);
    s.handle({ type: "audio", segment: 0, start_ms: 0, sample_rate: 1000, encoding: "pcm_s16le", audio: pcmB64(1000) });
    s.handle({ type: "visemes", start_ms: 0, end_ms: 1000, visemes: [{ viseme: "aa", start_ms: 0, end_ms: 1000 }] });
    ctx.currentTime = 0.45; // 400 ms heard (after the 50 ms lead)
    now = 1000;
    s.stop();
    expect(s.stopped && s.finished && s.settled).toBe(true);
    expect(s.error).toBeNull();
    expect(Object.values(s.steps).filter((v) => v === "failed")).toEqual([]);
    expect(s.steps.play).toBe("skipped");
    expect(s.notices()).toEqual([]);
    // the track ends at the stop; the face's time runs on so the mouth relaxes to rest
    expect(s.stoppedAtMs).toBeCloseTo(400, 0);
    expect(s.visemes.endMs).toBeCloseTo(400, 0);
    now = 1100;
    expect(s.faceTimeMs()).toBeCloseTo(500, 0);
    expect(shapeAt(s.visemes.keys, s.faceTimeMs()).open).toBe(0);
    expect(s.clock.mediaTimeMs()).toBeLessThanOrEqual(s.stoppedAtMs ?? 0);
    // whatever was still in flight is ignored
    s.handle({ type: "error", code: "network", message: "aborted", complete: false });
    expect(s.error).toBeNull();
    expect(s.tick()).toBe(false);
  });

  it("keeps a broken stream visible as an error", () => {
    const s = new LineSession("x", 1, false, null, () => 0);
    s.handle({ type: "error", code: "timeout", message: "took too long", complete: false });
    expect(s.awaitingFallback).toBe(false);
    expect(s.steps.synth).toBe("failed");
    expect(s.notices()[0]).toMatchObject({ kind: "stream-error", detail: "took too long (timeout)" });
  });
});

describe("text rules", () => {
  it("cleans like the gateway", () => {
    expect(cleanText("  Hello\u0007  <b>there</b> , friend !  ")).toBe("Hello there, friend!");
    expect(cleanText("a\n\tb")).toBe("a b");
  });

  it("checks empty and too long lines", () => {
    expect(checkText("   ")).toEqual({ kind: "empty" });
    expect(checkText("<i></i>")).toEqual({ kind: "empty" });
    expect(checkText("a".repeat(1000))).toBeNull();
    expect(checkText("a".repeat(1003))).toEqual({ kind: "too_long", over: 3, limit: 1000 });
    expect(checkText("abc", 2)).toEqual({ kind: "too_long", over: 1, limit: 2 });
  });

  it("estimates sentences", () => {
    expect(estimateSegments("One. Two! Three?")).toBe(3);
    expect(estimateSegments("no punctuation")).toBe(1);
    expect(estimateSegments("")).toBe(1);
  });

  it("reads Retry-After as seconds or a date", () => {
    expect(parseRetryAfter("3")).toBe(3);
    expect(parseRetryAfter("1.2")).toBe(2);
    expect(parseRetryAfter(null)).toBeNull();
    expect(parseRetryAfter("soon")).toBeNull();
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(parseRetryAfter("Thu, 01 Jan 2026 00:00:10 GMT", now)).toBe(10);
  });
});

describe("mouth geometry", () => {
  it("has no opening for PP and sil, the widest for aa, and rounds for ou", () => {
    expect(mouthGeometry(VISEME_SHAPES.PP).openH).toBe(0);
    expect(mouthGeometry(VISEME_SHAPES.sil).openH).toBe(0);
    const aa = mouthGeometry(VISEME_SHAPES.aa).openH;
    for (const v of ["E", "oh", "ih", "kk"] as const) expect(mouthGeometry(VISEME_SHAPES[v]).openH).toBeLessThan(aa);
    expect(mouthGeometry(VISEME_SHAPES.ou).w).toBeLessThan(mouthGeometry(VISEME_SHAPES.ih).w);
    // a smile lifts the corners
    expect(mouthGeometry(VISEME_SHAPES.sil, 1).cornerY).toBeLessThan(mouthGeometry(VISEME_SHAPES.sil).cornerY);
  });
});
