/**
 * The audio clock. Streamed PCM chunks are decoded into AudioBuffers and scheduled back to back on one
 * AudioContext from t0 (chunk at `start_ms` plays at `t0 + start_ms/1000`); the face and the subtitles read
 * `mediaTimeMs()` = `ctx.currentTime - t0 - outputLatency`, so they follow what is heard, not what arrived.
 *
 * When a chunk comes too late to play at its slot (the stream fell behind), t0 moves forward so the chunk
 * starts now: the clock holds at the end of the audio already heard instead of running ahead of it.
 */

import { decodePcmBase64 } from "./pcm";

/** The part of AudioContext this uses (a fake in unit tests). */
export interface ClockContext {
  readonly currentTime: number;
  readonly outputLatency?: number;
  readonly baseLatency?: number;
  readonly destination: AudioNode | unknown;
  readonly state?: string;
  createBuffer(channels: number, length: number, sampleRate: number): AudioBuffer;
  createBufferSource(): AudioBufferSourceNode;
}

/** Lead time from "decided to play" to the first sample, so the first chunk is not clipped. */
export const LEAD_S = 0.05;

interface Scheduled {
  node: AudioBufferSourceNode;
  startMs: number;
  endMs: number;
}

export interface MediaClock {
  /** Media time in ms: what the listener hears now (0 before playback). */
  mediaTimeMs(): number;
  /** End of the media scheduled so far, in ms. */
  readonly bufferedMs: number;
  readonly started: boolean;
  stop(): void;
}

export class AudioScheduler implements MediaClock {
  t0: number | null = null;
  bufferedMs = 0;
  private sources: Scheduled[] = [];
  private stopped = false;
  /** Seconds the clock was pushed forward because audio arrived late (underruns). */
  stallS = 0;
  /** The clock never reads less than this (what it read when an underrun moved t0): it waits, never runs back. */
  private floorMs = 0;

  constructor(private ctx: ClockContext, private gain: AudioNode | null = null) {}

  get started(): boolean {
    return this.t0 !== null;
  }

  /** Output latency of the device (0 where the browser does not report it). */
  latencyS(): number {
    const l = this.ctx.outputLatency;
    return typeof l === "number" && Number.isFinite(l) && l > 0 ? l : 0;
  }

  /** Queue one chunk of mono float samples; returns the context time it will start at. */
  schedule(samples: Float32Array, sampleRate: number, startMs: number): number {
    if (this.stopped || samples.length === 0) return NaN;
    const now = this.ctx.currentTime;
    if (this.t0 === null) this.t0 = now + LEAD_S - startMs / 1000;
    let when = this.t0 + startMs / 1000;
    if (when < now + 0.005) {
      this.floorMs = Math.max(this.floorMs, this.mediaTimeMs());
      const shift = now + LEAD_S - when;
      this.t0 += shift;
      this.stallS += shift;
      when += shift;
    }
    const buffer = this.ctx.createBuffer(1, samples.length, sampleRate);
    buffer.getChannelData(0).set(samples);
    const node = this.ctx.createBufferSource();
    node.buffer = buffer;
    node.connect((this.gain ?? this.ctx.destination) as AudioNode);
    node.start(when);
    const endMs = startMs + (samples.length * 1000) / sampleRate;
    this.sources.push({ node, startMs, endMs });
    this.bufferedMs = Math.max(this.bufferedMs, endMs);
    return when;
  }

  /** Decode a stream `audio` event's base64 PCM s16le and queue it. */
  scheduleBase64(b64: string, sampleRate: number, startMs: number): number {
    return this.schedule(decodePcmBase64(b64), sampleRate, startMs);
  }

  /** Forget audio from `ms` on (a provider switch re-sends from there). */
  truncate(ms: number): void {
    if (this.t0 === null) return;
    const cut = this.t0 + ms / 1000;
    this.sources = this.sources.filter((s) => {
      if (s.startMs >= ms) {
        safeStop(s.node, 0);
        return false;
      }
      if (s.endMs > ms) {
        safeStop(s.node, cut);
        s.endMs = ms;
      }
      return true;
    });
    this.bufferedMs = Math.min(this.bufferedMs, ms);
    this.floorMs = Math.min(this.floorMs, ms);
  }

  mediaTimeMs(): number {
    if (this.t0 === null) return 0;
    const t = (this.ctx.currentTime - this.t0 - this.latencyS()) * 1000;
    return Math.max(this.floorMs, Math.min(t, this.bufferedMs));
  }

  stop(): void {
    this.stopped = true;
    for (const s of this.sources) safeStop(s.node, 0);
    this.sources = [];
  }
}

function safeStop(node: AudioBufferSourceNode, when: number) {
  try {
    node.stop(when);
  } catch {
    /* not started or already stopped */
  }
}

/** The clock for a text-only answer: wall time from when the track starts, up to its end. */
export class WallClock implements MediaClock {
  private startedAt: number | null = null;
  bufferedMs = 0;

  constructor(private now: () => number = () => performance.now()) {}

  get started(): boolean {
    return this.startedAt !== null;
  }

  start(): void {
    if (this.startedAt === null) this.startedAt = this.now();
  }

  extend(ms: number): void {
    this.bufferedMs = Math.max(this.bufferedMs, ms);
  }

  mediaTimeMs(): number {
    if (this.startedAt === null) return 0;
    return Math.max(0, Math.min(this.now() - this.startedAt, this.bufferedMs));
  }

  stop(): void {
    this.bufferedMs = this.mediaTimeMs();
    this.startedAt = null;
  }
}
