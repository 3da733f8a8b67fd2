import { describe, expect, it } from "vitest";

import { AudioScheduler, type ClockContext, LEAD_S, WallClock } from "@/lib/audio";
import { NdjsonParser } from "@/lib/ndjson";
import { base64ToBytes, decodePcmBase64, pcm16ToFloat32, samplesToMs } from "@/lib/pcm";

class FakeSource {
  buffer: unknown = null;
  startedAt: number | null = null;
  stoppedAt: number | null = null;
  connect() {}
  start(when: number) {
    this.startedAt = when;
  }
  stop(when: number) {
    this.stoppedAt = when;
  }
}

class FakeContext implements ClockContext {
  currentTime = 10;
  outputLatency = 0.02;
  destination = {};
  sources: FakeSource[] = [];
  createBuffer(_channels: number, length: number, sampleRate: number) {
    const data = new Float32Array(length);
    return { length, sampleRate, duration: length / sampleRate, getChannelData: () => data } as unknown as AudioBuffer;
  }
  createBufferSource() {
    const s = new FakeSource();
    this.sources.push(s);
    return s as unknown as AudioBufferSourceNode;
  }
}

const chunk = (ms: number, rate = 1000) => new Float32Array((ms * rate) / 1000);

describe("AudioScheduler", () => {
  it("schedules chunks back to back from t0 = now + lead", () => {
    const ctx = new FakeContext();
    const a = new AudioScheduler(ctx);
    expect(a.mediaTimeMs()).toBe(0);
    expect(a.schedule(chunk(500), 1000, 0)).toBeCloseTo(10 + LEAD_S, 9);
    expect(a.schedule(chunk(300), 1000, 500)).toBeCloseTo(10.55, 9);
    expect(a.schedule(chunk(200), 1000, 800)).toBeCloseTo(10.85, 9);
    expect(a.bufferedMs).toBe(1000);
    expect(a.t0).toBeCloseTo(10.05, 9);
  });

  it("reads the clock as currentTime - t0 - outputLatency, held at the end of the audio", () => {
    const ctx = new FakeContext();
    const a = new AudioScheduler(ctx);
    a.schedule(chunk(1000), 1000, 0);
    ctx.currentTime = 10.05; // the first sample is being rendered, not heard yet
    expect(a.mediaTimeMs()).toBe(0);
    ctx.currentTime = 10.57;
    expect(a.mediaTimeMs()).toBeCloseTo(500, 6);
    ctx.currentTime = 20;
    expect(a.mediaTimeMs()).toBe(1000);
  });

  it("moves t0 forward when a chunk arrives after its slot (the clock waits for the audio)", () => {
    const ctx = new FakeContext();
    const a = new AudioScheduler(ctx);
    a.schedule(chunk(200), 1000, 0); // plays 10.05 .. 10.25
    ctx.currentTime = 10.5; // the next chunk is 250 ms late
    const when = a.schedule(chunk(200), 1000, 200);
    expect(when).toBeCloseTo(10.5 + LEAD_S, 9);
    expect(a.t0).toBeCloseTo(10.35, 9);
    expect(a.stallS).toBeCloseTo(0.3, 9);
    // while the gap lasted the clock held at the end of what was heard, and it does not run back when the late
    // chunk starts: it waits there until the chunk's audio catches up
    ctx.currentTime = 10.56;
    expect(a.mediaTimeMs()).toBe(200);
    ctx.currentTime = 10.6;
    expect(a.mediaTimeMs()).toBeCloseTo(230, 6);
    let last = 0;
    for (let t = 10.0; t < 11; t += 0.005) {
      ctx.currentTime = t;
      expect(a.mediaTimeMs()).toBeGreaterThanOrEqual(last);
      last = a.mediaTimeMs();
    }
  });

  it("cuts audio at a provider switch", () => {
    const ctx = new FakeContext();
    const a = new AudioScheduler(ctx);
    a.schedule(chunk(400), 1000, 0);
    a.schedule(chunk(400), 1000, 400);
    a.truncate(300);
    const [first, second] = ctx.sources;
    expect(first.stoppedAt).toBeCloseTo(10.05 + 0.3, 9);
    expect(second.stoppedAt).toBe(0);
    expect(a.bufferedMs).toBe(300);
    a.schedule(chunk(400), 1000, 300);
    expect(ctx.sources[2].startedAt).toBeCloseTo(10.35, 9);
  });

  it("stops everything and ignores later chunks", () => {
    const ctx = new FakeContext();
    const a = new AudioScheduler(ctx);
    a.schedule(chunk(100), 1000, 0);
    a.stop();
    expect(ctx.sources[0].stoppedAt).toBe(0);
    expect(Number.isNaN(a.schedule(chunk(100), 1000, 100))).toBe(true);
  });
});

describe("WallClock (text only)", () => {
  it("runs from start to the end of the track", () => {
    let now = 1000;
    const c = new WallClock(() => now);
    c.extend(500);
    expect(c.mediaTimeMs()).toBe(0);
    c.start();
    now = 1200;
    expect(c.mediaTimeMs()).toBe(200);
    now = 5000;
    expect(c.mediaTimeMs()).toBe(500);
  });
});

describe("PCM", () => {
  it("decodes s16le little-endian to floats", () => {
    const bytes = new Uint8Array([0x00, 0x00, 0xff, 0x7f, 0x00, 0x80, 0x00, 0x40, 0x01]);
    const f = pcm16ToFloat32(bytes);
    expect(Array.from(f)).toEqual([0, 32767 / 32768, -1, 0.5]);
  });

  it("decodes base64 chunks from the stream", () => {
    const b64 = Buffer.from(new Int16Array([0, 16384, -16384]).buffer).toString("base64");
    expect(Array.from(base64ToBytes(b64))).toHaveLength(6);
    expect(Array.from(decodePcmBase64(b64))).toEqual([0, 0.5, -0.5]);
    expect(samplesToMs(22050, 22050)).toBe(1000);
  });
});

describe("NdjsonParser", () => {
  it("parses objects split across chunks, including a multi-byte character", () => {
    const got: unknown[] = [];
    const p = new NdjsonParser((v) => got.push(v));
    const bytes = new TextEncoder().encode('{"a":1}\n{"w":"ɪə"}\n\n{"b":');
    p.push(bytes.slice(0, 12)); // cuts inside "ɪ"
    p.push(bytes.slice(12));
    p.push("2}");
    expect(got).toEqual([{ a: 1 }, { w: "ɪə" }]);
    p.end();
    expect(got).toEqual([{ a: 1 }, { w: "ɪə" }, { b: 2 }]);
  });

  it("reports bad lines and goes on", () => {
    const got: unknown[] = [];
    const bad: string[] = [];
    const p = new NdjsonParser((v) => got.push(v), (line) => bad.push(line));
    p.push("nope\n{\"ok\":true}\n");
    expect(bad).toEqual(["nope"]);
    expect(got).toEqual([{ ok: true }]);
  });
});
