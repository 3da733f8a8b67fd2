/**
 * One spoken line on the page: the stream's events folded into what the UI shows (stages, provider, level,
 * timings, failure notices) plus the tracks the face and subtitles sample on the media clock.
 */

import type { FinalEvent, SpeakBody, StreamEvent } from "./api";
import { AudioScheduler, type MediaClock, WallClock } from "./audio";
import { decodePcmBase64 } from "./pcm";
import { CurveTrack, type CurveWindow, VisemeTrack, type WireViseme, type WordSpan } from "./track";
import { WaveformTrack } from "./waveform";

export type StepState = "pending" | "active" | "done" | "failed" | "skipped";

export interface Steps {
  synth: StepState;
  lipsync: StepState;
  video: StepState | null; // null: no video asked for
  play: StepState;
}

export interface Timings {
  /** ms from Speak to the first stream event */
  firstEventMs: number | null;
  /** ms from Speak to the first audio chunk */
  firstAudioMs: number | null;
  /** ms from Speak to the final/error event */
  streamMs: number | null;
  /** gateway's own processing time (final.processing_time), ms */
  serverMs: number | null;
  /** audio duration, ms */
  durationMs: number | null;
}

/** One sentence of the line as it streamed: when its audio came and where it lies in the line. */
export interface SentenceTiming {
  segment: number;
  /** ms from Speak to the sentence's first audio chunk */
  firstAudioMs: number | null;
  /** ms from Speak to the sentence's segment_end (completely synthesized) */
  doneMs: number | null;
  /** where the sentence's audio lies in the line, ms */
  startMs: number;
  endMs: number | null;
  /** who spoke it */
  provider: string | null;
  /** its words (from the alignment event) */
  words: WordSpan[];
}

export interface ProviderSwitch {
  from: string | null;
  to: string | null;
  atMs: number | null;
  reason: string;
}

export interface Notice {
  kind: "fallback" | "text-only" | "canned" | "stream-error" | "switch" | "video";
  title: string;
  detail?: string;
}

export interface TextOnlyAnswer {
  text: string;
  words: WordSpan[];
  visemes: WireViseme[] | null;
  blendshapes?: (CurveWindow & { duration_ms?: number }) | null;
  duration: number;
  degradation_level: string;
  degradation_reasons: string[];
  provider: null;
  processing_time: number;
}

export class LineSession {
  readonly visemes = new VisemeTrack();
  readonly curves = new CurveTrack();
  readonly waveform = new WaveformTrack();
  /** per sentence, in order */
  sentences: SentenceTiming[] = [];
  /** the request body (for "copy as curl") */
  body: SpeakBody | null = null;
  /** stopped by the user: not a failure; the mouth relaxes to rest */
  stopped = false;
  /** media time at the stop, and the wall time it happened */
  stoppedAtMs: number | null = null;
  private stoppedWall = 0;
  words: WordSpan[] = [];
  text: string;
  spokenText: string | null = null;
  provider: string | null = null;
  level: string | null = null;
  reasons: string[] = [];
  fallbacks = 0;
  retries = 0;
  switches: ProviderSwitch[] = [];
  segmentsDone = 0;
  audioReceivedMs = 0;
  final: FinalEvent | null = null;
  error: { code: string; message: string } | null = null;
  videoUrl: string | null = null;
  videoOutcome: FinalEvent["video"] = null;
  /** the browser could not play the MP4 */
  videoError: string | null = null;
  textOnly = false;
  /** the stream failed for every provider before any audio: the page asks for the text-only answer */
  awaitingFallback = false;
  requestId: string | null = null;
  steps: Steps;
  timings: Timings = { firstEventMs: null, firstAudioMs: null, streamMs: null, serverMs: null, durationMs: null };
  clock: MediaClock;
  version = 0;
  private listeners = new Set<() => void>();
  private readonly t0: number;

  constructor(
    text: string,
    readonly expectedSegments: number,
    readonly videoRequested: boolean,
    audio: AudioScheduler | null,
    private now: () => number = () => performance.now(),
  ) {
    this.text = text;
    this.t0 = now();
    this.clock = audio ?? new WallClock(now);
    this.steps = { synth: "active", lipsync: "pending", video: videoRequested ? "pending" : null, play: "pending" };
  }

  get audio(): AudioScheduler | null {
    return this.clock instanceof AudioScheduler ? this.clock : null;
  }

  /** The gateway has said all it will say about this line (playback may still be running). */
  get finished(): boolean {
    return this.final !== null || this.error !== null || this.textOnly || this.stopped;
  }

  /** Audio (or the text-only track) length, once known. */
  get durationMs(): number {
    if (this.timings.durationMs != null) return this.timings.durationMs;
    return Math.max(this.clock.bufferedMs, this.visemes.endMs);
  }

  subscribe(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private changed() {
    this.version++;
    for (const fn of this.listeners) fn();
  }

  private elapsed(): number {
    return Math.round(this.now() - this.t0);
  }

  /** Synthesis progress 0..100: sentences finished of those expected. */
  get synthPercent(): number {
    if (this.final) return 100;
    return Math.min(95, Math.round((this.segmentsDone / Math.max(1, this.expectedSegments)) * 100));
  }

  handle(ev: StreamEvent): void {
    if (this.stopped) return; // whatever was still in flight when the line was stopped
    if (this.timings.firstEventMs === null) this.timings.firstEventMs = this.elapsed();
    switch (ev.type) {
      case "status":
        if (ev.provider !== undefined) this.provider = ev.provider;
        if (ev.degradation_level) this.level = ev.degradation_level;
        if (ev.code === "rendering") {
          // the gateway renders a video (asked for, or the character's default avatar with the pool on)
          this.steps.video = "active";
        }
        if (ev.code === "provider_switch") {
          const d = ev.detail ?? {};
          const at = typeof d.at_ms === "number" ? d.at_ms : null;
          this.switches.push({ from: (d.from as string) ?? null, to: ev.provider, atMs: at, reason: String(d.reason ?? ev.message ?? "") });
          if (at !== null) {
            // the next provider re-speaks from the start of the interrupted sentence
            this.audio?.truncate(at);
            this.visemes.truncate(at);
            this.curves.truncate(at);
            this.waveform.truncate(at);
            this.words = this.words.filter((w) => w.start_ms < at);
          }
          if (typeof d.resume_segment === "number") {
            const from = d.resume_segment;
            this.sentences = this.sentences.filter((t) => t.segment < from);
          }
        }
        break;
      case "audio": {
        if (this.timings.firstAudioMs === null) this.timings.firstAudioMs = this.elapsed();
        this.sentence(ev.segment, ev.start_ms);
        const pcm = decodePcmBase64(ev.audio);
        const a = this.audio;
        if (a) a.schedule(pcm, ev.sample_rate, ev.start_ms);
        this.waveform.add(pcm, ev.sample_rate, ev.start_ms);
        this.audioReceivedMs = Math.max(this.audioReceivedMs, ev.start_ms + (pcm.length * 1000) / ev.sample_rate);
        if (!a && this.clock instanceof WallClock) {
          this.clock.extend(this.audioReceivedMs);
          this.clock.start();
        }
        if (this.steps.play === "pending") this.steps.play = "active";
        break;
      }
      case "alignment":
        if (ev.words?.length) {
          this.addWords(ev.words);
          const t = this.sentences.find((x) => x.segment === ev.segment);
          if (t) t.words = ev.words;
        }
        break;
      case "visemes":
        if (ev.visemes) this.visemes.add(ev.visemes);
        if (ev.expression) this.curves.add(ev.expression);
        if (this.steps.lipsync === "pending") this.steps.lipsync = "active";
        break;
      case "segment_end": {
        this.segmentsDone++;
        const t = this.sentences.find((x) => x.segment === ev.segment);
        if (t) {
          t.doneMs = this.elapsed();
          t.endMs = ev.end_ms;
        }
        break;
      }
      case "final":
        this.applyFinal(ev);
        break;
      case "error":
        this.error = { code: ev.code, message: ev.message };
        this.awaitingFallback = ev.code === "all_providers_failed" && this.audioReceivedMs === 0;
        this.timings.streamMs = this.elapsed();
        this.steps.synth = "failed";
        if (this.steps.lipsync !== "done") this.steps.lipsync = this.steps.lipsync === "active" ? "failed" : "skipped";
        if (this.steps.video) this.steps.video = "skipped";
        if (this.steps.play === "pending") this.steps.play = "skipped";
        break;
    }
    this.changed();
  }

  /** The sentence's timing entry, made at its first audio chunk. */
  private sentence(segment: number, startMs: number) {
    if (this.sentences.some((t) => t.segment === segment)) return;
    this.sentences.push({ segment, firstAudioMs: this.elapsed(), doneMs: null, startMs, endMs: null,
                          provider: this.provider, words: [] });
  }

  private addWords(words: WordSpan[]) {
    const first = words[0].start_ms;
    this.words = this.words.filter((w) => w.start_ms < first).concat(words);
  }

  private applyFinal(ev: FinalEvent) {
    this.final = ev;
    this.requestId = ev.request_id;
    this.text = ev.text ?? this.text;
    this.spokenText = ev.spoken_text ?? null;
    this.provider = ev.provider;
    this.level = ev.degradation_level;
    this.reasons = ev.degradation_reasons ?? [];
    this.fallbacks = ev.fallbacks ?? 0;
    this.retries = ev.retries ?? 0;
    this.videoUrl = ev.video_url ?? null;
    this.timings.streamMs = this.elapsed();
    this.timings.serverMs = ev.processing_time != null ? Math.round(ev.processing_time * 1000) : null;
    this.timings.durationMs = ev.duration != null ? Math.round(ev.duration * 1000) : null;
    this.steps.synth = "done";
    this.steps.lipsync = this.visemes.keys.length ? "done" : "skipped";
    this.videoOutcome = ev.video ?? null;
    if (this.videoUrl) this.steps.video = "done";
    else if (ev.video && !ev.video.ok) this.steps.video = "failed";
    else if (this.steps.video) this.steps.video = "skipped";
    if (ev.provider === null) this.textOnly = true;
  }

  /** The stream failed for everyone: show the gateway's text-only answer (estimated words and mouth). */
  applyTextOnly(answer: TextOnlyAnswer): void {
    this.awaitingFallback = false;
    this.textOnly = true;
    this.error = null;
    this.text = answer.text ?? this.text;
    this.provider = null;
    this.level = answer.degradation_level;
    this.reasons = answer.degradation_reasons ?? [];
    this.words = answer.words ?? [];
    if (answer.visemes) this.visemes.add(answer.visemes);
    if (answer.blendshapes?.curves) {
      const b = answer.blendshapes;
      this.curves.add({ ...b, start_frame: b.start_frame ?? 0, frame_count: b.frame_count ?? 0 });
    }
    this.timings.durationMs = Math.round((answer.duration ?? 0) * 1000) || this.visemes.endMs;
    this.timings.serverMs = answer.processing_time != null ? Math.round(answer.processing_time * 1000) : null;
    this.audio?.stop();
    const clock = new WallClock(this.now);
    clock.extend(this.timings.durationMs ?? this.visemes.endMs);
    clock.start();
    this.clock = clock;
    this.steps = { synth: "failed", lipsync: this.visemes.keys.length ? "done" : "skipped",
                   video: this.steps.video ? "skipped" : null, play: "active" };
    this.changed();
  }

  /** The text-only answer could not be had either: the stream's error stands. */
  fallbackFailed(): void {
    this.awaitingFallback = false;
    this.changed();
  }

  /** Nothing more will happen to this line: it can go into the history. */
  get settled(): boolean {
    return this.finished && !this.awaitingFallback && this.steps.play !== "active" && this.steps.play !== "pending";
  }

  /** The <video> element failed (codec, network): fall back to the 2D face. */
  setVideoError(message: string): void {
    this.videoError = message;
    this.changed();
  }

  /** A failure outside the stream (network, aborted). */
  fail(code: string, message: string): void {
    this.handle({ type: "error", code, message, complete: false });
  }

  /** Called each frame: marks playback done once the clock reaches the end. */
  tick(): boolean {
    if (this.stopped) return false;
    if (this.steps.play === "active" && this.finished) {
      const end = this.error && !this.textOnly ? this.clock.bufferedMs : this.durationMs;
      if (this.clock.mediaTimeMs() >= end - 1) {
        this.steps.play = this.error && !this.textOnly ? "failed" : "done";
        this.changed();
        return true;
      }
    }
    return false;
  }

  /**
   * Stop the line (the user pressed Stop, or another line starts): the audio stops, stages still open are
   * skipped (a stop is not a failure) and the mouth relaxes to rest from where it was.
   */
  stop(): void {
    if (this.stopped) return;
    const at = this.clock.mediaTimeMs();
    this.clock.stop();
    this.stopped = true;
    this.awaitingFallback = false;
    this.stoppedAtMs = at;
    this.stoppedWall = this.now();
    this.visemes.truncate(at);
    this.curves.truncate(at);
    for (const step of ["synth", "lipsync", "video", "play"] as const) {
      if (this.steps[step] === "active" || this.steps[step] === "pending") this.steps[step] = "skipped";
    }
    this.changed();
  }

  /** The time the face is drawn at: the media clock, or after a stop, time running on from the stop so the mouth
   * closes (the track ends there) while the subtitles stay where the line was stopped. */
  faceTimeMs(): number {
    if (this.stoppedAtMs === null) return this.clock.mediaTimeMs();
    return this.stoppedAtMs + Math.max(0, this.now() - this.stoppedWall);
  }

  /** What went wrong or differently, for the alert under the face. */
  notices(): Notice[] {
    const out: Notice[] = [];
    if (this.textOnly) {
      out.push({ kind: "text-only", title: "Text only: no voice could speak this line",
                 detail: "Every provider failed. Subtitles and an estimated mouth track are shown without audio." });
    } else if (this.error && this.error.code !== "stopped") {
      out.push({ kind: "stream-error", title: this.audioReceivedMs > 0 ? "The line broke off" : "The line could not be spoken",
                 detail: `${this.error.message} (${this.error.code})` });
    }
    for (const s of this.switches) {
      out.push({ kind: "switch", title: `${s.from ?? "A provider"} failed mid-line; ${s.to ?? "the next provider"} took over`,
                 detail: s.reason || undefined });
    }
    if (!this.textOnly && this.level && (this.level === "degraded-2" || this.fallbacks > 0) && this.provider) {
      const down = this.reasons.filter((r) => / down|fail|open|unavailable|timeout/i.test(r));
      out.push({ kind: "fallback", title: `A provider is down: the fallback ${this.provider} answered`,
                 detail: down.join("; ") || undefined });
    }
    if (this.videoOutcome && !this.videoOutcome.ok) {
      out.push({ kind: "video", title: "No video: audio and the 2D face only",
                 detail: this.videoOutcome.reason ? String(this.videoOutcome.reason) : undefined });
    } else if (this.videoError) {
      out.push({ kind: "video", title: "The video could not be played here", detail: this.videoError });
    }
    if (this.level === "offline" || this.provider === "canned") {
      out.push({ kind: "canned", title: this.provider === "canned" ? "Offline: a canned clip answered" : "Offline: cached audio only",
                 detail: this.spokenText ? `It says: “${this.spokenText}”` : undefined });
    }
    return out;
  }
}
