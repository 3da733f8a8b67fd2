/**
 * Track math: everything the page computes from the server's timeline at a media time `t` (ms).
 *
 * Pure functions and small containers, no DOM, so they are unit-tested in Node (tests/track.test.ts).
 */

import { type MouthShape, SHAPE_KEYS, type Viseme, VISEME_SHAPES, VISEMES, normalizeViseme } from "./visemes";

export interface VisemeKey {
  viseme: Viseme;
  start_ms: number;
  end_ms: number;
}

export interface WireViseme {
  viseme?: string | null;
  id?: number | null;
  start_ms: number;
  end_ms: number;
}

export interface WordSpan {
  word: string;
  start_ms: number;
  end_ms: number;
  char_start?: number | null;
  char_end?: number | null;
}

/** Crossfade time from one viseme into the next. */
export const BLEND_MS = 60;

export function clamp(x: number, lo = 0, hi = 1): number {
  return x < lo ? lo : x > hi ? hi : x;
}

export function smoothstep(x: number): number {
  const u = clamp(x);
  return u * u * (3 - 2 * u);
}

/** Index of the last item whose `start_ms` is <= t (binary search), or -1 when t is before all of them. */
export function findIndex(items: readonly { start_ms: number }[], t: number): number {
  let lo = 0;
  let hi = items.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (items[mid].start_ms <= t) {
      found = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return found;
}

/**
 * Wire spans → a contiguous track of keys: sorted, unknown names → `sil`, gaps filled with `sil`,
 * overlaps cut at the later start, empty spans dropped.
 */
export function normalizeTrack(spans: readonly WireViseme[]): VisemeKey[] {
  const sorted = spans
    .map((s) => ({ viseme: normalizeViseme(s.viseme ?? s.id ?? null), start_ms: +s.start_ms, end_ms: +s.end_ms }))
    .filter((s) => Number.isFinite(s.start_ms) && Number.isFinite(s.end_ms) && s.end_ms > s.start_ms)
    .sort((a, b) => a.start_ms - b.start_ms);
  const out: VisemeKey[] = [];
  for (const s of sorted) {
    const prev = out[out.length - 1];
    if (prev) {
      if (s.start_ms > prev.end_ms) out.push({ viseme: "sil", start_ms: prev.end_ms, end_ms: s.start_ms });
      else if (s.start_ms < prev.end_ms) prev.end_ms = s.start_ms;
      if (prev.end_ms <= prev.start_ms) out.splice(out.indexOf(prev), 1);
    }
    out.push({ ...s });
  }
  return out;
}

export type Weights = Float64Array; // one weight per viseme, in VISEMES order, summing to 1

function oneHot(v: Viseme): Weights {
  const w = new Float64Array(VISEMES.length);
  w[VISEMES.indexOf(v)] = 1;
  return w;
}

/**
 * The blend of all 15 visemes at time t: each key fades in over `blendMs` (smoothstep) from whatever the
 * mouth was doing when the key started, so short keys (a 20 ms PP) still move the mouth and nothing jumps.
 * Before the track: rest (`sil`); after it: fades back to `sil` from the last key.
 */
export function visemeWeightsAt(keys: readonly VisemeKey[], t: number, blendMs = BLEND_MS, depth = 0): Weights {
  const i = findIndex(keys, t);
  if (i < 0) return oneHot("sil");
  const key = keys[i];
  const past = t >= key.end_ms; // past the end of the track: relax to rest from where the last key left it
  const target: Viseme = past ? "sil" : key.viseme;
  const start = past ? key.end_ms : key.start_ms;
  const a = blendMs <= 0 ? 1 : smoothstep((t - start) / blendMs);
  if (a >= 1) return oneHot(target);
  // where the mouth was when this key started: the previous key, fully reached if it lasted a whole blend
  const prev = past ? key : i > 0 ? keys[i - 1] : null;
  let from: Weights;
  if (!prev) from = oneHot("sil");
  else if (depth >= 6 || prev.end_ms - prev.start_ms >= blendMs) from = oneHot(prev.viseme);
  else from = visemeWeightsAt(keys, prev.end_ms - 1e-6, blendMs, depth + 1);
  const w = new Float64Array(VISEMES.length);
  for (let k = 0; k < w.length; k++) w[k] = from[k] * (1 - a);
  w[VISEMES.indexOf(target)] += a;
  return w;
}

/** The mouth pose for a blend of visemes. */
export function shapeFromWeights(w: Weights): MouthShape {
  const out: MouthShape = { open: 0, width: 0, round: 0, press: 0, teeth: 0, tongue: 0 };
  for (let k = 0; k < VISEMES.length; k++) {
    if (w[k] === 0) continue;
    const s = VISEME_SHAPES[VISEMES[k]];
    for (const p of SHAPE_KEYS) out[p] += w[k] * s[p];
  }
  return out;
}

/** The viseme with the largest weight. */
export function dominantViseme(w: Weights): Viseme {
  let best = 0;
  for (let k = 1; k < w.length; k++) if (w[k] > w[best]) best = k;
  return VISEMES[best];
}

export function shapeAt(keys: readonly VisemeKey[], t: number, blendMs = BLEND_MS): MouthShape {
  return shapeFromWeights(visemeWeightsAt(keys, t, blendMs));
}

/** A viseme track that grows sentence by sentence, and can be cut when a provider switch re-sends audio. */
export class VisemeTrack {
  keys: VisemeKey[] = [];

  /** Add a sentence's spans; anything already held from its start on is replaced. */
  add(spans: readonly WireViseme[]): void {
    const fresh = normalizeTrack(spans);
    if (!fresh.length) return;
    this.truncate(fresh[0].start_ms);
    const last = this.keys[this.keys.length - 1];
    if (last && fresh[0].start_ms > last.end_ms) {
      this.keys.push({ viseme: "sil", start_ms: last.end_ms, end_ms: fresh[0].start_ms });
    }
    this.keys.push(...fresh);
  }

  /** Drop everything from `ms` on (a provider switch resumes there). */
  truncate(ms: number): void {
    const kept: VisemeKey[] = [];
    for (const k of this.keys) {
      if (k.start_ms >= ms) break;
      kept.push(k.end_ms > ms ? { ...k, end_ms: ms } : k);
    }
    this.keys = kept;
  }

  get endMs(): number {
    return this.keys.length ? this.keys[this.keys.length - 1].end_ms : 0;
  }

  weightsAt(t: number): Weights {
    return visemeWeightsAt(this.keys, t);
  }
}

/** A window of expression curves as the stream sends it (ARKit channels on a frame grid). */
export interface CurveWindow {
  fps: number;
  start_frame: number;
  frame_count: number;
  curves: Record<string, number[]>;
}

/**
 * Expression curves (brows, eyes, blinks, smile/frown) from the stream's per-sentence windows. Windows tile
 * one frame grid; `valueAt` interpolates linearly between frames and holds the edges.
 */
export class CurveTrack {
  windows: CurveWindow[] = [];

  add(win: CurveWindow | null | undefined): void {
    if (!win || !win.fps || !win.curves) return;
    const count = win.frame_count || Math.max(0, ...Object.values(win.curves).map((c) => c.length));
    const w = { fps: win.fps, start_frame: win.start_frame ?? 0, frame_count: count, curves: win.curves };
    this.truncateFrame(w.start_frame);
    this.windows.push(w);
  }

  /** Drop frames at or after `ms`. */
  truncate(ms: number): void {
    if (!this.windows.length) return;
    this.truncateFrame(Math.ceil((ms * this.windows[0].fps) / 1000));
  }

  private truncateFrame(frame: number): void {
    this.windows = this.windows.filter((w) => w.start_frame < frame);
  }

  private frameValue(channel: string, frame: number): number | undefined {
    // windows are few (one per sentence): a linear scan is fine
    for (let k = this.windows.length - 1; k >= 0; k--) {
      const w = this.windows[k];
      if (frame >= w.start_frame && frame < w.start_frame + w.frame_count) {
        const c = w.curves[channel];
        return c ? c[frame - w.start_frame] : undefined;
      }
    }
    return undefined;
  }

  valueAt(channel: string, t: number): number {
    if (!this.windows.length) return 0;
    const fps = this.windows[0].fps;
    const first = this.windows[0].start_frame;
    const lastW = this.windows[this.windows.length - 1];
    const last = lastW.start_frame + lastW.frame_count - 1;
    const f = clamp((t * fps) / 1000, first, last);
    const f0 = Math.floor(f);
    const a = f - f0;
    const v0 = this.frameValue(channel, f0) ?? 0;
    if (a === 0) return v0;
    const v1 = this.frameValue(channel, Math.min(f0 + 1, last)) ?? v0;
    return v0 + (v1 - v0) * a;
  }

  /** Every channel at t (the 19 expression channels when the server sends them). */
  sample(t: number): Record<string, number> {
    const out: Record<string, number> = {};
    for (const w of this.windows) for (const ch of Object.keys(w.curves)) if (!(ch in out)) out[ch] = this.valueAt(ch, t);
    return out;
  }
}

/** How many words have started by t (words sorted by start). */
export function wordsStarted(words: readonly WordSpan[], t: number): number {
  return findIndex(words, t) + 1;
}

export interface SubtitleParts {
  /** already spoken, before the current word */
  spoken: string;
  /** the word being spoken now ("" between words) */
  current: string;
  /** not spoken yet (rendered invisible so the layout does not jump) */
  rest: string;
}

/**
 * Subtitles at time t: the written text up to the end of the last word that has started; the word being
 * spoken is separate so it can be highlighted. Char offsets index `text`; when they do not fit it (the text
 * is not known yet), the words themselves are joined.
 */
export function subtitleAt(text: string, words: readonly WordSpan[], t: number): SubtitleParts {
  const n = wordsStarted(words, t);
  if (n <= 0) return { spoken: "", current: "", rest: text };
  const usable = words.every(
    (w) => w.char_start != null && w.char_end != null && w.char_start >= 0 && w.char_end <= text.length && w.char_end >= w.char_start,
  );
  if (!usable) {
    const said = words.slice(0, n);
    const cur = said[n - 1];
    const speaking = t < cur.end_ms;
    const head = said.slice(0, speaking ? n - 1 : n).map((w) => w.word).join(" ");
    return {
      spoken: speaking && head ? head + " " : head,
      current: speaking ? cur.word : "",
      rest: words.slice(n).map((w) => " " + w.word).join(""),
    };
  }
  const cur = words[n - 1];
  let end = cur.char_end as number;
  // when the line is over, show the closing punctuation too
  if (n === words.length && t >= cur.end_ms) end = text.length;
  if (t < cur.end_ms) {
    return {
      spoken: text.slice(0, cur.char_start as number),
      current: text.slice(cur.char_start as number, cur.char_end as number),
      rest: text.slice(cur.char_end as number),
    };
  }
  return { spoken: text.slice(0, end), current: "", rest: text.slice(end) };
}

/** Playback progress 0..100 (integer) for the progress bar. */
export function playbackPercent(t: number, durationMs: number): number {
  if (!(durationMs > 0)) return 0;
  return Math.round(clamp(t / durationMs) * 100);
}

/** Subtitles of a long line: only the sentence being spoken (at most `maxChars`) is laid out. */
export interface SubtitleWindow extends SubtitleParts {
  /** text before the window was cut ("…" or "") */
  before: string;
  /** text after the window was cut ("…" or "") */
  after: string;
}

const SENTENCE_END = /[.!?…]["'”’)\]]*\s+/g;

/**
 * A window of the subtitles that fits the box: lines up to `maxChars` show whole (nothing jumps as words appear);
 * longer lines show the sentence being spoken, and a sentence longer than `maxChars` the words around the current
 * one, cut at spaces, with "…" where text was left out. The box never holds more than about `maxChars`.
 */
export function subtitleWindow(parts: SubtitleParts, maxChars = 160): SubtitleWindow {
  const full = parts.spoken + parts.current + parts.rest;
  if (full.length <= maxChars) return { ...parts, before: "", after: "" };
  const pos = parts.spoken.length; // where the current word starts (or the spoken text ends)
  // the sentence around the current word (between words: around the last one spoken)
  const anchor = parts.current ? pos : Math.max(0, pos - 1);
  let start = 0;
  let end = full.length;
  for (const m of full.matchAll(SENTENCE_END)) {
    const boundary = (m.index ?? 0) + m[0].length;
    if (boundary <= anchor) start = boundary;
    else {
      end = (m.index ?? 0) + m[0].trimEnd().length;
      break;
    }
  }
  if (end - start > maxChars) {
    // a very long sentence: keep a third of the window behind the current word
    const from = Math.max(start, pos - Math.floor(maxChars / 3));
    const to = Math.min(end, from + maxChars);
    const cutFrom = from > start ? full.indexOf(" ", from) + 1 || from : from;
    const space = to < end ? full.lastIndexOf(" ", to) : -1;
    const cutTo = space > cutFrom + parts.current.length ? space : to;
    start = Math.min(cutFrom, pos);
    end = Math.max(cutTo, pos + parts.current.length);
  }
  const spokenFrom = Math.min(start, pos);
  return {
    before: start > 0 ? "… " : "",
    spoken: full.slice(spokenFrom, pos),
    current: parts.current,
    rest: full.slice(pos + parts.current.length, Math.max(end, pos + parts.current.length)),
    after: end < full.length ? " …" : "",
  };
}
