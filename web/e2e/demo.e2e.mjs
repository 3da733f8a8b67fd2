#!/usr/bin/env node
// End-to-end test of /avatar_demo against real gateways, in Debian's chromium through playwright-core.
//
//   BASE_URL=http://127.0.0.1:8080 node e2e/demo.e2e.mjs
//
// Env:
//   BASE_URL        a gateway serving the demo build (required)
//   FALLBACK_URL    optional: a gateway whose first provider is down (an espeak-like fallback answers)
//   TEXTONLY_URL    optional: a gateway where every provider is down (text-only answers)
//   VIDEO_URL       optional: a gateway with a video pool (GATEWAY_VIDEO_WORKERS) whose avatars include blacksmith
//   RATE_LIMITED    "1" when FALLBACK_URL allows one speak request per minute per client (a real 429 is checked)
//   ADMIN_URL       optional: a gateway with an admin key (GATEWAY_ADMIN_KEY) for the outage switch
//   ADMIN_KEY       that gateway's admin key
//   CHROMIUM        browser binary (default /usr/bin/chromium)
//   ARTIFACTS       folder for screenshots and the JSON report (default ./e2e-artifacts)
//   E2E_TIMEOUT_MS  per-wait timeout (default 45000)
// Exit status 0 when every check passed; the report (checks, samples, screenshots) is written to
// $ARTIFACTS/report.json and its summary printed as the last line of stdout (`E2E_RESULT {...}`).

import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

import { chromium } from "playwright-core";

const BASE_URL = (process.env.BASE_URL ?? "").replace(/\/$/, "");
const FALLBACK_URL = (process.env.FALLBACK_URL ?? "").replace(/\/$/, "");
const TEXTONLY_URL = (process.env.TEXTONLY_URL ?? "").replace(/\/$/, "");
const VIDEO_URL = (process.env.VIDEO_URL ?? "").replace(/\/$/, "");
const RATE_LIMITED = process.env.RATE_LIMITED === "1";
const ADMIN_URL = (process.env.ADMIN_URL ?? "").replace(/\/$/, "");
const ADMIN_KEY = process.env.ADMIN_KEY ?? "";
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const ARTIFACTS = resolve(process.env.ARTIFACTS ?? "e2e-artifacts");
const TIMEOUT = Number(process.env.E2E_TIMEOUT_MS ?? 45000);
const DEMO = "/avatar_demo/";

if (!BASE_URL) {
  console.error("BASE_URL is required (a gateway that serves /avatar_demo)");
  process.exit(2);
}
mkdirSync(ARTIFACTS, { recursive: true });

const report = { base_url: BASE_URL, checks: [], screenshots: [], samples: {}, console_errors: [] };
let failed = 0;

function check(name, ok, detail = "") {
  report.checks.push({ name, ok: !!ok, detail: String(detail).slice(0, 500) });
  console.log(`${ok ? "ok  " : "FAIL"} ${name}${detail ? ` — ${String(detail).slice(0, 200)}` : ""}`);
  if (!ok) failed++;
  return !!ok;
}

async function shot(page, name) {
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  report.screenshots.push(path);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function attr(page, selector, name) {
  return page.locator(selector).first().getAttribute(name);
}

/** Tab through the page until `selector` has focus (keyboard-only navigation). */
async function tabTo(page, selector, max = 40) {
  for (let i = 0; i < max; i++) {
    if (await page.locator(selector).first().evaluate((el) => el === document.activeElement)) return true;
    await page.keyboard.press("Tab");
  }
  return false;
}

/** Sample the stage every `everyMs` while `until()` is false (or `forMs` passed). */
async function sampleStage(page, forMs, everyMs = 40, inspector = false) {
  const out = [];
  const end = Date.now() + forMs;
  while (Date.now() < end) {
    const s = await page.evaluate(() => {
      const stage = document.querySelector('[data-testid="stage"]');
      const face = document.querySelector('[data-testid="avatar"]');
      const subs = document.querySelector('[data-testid="subtitles-spoken"]');
      const cur = document.querySelector('[data-testid="subtitles-current"]');
      const phase = document.querySelector('[data-testid="phase-badge"]');
      return {
        clock: Number(stage?.getAttribute("data-clock-ms") ?? NaN),
        viseme: face?.getAttribute("data-viseme") ?? null,
        open: Number(face?.getAttribute("data-mouth-open") ?? NaN),
        subtitle: (subs?.textContent ?? "") + (cur?.textContent ?? ""),
        phase: phase?.getAttribute("data-phase") ?? null,
        playhead: Number(document.querySelector('[data-testid="playhead"]')?.getAttribute("data-t") ?? NaN),
        legend: document.querySelector('[data-testid="viseme-legend"] [data-active="true"]')?.getAttribute("data-viseme") ?? null,
        now: document.querySelector('[data-testid="current-viseme"]')?.getAttribute("data-viseme") ?? null,
        at: performance.now(),
      };
    });
    if (!inspector) { delete s.playhead; delete s.legend; delete s.now; }
    out.push(s);
    if (s.phase === "done" || s.phase === "error") break;
    await sleep(everyMs);
  }
  return out;
}

async function newContext(browser, opts = {}) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, ...opts });
  await ctx.grantPermissions(["clipboard-read", "clipboard-write"]).catch(() => {});
  return ctx;
}

/**
 * Keep a copy of the next /api/avatar/speak/stream response: the request goes to the gateway from the test, and the
 * page gets exactly its bytes (at once rather than streamed: the browser cannot hand a streamed body back). Resolves
 * to the NDJSON events.
 */
async function captureNextStream(page) {
  let resolve;
  const events = new Promise((r) => { resolve = r; });
  let taken = false;
  const handler = async (route) => {
    if (taken) return route.continue();
    taken = true;
    const response = await route.fetch({ timeout: TIMEOUT * 2 });
    const body = await response.text();
    await route.fulfill({ response, body });
    resolve(body.split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l)));
    await page.unroute("**/api/avatar/speak/stream", handler).catch(() => {});
  };
  await page.route("**/api/avatar/speak/stream", handler);
  return { events }; // (wrapped: an async function returning the promise itself would wait for it)
}

const VISEME_NAMES = ["sil", "PP", "FF", "TH", "DD", "kk", "CH", "SS", "nn", "RR", "aa", "E", "ih", "oh", "ou"];

/** Every span the stream sent (`visemes` events), as the inspector should draw them. */
function wireVisemes(events) {
  return events.filter((e) => e.type === "visemes").flatMap((e) => e.visemes ?? [])
    .map((v) => ({ viseme: v.viseme ?? VISEME_NAMES[v.id] ?? "sil", start: v.start_ms, end: v.end_ms }))
    .filter((v) => v.end > v.start).sort((a, b) => a.start - b.start);
}

async function inspectorVisemes(page) {
  return page.locator('[data-testid="inspector-viseme"]').evaluateAll((els) => els.map((e) => ({
    viseme: e.getAttribute("data-viseme"), start: Number(e.getAttribute("data-start")), end: Number(e.getAttribute("data-end")),
  })));
}

/** WCAG contrast of an element's text against its (possibly translucent) background over the card. */
async function contrastOf(page, selector) {
  return page.locator(selector).first().evaluate((el) => {
    const canvas = document.createElement("canvas");
    canvas.width = canvas.height = 1;
    const g = canvas.getContext("2d", { willReadFrequently: true });
    const rgba = (css) => {
      g.clearRect(0, 0, 1, 1);
      g.fillStyle = "#000";
      g.fillStyle = css;
      g.fillRect(0, 0, 1, 1);
      const [r, gg, b, a] = g.getImageData(0, 0, 1, 1).data;
      return [r, gg, b, a / 255];
    };
    let bgEl = el.parentElement;
    let under = [255, 255, 255, 1];
    while (bgEl) {
      const c = rgba(getComputedStyle(bgEl).backgroundColor);
      if (c[3] > 0.99) { under = c; break; }
      bgEl = bgEl.parentElement;
    }
    const own = rgba(getComputedStyle(el).backgroundColor);
    const bg = own.slice(0, 3).map((v, i) => v * own[3] + under[i] * (1 - own[3]));
    const fg = rgba(getComputedStyle(el).color).slice(0, 3);
    const lum = (c) => {
      const [r, gg, b] = c.map((v) => { const s = v / 255; return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4; });
      return 0.2126 * r + 0.7152 * gg + 0.0722 * b;
    };
    const [hi, lo] = [lum(fg), lum(bg)].sort((a, b) => b - a);
    return (hi + 0.05) / (lo + 0.05);
  });
}

async function openDemo(ctx, base, label) {
  const page = await ctx.newPage();
  page.on("console", (m) => {
    if (m.type() === "error") report.console_errors.push(`[${label}] ${m.text()}`);
  });
  page.on("pageerror", (e) => report.console_errors.push(`[${label}] pageerror ${e.message}`));
  const res = await page.goto(base + DEMO, { waitUntil: "networkidle", timeout: TIMEOUT });
  check(`${label}: ${DEMO} loads`, res && res.status() === 200, res ? `HTTP ${res.status()}` : "no response");
  return page;
}

async function waitPhase(page, phases, timeout = TIMEOUT) {
  const want = Array.isArray(phases) ? phases : [phases];
  await page.waitForFunction(
    (w) => w.includes(document.querySelector('[data-testid="phase-badge"]')?.getAttribute("data-phase")),
    want, { timeout, polling: 20 },
  );
  return attr(page, '[data-testid="phase-badge"]', "data-phase");
}

// ---------------------------------------------------------------------------------------------------------------
/** The timeline inspector against the stream the page received (`events`) and the samples taken while playing. */
async function inspectorChecks(page, label, events, playing) {
  const wire = wireVisemes(events);
  const drawn = await inspectorVisemes(page);
  const key = (v) => `${v.viseme}@${v.start}-${v.end}`;
  const drawnKeys = new Set(drawn.map(key));
  const wireKeys = new Set(wire.map(key));
  const missing = wire.filter((v) => !drawnKeys.has(key(v)));
  const extra = drawn.filter((v) => !wireKeys.has(key(v)) && v.viseme !== "sil"); // only silence may fill gaps
  check(`${label}: the viseme track matches the response`, wire.length > 5 && missing.length === 0 && extra.length === 0,
    `${wire.length} spans streamed, ${drawn.length} drawn; missing ${JSON.stringify(missing.slice(0, 3))}; extra ${JSON.stringify(extra.slice(0, 3))}`);
  let gaps = 0;
  for (let i = 1; i < drawn.length; i++) if (drawn[i].start !== drawn[i - 1].end) gaps++;
  check(`${label}: the drawn track is contiguous`, drawn.length > 0 && gaps === 0, `${gaps} gaps`);
  const words = events.filter((e) => e.type === "alignment").flatMap((e) => e.words ?? []);
  const drawnWords = await page.locator('[data-testid="inspector-words"] [data-word]').evaluateAll((els) =>
    els.map((e) => `${e.getAttribute("data-word")}@${e.getAttribute("data-start")}`));
  check(`${label}: word spans are drawn`, words.length > 3 && drawnWords.join(" ") === words.map((w) => `${w.word}@${w.start_ms}`).join(" "),
    `${words.length} words streamed, ${drawnWords.length} drawn`);
  const wave = (await page.locator('[data-testid="inspector-waveform"]').getAttribute("d")) ?? "";
  check(`${label}: the waveform is drawn`, wave.split("M").length > 50, `${wave.split("M").length - 1} columns`);
  const heads = playing.filter((x) => Number.isFinite(x.playhead));
  const span = heads.length ? Math.max(...heads.map((x) => x.playhead)) - Math.min(...heads.map((x) => x.playhead)) : 0;
  check(`${label}: the playhead moves with the audio clock`, heads.length > 5 && span > 500 && heads.every((x) => x.playhead === x.clock),
    `playhead over ${span} ms in ${heads.length} samples`);
  const legend = await page.locator('[data-testid="viseme-legend"] [data-viseme]').count();
  const actives = new Set(playing.map((x) => x.legend).filter(Boolean));
  const agree = playing.filter((x) => x.legend && x.now).every((x) => x.legend === x.now);
  check(`${label}: the 15-viseme legend highlights the current viseme`, legend === 15 && actives.size >= 3 && agree,
    `${legend} entries; active: ${[...actives].join(" ")}`);
  const segments = events.filter((e) => e.type === "segment_end").length;
  const latencies = await page.locator('[data-testid="sentence-latency"] tbody tr').evaluateAll((rows) =>
    rows.map((r) => Number(r.getAttribute("data-first-audio-ms"))));
  check(`${label}: latency per sentence`, segments >= 1 && latencies.length === segments && latencies.every((v, i) => v > 0 && (i === 0 || v >= latencies[i - 1])),
    `${segments} sentences: ${latencies.join(", ")} ms`);
  const final = events.find((e) => e.type === "final");
  await page.locator('[data-testid="copy-json"]').click();
  const copied = JSON.parse(await page.evaluate(() => navigator.clipboard.readText()));
  const same = copied.visemes?.length === drawn.length && copied.visemes.every((v, i) =>
    v.viseme === drawn[i].viseme && v.start_ms === drawn[i].start && v.end_ms === drawn[i].end && v.id === VISEME_NAMES.indexOf(v.viseme));
  check(`${label}: copy JSON gives the line's data`, copied.request_id === final?.request_id && same && copied.words?.length === words.length
    && copied.audio_url === final?.audio_url, `request ${copied.request_id}, ${copied.visemes?.length} visemes`);
  await page.locator('[data-testid="copy-curl"]').click();
  const curl = await page.evaluate(() => navigator.clipboard.readText());
  check(`${label}: copy as curl`, curl.startsWith("curl -s '") && curl.includes("/api/avatar/speak' ") && curl.includes('"character":"innkeeper"'), curl.slice(0, 160));
  const level = await attr(page, '[data-testid="level-badge"]', "data-level");
  const contrast = await contrastOf(page, '[data-testid="level-badge"]');
  check(`${label}: the normal badge's contrast is at least 4.5:1`, level === "normal" && contrast >= 4.5, `${level}: ${contrast.toFixed(2)}:1`);
}

async function mainScenario(browser) {
  const label = "speak";
  const ctx = await newContext(browser);
  const page = await openDemo(ctx, BASE_URL, label);
  try {
    // the health panel polls /api/health
    await page.waitForSelector('[data-testid="health-panel"] li[data-provider]', { timeout: TIMEOUT });
    const providers = await page.locator('[data-testid="health-panel"] li[data-provider]').evaluateAll((els) =>
      els.map((e) => `${e.getAttribute("data-provider")}:${e.getAttribute("data-state")}`));
    check(`${label}: health panel lists providers`, providers.length > 0, providers.join(", "));
    const healthLevel = await attr(page, '[data-testid="health-level"]', "data-level");
    check(`${label}: health panel shows the level`, !!healthLevel, healthLevel);
    // the cast is loaded from /api/avatar/voices
    await page.waitForFunction(() => document.querySelector('[data-testid="character-select"]')?.textContent?.length > 0);
    await shot(page, "01-idle");

    // keyboard only: Tab to the character, open it, type-ahead to Mira, Enter
    check(`${label}: Tab reaches the character select`, await tabTo(page, '[data-testid="character-select"]'));
    await page.keyboard.press("Enter");
    await page.waitForSelector('[role="listbox"]', { timeout: 5000 });
    await page.keyboard.type("Mira", { delay: 30 });
    await page.keyboard.press("Enter");
    await page.waitForSelector('[role="listbox"]', { state: "detached", timeout: 5000 });
    const who = await page.locator('[data-testid="character-select"]').textContent();
    check(`${label}: character picked with the keyboard`, /Mira/.test(who ?? ""), who);

    check(`${label}: Tab reaches the emotion select`, await tabTo(page, '[data-testid="emotion-select"]'));
    await page.keyboard.press("Enter");
    await page.waitForSelector('[role="listbox"]', { timeout: 5000 });
    await page.keyboard.type("happy", { delay: 30 });
    await page.keyboard.press("Enter");
    await page.waitForSelector('[role="listbox"]', { state: "detached", timeout: 5000 });
    const emo = await page.locator('[data-testid="emotion-select"]').textContent();
    check(`${label}: emotion picked with the keyboard`, /happy/.test(emo ?? ""), emo);

    check(`${label}: Tab reaches the line`, await tabTo(page, '[data-testid="line-input"]'));
    const line = "Welcome to the Gilded Goose, traveller! Warm stew and a soft bed, for three silver.";
    await page.keyboard.press("Control+A");
    await page.keyboard.press("Delete");
    await page.keyboard.type(line, { delay: 2 });
    const count = await page.locator('[data-testid="char-count"]').textContent();
    check(`${label}: live character count`, count?.replace(/\s/g, "") === `${line.length}/1000`, count);

    // speak with Ctrl+Enter
    const t0 = Date.now();
    await page.keyboard.press("Control+Enter");
    const phase = await waitPhase(page, ["playing", "done", "error"]);
    check(`${label}: audio starts playing`, phase === "playing", `phase ${phase} after ${Date.now() - t0} ms`);
    const samples = await sampleStage(page, 12000);
    report.samples[label] = samples;
    const playing = samples.filter((s) => s.phase === "playing");
    const clocks = playing.map((s) => s.clock).filter(Number.isFinite);
    const advance = clocks.length ? Math.max(...clocks) - Math.min(...clocks) : 0;
    check(`${label}: the audio clock advances`, advance > 500, `clock ${Math.min(...clocks)} → ${Math.max(...clocks)} ms over ${playing.length} samples`);
    let backwards = 0;
    for (let i = 1; i < clocks.length; i++) if (clocks[i] < clocks[i - 1]) backwards++;
    check(`${label}: the clock never runs backwards`, backwards === 0, `${backwards} backward steps`);
    const visemes = new Set(playing.map((s) => s.viseme));
    check(`${label}: mouth shapes change (>= 4 visemes)`, visemes.size >= 4, [...visemes].join(" "));
    const opens = playing.map((s) => s.open).filter(Number.isFinite);
    check(`${label}: the mouth opens and closes`, Math.max(...opens) - Math.min(...opens) > 0.3,
      `open ${Math.min(...opens).toFixed(2)}..${Math.max(...opens).toFixed(2)}`);
    const subs = playing.map((s) => s.subtitle.length);
    const firstWords = subs.find((n) => n > 0) ?? 0;
    check(`${label}: subtitles appear as the words are spoken`, firstWords > 0 && firstWords < line.length && Math.max(...subs) > firstWords,
      `first ${firstWords} chars, then up to ${Math.max(...subs)} of ${line.length}`);
    // mid-line screenshot: re-speak is not needed, the samples prove motion; keep the visual too
    await waitPhase(page, ["done", "error"]);
    const final = await waitPhase(page, ["done"], 5000).catch(() => null);
    check(`${label}: the line finishes`, final === "done", final);
    const provider = await attr(page, '[data-testid="provider-badge"]', "data-provider");
    check(`${label}: the provider badge shows who spoke`, ["piper", "kokoro", "espeak", "cache", "elevenlabs", "fish_audio", "canned"].includes(provider ?? ""), provider);
    const level = await attr(page, '[data-testid="level-badge"]', "data-level");
    check(`${label}: the level badge shows the degradation level`, /^(normal|degraded-[123]|offline)$/.test(level ?? ""), level);
    const pct = await attr(page, '[data-testid="playback-progress"]', "aria-valuenow");
    check(`${label}: playback progress reaches 100`, pct === "100", pct);
    const subtitle = (await page.locator('[data-testid="subtitles-spoken"]').textContent())?.trim();
    check(`${label}: the whole line is subtitled at the end`, subtitle === line, subtitle);
    const stepStates = await page.locator('[data-testid="steps"] [data-step]').evaluateAll((els) =>
      Object.fromEntries(els.map((e) => [e.getAttribute("data-step"), e.getAttribute("data-state")])));
    check(`${label}: every stage is done`, stepStates.synth === "done" && stepStates.lipsync === "done" && stepStates.play === "done", JSON.stringify(stepStates));
    const firstAudio = await page.locator('[data-timing="first-audio"] dd').textContent();
    check(`${label}: timings are shown`, /\d+ ?m?s/.test(firstAudio ?? ""), `first audio ${firstAudio}`);
    const rows = await page.locator('[data-testid="history"] tbody tr').count();
    check(`${label}: the line is in the history`, rows === 1, `${rows} rows`);
    await shot(page, "03-done");

    // the timeline inspector, against a copy of the very response the page got
    const streamed = await captureNextStream(page);
    await page.locator('[data-testid="line-input"]').fill("Two rooms are left, one with a view of the river. Breakfast is served at dawn.");
    await page.locator('[data-testid="speak-button"]').click();
    await waitPhase(page, ["playing", "error"]);
    const inspected = (await sampleStage(page, 15000, 40, true)).filter((x) => x.phase === "playing");
    await waitPhase(page, ["done", "error"]);
    await inspectorChecks(page, "inspector", await streamed.events, inspected);
    await shot(page, "03b-inspector");

    // speak again (Speak button via keyboard) and capture the face mid-line
    check(`${label}: Tab reaches Speak`, await tabTo(page, '[data-testid="speak-button"]'));
    await page.keyboard.press("Enter");
    await waitPhase(page, ["playing"]);
    await page.waitForFunction(() => Number(document.querySelector('[data-testid="stage"]')?.getAttribute("data-clock-ms")) > 900,
      null, { timeout: TIMEOUT, polling: 20 });
    await shot(page, "02-speaking");
    // Escape stops the line: not a failure, and the mouth closes
    await page.keyboard.press("Escape");
    const stopped = await waitPhase(page, ["stopped"], 5000).catch(() => null);
    check(`${label}: Escape stops the line`, stopped === "stopped", stopped);
    await stopChecks(page, label, 3);

    // the Stop button does the same, mid-line
    await page.locator('[data-testid="line-input"]').fill("Stay a while and listen, for this tale is long and winding, and it will take some time to tell.");
    await page.locator('[data-testid="speak-button"]').click();
    await waitPhase(page, ["playing"]);
    await page.waitForFunction(() => Number(document.querySelector('[data-testid="stage"]')?.getAttribute("data-clock-ms")) > 700,
      null, { timeout: TIMEOUT, polling: 20 });
    await page.locator('[data-testid="stop-button"]').click();
    check(`${label}: Stop stops the line`, (await waitPhase(page, ["stopped"], 5000).catch(() => null)) === "stopped");
    await stopChecks(page, "stop-button", 4);
    await shot(page, "11-stopped");

    // ask for a video on a gateway without video workers: the line is audio-only (degraded-1) and says why
    check(`${label}: Tab reaches the video toggle`, await tabTo(page, '[data-testid="video-toggle"]'));
    await page.keyboard.press("Space");
    check(`${label}: the video toggle is checked with Space`, await page.locator('[data-testid="video-toggle"]').isChecked());
    await page.locator('[data-testid="line-input"]').fill("Just one more thing.");
    await page.locator('[data-testid="line-input"]').press("Control+Enter");
    await waitPhase(page, ["done", "error"]);
    const videoStep = await attr(page, '[data-testid="steps"] [data-step="video"]', "data-state");
    check(`${label}: the video stage fails without workers`, videoStep === "failed", videoStep);
    const novideo = await page.locator('[data-testid="notice-video"]').textContent().catch(() => "");
    check(`${label}: a notice says why there is no video`, /No video/.test(novideo ?? "") && /no video workers/.test(novideo ?? ""), novideo);
    const level1 = await attr(page, '[data-testid="level-badge"]', "data-level");
    check(`${label}: audio without video is degraded-1`, level1 === "degraded-1", level1);
    await shot(page, "08-no-video");
  } catch (err) {
    check(`${label}: scenario ran`, false, err?.stack ?? err);
    await shot(page, `99-failure-${label}`).catch(() => {});
  } finally {
    await ctx.close();
  }
}

/** After a stop: no stage failed, no failure notice, the mouth back at rest, the history says "stopped". */
async function stopChecks(page, label, rows) {
  const steps = await page.locator('[data-testid="steps"] [data-step]').evaluateAll((els) =>
    Object.fromEntries(els.map((e) => [e.getAttribute("data-step"), e.getAttribute("data-state")])));
  check(`${label}: a stop is not shown as a failure`, !Object.values(steps).includes("failed")
    && (await page.locator('[data-testid="notice-stream-error"]').count()) === 0
    && (await attr(page, '[data-testid="phase-badge"]', "class"))?.includes("destructive") === false, JSON.stringify(steps));
  const closed = await page.waitForFunction(() => {
    const face = document.querySelector('[data-testid="avatar"]');
    return face && Number(face.getAttribute("data-mouth-open")) <= 0.02 ? face.getAttribute("data-viseme") : null;
  }, null, { timeout: 2000, polling: 20 }).then((h) => h.jsonValue()).catch(() => null);
  check(`${label}: the mouth closes after a stop`, closed !== null,
    `open ${await attr(page, '[data-testid="avatar"]', "data-mouth-open")}`);
  await page.waitForFunction((n) => document.querySelectorAll('[data-testid="history"] tbody tr').length >= n, rows, { timeout: 5000 }).catch(() => {});
  const outcome = await attr(page, '[data-testid="history"] tbody tr', "data-outcome");
  check(`${label}: the history says stopped`, outcome === "stopped", outcome);
}

// ---------------------------------------------------------------------------------------------------------------
async function inputScenario(browser) {
  const label = "input";
  const ctx = await newContext(browser);
  const page = await openDemo(ctx, BASE_URL, label);
  try {
    const input = page.locator('[data-testid="line-input"]');
    const speak = page.locator('[data-testid="speak-button"]');
    for (const who of ["Queen", "Narrator"]) {
      await page.locator('[data-testid="character-select"]').click();
      await page.getByRole("option", { name: new RegExp(who) }).click();
      const fit = await page.locator('[data-testid="emotion-select"] > span').first().evaluate((e) =>
        ({ text: e.textContent, clipped: e.scrollWidth > e.clientWidth + 1 || e.scrollHeight > e.clientHeight + 1 }));
      check(`${label}: the emotion select shows its whole text (${who})`, !fit.clipped && /Default \(\w+\)/.test(fit.text ?? ""), fit.text);
    }
    await input.fill("   ");
    await input.blur();
    check(`${label}: empty text disables Speak`, await speak.isDisabled());
    const hint = await page.locator('[data-testid="line-hint"]').textContent();
    check(`${label}: empty text says so`, /Type a line/.test(hint ?? ""), hint);

    await input.fill("A".repeat(1001));
    const count = await page.locator('[data-testid="char-count"]').textContent();
    check(`${label}: the count shows the limit`, count?.replace(/\s/g, "") === "1001/1000", count);
    check(`${label}: too long disables Speak`, await speak.isDisabled());
    const hint2 = await page.locator('[data-testid="line-hint"]').textContent();
    check(`${label}: too long says by how much`, /1 character over the 1000-character limit/.test(hint2 ?? ""), hint2);
    check(`${label}: the field is marked invalid`, (await input.getAttribute("aria-invalid")) === "true");
    await shot(page, "04-too-long");

    // rate limited: the gateway answers 429 with Retry-After (simulated at the network layer)
    await page.route("**/api/avatar/speak/stream", (route) => route.fulfill({
      status: 429, headers: { "content-type": "application/json", "retry-after": "3" },
      body: JSON.stringify({ error: "rate_limited", message: "Too many requests for this client" }),
    }));
    await input.fill("Halt! Who goes there?");
    await speak.click();
    await page.waitForSelector('[data-testid="problem-rate-limited"]', { timeout: TIMEOUT });
    const label429 = await speak.textContent();
    check(`${label}: 429 shows a countdown and blocks Speak`, /Wait [1-3]s/.test(label429 ?? "") && (await speak.isDisabled()), label429);
    await shot(page, "05-rate-limited");
    await page.unroute("**/api/avatar/speak/stream");
    await page.waitForFunction(() => !document.querySelector('[data-testid="speak-button"]')?.hasAttribute("disabled"), null, { timeout: 8000 });
    check(`${label}: Speak comes back after Retry-After`, !(await speak.isDisabled()));

    // a 400 from the gateway (limit lower than the page thought) is shown with the gateway's message
    await page.route("**/api/avatar/speak/stream", (route) => route.fulfill({
      status: 400, headers: { "content-type": "application/json" },
      body: JSON.stringify({ error: "bad_request", message: "Text is too long: 21 characters; the limit is 20", limit: 20 }),
    }));
    await speak.click();
    await page.waitForSelector('[data-testid="problem-rejected"]', { timeout: TIMEOUT });
    const count2 = await page.locator('[data-testid="char-count"]').textContent();
    check(`${label}: a 400 with limit updates the count`, count2?.replace(/\s/g, "") === "21/20", count2);
    await page.unroute("**/api/avatar/speak/stream");
  } catch (err) {
    check(`${label}: scenario ran`, false, err?.stack ?? err);
    await shot(page, `99-failure-${label}`).catch(() => {});
  } finally {
    await ctx.close();
  }
}

// ---------------------------------------------------------------------------------------------------------------
async function fallbackScenario(browser) {
  // phone width, and the first provider is down: the fallback answers and the page says so
  const label = "fallback-phone";
  const ctx = await newContext(browser, { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
  const page = await openDemo(ctx, FALLBACK_URL, label);
  try {
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    check(`${label}: no horizontal scrolling at 390 px`, overflow <= 1, `overflow ${overflow}px`);
    await page.waitForSelector('[data-testid="health-panel"] li[data-state="down"]', { timeout: TIMEOUT });
    check(`${label}: the health panel shows a provider down`, true);
    await page.locator('[data-testid="line-input"]').fill("Halt! Who goes there? Speak your name.");
    await page.locator('[data-testid="speak-button"]').tap();
    await waitPhase(page, ["playing", "error"]);
    const samples = await sampleStage(page, 12000);
    report.samples[label] = samples;
    const clocks = samples.filter((s) => s.phase === "playing").map((s) => s.clock);
    check(`${label}: the fallback's audio plays`, clocks.length > 2 && Math.max(...clocks) > 300, `clock up to ${Math.max(...clocks, 0)} ms`);
    await waitPhase(page, ["done"]);
    const provider = await attr(page, '[data-testid="provider-badge"]', "data-provider");
    check(`${label}: the badge shows the fallback that answered`, provider === "espeak", provider);
    const level = await attr(page, '[data-testid="level-badge"]', "data-level");
    check(`${label}: the level is degraded-2`, level === "degraded-2", level);
    const notice = await page.locator('[data-testid="notice-fallback"]').textContent().catch(() => "");
    check(`${label}: a notice names the fallback`, /espeak/.test(notice ?? "") && /piper/.test(notice ?? ""), notice);
    const overflow2 = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    check(`${label}: still no horizontal scrolling after a line`, overflow2 <= 1, `overflow ${overflow2}px`);
    await shot(page, "06-phone-fallback");
  } catch (err) {
    check(`${label}: scenario ran`, false, err?.stack ?? err);
    await shot(page, `99-failure-${label}`).catch(() => {});
  } finally {
    await ctx.close();
  }
}

// ---------------------------------------------------------------------------------------------------------------
async function phoneScenario(browser) {
  // 390 x 844: the form is below the face; speaking from it must keep a face in view, a long line must not leave a
  // screen-high blank subtitle box, and Stop must stop
  const label = "phone";
  const ctx = await newContext(browser, { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
  const page = await openDemo(ctx, BASE_URL, label);
  try {
    const long = "The caravan left at dawn, and the road was long. ".repeat(14).trim();
    await page.locator('[data-testid="line-input"]').fill(long);
    const speak = page.locator('[data-testid="speak-button"]');
    await speak.scrollIntoViewIfNeeded();
    await speak.tap();
    await waitPhase(page, ["playing"]);
    const seen = [];
    // sample until the face in view has shown a few visemes (a sentence's track comes once it is synthesized)
    for (let i = 0; i < 160 && (i < 40 || new Set(seen.map((x) => x.viseme)).size < 3); i++) {
      seen.push(await page.evaluate(() => {
        const faces = [...document.querySelectorAll('[data-testid="avatar"]')].map((e) => ({ r: e.getBoundingClientRect(), v: e.getAttribute("data-viseme") }));
        const inView = faces.find(({ r }) => r.height > 60 && r.top >= 0 && r.bottom <= window.innerHeight && r.left >= 0 && r.right <= window.innerWidth);
        return { inView: !!inView, viseme: inView?.v ?? null, pinned: !!document.querySelector('[data-testid="pinned-face"]'),
                 speakInView: (() => { const r = document.querySelector('[data-testid="speak-button"]').getBoundingClientRect(); return r.top >= 0 && r.bottom <= window.innerHeight; })(),
                 subtitles: document.querySelector('[data-testid="subtitles"]').getBoundingClientRect().height };
      }));
      await sleep(60);
    }
    report.samples[label] = seen;
    check(`${label}: the Speak button is in view (the face is not)`, seen[0].speakInView, JSON.stringify(seen[0]));
    check(`${label}: a face stays in view while speaking`, seen.every((x) => x.inView), `${seen.filter((x) => x.inView).length}/${seen.length} samples`);
    check(`${label}: the face in view is pinned and moves`, seen.some((x) => x.pinned) && new Set(seen.map((x) => x.viseme)).size >= 3,
      [...new Set(seen.map((x) => x.viseme))].join(" "));
    const tallest = Math.max(...seen.map((x) => x.subtitles));
    check(`${label}: a long line keeps the subtitle box small`, tallest < 160, `${Math.round(tallest)} px for ${long.length} characters`);
    await shot(page, "12-phone-speaking");
    await page.locator('[data-testid="stop-button"]').tap();
    check(`${label}: Stop stops the line`, (await waitPhase(page, ["stopped"], 5000).catch(() => null)) === "stopped");
    await stopChecks(page, label, 1);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    check(`${label}: no horizontal scrolling with the inspector`, overflow <= 1, `overflow ${overflow}px`);
  } catch (err) {
    check(`${label}: scenario ran`, false, err?.stack ?? err);
    await shot(page, `99-failure-${label}`).catch(() => {});
  } finally {
    await ctx.close();
  }
}

// ---------------------------------------------------------------------------------------------------------------
async function outageScenario(browser) {
  // a gateway with an admin key: pick a voice, then break providers from the page and watch the fail-over
  const label = "outage";
  const ctx = await newContext(browser);
  const page = await openDemo(ctx, ADMIN_URL, label);
  const speakLine = async (text) => {
    await page.locator('[data-testid="line-input"]').fill(text);
    await page.locator('[data-testid="speak-button"]').click();
    await waitPhase(page, ["done", "error"], TIMEOUT * 2);
    return { provider: await attr(page, '[data-testid="provider-badge"]', "data-provider"),
             level: await attr(page, '[data-testid="level-badge"]', "data-level") };
  };
  try {
    await page.waitForSelector('[data-testid="outage-panel"][data-access="needs-key"]', { timeout: TIMEOUT });
    await page.locator('[data-testid="admin-key-input"]').fill(ADMIN_KEY);
    await page.locator('[data-testid="admin-key-button"]').click();
    await page.waitForSelector('[data-testid="outage-panel"] li[data-provider]', { timeout: TIMEOUT });
    check(`${label}: the admin key opens the outage switches`, true);
    // the chain's first provider (the panel lists them in chain order)
    const primary = await attr(page, '[data-testid="outage-panel"] li[data-provider]', "data-provider");

    // the voice picker: a voice of another provider goes first
    await page.locator('[data-testid="voice-select"]').click();
    const other = page.getByRole("option").filter({ hasText: / · / }).filter({ hasNotText: new RegExp(`^${primary} · `) }).first();
    const otherProvider = ((await other.textContent()) ?? "").split(" · ")[0];
    await other.click();
    const picked = await speakLine("A voice of my choosing.");
    // (normal, or degraded-1 should this gateway's video worker be too slow right now: the voice is what counts)
    check(`${label}: a picked voice's provider speaks`, picked.provider === otherProvider && ["normal", "degraded-1"].includes(picked.level ?? ""),
      `${otherProvider}: ${JSON.stringify(picked)}`);
    await page.locator('[data-testid="voice-select"]').click();
    await page.getByRole("option", { name: /character's voice/ }).click();

    await page.locator(`[data-testid="outage-${primary}"]`).click();
    await page.waitForSelector(`[data-testid="outage-panel"] li[data-provider="${primary}"][data-breaker="open"]`, { timeout: TIMEOUT });
    const failover = await speakLine("The road north is closed. Turn back.");
    check(`${label}: with the first provider broken the next one answers (degraded-2)`,
      failover.provider && failover.provider !== primary && failover.level === "degraded-2", `${primary} broken: ${JSON.stringify(failover)}`);
    const notice = await page.locator('[data-testid="notice-fallback"]').textContent().catch(() => "");
    check(`${label}: the page says a fallback answered`, notice.includes(failover.provider ?? "?"), notice);
    await page.waitForSelector(`[data-testid="health-panel"] li[data-provider="${primary}"][data-state="down"]`, { timeout: TIMEOUT });
    check(`${label}: the health panel shows the broken provider down`, true);
    await shot(page, "13-outage-failover");

    await page.locator('[data-testid="outage-all"]').click();
    await page.waitForFunction(() => [...document.querySelectorAll('[data-testid="outage-panel"] li[data-breaker]')]
      .every((li) => li.getAttribute("data-breaker") !== "closed"), null, { timeout: TIMEOUT });
    await page.locator('[data-testid="line-input"]').fill("Is anyone there?");
    await page.locator('[data-testid="speak-button"]').click();
    await page.waitForSelector('[data-testid="notice-text-only"]', { timeout: TIMEOUT });
    const level3 = await attr(page, '[data-testid="level-badge"]', "data-level");
    check(`${label}: with every provider broken the line is text only (degraded-3)`, level3 === "degraded-3", level3);
    await shot(page, "14-outage-text-only");

    await page.locator('[data-testid="outage-restore"]').click();
    await page.waitForFunction(() => [...document.querySelectorAll('[data-testid="outage-panel"] li[data-breaker]')]
      .every((li) => li.getAttribute("data-breaker") === "closed"), null, { timeout: TIMEOUT });
    const back = await speakLine("All is well again.");
    check(`${label}: restored, the first choice speaks again`, back.provider === primary, JSON.stringify(back));
  } catch (err) {
    check(`${label}: scenario ran`, false, err?.stack ?? err);
    await shot(page, `99-failure-${label}`).catch(() => {});
  } finally {
    await ctx.close();
  }
}

// ---------------------------------------------------------------------------------------------------------------
async function textOnlyScenario(browser) {
  const label = "text-only";
  const ctx = await newContext(browser);
  const page = await openDemo(ctx, TEXTONLY_URL, label);
  try {
    await page.locator('[data-testid="line-input"]').fill("Nobody can voice this line, but the face still mouths it.");
    await page.locator('[data-testid="speak-button"]').click();
    await page.waitForSelector('[data-testid="notice-text-only"]', { timeout: TIMEOUT });
    check(`${label}: the page says it is text only`, true);
    const samples = await sampleStage(page, 8000);
    report.samples[label] = samples;
    const visemes = new Set(samples.map((s) => s.viseme));
    check(`${label}: the estimated mouth track still moves`, visemes.size >= 3, [...visemes].join(" "));
    check(`${label}: subtitles still appear`, samples.some((s) => s.subtitle.length > 0));
    const provider = await attr(page, '[data-testid="provider-badge"]', "data-provider");
    const providerText = await page.locator('[data-testid="provider-badge"]').textContent();
    check(`${label}: no provider`, provider === "" && /no voice/.test(providerText ?? ""), providerText);
    const level = await attr(page, '[data-testid="level-badge"]', "data-level");
    check(`${label}: the level is degraded-3`, level === "degraded-3", level);
    await shot(page, "07-text-only");
  } catch (err) {
    check(`${label}: scenario ran`, false, err?.stack ?? err);
    await shot(page, `99-failure-${label}`).catch(() => {});
  } finally {
    await ctx.close();
  }
}

// ---------------------------------------------------------------------------------------------------------------
async function videoScenario(browser) {
  // a gateway with a video pool: the blacksmith has a default avatar, so the line comes back with an MP4
  const label = "video";
  const ctx = await newContext(browser);
  const page = await openDemo(ctx, VIDEO_URL, label);
  try {
    await page.waitForSelector('[data-testid="health-panel"] li[data-provider="video"][data-state="up"]', { timeout: TIMEOUT });
    check(`${label}: the health panel shows the video pool up`, true);
    await page.locator('[data-testid="character-select"]').click();
    await page.getByRole("option", { name: /Brannoc/ }).click();
    await page.locator('[data-testid="line-input"]').fill("The forge is hot. What do you need mended, friend?");
    await page.locator('[data-testid="speak-button"]').click();
    await page.waitForFunction(() => {
      const v = document.querySelector('[data-testid="steps"] [data-step="video"]');
      return v && v.getAttribute("data-state") !== "pending";
    }, null, { timeout: TIMEOUT, polling: 20 });
    check(`${label}: a rendering stage appears`, true);
    await page.waitForSelector('[data-testid="video"]', { timeout: TIMEOUT });
    const src = await attr(page, '[data-testid="video"]', "src");
    check(`${label}: the MP4 from the pool is shown`, /\/api\/avatar\/video\/[0-9a-f]{32}/.test(src ?? ""), src);
    const played = await page.waitForFunction(() => {
      const v = document.querySelector('[data-testid="video"]');
      return v && v.readyState >= 2 && (v.currentTime > 0.2 || v.ended) ? { t: v.currentTime, d: v.duration } : null;
    }, null, { timeout: TIMEOUT, polling: 50 }).then((h) => h.jsonValue()).catch(() => null);
    check(`${label}: the browser plays the MP4`, !!played, played ? `at ${played.t.toFixed(2)} of ${played.d.toFixed(2)} s` : "not playing");
    const step = await attr(page, '[data-testid="steps"] [data-step="video"]', "data-state");
    check(`${label}: the rendering stage is done`, step === "done", step);
    const level = await attr(page, '[data-testid="level-badge"]', "data-level");
    check(`${label}: the level stays normal with video`, level === "normal", level);
    await shot(page, "09-video");
  } catch (err) {
    check(`${label}: scenario ran`, false, err?.stack ?? err);
    await shot(page, `99-failure-${label}`).catch(() => {});
  } finally {
    await ctx.close();
  }
}

// ---------------------------------------------------------------------------------------------------------------
async function rateLimitScenario(browser) {
  // FALLBACK_URL allows one speak request per minute per client: one more line gets a real 429 + Retry-After
  const label = "rate-limit";
  const ctx = await newContext(browser);
  const page = await openDemo(ctx, FALLBACK_URL, label);
  try {
    let limited = false;
    for (let attempt = 0; attempt < 3 && !limited; attempt++) {
      await page.locator('[data-testid="line-input"]').fill(`Again, attempt ${attempt + 1}.`);
      await page.locator('[data-testid="speak-button"]').click();
      const phase = await waitPhase(page, ["rate-limited", "playing", "error", "refused"]);
      limited = phase === "rate-limited";
      if (phase !== "playing") break;
      await waitPhase(page, ["done", "error"]); // the minute window rolled over: the next one is limited
    }
    check(`${label}: the gateway's 429 shows the rate-limited state`, limited);
    const text = await page.locator('[data-testid="problem-rate-limited"]').textContent().catch(() => "");
    check(`${label}: it says when to retry`, /Rate limit/.test(text ?? "") && /again in \d+/.test(text ?? ""), text);
    check(`${label}: Speak waits for Retry-After`, await page.locator('[data-testid="speak-button"]').isDisabled());
    await shot(page, "10-rate-limited-real");
  } catch (err) {
    check(`${label}: scenario ran`, false, err?.stack ?? err);
    await shot(page, `99-failure-${label}`).catch(() => {});
  } finally {
    await ctx.close();
  }
}

// ---------------------------------------------------------------------------------------------------------------
let browser;
try {
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--autoplay-policy=no-user-gesture-required",
    ],
    timeout: 60000,
  });
  report.browser = browser.version();
  await mainScenario(browser);
  await inputScenario(browser);
  await phoneScenario(browser);
  if (FALLBACK_URL) await fallbackScenario(browser);
  if (FALLBACK_URL && RATE_LIMITED) await rateLimitScenario(browser);
  if (TEXTONLY_URL) await textOnlyScenario(browser);
  if (VIDEO_URL) await videoScenario(browser);
  if (ADMIN_URL && ADMIN_KEY) await outageScenario(browser);
} catch (err) {
  check("browser starts", false, err?.stack ?? err);
} finally {
  await browser?.close().catch(() => {});
}
const pageErrors = report.console_errors.filter((e) => /pageerror/.test(e));
check("no uncaught page errors", pageErrors.length === 0, pageErrors.join(" | "));
report.passed = failed === 0;
report.failed = failed;
writeFileSync(join(ARTIFACTS, "report.json"), JSON.stringify(report, null, 2));
console.log(`E2E_RESULT ${JSON.stringify({ passed: report.passed, failed, checks: report.checks.length, artifacts: ARTIFACTS })}`);
process.exit(failed === 0 ? 0 : 1);
