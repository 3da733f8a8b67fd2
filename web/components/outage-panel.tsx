"use client";

/**
 * The outage switch: with the gateway's admin key, force any provider's breaker open and watch the chain fail over
 * (degraded-2), or every one of them (degraded-3, text only), then put them back. Through the admin API only.
 */

import { KeyRound, PlugZap, RotateCcw } from "lucide-react";
import { type FormEvent, useCallback, useEffect, useState } from "react";

import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Label } from "@/components/ui/label";
import { AdminClient, type AdminState } from "@/lib/admin";
import type { HealthReport } from "@/lib/api";
import { loadTabValue, saveTabValue } from "@/lib/storage";
import { cn } from "@/lib/utils";

const ADMIN_KEY_STORAGE = "mouthpiece.adminKey";

export function OutagePanel({ health, onChange }: { health: HealthReport | null; onChange?: () => void }) {
  const [key, setKey] = useState<string | null>(null);
  const [keyInput, setKeyInput] = useState("");
  const [state, setState] = useState<AdminState | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    const saved = loadTabValue(ADMIN_KEY_STORAGE);
    if (saved) {
      setKey(saved);
      setKeyInput(saved);
    }
  }, []);

  const refresh = useCallback(async () => setState(await new AdminClient(key).state()), [key]);
  // read the state at start, with each new key, and whenever the health panel polled
  useEffect(() => {
    void refresh();
  }, [refresh, health]);

  function submitKey(e: FormEvent) {
    e.preventDefault();
    const k = keyInput.trim() || null;
    setKey(k);
    saveTabValue(ADMIN_KEY_STORAGE, k);
  }

  async function toggle(providers: string[], down: boolean, label: string) {
    setBusy(label);
    setError(null);
    try {
      const admin = new AdminClient(key);
      for (const p of providers) await admin.setOutage(p, down);
    } catch (err) {
      setError(`Could not switch: ${(err as Error).message}`);
    }
    await refresh();
    setBusy(null);
    onChange?.();
  }

  const access = state?.access ?? "unknown";
  const breakers = state?.breakers ?? [];
  return (
    <Card data-testid="outage-panel" data-access={access} aria-labelledby="outage-title">
      <CardHeader className="pb-3">
        <CardTitle id="outage-title" className="flex items-center gap-2">
          <PlugZap className="size-4 text-primary" aria-hidden />
          Outages
        </CardTitle>
        <CardDescription>
          Break a provider and watch the chain fail over (degraded-2), or all of them (degraded-3).
        </CardDescription>
      </CardHeader>
      <CardContent className="flex flex-col gap-3">
        {access === "off" ? (
          <p className="text-sm text-muted-foreground" data-testid="outage-off">
            The admin API is off on this gateway: start it with <code>GATEWAY_ADMIN_KEY</code> to switch outages here.
          </p>
        ) : null}
        {access === "needs-key" || access === "wrong-key" ? (
          <form className="flex flex-col gap-2" onSubmit={submitKey}>
            <Label htmlFor="admin-key" className="flex items-center gap-2">
              <KeyRound className="size-4" aria-hidden /> Admin key
            </Label>
            <div className="flex gap-2">
              <input
                id="admin-key" type="password" autoComplete="off" value={keyInput} onChange={(e) => setKeyInput(e.target.value)}
                className="h-9 min-w-0 flex-1 rounded-md border border-input bg-background px-3 text-sm shadow-sm focus-visible:ring-2 focus-visible:ring-ring focus-visible:outline-none"
                data-testid="admin-key-input" aria-invalid={access === "wrong-key"}
              />
              <Button type="submit" variant="secondary" data-testid="admin-key-button">Use key</Button>
            </div>
            <p className={cn("text-xs", access === "wrong-key" ? "text-destructive" : "text-muted-foreground")}>
              {access === "wrong-key" ? "That key was refused." : "GATEWAY_ADMIN_KEY; kept in this tab only."}
            </p>
          </form>
        ) : null}
        {access === "unreachable" ? <p className="text-sm text-destructive">{state?.message}</p> : null}
        {access === "ok" ? (
          <>
            <ul className="divide-y text-sm" aria-label="Provider breakers">
              {breakers.map((b) => {
                const down = b.state !== "closed";
                return (
                  <li key={b.provider} className="flex items-center gap-2 py-1.5" data-provider={b.provider} data-breaker={b.state}>
                    <span className="font-medium">{b.provider}</span>
                    <Badge variant={down ? "destructive" : "success"} className="font-normal">
                      {down ? `breaker ${b.state}` : "in service"}
                    </Badge>
                    <Button type="button" size="sm" variant={down ? "secondary" : "outline"} className="ml-auto"
                            role="switch" aria-checked={down} aria-label={`Outage of ${b.provider}`}
                            disabled={busy !== null} onClick={() => void toggle([b.provider], !down, b.provider)}
                            data-testid={`outage-${b.provider}`}>
                      {down ? "Restore" : "Break"}
                    </Button>
                  </li>
                );
              })}
            </ul>
            <div className="flex flex-wrap gap-2">
              <Button type="button" size="sm" variant="destructive" disabled={busy !== null}
                      onClick={() => void toggle(breakers.map((b) => b.provider), true, "all")} data-testid="outage-all">
                <PlugZap aria-hidden /> Break every provider
              </Button>
              <Button type="button" size="sm" variant="outline" disabled={busy !== null}
                      onClick={() => void toggle(breakers.map((b) => b.provider), false, "restore")} data-testid="outage-restore">
                <RotateCcw aria-hidden /> Restore all
              </Button>
            </div>
            <p className="text-xs text-muted-foreground">
              A broken provider&apos;s breaker is forced open; after its reset time it lets one trial line through and
              closes again if that works, as after a real outage.
            </p>
          </>
        ) : null}
        {error ? <p className="text-sm text-destructive" role="alert">{error}</p> : null}
      </CardContent>
    </Card>
  );
}
