"use client";

/** The face, subtitles and playback bar, redrawn every animation frame from the media clock. */

import { useEffect, useRef, useState } from "react";

import { Avatar } from "@/components/avatar";
import { TimelineInspector } from "@/components/inspector";
import { Progress } from "@/components/ui/progress";
import { authHeaders, gatewayUrl, getApiKey } from "@/lib/api";
import type { LineSession } from "@/lib/session";
import {
  type SubtitleWindow, dominantViseme, playbackPercent, shapeFromWeights, subtitleAt, subtitleWindow, visemeWeightsAt,
} from "@/lib/track";
import type { MouthShape, Viseme } from "@/lib/visemes";
import { VISEME_SHAPES } from "@/lib/visemes";

interface Frame {
  t: number;
  shape: MouthShape;
  viseme: Viseme;
  expression: Record<string, number>;
  subtitle: SubtitleWindow;
  percent: number;
  playing: boolean;
}

const REST: Frame = {
  t: 0, shape: VISEME_SHAPES.sil, viseme: "sil", expression: {},
  subtitle: { before: "", spoken: "", current: "", rest: "", after: "" },
  percent: 0, playing: false,
};

/** An idle blink every ~4 s so the face looks alive between lines. */
function idleBlink(nowMs: number): number {
  const phase = nowMs % 4200;
  if (phase > 240) return 0;
  return phase < 90 ? phase / 90 : phase < 130 ? 1 : 1 - (phase - 130) / 110;
}

function frameFor(session: LineSession | null, nowMs: number): Frame {
  if (!session) return { ...REST, expression: { eyeBlinkLeft: idleBlink(nowMs), eyeBlinkRight: idleBlink(nowMs) } };
  const t = session.clock.mediaTimeMs();
  // after a stop the face runs on from the stop (its tracks end there) so the mouth closes
  const faceT = session.faceTimeMs();
  const w = visemeWeightsAt(session.visemes.keys, faceT);
  const expression = session.curves.sample(faceT);
  const playing = session.clock.started && session.steps.play === "active";
  if (!playing && !("eyeBlinkLeft" in expression && expression.eyeBlinkLeft > 0)) {
    const b = idleBlink(nowMs);
    expression.eyeBlinkLeft = Math.max(expression.eyeBlinkLeft ?? 0, b);
    expression.eyeBlinkRight = Math.max(expression.eyeBlinkRight ?? 0, b);
  }
  const text = session.spokenText ?? session.text;
  return {
    t,
    shape: shapeFromWeights(w),
    viseme: dominantViseme(w),
    expression,
    subtitle: subtitleWindow(subtitleAt(text, session.words, t)),
    percent: playbackPercent(t, session.durationMs),
    playing,
  };
}

export function Stage({ session, character, version }: { session: LineSession | null; character: string; version: number }) {
  const [frame, setFrame] = useState<Frame>(REST);
  const sessionRef = useRef(session);
  sessionRef.current = session;

  useEffect(() => {
    let raf = 0;
    let lastKey = "";
    const loop = () => {
      const s = sessionRef.current;
      s?.tick();
      const next = frameFor(s, performance.now());
      // only re-render when something visible changed (idle frames are skipped)
      const e = next.expression;
      const key = [Math.round(next.t), next.shape.open.toFixed(3), next.shape.width.toFixed(3), next.shape.press.toFixed(3), next.percent,
        next.playing, (e.eyeBlinkLeft ?? 0).toFixed(2), s?.version ?? -1].join("|");
      if (key !== lastKey) {
        lastKey = key;
        setFrame(next);
      }
      raf = requestAnimationFrame(loop);
    };
    raf = requestAnimationFrame(loop);
    return () => cancelAnimationFrame(raf);
  }, []);

  const videoUrl = session && !session.videoError ? session.videoUrl : null;
  const done = session?.steps.play === "done";
  const pct = done ? 100 : frame.percent;
  const active = !!session && !session.settled; // a line is being synthesized or heard
  const [faceVisible, setFaceVisible] = useState(true);
  const faceRef = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = faceRef.current;
    if (!el || typeof IntersectionObserver === "undefined") return;
    const io = new IntersectionObserver((entries) => {
      const last = entries[entries.length - 1];
      setFaceVisible(last.isIntersecting && last.intersectionRatio >= 0.5);
    }, { threshold: [0, 0.25, 0.5, 0.75, 1] });
    io.observe(el);
    return () => io.disconnect();
  }, []);
  // on a phone the form sits below the face: while a line plays and the face is scrolled away, a small copy of it
  // stays pinned to the top of the screen
  const pinned = active && !faceVisible;
  const sub = frame.subtitle;

  return (
    <div className="flex flex-col gap-3" data-testid="stage" data-clock-ms={Math.round(frame.t)} data-version={version}>
      <div className="relative mx-auto w-full max-w-[240px] sm:max-w-[340px]" ref={faceRef}>
        {videoUrl ? (
          <VideoPlayer
            url={gatewayUrl(videoUrl)}
            clockMs={() => session?.clock.mediaTimeMs() ?? 0}
            onFail={(m) => session?.setVideoError(m)}
          />
        ) : (
          <Avatar
            character={character}
            shape={frame.shape}
            expression={frame.expression}
            viseme={frame.viseme}
            speaking={frame.playing}
            className="h-auto w-full drop-shadow-sm"
            label={`${character} face, mouth shape ${frame.viseme}`}
          />
        )}
      </div>
      {pinned ? (
        <div className="fixed top-2 right-2 z-40 flex w-32 flex-col items-center gap-1 rounded-xl border bg-card/95 p-1.5 shadow-lg sm:w-40"
             data-testid="pinned-face" aria-hidden>
          <Avatar character={character} shape={frame.shape} expression={frame.expression} viseme={frame.viseme}
                  speaking={frame.playing} className="h-auto w-full" label={`${character} face`} />
          <span className="line-clamp-1 max-w-full text-xs font-medium">{sub.current || "…"}</span>
        </div>
      ) : null}
      <p
        className="min-h-[3.5rem] rounded-md bg-muted/60 px-3 py-2 text-center text-base leading-relaxed sm:text-lg"
        data-testid="subtitles"
        aria-live="off"
      >
        {sub.spoken || sub.current ? (
          <>
            {sub.before ? <span className="text-muted-foreground">{sub.before}</span> : null}
            <span data-testid="subtitles-spoken">{sub.spoken}</span>
            {sub.current && (
              <mark className="rounded bg-primary/20 px-0.5 text-foreground" data-testid="subtitles-current">
                {sub.current}
              </mark>
            )}
            <span className="text-transparent select-none" aria-hidden>
              {sub.rest}
            </span>
            {sub.after ? <span className="text-muted-foreground" aria-hidden>{sub.after}</span> : null}
          </>
        ) : (
          <span className="text-muted-foreground">{session ? "…" : "Subtitles appear here as the words are spoken."}</span>
        )}
      </p>
      <div className="flex items-center gap-3">
        <Progress value={pct} aria-label="Playback" data-testid="playback-progress" className="flex-1" />
        <span className="w-24 text-right text-xs text-muted-foreground tabular-nums" data-testid="clock">
          {(frame.t / 1000).toFixed(2)} / {((session?.durationMs ?? 0) / 1000).toFixed(2)} s
        </span>
      </div>
      <TimelineInspector session={session} t={frame.t} version={version} current={frame.viseme} />
    </div>
  );
}

/**
 * The lip-synced MP4 from the video pool. It arrives after the audio has started, so it joins muted at the
 * audio clock's position (the streamed audio keeps playing); its controls replay it with sound.
 */
function VideoPlayer({ url, clockMs, onFail }: { url: string; clockMs: () => number; onFail: (message: string) => void }) {
  const ref = useRef<HTMLVideoElement>(null);
  const [src, setSrc] = useState<string | null>(null);

  useEffect(() => {
    // a gateway with API keys needs the header: fetch the file and play it from a blob URL
    if (!getApiKey()) {
      setSrc(url);
      return;
    }
    let revoked: string | null = null;
    const ctl = new AbortController();
    fetch(url, { headers: authHeaders(), signal: ctl.signal })
      .then((r) => (r.ok ? r.blob() : Promise.reject(new Error(`HTTP ${r.status}`))))
      .then((b) => {
        revoked = URL.createObjectURL(b);
        setSrc(revoked);
      })
      .catch((e) => {
        if ((e as Error).name !== "AbortError") onFail(`The video could not be fetched (${(e as Error).message}).`);
      });
    return () => {
      ctl.abort();
      if (revoked) URL.revokeObjectURL(revoked);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [url]);

  useEffect(() => {
    if (ref.current) ref.current.muted = true;
  }, [src]);

  if (!src) return <div className="aspect-square w-full animate-pulse rounded-2xl bg-muted" aria-label="Loading the video" />;
  return (
    <video
      ref={ref}
      src={src}
      className="aspect-square w-full rounded-2xl bg-black"
      data-testid="video"
      controls
      playsInline
      autoPlay
      muted
      aria-label="Lip-synced video of the line"
      onLoadedMetadata={() => {
        const v = ref.current;
        const t = clockMs() / 1000;
        if (v && t > 0 && t < v.duration - 0.1) v.currentTime = t;
      }}
      onError={() => onFail("This browser cannot play the MP4 (H.264/AAC); showing the 2D face instead.")}
    />
  );
}
