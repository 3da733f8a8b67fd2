import { describe, expect, it } from "vitest";

import { AdminClient, readAdminState } from "@/lib/admin";
import { voiceOptions } from "@/lib/api";
import { VISEME_COLORS, VISEME_SOUNDS, curlFor, keyAt, lineData, shellQuote, spanBox } from "@/lib/inspect";
import { normalizeTrack, subtitleAt, subtitleWindow } from "@/lib/track";
import { VISEMES } from "@/lib/visemes";
import { WaveformTrack } from "@/lib/waveform";

describe("WaveformTrack", () => {
  it("keeps min/max peaks per bucket at each chunk's start and cuts at a switch", () => {
    const w = new WaveformTrack(10);
    // 20 ms at 1 kHz: a quiet bucket then a loud one
    w.add(new Float32Array([0.1, -0.1, 0.05, 0, 0, 0, 0, 0, 0, 0, 0.9, -0.8, 0, 0, 0, 0, 0, 0, 0, 0]), 1000, 0);
    expect(w.mins.length).toBe(2);
    expect(w.maxs[0]).toBeCloseTo(0.1);
    expect(w.mins[1]).toBeCloseTo(-0.8);
    expect(w.maxs[1]).toBeCloseTo(0.9);
    // a chunk further on leaves silence in between
    w.add(new Float32Array(10).fill(0.5), 1000, 50);
    expect(w.endMs).toBe(60);
    expect(w.maxs[3]).toBe(0);
    expect(w.maxs[5]).toBeCloseTo(0.5);
    const cols = w.columns(3, 60);
    expect(cols.map((c) => +c.max.toFixed(2))).toEqual([0.9, 0, 0.5]);
    w.truncate(20);
    expect(w.endMs).toBe(20);
    expect(w.columns(0, 20)).toEqual([]);
  });

  it("places a chunk that starts inside a bucket", () => {
    const w = new WaveformTrack(10);
    w.add(new Float32Array(10).fill(-0.4), 1000, 15); // 15..25 ms: buckets 1 and 2
    expect(w.mins.map((v) => +v.toFixed(1))).toEqual([0, -0.4, -0.4]);
  });
});

describe("inspector data", () => {
  const keys = normalizeTrack([{ viseme: "PP", start_ms: 0, end_ms: 80 }, { viseme: "aa", start_ms: 100, end_ms: 300 }]);

  it("lays spans on the strip and finds the key at t", () => {
    expect(spanBox(100, 300, 400, 800)).toEqual({ x: 200, w: 400 });
    expect(spanBox(350, 500, 400, 800)).toEqual({ x: 700, w: 100 }); // clipped at the end
    expect(spanBox(0, 10, 0, 800)).toEqual({ x: 0, w: 0 });
    expect(keyAt(keys, 50)?.viseme).toBe("PP");
    expect(keyAt(keys, 90)?.viseme).toBe("sil"); // the gap filled with silence
    expect(keyAt(keys, 299)?.viseme).toBe("aa");
    expect(keyAt(keys, 300)).toBeNull();
    expect(keyAt([], 0)).toBeNull();
  });

  it("has a colour and a sound for each of the 15 visemes", () => {
    expect(VISEMES).toHaveLength(15);
    expect(new Set(VISEMES.map((v) => VISEME_COLORS[v])).size).toBe(15);
    expect(VISEMES.every((v) => VISEME_SOUNDS[v])).toBe(true);
  });

  it("writes a curl that a shell reads back as the same body, never with the key", () => {
    const body = { text: "It's a 'quoted' line; $HOME stays", character: "rogue" };
    const curl = curlFor("http://127.0.0.1:8080/", body, true);
    expect(curl).toContain("'http://127.0.0.1:8080/api/avatar/speak'");
    expect(curl).toContain(`-H "Authorization: Bearer $MOUTHPIECE_API_KEY"`);
    const quoted = curl.slice(curl.indexOf("-d ") + 3);
    expect(quoted).toBe(shellQuote(JSON.stringify(body)));
    // undo the shell quoting: '...'\''...' -> ...'...
    const unquoted = quoted.slice(1, -1).replace(/'\\''/g, "'");
    expect(JSON.parse(unquoted)).toEqual(body);
    expect(curlFor("http://h", { text: "x" })).not.toContain("Authorization");
  });

  it("gives the line's data in the speak response's names, Oculus ids included", () => {
    const data = lineData({
      requestId: "r1", text: "Hi.", final: { audio_url: "/a", video_url: null, duration: 0.3 }, provider: "piper",
      level: "normal", reasons: [], keys, words: [{ word: "Hi", start_ms: 0, end_ms: 300, char_start: 0, char_end: 2 }],
    });
    expect(data.visemes).toEqual([
      { viseme: "PP", id: 1, start_ms: 0, end_ms: 80 }, { viseme: "sil", id: 0, start_ms: 80, end_ms: 100 },
      { viseme: "aa", id: 10, start_ms: 100, end_ms: 300 },
    ]);
    expect(data).toMatchObject({ request_id: "r1", audio_url: "/a", duration: 0.3, provider: "piper", words: [{ word: "Hi" }] });
  });
});

describe("subtitleWindow", () => {
  const long = "First sentence is here. " + "Second one goes on and on. ".repeat(8) + "Last one.";
  const words = [...long.matchAll(/\S+/g)].map((m, i) => ({
    word: m[0], start_ms: i * 100, end_ms: i * 100 + 80, char_start: m.index ?? 0, char_end: (m.index ?? 0) + m[0].length,
  }));

  it("leaves short lines whole", () => {
    const parts = subtitleAt("Short line. Two sentences.", [], 0);
    expect(subtitleWindow(parts)).toEqual({ ...parts, before: "", after: "" });
  });

  it("shows only the sentence being spoken of a long line", () => {
    const w = subtitleWindow(subtitleAt(long, words, 510)); // the 6th word: "one" of the second sentence
    expect(w.current).toBe("one");
    expect(w.spoken).toBe("Second ");
    expect(w.rest).toBe(" goes on and on.");
    expect(w.before).toBe("… ");
    expect(w.after).toBe(" …");
    const all = w.before + w.spoken + w.current + w.rest + w.after;
    expect(all.length).toBeLessThan(60);
  });

  it("keeps the last sentence up between sentences and shows the end whole", () => {
    const between = subtitleWindow(subtitleAt(long, words, 390)); // after "here." before "Second"
    expect(between.current).toBe("");
    expect(between.spoken).toBe("First sentence is here.");
    const end = subtitleWindow(subtitleAt(long, words, 1e6));
    expect(end.spoken).toBe("Last one.");
    expect(end.after).toBe("");
  });

  it("cuts a very long sentence around the current word, at spaces", () => {
    const text = Array.from({ length: 80 }, (_, i) => `word${i}`).join(" ");
    const ws = [...text.matchAll(/\S+/g)].map((m, i) => ({
      word: m[0], start_ms: i * 100, end_ms: i * 100 + 80, char_start: m.index ?? 0, char_end: (m.index ?? 0) + m[0].length,
    }));
    const w = subtitleWindow(subtitleAt(text, ws, 4010), 120);
    expect(w.current).toBe("word40");
    const shown = w.spoken + w.current + w.rest;
    expect(shown.length).toBeLessThanOrEqual(120);
    expect(shown.startsWith("word")).toBe(true);
    expect(shown.endsWith(" ")).toBe(false);
    expect(w.before).toBe("… ");
    expect(w.after).toBe(" …");
  });
});

describe("voice picker", () => {
  it("reads the gateway's voices and the original contract's shape", () => {
    const opts = voiceOptions([
      { voice_id: "piper:joe", provider: "piper", name: "Joe" },
      { voice_id: "kokoro:af_heart", provider: "kokoro", name: "Heart" },
      { id: "21m00Tcm4TlvDq8ikWAM", name: "Rachel", preview_url: "https://x" },
      { voice_id: "piper:joe", provider: "piper", name: "Joe" },
      null, 7,
    ]);
    expect(opts.map((o) => o.id)).toEqual(["21m00Tcm4TlvDq8ikWAM", "kokoro:af_heart", "piper:joe"]);
    expect(opts[1].label).toBe("kokoro · Heart");
    expect(voiceOptions(undefined)).toEqual([]);
  });
});

describe("outage switch (admin API)", () => {
  it("tells off, needs-key, wrong-key and ok apart", async () => {
    expect(readAdminState(403, { error: "admin_disabled", message: "off" }).access).toBe("off");
    expect(readAdminState(401, { error: "unauthorized" }).access).toBe("needs-key");
    const ok = readAdminState(200, { degradation_level: "degraded-2", providers: {
      piper: { state: "down", reason: "circuit open", breaker: { state: "open" } }, kokoro: { state: "up", breaker: { state: "closed" } } } });
    expect(ok).toMatchObject({ access: "ok", level: "degraded-2" });
    expect(ok.breakers).toEqual([
      { provider: "piper", state: "open", health: "down", reason: "circuit open" },
      { provider: "kokoro", state: "closed", health: "up", reason: "" },
    ]);
    const refused = new AdminClient("bad", async () => new Response(JSON.stringify({ error: "unauthorized" }), { status: 401 }), "");
    expect((await refused.state()).access).toBe("wrong-key");
  });

  it("forces a breaker open or closed with the admin key", async () => {
    const calls: { url: string; init?: RequestInit }[] = [];
    const admin = new AdminClient("k3y", async (url, init) => {
      calls.push({ url, init });
      return new Response("{}", { status: 200 });
    }, "http://gw");
    await admin.setOutage("elevenlabs_ws", true);
    await admin.setOutage("piper", false);
    expect(calls.map((c) => c.url)).toEqual(["http://gw/admin/breakers/elevenlabs_ws", "http://gw/admin/breakers/piper"]);
    expect(calls.map((c) => JSON.parse(String(c.init?.body)))).toEqual([{ state: "open" }, { state: "closed" }]);
    expect((calls[0].init?.headers as Record<string, string>).authorization).toBe("Bearer k3y");
    const failing = new AdminClient("k3y", async () => new Response("{}", { status: 404 }), "");
    await expect(failing.setOutage("nope", true)).rejects.toThrow("404");
  });
});
