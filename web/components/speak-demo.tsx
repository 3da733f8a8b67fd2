"use client";

import { AlertTriangle, Ban, KeyRound, CheckCircle2, CircleDashed, Clock, Loader2, MicOff, Square, Volume2, XCircle } from "lucide-react";
import { type FormEvent, type KeyboardEvent, useCallback, useEffect, useMemo, useRef, useState } from "react";

import { HealthPanel, LevelBadge } from "@/components/health-panel";
import { Stage } from "@/components/stage";
import { Alert, AlertDescription, AlertTitle } from "@/components/ui/alert";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Label } from "@/components/ui/label";
import { Progress } from "@/components/ui/progress";
import { Select, SelectContent, SelectItem, SelectTrigger, SelectValue } from "@/components/ui/select";
import { Slider } from "@/components/ui/slider";
import { Textarea } from "@/components/ui/textarea";
import { OutagePanel } from "@/components/outage-panel";
import {
  API_BASE, ApiError, type Character, EMOTIONS, type HealthReport, type SpeakBody, type StreamEvent, type VoiceOption,
  authHeaders, errorFromResponse, getJson, setApiKey, voiceOptions,
} from "@/lib/api";
import { AudioScheduler } from "@/lib/audio";
import { readNdjson } from "@/lib/ndjson";
import { LineSession, type StepState, type TextOnlyAnswer } from "@/lib/session";
import { DEFAULT_MAX_CHARS, checkText, cleanText, estimateSegments } from "@/lib/text";
import { loadTabValue, saveTabValue } from "@/lib/storage";
import { cn } from "@/lib/utils";

const DEFAULT_LINE = "Welcome to the Gilded Goose, traveller! Warm stew, cold ale, and a soft bed for three silver.";

const FALLBACK_CAST: Character[] = [{ id: "narrator", display_name: "Narrator", emotion: "neutral" }];
const KEY_STORAGE = "mouthpiece.apiKey";
/** The voice picker's first choice: the character's own voice on every provider of its chain. */
const CHARACTER_VOICE = "character";

type RequestProblem =
  | { kind: "unauthorized"; message: string }
  | { kind: "rate_limited"; until: number; message: string }
  | { kind: "busy"; until: number | null; message: string }
  | { kind: "rejected"; title: string; message: string }
  | { kind: "network"; message: string };

interface HistoryEntry {
  id: number;
  character: string;
  text: string;
  provider: string | null;
  level: string | null;
  fallbacks: number;
  firstAudioMs: number | null;
  streamMs: number | null;
  serverMs: number | null;
  durationMs: number | null;
  outcome: "ok" | "text-only" | "error" | "stopped";
}

type Phase =
  | "idle" | "sending" | "synthesizing" | "playing" | "done" | "text-only" | "error" | "stopped" | "rate-limited" | "refused";

function phaseOf(s: LineSession | null): Phase {
  if (!s) return "idle";
  if (s.stopped) return "stopped";
  if (s.awaitingFallback) return "synthesizing";
  if (s.textOnly) return s.steps.play === "done" ? "done" : "text-only";
  if (s.error && s.steps.play !== "active") return "error";
  if (s.steps.play === "done") return "done";
  if (s.steps.play === "active" && s.clock.started) return "playing";
  if (s.timings.firstEventMs === null) return "sending";
  return "synthesizing";
}

function AudioContextClass(): typeof AudioContext | null {
  if (typeof window === "undefined") return null;
  const w = window as unknown as { AudioContext?: typeof AudioContext; webkitAudioContext?: typeof AudioContext };
  return w.AudioContext ?? w.webkitAudioContext ?? null;
}

export function SpeakDemo() {
  const [cast, setCast] = useState<Character[]>([]);
  const [castError, setCastError] = useState<string | null>(null);
  const [character, setCharacter] = useState("narrator");
  const [emotion, setEmotion] = useState("default");
  const [intensity, setIntensity] = useState(1);
  const [video, setVideo] = useState(false);
  const [text, setText] = useState(DEFAULT_LINE);
  const [limit, setLimit] = useState(DEFAULT_MAX_CHARS);
  const [touched, setTouched] = useState(false);
  const [session, setSession] = useState<LineSession | null>(null);
  const [version, setVersion] = useState(0);
  const [voice, setVoice] = useState(CHARACTER_VOICE);
  const [voices, setVoices] = useState<VoiceOption[]>([]);
  const [problem, setProblem] = useState<RequestProblem | null>(null);
  const [now, setNow] = useState(() => Date.now());
  const [history, setHistory] = useState<HistoryEntry[]>([]);
  const [healthKey, setHealthKey] = useState(0);
  const [announce, setAnnounce] = useState("");
  const [health, setHealth] = useState<HealthReport | null>(null);
  const [needKey, setNeedKey] = useState(false);
  const [keyInput, setKeyInput] = useState("");
  const [castVersion, setCastVersion] = useState(0);

  const ctxRef = useRef<AudioContext | null>(null);
  const abortRef = useRef<AbortController | null>(null);
  const textRef = useRef<HTMLTextAreaElement>(null);
  const historyId = useRef(0);

  // an API key remembered for this tab (gateways with GATEWAY_API_KEYS)
  useEffect(() => {
    const saved = loadTabValue(KEY_STORAGE);
    if (saved) {
      setApiKey(saved);
      setKeyInput(saved);
    }
  }, []);

  // the cast: /api/avatar/voices, plus each character's default avatar where the gateway says
  useEffect(() => {
    const ctl = new AbortController();
    getJson<{ characters: Character[]; voices?: unknown[] }>("/api/avatar/voices", ctl.signal)
      .then(async (r) => {
        setVoices(voiceOptions(r.voices));
        let list = r.characters?.length ? r.characters : FALLBACK_CAST;
        try {
          const more = await getJson<{ characters: Character[] }>("/api/avatar/characters", ctl.signal);
          const avatars = new Map(more.characters.map((c) => [c.id, c.avatar ?? null]));
          list = list.map((c) => ({ ...c, avatar: c.avatar ?? avatars.get(c.id) ?? null }));
        } catch {
          /* older gateways: no avatars listed */
        }
        setCast(list);
        setCastError(null);
        setCharacter((c) => (list.some((x) => x.id === c) ? c : list[0].id));
      })
      .catch((err) => {
        if ((err as Error).name === "AbortError") return;
        if (err instanceof ApiError && err.status === 401) {
          setNeedKey(true);
          setProblem({ kind: "unauthorized", message: err.message });
        }
        setCast(FALLBACK_CAST);
        setCastError(err instanceof ApiError ? err.message : "Could not load the characters");
      });
    return () => ctl.abort();
  }, [castVersion]);

  // countdown for rate limits
  const waitUntil = problem && "until" in problem ? problem.until : null;
  useEffect(() => {
    if (!waitUntil) return;
    const id = setInterval(() => {
      setNow(Date.now());
      if (Date.now() >= waitUntil) setProblem(null);
    }, 250);
    return () => clearInterval(id);
  }, [waitUntil]);
  const waitS = waitUntil ? Math.max(0, Math.ceil((waitUntil - now) / 1000)) : 0;

  // session → React: re-render on each event, record the line when it ends
  useEffect(() => {
    if (!session) return;
    let recorded = false;
    return session.subscribe(() => {
      setVersion(session.version);
      if (!recorded && session.settled) {
        recorded = true;
        setHealthKey((k) => k + 1);
        setHistory((h) => [
          {
            id: ++historyId.current,
            character: cast.find((c) => c.id === character)?.display_name ?? character,
            text: session.text,
            provider: session.provider,
            level: session.level,
            fallbacks: session.fallbacks,
            firstAudioMs: session.timings.firstAudioMs,
            streamMs: session.timings.streamMs,
            serverMs: session.timings.serverMs,
            durationMs: session.timings.durationMs,
            outcome: session.stopped ? "stopped" : session.textOnly ? "text-only" : session.error ? "error" : "ok",
          } satisfies HistoryEntry,
          ...h,
        ].slice(0, 8));
      }
    });
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [session]);

  const phase: Phase = !session && problem ? (problem.kind === "rate_limited" ? "rate-limited" : "refused") : phaseOf(session);
  useEffect(() => {
    const say: Partial<Record<Phase, string>> = {
      sending: "Sending the line", synthesizing: "Synthesizing", playing: `Speaking${session?.provider ? ` with ${session.provider}` : ""}`,
      done: "Done", "text-only": "Text only: no voice could speak the line", error: "The line failed", stopped: "Stopped",
      "rate-limited": "Rate limited", refused: "The gateway refused the line",
    };
    if (say[phase]) setAnnounce(say[phase] as string);
  }, [phase, session?.provider]);

  const textProblem = checkText(text, limit);
  const count = cleanText(text).length;
  const busy = phase === "sending" || phase === "synthesizing" || phase === "playing" || phase === "text-only";

  // Stop is not a failure: the audio stops, open stages are skipped, the mouth closes
  const stop = useCallback(() => {
    abortRef.current?.abort();
    abortRef.current = null;
    session?.stop();
  }, [session]);

  useEffect(() => {
    const onKey = (e: globalThis.KeyboardEvent) => {
      // Escape in an open select closes the select only
      if (e.key === "Escape" && busy && !e.defaultPrevented && !document.querySelector('[role="listbox"]')) stop();
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [busy, stop]);

  async function speak() {
    setTouched(true);
    if (textProblem) {
      textRef.current?.focus();
      return;
    }
    if (waitS > 0) return;
    // stop the previous line
    abortRef.current?.abort();
    session?.stop();
    setProblem(null);

    // audio must start from the click (browsers unlock audio on a user gesture)
    let scheduler: AudioScheduler | null = null;
    const AC = AudioContextClass();
    if (AC) {
      try {
        ctxRef.current ??= new AC({ latencyHint: "interactive" });
        void ctxRef.current.resume();
        scheduler = new AudioScheduler(ctxRef.current);
      } catch {
        scheduler = null;
      }
    }
    const body: SpeakBody = { text, character };
    if (emotion !== "default") body.emotion = emotion;
    if (intensity !== 1) body.intensity = intensity;
    if (voice !== CHARACTER_VOICE) body.voice_id = voice;
    // "default" is the character's own avatar (the original contract's avatar_id)
    if (video) body.avatar_id = "default";

    const s = new LineSession(cleanText(text), estimateSegments(text), video, scheduler);
    s.body = body;
    setSession(s);
    setVersion(s.version);
    const ctl = new AbortController();
    abortRef.current = ctl;

    let res: Response;
    try {
      res = await fetch(`${API_BASE}/api/avatar/speak/stream`, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/x-ndjson", ...authHeaders() },
        body: JSON.stringify(body),
        signal: ctl.signal,
      });
    } catch (err) {
      if ((err as Error).name === "AbortError") return;
      s.stop();
      setSession(null);
      setProblem({ kind: "network", message: "Can't reach the gateway. Is it running?" });
      return;
    }
    if (!res.ok || !res.body) {
      // refused before anything was spoken: the form says why; the stage goes back to rest
      const err = await errorFromResponse(res);
      s.stop();
      setSession(null);
      showRejection(err);
      return;
    }
    try {
      await readNdjson<StreamEvent>(res.body, (ev) => s.handle(ev), ctl.signal);
    } catch (err) {
      if ((err as Error).name === "AbortError" || ctl.signal.aborted) return;
      if (!s.finished) s.fail("network", "The connection broke during the line");
      return;
    }
    if (ctl.signal.aborted) return;
    if (!s.finished) s.fail("incomplete", "The stream ended before the line was complete");
    if (s.error?.code === "all_providers_failed" && s.audioReceivedMs === 0) await textOnly(s, body, ctl.signal);
  }

  /** Every provider failed: ask for the whole line, which answers text-only with estimated timings. */
  async function textOnly(s: LineSession, body: SpeakBody, signal: AbortSignal) {
    try {
      const res = await fetch(`${API_BASE}/api/avatar/speak`, {
        method: "POST", headers: { "content-type": "application/json", ...authHeaders() }, body: JSON.stringify(body), signal,
      });
      if (res.ok) {
        const answer = (await res.json()) as TextOnlyAnswer;
        if (answer.provider === null) {
          s.applyTextOnly(answer);
          return;
        }
      }
    } catch {
      /* keep the stream's error */
    }
    s.fallbackFailed();
  }

  function showRejection(err: ApiError) {
    if (err.status === 401) {
      setNeedKey(true);
      setProblem({ kind: "unauthorized", message: err.message });
      return;
    }
    if (err.status === 429) {
      const s = err.retryAfterS ?? 5;
      setProblem({ kind: "rate_limited", until: Date.now() + s * 1000, message: err.message });
      setNow(Date.now());
      return;
    }
    if (err.status === 503) {
      const s = err.retryAfterS;
      setProblem({ kind: "busy", until: s ? Date.now() + s * 1000 : null, message: err.message });
      setNow(Date.now());
      return;
    }
    if (err.status === 400 && typeof err.body.limit === "number") {
      setLimit(err.body.limit);
      setProblem({ kind: "rejected", title: "Too long for the gateway", message: err.message });
      return;
    }
    if (err.status === 0) {
      setProblem({ kind: "network", message: err.message });
      return;
    }
    const valid = Array.isArray(err.body.valid) ? ` Valid: ${(err.body.valid as string[]).slice(0, 12).join(", ")}` : "";
    const title = err.status === 404 ? "Not found" : err.status === 422 ? "The request was malformed" : err.status >= 500 ? "Gateway error" : "The gateway refused the line";
    setProblem({ kind: "rejected", title, message: err.message + valid });
  }

  function saveKey(e: FormEvent) {
    e.preventDefault();
    setApiKey(keyInput);
    saveTabValue(KEY_STORAGE, keyInput);
    setProblem(null);
    setCastVersion((v) => v + 1);
    setHealthKey((k) => k + 1);
  }

  function onSubmit(e: FormEvent) {
    e.preventDefault();
    void speak();
  }

  function onTextKey(e: KeyboardEvent<HTMLTextAreaElement>) {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      void speak();
    }
  }

  const selected = cast.find((c) => c.id === character);
  const notices = session ? session.notices() : [];
  const steps = session?.steps;

  return (
    <div className="mx-auto flex w-full max-w-6xl flex-col gap-4 px-3 py-4 sm:px-6 sm:py-6">
      <a href="#line" className="sr-only focus:not-sr-only focus:absolute focus:top-2 focus:left-2 focus:z-50 focus:rounded focus:bg-background focus:px-3 focus:py-2 focus:ring-2 focus:ring-ring">
        Skip to the line
      </a>
      <header className="flex flex-wrap items-center justify-between gap-2">
        <div>
          <h1 className="text-xl font-semibold tracking-tight sm:text-2xl">Mouthpiece avatar demo</h1>
          <p className="text-sm text-muted-foreground">Type a line, pick a character and an emotion, press Speak.</p>
        </div>
        <div className="flex items-center gap-2 text-sm">
          <span className="text-muted-foreground">Status</span>
          <Badge variant={phase === "error" || phase === "refused" ? "destructive" : phase === "rate-limited" ? "warning" : phase === "done" ? "success" : busy ? "default" : "secondary"} data-testid="phase-badge" data-phase={phase}>
            {busy && phase !== "playing" ? <Loader2 className="size-3 animate-spin" aria-hidden /> : null}
            {phase}
          </Badge>
        </div>
      </header>
      <div className="sr-only" aria-live="polite" data-testid="announcer">{announce}</div>

      <main className="grid grid-cols-1 gap-4 lg:grid-cols-[minmax(0,1.1fr)_minmax(0,1fr)]">
        {/* the stage: face, subtitles, badges, stages, timings */}
        <Card className="lg:row-span-2" aria-labelledby="stage-title">
          <CardHeader className="pb-2">
            <CardTitle id="stage-title" className="flex flex-wrap items-center gap-2">
              {selected?.display_name ?? character}
              <span className="ml-auto flex flex-wrap items-center gap-1.5 text-xs font-normal">
                <Badge variant={session?.provider ? "outline" : "secondary"} data-testid="provider-badge" data-provider={session?.provider ?? ""}>
                  <Volume2 className="size-3" aria-hidden />
                  {session ? (session.provider ?? (session.textOnly ? "no voice" : "…")) : "provider"}
                </Badge>
                <LevelBadge level={session?.level} testId="level-badge" />
                {session && session.fallbacks > 0 ? <Badge variant="warning">{session.fallbacks} fallback{session.fallbacks > 1 ? "s" : ""}</Badge> : null}
              </span>
            </CardTitle>
          </CardHeader>
          <CardContent className="flex flex-col gap-4">
            <Stage session={session} character={character} version={version} />
            {steps && (
              <ol className="grid grid-cols-2 gap-2 text-sm sm:grid-cols-4" data-testid="steps" aria-label="Progress by stage">
                <Step name="synth" label="Synthesizing" state={steps.synth} percent={session?.synthPercent} />
                <Step name="lipsync" label="Lip-sync" state={steps.lipsync} />
                {steps.video && <Step name="video" label="Rendering video" state={steps.video} note={steps.video === "skipped" ? "no video" : undefined} />}
                <Step name="play" label={session?.textOnly ? "Text only" : "Playing"} state={steps.play} />
              </ol>
            )}
            {notices.map((n, i) => (
              <Alert key={i} variant={n.kind === "stream-error" || n.kind === "text-only" ? "destructive" : "warning"} data-testid={`notice-${n.kind}`}>
                {n.kind === "text-only" ? <MicOff aria-hidden /> : <AlertTriangle aria-hidden />}
                <AlertTitle>{n.title}</AlertTitle>
                {n.detail && <AlertDescription className="break-words">{n.detail}</AlertDescription>}
              </Alert>
            ))}
            {session && <Timings s={session} />}
          </CardContent>
        </Card>

        {/* the form */}
        <Card aria-labelledby="form-title">
          <CardHeader className="pb-3">
            <CardTitle id="form-title">Line</CardTitle>
            <CardDescription>Ctrl+Enter speaks, Escape stops.</CardDescription>
          </CardHeader>
          <CardContent>
            <form className="flex flex-col gap-4" onSubmit={onSubmit} noValidate>
              <div className="grid grid-cols-1 gap-3 sm:grid-cols-2">
                <FieldSelect id="character" label="Character" value={character} onChange={setCharacter}
                             options={(cast.length ? cast : FALLBACK_CAST).map((c) => ({ value: c.id, label: c.display_name }))}>
                  {castError && <p className="text-xs text-destructive">{castError}</p>}
                </FieldSelect>
                <FieldSelect id="emotion" label="Emotion" value={emotion} onChange={setEmotion}
                             options={[{ value: "default", label: `Default${selected?.emotion ? ` (${selected.emotion})` : ""}` },
                                       ...EMOTIONS.map((e) => ({ value: e, label: e }))]} />
              </div>
              <FieldSelect id="voice" label="Voice" value={voice} onChange={setVoice}
                           options={[{ value: CHARACTER_VOICE, label: "The character's voice (its chain)" },
                                     ...voices.map((v) => ({ value: v.id, label: v.label }))]}>
                <p className="text-xs text-muted-foreground">A picked voice&apos;s provider goes first; the rest of the chain stays behind it.</p>
              </FieldSelect>
              <div className="flex flex-col gap-2">
                <div className="flex items-center justify-between">
                  <Label id="intensity-label">Intensity</Label>
                  <span className="text-xs text-muted-foreground tabular-nums">{Math.round(intensity * 100)}%</span>
                </div>
                <Slider
                  value={[intensity]} min={0} max={1} step={0.05} onValueChange={(v) => setIntensity(v[0])}
                  aria-labelledby="intensity-label" thumbLabel="Intensity"
                />
              </div>
              <div className="flex flex-col gap-1.5">
                <div className="flex items-end justify-between gap-2">
                  <Label htmlFor="line">What should they say?</Label>
                  <span
                    id="char-count"
                    data-testid="char-count"
                    className={cn("text-xs tabular-nums", count > limit ? "font-semibold text-destructive" : count > limit * 0.9 ? "text-warning-foreground" : "text-muted-foreground")}
                    aria-live="polite"
                  >
                    {count} / {limit}
                  </span>
                </div>
                <Textarea
                  id="line"
                  ref={textRef}
                  value={text}
                  rows={4}
                  onChange={(e) => setText(e.target.value)}
                  onKeyDown={onTextKey}
                  onBlur={() => setTouched(true)}
                  aria-invalid={!!textProblem && (touched || textProblem.kind === "too_long")}
                  aria-describedby="char-count line-hint"
                  data-testid="line-input"
                  placeholder="Halt! Who goes there?"
                />
                <p id="line-hint" className="min-h-5 text-xs" data-testid="line-hint">
                  {textProblem?.kind === "too_long" ? (
                    <span className="text-destructive">{textProblem.over} character{textProblem.over > 1 ? "s" : ""} over the {textProblem.limit}-character limit.</span>
                  ) : textProblem?.kind === "empty" && touched ? (
                    <span className="text-destructive">Type a line first.</span>
                  ) : (
                    <span className="text-muted-foreground">Plain text or SSML starting with &lt;speak&gt;.</span>
                  )}
                </p>
              </div>
              <label className="flex items-center gap-2 text-sm">
                <input
                  type="checkbox" checked={video} onChange={(e) => setVideo(e.target.checked)}
                  className="size-4 rounded border-input accent-[var(--primary)] focus-visible:ring-2 focus-visible:ring-ring"
                  data-testid="video-toggle"
                />
                Render video
                <span className="text-xs text-muted-foreground" data-testid="video-pool">
                  ({videoPoolText(health)})
                </span>
              </label>
              {problem && <ProblemAlert problem={problem} waitS={waitS} />}
              <div className="flex gap-2">
                <Button type="submit" className="flex-1" disabled={!!textProblem || waitS > 0} data-testid="speak-button">
                  {waitS > 0 ? <Clock aria-hidden /> : <Volume2 aria-hidden />}
                  {waitS > 0 ? `Wait ${waitS}s` : "Speak"}
                </Button>
                <Button type="button" variant="outline" onClick={stop} disabled={!busy} data-testid="stop-button">
                  <Square aria-hidden />
                  Stop
                </Button>
              </div>
            </form>
          </CardContent>
        </Card>

        <div className="flex flex-col gap-4">
          {needKey && (
            <Card>
              <CardContent className="pt-4 sm:pt-5">
                <form className="flex flex-col gap-2" onSubmit={saveKey}>
                  <Label htmlFor="api-key" className="flex items-center gap-2">
                    <KeyRound className="size-4" aria-hidden /> This gateway needs an API key
                  </Label>
                  <div className="flex gap-2">
                    <input
                      id="api-key" type="password" autoComplete="off" value={keyInput} onChange={(e) => setKeyInput(e.target.value)}
                      className="h-9 min-w-0 flex-1 rounded-md border border-input bg-background px-3 text-sm shadow-sm focus-visible:ring-2 focus-visible:ring-ring focus-visible:outline-none"
                      data-testid="api-key-input"
                    />
                    <Button type="submit" variant="secondary">Use key</Button>
                  </div>
                  <p className="text-xs text-muted-foreground">Kept in this tab only (sessionStorage), sent as Authorization: Bearer.</p>
                </form>
              </CardContent>
            </Card>
          )}
          <HealthPanel refreshKey={healthKey} onReport={setHealth} />
          <OutagePanel health={health} onChange={() => setHealthKey((k) => k + 1)} />
          <HistoryCard entries={history} />
        </div>
      </main>
      <footer className="pb-2 text-center text-xs text-muted-foreground">
        Audio streams as NDJSON from <code>/api/avatar/speak/stream</code>; the mouth follows the viseme track on the audio clock.
      </footer>
    </div>
  );
}

/** A labelled select (the `id` names the trigger, its test id is `<id>-select`); `children` go under it. */
function FieldSelect({ id, label, value, onChange, options, children }: {
  id: string; label: string; value: string; onChange: (v: string) => void;
  options: { value: string; label: string }[]; children?: React.ReactNode;
}) {
  return (
    <div className="flex flex-col gap-1.5">
      <Label htmlFor={id}>{label}</Label>
      <Select value={value} onValueChange={onChange}>
        <SelectTrigger id={id} data-testid={`${id}-select`} aria-label={label}>
          <SelectValue placeholder={label} />
        </SelectTrigger>
        <SelectContent>
          {options.map((o) => <SelectItem key={o.value} value={o.value}>{o.label}</SelectItem>)}
        </SelectContent>
      </Select>
      {children}
    </div>
  );
}

const STEP_ICON: Record<StepState, React.ReactNode> = {
  pending: <CircleDashed className="size-4 text-muted-foreground" aria-hidden />,
  active: <Loader2 className="size-4 animate-spin text-primary" aria-hidden />,
  done: <CheckCircle2 className="size-4 text-success" aria-hidden />,
  failed: <XCircle className="size-4 text-destructive" aria-hidden />,
  skipped: <Ban className="size-4 text-muted-foreground" aria-hidden />,
};

function Step({ name, label, state, percent, note }: { name: string; label: string; state: StepState; percent?: number; note?: string }) {
  return (
    <li className="flex flex-col gap-1 rounded-md border px-2 py-1.5" data-step={name} data-state={state}>
      <span className="flex items-center gap-1.5">
        {STEP_ICON[state]}
        <span className={cn(state === "pending" && "text-muted-foreground")}>{label}</span>
        <span className="sr-only">: {state}</span>
      </span>
      {percent !== undefined && state === "active" ? <Progress value={percent} className="h-1" aria-label={`${label} progress`} /> : null}
      {note ? <span className="text-xs text-muted-foreground">{note}</span> : null}
    </li>
  );
}

function ms(v: number | null): string {
  return v == null ? "–" : v >= 10000 ? `${(v / 1000).toFixed(1)} s` : `${v} ms`;
}

function Timings({ s }: { s: LineSession }) {
  const rows: [string, string, string][] = [
    ["first-audio", "First audio", ms(s.timings.firstAudioMs)],
    ["stream", "Whole stream", ms(s.timings.streamMs)],
    ["server", "Gateway time", ms(s.timings.serverMs)],
    ["duration", "Audio length", s.timings.durationMs == null ? "–" : `${(s.timings.durationMs / 1000).toFixed(2)} s`],
  ];
  return (
    <dl className="grid grid-cols-2 gap-x-4 gap-y-1 text-sm sm:grid-cols-4" data-testid="timings">
      {rows.map(([key, label, value]) => (
        <div key={key} className="flex flex-col" data-timing={key}>
          <dt className="text-xs text-muted-foreground">{label}</dt>
          <dd className="font-medium tabular-nums">{value}</dd>
        </div>
      ))}
    </dl>
  );
}

function videoPoolText(h: HealthReport | null): string {
  const v = h?.video;
  if (!v) return "video pool unknown";
  if (v.mode === "disabled") return "no video workers configured: the line will say why there is no video";
  return v.healthy ? "video pool up" : `video pool down${v.reason ? `: ${v.reason}` : ""}`;
}

function ProblemAlert({ problem, waitS }: { problem: RequestProblem; waitS: number }) {
  if (problem.kind === "rate_limited") {
    return (
      <Alert variant="warning" data-testid="problem-rate-limited">
        <Clock aria-hidden />
        <AlertTitle>Rate limited</AlertTitle>
        <AlertDescription>
          {problem.message.replace(/[.\s]+$/, "")}. You can speak again in <span className="tabular-nums" data-testid="retry-seconds">{waitS}</span>s.
        </AlertDescription>
      </Alert>
    );
  }
  if (problem.kind === "busy") {
    return (
      <Alert variant="warning" data-testid="problem-busy">
        <Clock aria-hidden />
        <AlertTitle>The gateway is busy</AlertTitle>
        <AlertDescription>{problem.message}{problem.until ? ` Try again in ${waitS}s.` : ""}</AlertDescription>
      </Alert>
    );
  }
  if (problem.kind === "unauthorized") {
    return (
      <Alert variant="destructive" data-testid="problem-unauthorized">
        <KeyRound aria-hidden />
        <AlertTitle>An API key is required</AlertTitle>
        <AlertDescription>{problem.message} Enter it in the key field.</AlertDescription>
      </Alert>
    );
  }
  if (problem.kind === "network") {
    return (
      <Alert variant="destructive" data-testid="problem-network">
        <XCircle aria-hidden />
        <AlertTitle>Gateway unreachable</AlertTitle>
        <AlertDescription>{problem.message}</AlertDescription>
      </Alert>
    );
  }
  return (
    <Alert variant="destructive" data-testid="problem-rejected">
      <XCircle aria-hidden />
      <AlertTitle>{problem.title}</AlertTitle>
      <AlertDescription className="break-words">{problem.message}</AlertDescription>
    </Alert>
  );
}

function HistoryCard({ entries }: { entries: HistoryEntry[] }) {
  return (
    <Card aria-labelledby="history-title">
      <CardHeader className="pb-2">
        <CardTitle id="history-title">Lines</CardTitle>
        <CardDescription>Provider, level and timings of each line.</CardDescription>
      </CardHeader>
      <CardContent>
        {entries.length === 0 ? (
          <p className="text-sm text-muted-foreground">Nothing spoken yet.</p>
        ) : (
          <div className="overflow-x-auto">
            <table className="w-full text-left text-xs" data-testid="history">
              <thead className="text-muted-foreground">
                <tr>
                  <th scope="col" className="py-1 pr-2 font-medium">Line</th>
                  <th scope="col" className="py-1 pr-2 font-medium">Provider</th>
                  <th scope="col" className="py-1 pr-2 font-medium">Level</th>
                  <th scope="col" className="py-1 pr-2 font-medium">1st audio</th>
                  <th scope="col" className="py-1 font-medium">Length</th>
                </tr>
              </thead>
              <tbody className="divide-y">
                {entries.map((e) => (
                  <tr key={e.id} data-outcome={e.outcome}>
                    <td className="max-w-[10rem] truncate py-1 pr-2" title={`${e.character}: ${e.text}`}>
                      <span className="font-medium">{e.character}:</span> {e.text}
                    </td>
                    <td className="py-1 pr-2">{e.provider ?? (e.outcome === "text-only" ? "text only" : "–")}{e.fallbacks ? ` (+${e.fallbacks})` : ""}</td>
                    <td className="py-1 pr-2">{e.level ?? "–"}</td>
                    <td className="py-1 pr-2 tabular-nums">{ms(e.firstAudioMs)}</td>
                    <td className="py-1 tabular-nums">{e.durationMs == null ? "–" : `${(e.durationMs / 1000).toFixed(1)} s`}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </CardContent>
    </Card>
  );
}
