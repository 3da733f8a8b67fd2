/**
 * The admin API as the outage switch uses it (docs/admin.md): read the state, force a provider's breaker open
 * (an outage the chain fails over from) or closed. Only with the gateway's admin key (GATEWAY_ADMIN_KEY), which
 * the page keeps in this tab and sends as `Authorization: Bearer`.
 */

import { API_BASE } from "./api";

export type AdminAccess = "unknown" | "off" | "needs-key" | "wrong-key" | "ok" | "unreachable";

export interface BreakerView {
  provider: string;
  /** closed, open or half-open */
  state: string;
  /** the provider's own state (up/degraded/down) */
  health: string;
  reason: string;
}

export interface AdminState {
  access: AdminAccess;
  message: string;
  level: string | null;
  breakers: BreakerView[];
}

type Fetch = (input: string, init?: RequestInit) => Promise<Response>;

/** What the page knows from `GET /admin/state` (or why it can't read it). */
export function readAdminState(status: number, body: Record<string, unknown> | null): AdminState {
  const message = typeof body?.message === "string" ? body.message : "";
  if (status === 403) return { access: "off", message, level: null, breakers: [] };
  if (status === 401) return { access: "needs-key", message, level: null, breakers: [] };
  if (status !== 200 || !body) return { access: "unreachable", message: message || `HTTP ${status}`, level: null, breakers: [] };
  const providers = (body.providers ?? {}) as Record<string, { state?: string; reason?: string; breaker?: { state?: string } }>;
  const breakers = Object.entries(providers).map(([provider, p]) => ({
    provider, state: p.breaker?.state ?? "closed", health: p.state ?? "up", reason: p.reason ?? "",
  }));
  return { access: "ok", message: "", level: typeof body.degradation_level === "string" ? body.degradation_level : null, breakers };
}

export class AdminClient {
  constructor(private key: string | null, private fetchFn: Fetch = (i, init) => fetch(i, init), private base = API_BASE) {}

  private headers(): Record<string, string> {
    return this.key ? { authorization: `Bearer ${this.key}`, "content-type": "application/json" } : { "content-type": "application/json" };
  }

  async state(): Promise<AdminState> {
    let res: Response;
    try {
      res = await this.fetchFn(`${this.base}/admin/state`, { headers: this.headers(), cache: "no-store" });
    } catch {
      return { access: "unreachable", message: "Can't reach the gateway", level: null, breakers: [] };
    }
    let body: Record<string, unknown> | null = null;
    try {
      body = (await res.json()) as Record<string, unknown>;
    } catch {
      body = null;
    }
    const state = readAdminState(res.status, body);
    return state.access === "needs-key" && this.key ? { ...state, access: "wrong-key" } : state;
  }

  /** Force `provider`'s breaker open (an outage) or closed (back in service). */
  async setOutage(provider: string, down: boolean): Promise<void> {
    const res = await this.fetchFn(`${this.base}/admin/breakers/${encodeURIComponent(provider)}`, {
      method: "POST", headers: this.headers(), body: JSON.stringify({ state: down ? "open" : "closed" }),
    });
    if (!res.ok) throw new Error(`the gateway answered ${res.status}`);
  }
}
