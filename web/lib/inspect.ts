/**
 * The timeline inspector's data: what a game consumes from one line (the viseme track, words, timings), the
 * 15-viseme legend, and the line as `curl` and as JSON for the clipboard. Pure functions, unit-tested.
 */

import type { SpeakBody } from "./api";
import type { VisemeKey, WordSpan } from "./track";
import { VISEMES, type Viseme } from "./visemes";

/** What each of the 15 Oculus visemes stands for (docs/lipsync.md). */
export const VISEME_SOUNDS: Record<Viseme, string> = {
  sil: "silence", PP: "p b m", FF: "f v", TH: "th", DD: "t d", kk: "k g", CH: "ch j sh", SS: "s z", nn: "n l",
  RR: "r", aa: "a", E: "e", ih: "i", oh: "o", ou: "u",
};

/** One light colour per viseme (dark text reads on every one of them); silence is grey. */
export const VISEME_COLORS: Record<Viseme, string> = Object.fromEntries(
  VISEMES.map((v, i) => [v, i === 0 ? "hsl(220 10% 86%)" : `hsl(${Math.round(((i - 1) * 360) / 14)} 70% 78%)`]),
) as Record<Viseme, string>;

/** x and width (in `width` units) of a span of media time on a strip showing 0..`durationMs`. */
export function spanBox(startMs: number, endMs: number, durationMs: number, width = 100): { x: number; w: number } {
  if (!(durationMs > 0)) return { x: 0, w: 0 };
  const x = (Math.max(0, startMs) / durationMs) * width;
  const w = ((Math.min(durationMs, endMs) - Math.max(0, startMs)) / durationMs) * width;
  return { x, w: Math.max(0, w) };
}

/** The key being shown at `t` (binary search on a sorted, contiguous track); null before and after it. */
export function keyAt(keys: readonly VisemeKey[], t: number): VisemeKey | null {
  let lo = 0;
  let hi = keys.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (keys[mid].end_ms <= t) lo = mid + 1;
    else if (keys[mid].start_ms > t) hi = mid - 1;
    else return keys[mid];
  }
  return null;
}

/** `value` as one shell word in single quotes. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * The line as a `curl` a game developer can paste: the whole-line endpoint (JSON with audio_url, visemes, words,
 * blendshapes) with the same body. A key is never written out: `$MOUTHPIECE_API_KEY` stands for it.
 */
export function curlFor(origin: string, body: SpeakBody, needsKey = false): string {
  const parts = ["curl -s", shellQuote(`${origin.replace(/\/$/, "")}/api/avatar/speak`),
                 "-H 'content-type: application/json'"];
  if (needsKey) parts.push(`-H "Authorization: Bearer $MOUTHPIECE_API_KEY"`);
  parts.push("-d", shellQuote(JSON.stringify(body)));
  return parts.join(" ");
}

export interface LineData {
  request_id: string | null;
  text: string;
  audio_url: string | null;
  video_url: string | null;
  duration: number | null;
  provider: string | null;
  degradation_level: string | null;
  degradation_reasons: string[];
  visemes: { viseme: Viseme; id: number; start_ms: number; end_ms: number }[];
  words: WordSpan[];
}

/** What the game consumes from this line, in the speak response's field names (ids as Oculus numbers). */
export function lineData(s: {
  requestId: string | null; text: string; final: { audio_url: string | null; video_url: string | null; duration: number } | null;
  provider: string | null; level: string | null; reasons: string[]; keys: readonly VisemeKey[]; words: readonly WordSpan[];
}): LineData {
  return {
    request_id: s.requestId,
    text: s.text,
    audio_url: s.final?.audio_url ?? null,
    video_url: s.final?.video_url ?? null,
    duration: s.final?.duration ?? null,
    provider: s.provider,
    degradation_level: s.level,
    degradation_reasons: s.reasons,
    visemes: s.keys.map((k) => ({ viseme: k.viseme, id: VISEMES.indexOf(k.viseme), start_ms: k.start_ms, end_ms: k.end_ms })),
    words: s.words.map((w) => ({ ...w })),
  };
}
