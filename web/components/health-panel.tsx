"use client";

import { Activity, RefreshCw } from "lucide-react";
import { useCallback, useEffect, useRef, useState } from "react";

import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { ApiError, type HealthReport, LEVEL_TEXT, getJson } from "@/lib/api";
import { cn } from "@/lib/utils";

export const HEALTH_POLL_MS = 3000;

export function levelVariant(level: string | null | undefined): "success" | "warning" | "destructive" | "secondary" {
  if (!level) return "secondary";
  if (level === "normal") return "success";
  if (level === "degraded-1" || level === "degraded-2") return "warning";
  return "destructive";
}

export function LevelBadge({ level, testId }: { level: string | null | undefined; testId?: string }) {
  return (
    <Badge variant={levelVariant(level)} data-testid={testId} data-level={level ?? ""} title={level ? LEVEL_TEXT[level] ?? level : "unknown"}>
      {level ?? "unknown"}
      {level && level !== "normal" && LEVEL_TEXT[level] ? <span className="font-normal opacity-80">· {LEVEL_TEXT[level]}</span> : null}
    </Badge>
  );
}

const STATE_DOT: Record<string, string> = { up: "bg-success", degraded: "bg-warning", down: "bg-destructive" };

function videoState(v: NonNullable<HealthReport["video"]>): string {
  if (v.mode === "disabled") return "off";
  return v.healthy ? "up" : "down";
}

/** Provider health and the current level, polling GET /api/health. */
export function HealthPanel({ refreshKey = 0, onReport }: { refreshKey?: number; onReport?: (report: HealthReport | null) => void }) {
  const [report, setReport] = useState<HealthReport | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [checkedAt, setCheckedAt] = useState<number | null>(null);
  const [, setNow] = useState(0);
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const onReportRef = useRef(onReport);
  onReportRef.current = onReport;

  const poll = useCallback(async (signal?: AbortSignal) => {
    try {
      const r = await getJson<HealthReport>("/api/health", signal);
      setReport(r);
      setError(null);
      onReportRef.current?.(r);
    } catch (err) {
      if ((err as Error).name === "AbortError") return;
      setError(err instanceof ApiError ? err.message : "Can't reach the gateway");
      onReportRef.current?.(null);
    }
    setCheckedAt(Date.now());
  }, []);

  useEffect(() => {
    const ctl = new AbortController();
    let stopped = false;
    const loop = async () => {
      if (stopped) return;
      if (typeof document === "undefined" || document.visibilityState !== "hidden") await poll(ctl.signal);
      if (!stopped) timer.current = setTimeout(loop, HEALTH_POLL_MS);
    };
    loop();
    const tick = setInterval(() => setNow(Date.now()), 1000);
    return () => {
      stopped = true;
      ctl.abort();
      if (timer.current) clearTimeout(timer.current);
      clearInterval(tick);
    };
  }, [poll]);

  useEffect(() => {
    if (refreshKey) void poll();
  }, [refreshKey, poll]);

  const providers = report ? Object.entries(report.providers ?? {}) : [];
  const ago = checkedAt ? Math.max(0, Math.round((Date.now() - checkedAt) / 1000)) : null;

  return (
    <Card data-testid="health-panel" aria-labelledby="health-title">
      <CardHeader className="flex-row items-center justify-between gap-2 space-y-0 pb-3">
        <div className="flex flex-col gap-1">
          <CardTitle id="health-title" className="flex items-center gap-2">
            <Activity className="size-4 text-primary" aria-hidden />
            Gateway health
          </CardTitle>
          <CardDescription>
            {ago === null ? "checking…" : error ? "unreachable" : `checked ${ago}s ago`} · every {HEALTH_POLL_MS / 1000}s
          </CardDescription>
        </div>
        <div className="flex items-center gap-2">
          <LevelBadge level={error ? null : report?.degradation_level} testId="health-level" />
          <Button variant="ghost" size="icon" onClick={() => void poll()} aria-label="Check health now">
            <RefreshCw aria-hidden />
          </Button>
        </div>
      </CardHeader>
      <CardContent>
        {error ? (
          <p className="text-sm text-destructive" role="status" data-testid="health-error">
            {error}. Is the gateway running? Retrying…
          </p>
        ) : (
          <ul className="divide-y text-sm" aria-label="Providers">
            {providers.map(([name, h]) => (
              <li key={name} className="flex items-center gap-2 py-1.5" data-provider={name} data-state={h.state}>
                <span className={cn("size-2.5 shrink-0 rounded-full", STATE_DOT[h.state] ?? "bg-muted-foreground")} aria-hidden />
                <span className="font-medium">{name}</span>
                <span className="text-muted-foreground">{h.state}</span>
                {h.breaker && h.breaker.state !== "closed" && (
                  <Badge variant="outline" className="font-normal">breaker {h.breaker.state}</Badge>
                )}
                {h.reason ? (
                  <span className="ml-auto max-w-[55%] truncate text-xs text-muted-foreground" title={h.reason}>{h.reason}</span>
                ) : null}
              </li>
            ))}
            {!providers.length && <li className="py-1.5 text-muted-foreground">No providers reported yet.</li>}
            {report?.video ? (
              <li className="flex items-center gap-2 py-1.5" data-provider="video" data-state={videoState(report.video)}>
                <span className={cn("size-2.5 shrink-0 rounded-full", STATE_DOT[videoState(report.video)] ?? "bg-muted-foreground")} aria-hidden />
                <span className="font-medium">video</span>
                <span className="text-muted-foreground">
                  {report.video.mode === "disabled" ? "off" : report.video.healthy ? "up" : "down"}
                  {report.video.mode && report.video.mode !== "disabled" ? ` · ${report.video.mode}` : ""}
                  {Array.isArray(report.video.workers) ? ` · ${report.video.workers.length} worker${report.video.workers.length === 1 ? "" : "s"}` : ""}
                </span>
                {report.video.reason && report.video.reason !== "ok" ? (
                  <span className="ml-auto max-w-[55%] truncate text-xs text-muted-foreground" title={report.video.reason}>{report.video.reason}</span>
                ) : null}
              </li>
            ) : null}
          </ul>
        )}
      </CardContent>
    </Card>
  );
}
