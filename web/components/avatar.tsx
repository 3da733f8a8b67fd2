"use client";

/**
 * The 2D face: an SVG head whose mouth is drawn from six numbers (open, width, round, press, teeth, tongue),
 * blended from the 15 visemes on the audio clock, and whose brows, eyes, cheeks and mouth corners follow the
 * gateway's expression curves (ARKit channel names). No assets: every shape is a path computed here.
 */

import { useId } from "react";

import type { MouthShape, Viseme } from "@/lib/visemes";

export interface Palette {
  skin: string;
  skinShade: string;
  hair: string;
  lip: string;
  iris: string;
  accent: string;
  bg: string;
}

type Look = "narrator" | "blacksmith" | "innkeeper" | "rogue" | "queen" | "guard" | "oracle" | "plain";

const LOOKS: Record<Look, Palette> = {
  narrator: { skin: "#e9c4a0", skinShade: "#d3a47e", hair: "#8a8f98", lip: "#b86a62", iris: "#4a6b8a", accent: "#3f4a5a", bg: "#e8edf3" },
  blacksmith: { skin: "#c98f67", skinShade: "#ad7451", hair: "#4a2f1f", lip: "#9c5448", iris: "#5b4630", accent: "#6b3f22", bg: "#f4e3d3" },
  innkeeper: { skin: "#f1cdb0", skinShade: "#dfae8c", hair: "#a4472a", lip: "#c8605c", iris: "#4f7d45", accent: "#3d7a4a", bg: "#f6ead9" },
  rogue: { skin: "#d9b08c", skinShade: "#bf916b", hair: "#2b2b30", lip: "#a45e58", iris: "#6a5a2e", accent: "#2f3340", bg: "#e3e5ec" },
  queen: { skin: "#f3d6c0", skinShade: "#e0b89c", hair: "#e0c06a", lip: "#c04f63", iris: "#3f5fa0", accent: "#d4a72c", bg: "#efe6f5" },
  guard: { skin: "#dcae88", skinShade: "#c38f68", hair: "#5a4030", lip: "#a8605a", iris: "#4b5a3a", accent: "#8d949c", bg: "#e6e9ec" },
  oracle: { skin: "#cdb9d6", skinShade: "#b29cbf", hair: "#f2f0f7", lip: "#8f5f86", iris: "#8fe3ff", accent: "#5b3f8c", bg: "#ebe6f5" },
  plain: { skin: "#e6bf9c", skinShade: "#cf9f7b", hair: "#3b2f2a", lip: "#b5645e", iris: "#4d6a7d", accent: "#555b66", bg: "#eceff2" },
};

export function lookFor(characterId: string | undefined): Look {
  return characterId && characterId in LOOKS ? (characterId as Look) : "plain";
}

export interface AvatarProps {
  character?: string;
  shape: MouthShape;
  /** ARKit channels 0..1 (browInnerUp, eyeBlinkLeft, mouthSmileLeft, …); missing channels are 0. */
  expression?: Record<string, number>;
  viseme?: Viseme;
  speaking?: boolean;
  className?: string;
  label?: string;
}

const f = (n: number) => Math.round(n * 100) / 100;

/** Mouth paths from the pose; exported for the unit tests (a closed mouth has no cavity, aa opens widest). */
export function mouthGeometry(shape: MouthShape, smile = 0, frown = 0, cx = 120, cy = 176) {
  const { open, width, round, press, teeth, tongue } = shape;
  const w = 16 + 18 * width - 8 * round + 3 * smile;
  const openH = 30 * open * (1 - 0.85 * press);
  const cornerY = cy - 5 * smile + 5 * frown;
  const upMid = cy - openH * 0.3 - 1.5 * round;
  const loMid = cy + openH * 0.7 + 1.5 * round;
  const a = 0.12 + 0.3 * round; // rounder mouths keep their control points near the corners
  const ctrl = (mid: number) => (8 * mid - 2 * cornerY) / 6; // cubic with both controls at y: B(.5) = mid
  const L = [cx - w, cornerY];
  const R = [cx + w, cornerY];
  const uy = ctrl(upMid);
  const ly = ctrl(loMid);
  const innerUpper = `M${f(L[0])},${f(L[1])} C${f(cx - w + w * a)},${f(uy)} ${f(cx + w - w * a)},${f(uy)} ${f(R[0])},${f(R[1])}`;
  const innerLowerBack = `C${f(cx + w - w * a)},${f(ly)} ${f(cx - w + w * a)},${f(ly)} ${f(L[0])},${f(L[1])}`;
  const cavity = `${innerUpper} ${innerLowerBack} Z`;
  // lips: thickness grows when rounded (pushed forward), shrinks when pressed (rolled in)
  const tu = 5 + 2.5 * round - 1.5 * press;
  const tl = 7 + 3 * round - 2.5 * press;
  const ext = 3;
  const oL = [L[0] - ext, L[1] + 0.5];
  const oR = [R[0] + ext, R[1] + 0.5];
  const top = upMid - tu;
  const upperLip =
    `M${f(oL[0])},${f(oL[1])} C${f(cx - w * 0.7)},${f(top + 2)} ${f(cx - 9)},${f(top - 1)} ${f(cx - 4)},${f(top)} ` +
    `Q${f(cx)},${f(top + 2.2)} ${f(cx + 4)},${f(top)} C${f(cx + 9)},${f(top - 1)} ${f(cx + w * 0.7)},${f(top + 2)} ${f(oR[0])},${f(oR[1])} ` +
    `L${f(R[0])},${f(R[1])} C${f(cx + w - w * a)},${f(uy)} ${f(cx - w + w * a)},${f(uy)} ${f(L[0])},${f(L[1])} Z`;
  const bottom = loMid + tl;
  const lowerLip =
    `M${f(oL[0])},${f(oL[1])} L${f(L[0])},${f(L[1])} C${f(cx - w + w * a)},${f(ly)} ${f(cx + w - w * a)},${f(ly)} ${f(R[0])},${f(R[1])} ` +
    `L${f(oR[0])},${f(oR[1])} C${f(cx + w * 0.75)},${f(bottom)} ${f(cx - w * 0.75)},${f(bottom)} ${f(oL[0])},${f(oL[1])} Z`;
  const teethH = openH > 0.5 ? Math.min(openH * 0.9, 2 + 8 * teeth) : 0;
  const tongueY = loMid - 1 - tongue * openH * 0.55;
  return {
    w, openH, upMid, loMid, cornerY, cavity, upperLip, lowerLip, seam: innerUpper,
    teeth: { x: cx - w, y: upMid - 2, width: 2 * w, height: teethH + 2 },
    lowerTeeth: { x: cx - w, y: loMid - Math.min(3, openH * 0.2), width: 2 * w, height: 4 },
    tongue: { cx, cy: tongueY + 4, rx: Math.max(4, w * 0.62), ry: 4 + openH * 0.22 },
  };
}

export function Avatar({ character, shape, expression = {}, viseme = "sil", speaking = false, className, label }: AvatarProps) {
  const uid = useId().replace(/[^a-zA-Z0-9_-]/g, "");
  const look = lookFor(character);
  const p = LOOKS[look];
  const e = (k: string) => expression[k] ?? 0;
  const smile = (e("mouthSmileLeft") + e("mouthSmileRight")) / 2;
  const frown = (e("mouthFrownLeft") + e("mouthFrownRight")) / 2;
  const m = mouthGeometry(shape, smile, frown);
  const jaw = shape.open * 6; // the chin drops with the jaw

  const eye = (side: "Left" | "Right", cx: number) => {
    const blink = Math.min(1, e(`eyeBlink${side}`));
    const wide = e(`eyeWide${side}`);
    const squint = e(`eyeSquint${side}`);
    const ry = Math.max(0.4, 8.5 * (1 + 0.4 * wide - 0.35 * squint) * (1 - blink));
    const cy = 112;
    const id = `${uid}-eye-${side}`;
    return (
      <g key={side}>
        <clipPath id={id}>
          <ellipse cx={cx} cy={cy} rx={12.5} ry={ry} />
        </clipPath>
        <ellipse cx={cx} cy={cy} rx={12.5} ry={ry} fill="#fbfbfb" />
        <g clipPath={`url(#${id})`}>
          <circle cx={cx} cy={cy + 0.5} r={6.2} fill={p.iris} />
          <circle cx={cx} cy={cy + 0.5} r={3} fill="#1d1d22" />
          <circle cx={cx + 2} cy={cy - 1.6} r={1.4} fill="#fff" opacity={0.9} />
        </g>
        <path
          d={`M${cx - 13.5},${f(cy + 0.5)} Q${cx},${f(cy - ry * 2 - 1)} ${cx + 13.5},${f(cy + 0.5)}`}
          fill="none" stroke="#3a2a25" strokeWidth={blink > 0.9 ? 2.2 : 1.8} strokeLinecap="round"
        />
      </g>
    );
  };

  const brow = (side: "Left" | "Right") => {
    const s = side === "Left" ? 1 : -1; // ARKit's Left is the character's left: the viewer's right
    const inner = 120 + s * 9;
    const outer = 120 + s * 40;
    const up = e("browInnerUp");
    const down = e(`browDown${side}`);
    const outerUp = e(`browOuterUp${side}`);
    const yIn = 92 - 9 * up + 7 * down;
    const yOut = 93 - 7 * outerUp + 1.5 * down;
    const mid = (yIn + yOut) / 2 - 5 + 2 * down;
    return (
      <path
        key={side}
        d={`M${inner},${f(yIn)} Q${f((inner + outer) / 2)},${f(mid)} ${outer},${f(yOut)}`}
        fill="none" stroke={look === "oracle" ? "#b8b2c8" : p.hair} strokeWidth={5} strokeLinecap="round"
      />
    );
  };

  const cheek = (e("cheekSquintLeft") + e("cheekSquintRight")) / 2;
  const sneer = (e("noseSneerLeft") + e("noseSneerRight")) / 2;
  const cavityId = `${uid}-cavity`;

  return (
    <svg
      viewBox="0 0 240 260"
      role="img"
      aria-label={label ?? "Character face"}
      className={className}
      data-viseme={viseme}
      data-mouth-open={shape.open.toFixed(3)}
      data-speaking={speaking ? "true" : "false"}
      data-testid="avatar"
    >
      <rect x="0" y="0" width="240" height="260" rx="18" fill={p.bg} />
      {/* back hair / hood */}
      {look === "innkeeper" && <circle cx="120" cy="36" r="24" fill={p.hair} />}
      {look === "queen" && <path d="M40,120 Q36,230 70,250 L170,250 Q204,230 200,120 Z" fill={p.hair} />}
      {look === "rogue" && <path d="M28,250 Q20,40 120,22 Q220,40 212,250 Z" fill={p.accent} />}
      {look === "oracle" && <path d="M30,250 Q26,36 120,18 Q214,36 210,250 Z" fill={p.accent} opacity={0.9} />}
      {/* neck and shoulders */}
      <path d="M96,200 L96,232 Q120,244 144,232 L144,200 Z" fill={p.skinShade} />
      <path d="M40,260 Q48,228 96,226 L144,226 Q192,228 200,260 Z" fill={p.accent} />
      {/* ears */}
      <ellipse cx="44" cy="124" rx="9" ry="15" fill={p.skinShade} />
      <ellipse cx="196" cy="124" rx="9" ry="15" fill={p.skinShade} />
      {/* head, with the jaw dropping */}
      <path
        d={`M120,34 C170,34 198,70 198,118 C198,${f(160 + jaw)} 170,${f(214 + jaw)} 120,${f(216 + jaw)} C70,${f(214 + jaw)} 42,${f(160 + jaw)} 42,118 C42,70 70,34 120,34 Z`}
        fill={p.skin}
      />
      {/* front hair */}
      {look === "narrator" && <path d="M44,104 Q46,40 120,36 Q190,38 197,100 Q170,66 120,62 Q84,60 44,104 Z" fill={p.hair} />}
      {look === "innkeeper" && <path d="M43,110 Q40,40 120,38 Q200,40 197,110 Q186,70 150,62 Q110,78 78,66 Q54,80 43,110 Z" fill={p.hair} />}
      {look === "queen" && (
        <>
          <path d="M43,118 Q40,42 120,38 Q200,42 197,118 Q176,66 120,64 Q64,66 43,118 Z" fill={p.hair} />
          <path d="M74,46 L82,16 L100,36 L120,8 L140,36 L158,16 L166,46 Z" fill={p.accent} stroke="#a07d14" strokeWidth="2" />
          <circle cx="120" cy="30" r="4" fill="#c03a5a" />
        </>
      )}
      {look === "guard" && (
        <>
          <path d="M38,112 Q36,28 120,26 Q204,28 202,112 L188,112 Q182,62 120,60 Q58,62 52,112 Z" fill={p.accent} />
          <rect x="114" y="60" width="12" height="58" rx="4" fill={p.accent} />
        </>
      )}
      {look === "rogue" && <path d="M50,100 Q60,46 120,44 Q180,46 190,100 Q160,70 120,68 Q80,70 50,100 Z" fill={p.hair} />}
      {look === "oracle" && <path d="M46,96 Q60,40 120,38 Q180,40 194,96 Q150,58 120,58 Q90,58 46,96 Z" fill={p.hair} opacity={0.85} />}
      {look === "plain" && <path d="M44,104 Q46,40 120,36 Q190,38 197,100 Q160,60 120,58 Q84,60 44,104 Z" fill={p.hair} />}
      {/* brows, eyes */}
      {brow("Left")}
      {brow("Right")}
      {eye("Right", 93)}
      {eye("Left", 147)}
      {/* cheeks */}
      <ellipse cx="78" cy="150" rx="14" ry="8" fill="#e26d6d" opacity={f(0.12 + 0.4 * cheek)} />
      <ellipse cx="162" cy="150" rx="14" ry="8" fill="#e26d6d" opacity={f(0.12 + 0.4 * cheek)} />
      {/* nose */}
      <path d="M120,118 Q113,142 110,148 Q120,156 130,148" fill="none" stroke={p.skinShade} strokeWidth="3" strokeLinecap="round" />
      {sneer > 0.02 && (
        <g stroke={p.skinShade} strokeWidth="1.6" strokeLinecap="round" opacity={f(Math.min(1, sneer * 2))}>
          <path d="M108,128 q-4,3 -8,2" fill="none" />
          <path d="M132,128 q4,3 8,2" fill="none" />
        </g>
      )}
      {/* beard behind the mouth */}
      {look === "blacksmith" && (
        <path
          d={`M52,150 Q58,${f(226 + jaw)} 120,${f(234 + jaw)} Q182,${f(226 + jaw)} 188,150 Q176,172 150,164 Q120,156 90,164 Q64,172 52,150 Z`}
          fill={p.hair}
        />
      )}
      {/* mouth */}
      <g data-testid="mouth">
        <clipPath id={cavityId}>
          <path d={m.cavity} />
        </clipPath>
        {m.openH > 0.3 && (
          <>
            <path d={m.cavity} fill="#3d0f17" />
            <g clipPath={`url(#${cavityId})`}>
              <ellipse cx={m.tongue.cx} cy={f(m.tongue.cy)} rx={f(m.tongue.rx)} ry={f(m.tongue.ry)} fill="#c8515f" />
              <rect x={f(m.lowerTeeth.x)} y={f(m.lowerTeeth.y)} width={f(m.lowerTeeth.width)} height={m.lowerTeeth.height} fill="#f1eee6" />
              <rect x={f(m.teeth.x)} y={f(m.teeth.y)} width={f(m.teeth.width)} height={f(m.teeth.height)} fill="#fbf9f3" />
            </g>
          </>
        )}
        <path d={m.upperLip} fill={p.lip} />
        <path d={m.lowerLip} fill={p.lip} filter="brightness(1.05)" />
        <path d={m.seam} fill="none" stroke="#5a2128" strokeWidth={m.openH > 0.3 ? 0.8 : 1.6} strokeLinecap="round" />
      </g>
      {look === "blacksmith" && (
        <path d="M84,160 Q100,148 120,154 Q140,148 156,160 Q140,160 120,158 Q100,160 84,160 Z" fill={p.hair} />
      )}
    </svg>
  );
}
