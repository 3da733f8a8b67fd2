import { describe, expect, it } from "vitest";

import {
  CurveTrack, VisemeTrack, dominantViseme, findIndex, normalizeTrack, playbackPercent, shapeAt, shapeFromWeights,
  smoothstep, subtitleAt, visemeWeightsAt, wordsStarted,
} from "@/lib/track";
import { SHAPE_KEYS, VISEMES, VISEME_SHAPES, normalizeViseme } from "@/lib/visemes";

const sum = (w: Float64Array) => w.reduce((a, b) => a + b, 0);
const weightOf = (w: Float64Array, v: string) => w[VISEMES.indexOf(v as (typeof VISEMES)[number])];

// a track as the gateway streams it ("Hello", piper)
const HELLO = [
  { viseme: "sil", id: 0, start_ms: 0, end_ms: 35 },
  { viseme: "kk", id: 5, start_ms: 35, end_ms: 81 },
  { viseme: "aa", id: 10, start_ms: 81, end_ms: 139 },
  { viseme: "nn", id: 8, start_ms: 139, end_ms: 174 },
  { viseme: "oh", id: 13, start_ms: 174, end_ms: 251 },
  { viseme: "ou", id: 14, start_ms: 251, end_ms: 331 },
  { viseme: "sil", id: 0, start_ms: 331, end_ms: 500 },
];

describe("visemes", () => {
  it("has the 15 Oculus visemes, each with its own mouth pose", () => {
    expect(VISEMES).toHaveLength(15);
    const poses = new Set(VISEMES.map((v) => SHAPE_KEYS.map((k) => VISEME_SHAPES[v][k]).join(",")));
    expect(poses.size).toBe(15);
    for (const v of VISEMES) for (const k of SHAPE_KEYS) expect(VISEME_SHAPES[v][k]).toBeGreaterThanOrEqual(0);
  });

  it("reads every spelling the gateway and TalkingHead use", () => {
    expect(normalizeViseme("PP")).toBe("PP");
    expect(normalizeViseme("viseme_PP")).toBe("PP");
    expect(normalizeViseme("viseme_O")).toBe("oh");
    expect(normalizeViseme("I")).toBe("ih");
    expect(normalizeViseme("U")).toBe("ou");
    expect(normalizeViseme("AA")).toBe("aa");
    expect(normalizeViseme(10)).toBe("aa");
    expect(normalizeViseme("bogus")).toBe("sil");
    expect(normalizeViseme(null)).toBe("sil");
  });
});

describe("findIndex", () => {
  const items = [{ start_ms: 0 }, { start_ms: 10 }, { start_ms: 10 }, { start_ms: 30 }];
  it("finds the last item that started", () => {
    expect(findIndex(items, -1)).toBe(-1);
    expect(findIndex(items, 0)).toBe(0);
    expect(findIndex(items, 9.9)).toBe(0);
    expect(findIndex(items, 10)).toBe(2);
    expect(findIndex(items, 29)).toBe(2);
    expect(findIndex(items, 1e9)).toBe(3);
    expect(findIndex([], 5)).toBe(-1);
  });
});

describe("normalizeTrack", () => {
  it("sorts, fills gaps with sil, cuts overlaps and drops empty spans", () => {
    const t = normalizeTrack([
      { viseme: "aa", start_ms: 100, end_ms: 200 },
      { viseme: "PP", start_ms: 0, end_ms: 50 },
      { viseme: "E", start_ms: 180, end_ms: 260 },
      { viseme: "oh", start_ms: 260, end_ms: 260 },
      { id: 14, start_ms: 260, end_ms: 300 },
    ]);
    expect(t).toEqual([
      { viseme: "PP", start_ms: 0, end_ms: 50 },
      { viseme: "sil", start_ms: 50, end_ms: 100 },
      { viseme: "aa", start_ms: 100, end_ms: 180 },
      { viseme: "E", start_ms: 180, end_ms: 260 },
      { viseme: "ou", start_ms: 260, end_ms: 300 },
    ]);
  });
});

describe("visemeWeightsAt: all 15 visemes blended", () => {
  const keys = normalizeTrack(HELLO);

  it("weights always sum to 1 and stay in [0, 1]", () => {
    for (let t = -50; t < 700; t += 3.7) {
      const w = visemeWeightsAt(keys, t);
      expect(sum(w)).toBeCloseTo(1, 9);
      for (const x of w) {
        expect(x).toBeGreaterThanOrEqual(-1e-12);
        expect(x).toBeLessThanOrEqual(1 + 1e-12);
      }
    }
  });

  it("rests before the track and after it", () => {
    expect(weightOf(visemeWeightsAt(keys, -10), "sil")).toBe(1);
    expect(weightOf(visemeWeightsAt(keys, 10_000), "sil")).toBe(1);
    expect(weightOf(visemeWeightsAt([], 100), "sil")).toBe(1);
  });

  it("starts each key from the previous pose and reaches it after the blend", () => {
    const long = normalizeTrack([
      { viseme: "PP", start_ms: 0, end_ms: 200 },
      { viseme: "aa", start_ms: 200, end_ms: 400 },
    ]);
    expect(weightOf(visemeWeightsAt(long, 200), "PP")).toBeCloseTo(1, 6);
    const mid = visemeWeightsAt(long, 230, 60);
    expect(weightOf(mid, "aa")).toBeCloseTo(smoothstep(0.5), 9);
    expect(weightOf(mid, "PP")).toBeCloseTo(1 - smoothstep(0.5), 9);
    expect(weightOf(visemeWeightsAt(long, 260, 60), "aa")).toBe(1);
    // past the end it relaxes to rest from aa
    expect(weightOf(visemeWeightsAt(long, 430, 60), "sil")).toBeCloseTo(0.5, 9);
  });

  it("moves the mouth smoothly through short keys (no jumps)", () => {
    let prev = shapeAt(keys, 0);
    for (let t = 0.5; t < 600; t += 0.5) {
      const s = shapeAt(keys, t);
      for (const k of SHAPE_KEYS) expect(Math.abs(s[k] - prev[k])).toBeLessThan(0.05);
      prev = s;
    }
  });

  it("shows each of the 15 visemes as the dominant shape in the middle of a long key", () => {
    const track = normalizeTrack(VISEMES.map((v, i) => ({ viseme: v, start_ms: i * 200, end_ms: (i + 1) * 200 })));
    for (const [i, v] of VISEMES.entries()) {
      const w = visemeWeightsAt(track, i * 200 + 150);
      expect(dominantViseme(w)).toBe(v);
      expect(shapeFromWeights(w)).toEqual(VISEME_SHAPES[v]);
    }
  });

  it("opens the jaw for aa and presses the lips for PP", () => {
    const track = normalizeTrack([
      { viseme: "PP", start_ms: 0, end_ms: 120 },
      { viseme: "aa", start_ms: 120, end_ms: 300 },
    ]);
    expect(shapeAt(track, 100).press).toBe(1);
    expect(shapeAt(track, 100).open).toBe(0);
    expect(shapeAt(track, 250).open).toBe(1);
  });
});

describe("VisemeTrack", () => {
  it("grows sentence by sentence and fills the pause between them", () => {
    const t = new VisemeTrack();
    t.add([{ viseme: "aa", start_ms: 0, end_ms: 100 }]);
    t.add([{ viseme: "E", start_ms: 150, end_ms: 300 }]);
    expect(t.keys.map((k) => k.viseme)).toEqual(["aa", "sil", "E"]);
    expect(t.endMs).toBe(300);
  });

  it("replaces what follows a provider switch", () => {
    const t = new VisemeTrack();
    t.add([{ viseme: "aa", start_ms: 0, end_ms: 100 }, { viseme: "E", start_ms: 100, end_ms: 400 }]);
    t.truncate(250);
    expect(t.keys).toEqual([{ viseme: "aa", start_ms: 0, end_ms: 100 }, { viseme: "E", start_ms: 100, end_ms: 250 }]);
    t.add([{ viseme: "oh", start_ms: 200, end_ms: 500 }]);
    expect(t.keys.map((k) => [k.viseme, k.start_ms, k.end_ms])).toEqual([["aa", 0, 100], ["E", 100, 200], ["oh", 200, 500]]);
  });
});

describe("CurveTrack", () => {
  it("interpolates between frames across stream windows and holds the edges", () => {
    const c = new CurveTrack();
    c.add({ fps: 10, start_frame: 0, frame_count: 3, curves: { browInnerUp: [0, 0.5, 1] } });
    c.add({ fps: 10, start_frame: 3, frame_count: 2, curves: { browInnerUp: [0.6, 0.2] } });
    expect(c.valueAt("browInnerUp", 0)).toBe(0);
    expect(c.valueAt("browInnerUp", 50)).toBeCloseTo(0.25, 9);
    expect(c.valueAt("browInnerUp", 250)).toBeCloseTo(0.8, 9); // frame 2 (1.0) → frame 3 (0.6)
    expect(c.valueAt("browInnerUp", 10_000)).toBeCloseTo(0.2, 9);
    expect(c.valueAt("browInnerUp", -100)).toBe(0);
    expect(c.valueAt("missing", 100)).toBe(0);
    expect(c.sample(100)).toEqual({ browInnerUp: 0.5 });
  });

  it("drops windows from a provider switch on", () => {
    const c = new CurveTrack();
    c.add({ fps: 10, start_frame: 0, frame_count: 3, curves: { x: [1, 1, 1] } });
    c.add({ fps: 10, start_frame: 3, frame_count: 3, curves: { x: [2, 2, 2] } });
    c.truncate(300);
    expect(c.windows).toHaveLength(1);
    c.add({ fps: 10, start_frame: 3, frame_count: 1, curves: { x: [5] } });
    expect(c.valueAt("x", 300)).toBe(5);
  });

  it("is empty-safe", () => {
    const c = new CurveTrack();
    c.add(null);
    expect(c.valueAt("x", 10)).toBe(0);
    expect(c.sample(10)).toEqual({});
  });
});

describe("subtitles", () => {
  const text = "Hello there, traveller. Welcome!";
  const words = [
    { word: "Hello", start_ms: 35, end_ms: 302, char_start: 0, char_end: 5 },
    { word: "there", start_ms: 360, end_ms: 627, char_start: 6, char_end: 11 },
    { word: "traveller", start_ms: 789, end_ms: 1231, char_start: 13, char_end: 22 },
    { word: "Welcome", start_ms: 1474, end_ms: 1765, char_start: 24, char_end: 31 },
  ];

  it("counts the words that have started", () => {
    expect(wordsStarted(words, 0)).toBe(0);
    expect(wordsStarted(words, 35)).toBe(1);
    expect(wordsStarted(words, 1500)).toBe(4);
  });

  it("shows words as they are spoken, the current one apart", () => {
    expect(subtitleAt(text, words, 0)).toEqual({ spoken: "", current: "", rest: text });
    expect(subtitleAt(text, words, 100)).toEqual({ spoken: "", current: "Hello", rest: text.slice(5) });
    expect(subtitleAt(text, words, 330)).toEqual({ spoken: "Hello", current: "", rest: text.slice(5) });
    expect(subtitleAt(text, words, 800)).toEqual({ spoken: "Hello there, ", current: "traveller", rest: ". Welcome!" });
    // the closing punctuation shows once the last word is over
    expect(subtitleAt(text, words, 1800)).toEqual({ spoken: text, current: "", rest: "" });
  });

  it("joins the words when the offsets do not fit the text yet", () => {
    expect(subtitleAt("", words, 800)).toEqual({ spoken: "Hello there ", current: "traveller", rest: " Welcome" });
    const noOffsets = words.map(({ word, start_ms, end_ms }) => ({ word, start_ms, end_ms }));
    expect(subtitleAt(text, noOffsets, 1800).spoken).toBe("Hello there traveller Welcome");
  });
});

describe("playbackPercent", () => {
  it("is 0..100 and safe without a duration", () => {
    expect(playbackPercent(0, 1000)).toBe(0);
    expect(playbackPercent(500, 1000)).toBe(50);
    expect(playbackPercent(2000, 1000)).toBe(100);
    expect(playbackPercent(100, 0)).toBe(0);
  });
});
