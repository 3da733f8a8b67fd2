/** The gateway's HTTP API as the page uses it (docs/api.md). */

import type { CurveWindow, WireViseme, WordSpan } from "./track";

/** Same origin when served by the gateway; NEXT_PUBLIC_GATEWAY_URL for `next dev` against another port. */
export const API_BASE = (process.env.NEXT_PUBLIC_GATEWAY_URL ?? "").replace(/\/$/, "");

export const EMOTIONS = [
  "neutral", "happy", "sad", "angry", "fearful", "surprised", "disgusted", "serious", "whispering", "shouting",
] as const;
export type Emotion = (typeof EMOTIONS)[number];

export const LEVELS = ["normal", "degraded-1", "degraded-2", "degraded-3", "offline"] as const;

export const LEVEL_TEXT: Record<string, string> = {
  normal: "normal",
  "degraded-1": "no video",
  "degraded-2": "fallback voice",
  "degraded-3": "text only",
  offline: "cached/canned only",
};

export interface Character {
  id: string;
  display_name: string;
  emotion?: string | null;
  voices?: Record<string, string>;
  chain?: string[];
  /** default avatar for video (GET /api/avatar/characters) */
  avatar?: string | null;
}

/** A voice the picker offers: `id` is what goes out as `voice_id`. */
export interface VoiceOption {
  id: string;
  provider: string;
  label: string;
}

/** The voices of `GET /api/avatar/voices` (entries with `voice_id` or `id`, `provider`, `name`), sorted by provider. */
export function voiceOptions(raw: unknown): VoiceOption[] {
  if (!Array.isArray(raw)) return [];
  const out: VoiceOption[] = [];
  const seen = new Set<string>();
  for (const v of raw) {
    if (!v || typeof v !== "object") continue;
    const o = v as Record<string, unknown>;
    const id = typeof o.voice_id === "string" ? o.voice_id : typeof o.id === "string" ? o.id : null;
    if (!id || seen.has(id)) continue;
    seen.add(id);
    const provider = typeof o.provider === "string" ? o.provider : id.includes(":") ? id.split(":")[0] : "";
    const name = typeof o.name === "string" && o.name ? o.name : id;
    out.push({ id, provider, label: provider ? `${provider} · ${name}` : name });
  }
  return out.sort((a, b) => a.provider.localeCompare(b.provider) || a.label.localeCompare(b.label));
}

/** An API key for gateways that require one (GATEWAY_API_KEYS); the page asks for it after a 401. */
let apiKey: string | null = null;

export function setApiKey(key: string | null): void {
  apiKey = key && key.trim() ? key.trim() : null;
}

export function getApiKey(): string | null {
  return apiKey;
}

export function authHeaders(): Record<string, string> {
  return apiKey ? { authorization: `Bearer ${apiKey}` } : {};
}

export interface SpeakBody {
  text: string;
  character?: string;
  /** pin a voice: `provider:voice` (the provider goes first) */
  voice_id?: string;
  emotion?: string;
  intensity?: number;
  avatar_id?: string;
  output_format?: string;
}

export interface StatusEvent {
  type: "status";
  code: string;
  provider: string | null;
  degradation_level: string | null;
  message: string;
  detail?: { from?: string; resume_segment?: number; at_ms?: number; reason?: string; [k: string]: unknown };
}
export interface AudioEvent {
  type: "audio";
  segment: number;
  start_ms: number;
  sample_rate: number;
  encoding: string;
  audio: string;
}
export interface AlignmentEvent {
  type: "alignment";
  segment: number;
  words: WordSpan[];
  phonemes: unknown[];
}
export interface VisemesEvent {
  type: "visemes";
  start_ms: number;
  end_ms: number;
  visemes?: WireViseme[];
  expression?: CurveWindow;
}
export interface SegmentEndEvent {
  type: "segment_end";
  segment: number;
  end_ms: number;
}
export interface FinalEvent {
  type: "final";
  complete: true;
  request_id: string;
  text: string;
  spoken_text: string | null;
  audio_url: string | null;
  video_url: string | null;
  duration: number;
  processing_time: number;
  provider: string | null;
  source_provider: string | null;
  degradation_level: string;
  degradation_reasons: string[];
  fallbacks: number;
  retries: number;
  /** the video render's outcome when a video was asked for (ok, reason, worker, timings) */
  video?: { ok: boolean; reason?: string | null; worker?: string | null; [k: string]: unknown } | null;
}
export interface ErrorEvent {
  type: "error";
  code: string;
  message: string;
  complete: false;
}
export type StreamEvent =
  | StatusEvent | AudioEvent | AlignmentEvent | VisemesEvent | SegmentEndEvent | FinalEvent | ErrorEvent;

/** A request the gateway refused before streaming (400/404/422/429/5xx) or could not be reached. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number, // 0: network
    readonly code: string,
    readonly body: Record<string, unknown> = {},
    readonly retryAfterS: number | null = null,
  ) {
    super(message);
  }
}

/** Retry-After: seconds or an HTTP date → seconds from now (null when absent or unreadable). */
export function parseRetryAfter(value: string | null, now = Date.now()): number | null {
  if (!value) return null;
  const s = value.trim();
  if (/^\d+(\.\d+)?$/.test(s)) return Math.ceil(parseFloat(s));
  const when = Date.parse(s);
  return Number.isNaN(when) ? null : Math.max(0, Math.ceil((when - now) / 1000));
}

export async function errorFromResponse(res: Response): Promise<ApiError> {
  let body: Record<string, unknown> = {};
  try {
    body = (await res.json()) as Record<string, unknown>;
  } catch {
    /* not JSON */
  }
  const bodyRetry = typeof body.retry_after_s === "number" ? Math.ceil(body.retry_after_s) : null;
  const retry = parseRetryAfter(res.headers.get("retry-after")) ?? bodyRetry;
  const code = typeof body.error === "string" ? body.error : res.status === 429 ? "rate_limited" : `http_${res.status}`;
  let message = typeof body.message === "string" ? body.message : res.statusText || `HTTP ${res.status}`;
  if (res.status === 429 && typeof body.message !== "string") message = "Too many requests";
  return new ApiError(message, res.status, code, body, retry);
}

export async function getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
  let res: Response;
  try {
    res = await fetch(API_BASE + path, { signal, cache: "no-store", headers: authHeaders() });
  } catch (err) {
    if ((err as Error).name === "AbortError") throw err;
    throw new ApiError("Can't reach the gateway", 0, "network");
  }
  if (!res.ok) throw await errorFromResponse(res);
  return (await res.json()) as T;
}

export interface HealthReport {
  status: string;
  degradation_level: string;
  providers: Record<string, {
    state: "up" | "degraded" | "down" | string;
    reason?: string;
    family?: string;
    breaker?: { state: string; fail_counter?: number; fail_max?: number; reset_timeout_s?: number };
  }>;
  video?: { healthy?: boolean; mode?: string; reason?: string; workers?: unknown[] } | null;
  reasons?: string[];
  [k: string]: unknown;
}

/** Absolute URL for a path the gateway returns (audio_url, video_url). */
export function gatewayUrl(path: string): string {
  return /^https?:/i.test(path) ? path : API_BASE + path;
}
