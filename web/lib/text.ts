/** Client-side mirror of the gateway's text rules, for the live count and early subtitles. */

export const DEFAULT_MAX_CHARS = 1000;

/**
 * What the gateway does to a plain line before counting it: tags and control characters become spaces,
 * whitespace is folded, no space before punctuation, ends trimmed (gateway/text/clean.py clean_text). The
 * server's count is authoritative; this one keeps the counter honest while typing.
 */
export function cleanText(text: string): string {
  return text
    .replace(/<[^<>]{0,200}>/g, " ")
    .replace(/[^\P{C}\t\n]/gu, " ")
    .replace(/\s+/g, " ")
    .replace(/ ([,.;:!?])/g, "$1")
    .trim();
}

export type TextProblem = { kind: "empty" } | { kind: "too_long"; over: number; limit: number } | null;

export function checkText(text: string, limit = DEFAULT_MAX_CHARS): TextProblem {
  const n = cleanText(text).length;
  if (n === 0) return { kind: "empty" };
  if (n > limit) return { kind: "too_long", over: n - limit, limit };
  return null;
}

/** Rough number of sentences (segments) the gateway will stream, for the synthesis progress bar. */
export function estimateSegments(text: string): number {
  const parts = cleanText(text).split(/(?<=[.!?…])\s+/).filter((p) => /\w/.test(p));
  return Math.max(1, parts.length);
}
