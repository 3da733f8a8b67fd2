"use client";

/**
 * The timeline inspector under the face: the data a game consumes from the line, on one time axis. Waveform, the
 * viseme track (the 15 Oculus visemes, coloured as in the legend), word spans and a playhead on the media clock;
 * the current viseme highlighted in the legend; latency per sentence; the line as `curl` or JSON for the clipboard.
 */

import { Check, ClipboardCopy, Terminal } from "lucide-react";
import { memo, useEffect, useMemo, useRef, useState } from "react";

import { Button } from "@/components/ui/button";
import { API_BASE, getApiKey } from "@/lib/api";
import { VISEME_COLORS, VISEME_SOUNDS, curlFor, keyAt, lineData, spanBox } from "@/lib/inspect";
import type { LineSession } from "@/lib/session";
import { VISEMES, type Viseme } from "@/lib/visemes";
import { cn } from "@/lib/utils";

const WAVE_H = 56;
const VIS_H = 30;
const WORD_H = 26;
const H = WAVE_H + VIS_H + WORD_H;

function ms(v: number | null): string {
  return v == null ? "–" : `${v} ms`;
}

/** Copy text to the clipboard (the async API, else a hidden textarea). */
async function copyText(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    const ok = document.execCommand("copy");
    area.remove();
    return ok;
  }
}

/** The static part of the strip (waveform, visemes, words): redrawn only when the session changes. */
const Strip = memo(function Strip({ session, durationMs, width: W }: {
  session: LineSession; version: number; durationMs: number; width: number;
}) {
  const columns = Math.max(1, Math.round(W / 2));
  const wave = session.waveform.columns(columns, durationMs);
  const colW = W / columns;
  const mid = WAVE_H / 2;
  let path = "";
  wave.forEach((c, i) => {
    const top = mid - Math.max(0.01, c.max) * (mid - 2);
    const bottom = mid - Math.min(-0.01, c.min) * (mid - 2);
    path += `M${(i * colW + colW / 2).toFixed(1)},${top.toFixed(1)}V${bottom.toFixed(1)}`;
  });
  return (
    <>
      <rect x={0} y={0} width={W} height={WAVE_H} className="fill-muted/60" />
      <path d={path} className="stroke-primary/70" strokeWidth={colW * 0.7} data-testid="inspector-waveform" />
      <g data-testid="inspector-visemes" transform={`translate(0 ${WAVE_H})`}>
        {session.visemes.keys.map((k) => {
          const { x, w } = spanBox(k.start_ms, k.end_ms, durationMs, W);
          return (
            <g key={`${k.start_ms}-${k.viseme}`} data-viseme={k.viseme} data-start={k.start_ms} data-end={k.end_ms}
               data-testid="inspector-viseme">
              <rect x={x} y={2} width={w} height={VIS_H - 4} fill={VISEME_COLORS[k.viseme]} stroke="white" strokeWidth={1} />
              {w > 22 ? <text x={x + w / 2} y={VIS_H / 2 + 4} textAnchor="middle" className="fill-foreground text-[11px]">{k.viseme}</text> : null}
            </g>
          );
        })}
      </g>
      <g data-testid="inspector-words" transform={`translate(0 ${WAVE_H + VIS_H})`}>
        {session.words.map((word) => {
          const { x, w } = spanBox(word.start_ms, word.end_ms, durationMs, W);
          return (
            <g key={`${word.start_ms}-${word.word}`} data-word={word.word} data-start={word.start_ms} data-end={word.end_ms}>
              <rect x={x} y={2} width={Math.max(1, w - 1)} height={WORD_H - 4} rx={3} className="fill-secondary stroke-border" />
              {w > 26 ? (
                <text x={x + 3} y={WORD_H / 2 + 4} className="fill-foreground text-[11px]">
                  {word.word.length * 6.5 > w ? `${word.word.slice(0, Math.max(1, Math.floor(w / 6.5) - 1))}…` : word.word}
                </text>
              ) : null}
            </g>
          );
        })}
      </g>
    </>
  );
});

export function TimelineInspector({ session, t, version, current }: {
  session: LineSession | null; t: number; version: number; current: Viseme;
}) {
  const [copied, setCopied] = useState<"curl" | "json" | null>(null);
  const box = useRef<HTMLDivElement>(null);
  const [W, setW] = useState(600);
  useEffect(() => {
    const el = box.current;
    if (!el || typeof ResizeObserver === "undefined") return;
    const ro = new ResizeObserver(() => setW(Math.max(120, Math.round(el.clientWidth))));
    ro.observe(el);
    return () => ro.disconnect();
  }, []);
  const durationMs = session ? Math.max(session.durationMs, session.waveform.endMs, 1) : 0;
  const shown = session ? keyAt(session.visemes.keys, t)?.viseme ?? current : "sil";
  const data = useMemo(
    () => (session ? lineData({ requestId: session.requestId, text: session.text, final: session.final, provider: session.provider,
                                level: session.level, reasons: session.reasons, keys: session.visemes.keys, words: session.words }) : null),
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [session, version],
  );

  async function copy(kind: "curl" | "json") {
    if (!session) return;
    const origin = API_BASE || window.location.origin;
    const text = kind === "curl"
      ? curlFor(origin, session.body ?? { text: session.text }, !!getApiKey())
      : JSON.stringify(data, null, 2);
    if (await copyText(text)) {
      setCopied(kind);
      setTimeout(() => setCopied((c) => (c === kind ? null : c)), 1500);
    }
  }

  const playX = session && durationMs ? Math.min(W, (t / durationMs) * W) : 0;
  return (
    <section className="flex flex-col gap-3 rounded-lg border p-3" aria-labelledby="inspector-title" data-testid="inspector"
             data-duration-ms={Math.round(durationMs)}>
      <div className="flex flex-wrap items-center gap-2">
        <h3 id="inspector-title" className="text-sm font-semibold">Timeline</h3>
        <span className="text-xs text-muted-foreground">audio · visemes · words, as a game gets them</span>
        <span className="ml-auto flex gap-1.5">
          <Button type="button" size="sm" variant="outline" onClick={() => void copy("curl")} disabled={!session}
                  data-testid="copy-curl" aria-label="Copy the line as a curl command">
            {copied === "curl" ? <Check aria-hidden /> : <Terminal aria-hidden />}
            {copied === "curl" ? "Copied" : "curl"}
          </Button>
          <Button type="button" size="sm" variant="outline" onClick={() => void copy("json")} disabled={!data?.request_id}
                  data-testid="copy-json" aria-label="Copy the line's data as JSON">
            {copied === "json" ? <Check aria-hidden /> : <ClipboardCopy aria-hidden />}
            {copied === "json" ? "Copied" : "JSON"}
          </Button>
        </span>
      </div>
      <div className="relative" ref={box}>
        <svg viewBox={`0 0 ${W} ${H}`} width="100%" height={H} className="block overflow-hidden rounded-md"
             role="img" aria-label={session ? `Waveform, ${session.visemes.keys.length} visemes and ${session.words.length} words over ${(durationMs / 1000).toFixed(2)} s` : "No line yet"}>
          {session ? <Strip session={session} version={version} durationMs={durationMs} width={W} /> : (
            <text x={W / 2} y={H / 2} textAnchor="middle" className="fill-muted-foreground text-[13px]">Speak a line to see its timeline</text>
          )}
          {session ? (
            <line x1={playX} x2={playX} y1={0} y2={H} className="stroke-destructive" strokeWidth={2}
                  data-testid="playhead" data-t={Math.round(t)} />
          ) : null}
        </svg>
      </div>
      <div className="flex flex-wrap items-center gap-1" role="list" aria-label="The 15 visemes" data-testid="viseme-legend">
        {VISEMES.map((v) => (
          <span key={v} role="listitem" data-viseme={v} data-active={v === shown ? "true" : "false"}
                aria-current={v === shown ? "true" : undefined} title={`${v}: ${VISEME_SOUNDS[v]}`}
                className={cn("inline-flex items-center gap-1 rounded px-1.5 py-0.5 text-[11px] text-foreground tabular-nums transition-shadow",
                              v === shown ? "ring-2 ring-foreground font-semibold" : "")}
                style={{ background: VISEME_COLORS[v] }}>
            {v}<span className="hidden text-[10px] opacity-80 sm:inline">{VISEME_SOUNDS[v]}</span>
          </span>
        ))}
      </div>
      <p className="text-xs text-muted-foreground" data-testid="current-viseme" data-viseme={shown}>
        Now: <span className="font-semibold text-foreground">{shown}</span> ({VISEME_SOUNDS[shown]}) at {(t / 1000).toFixed(2)} s
      </p>
      {session && session.sentences.length > 0 ? (
        <div className="max-h-48 overflow-auto">
          <table className="w-full text-left text-xs" data-testid="sentence-latency">
            <caption className="pb-1 text-left text-xs font-semibold">Latency per sentence (from Speak)</caption>
            <thead className="text-muted-foreground">
              <tr>
                <th scope="col" className="py-1 pr-2 font-medium">#</th>
                <th scope="col" className="py-1 pr-2 font-medium">Sentence</th>
                <th scope="col" className="py-1 pr-2 font-medium">First audio</th>
                <th scope="col" className="py-1 pr-2 font-medium">Complete</th>
                <th scope="col" className="py-1 font-medium">Provider</th>
              </tr>
            </thead>
            <tbody className="divide-y">
              {session.sentences.map((s) => {
                const first = s.words[0];
                const last = s.words[s.words.length - 1];
                const said = first && first.char_start != null && last?.char_end != null
                  ? session.text.slice(first.char_start, last.char_end) : s.words.map((w) => w.word).join(" ");
                return (
                  <tr key={s.segment} data-segment={s.segment} data-first-audio-ms={s.firstAudioMs ?? ""}>
                    <td className="py-1 pr-2 tabular-nums">{s.segment + 1}</td>
                    <td className="max-w-[14rem] truncate py-1 pr-2" title={said}>{said || "…"}</td>
                    <td className="py-1 pr-2 whitespace-nowrap tabular-nums">{ms(s.firstAudioMs)}</td>
                    <td className="py-1 pr-2 whitespace-nowrap tabular-nums">{ms(s.doneMs)}</td>
                    <td className="py-1">{s.provider ?? "–"}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      ) : null}
    </section>
  );
}
