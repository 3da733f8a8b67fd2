/**
 * The 15 Oculus (OVR) visemes and the mouth pose each one means.
 *
 * The gateway sends the OVR spelling (`sil PP FF TH DD kk CH SS nn RR aa E ih oh ou`, see docs/lipsync.md);
 * `normalizeViseme` also accepts the TalkingHead names (`viseme_O`), `I/O/U` and any case.
 */

export const VISEMES = [
  "sil", "PP", "FF", "TH", "DD", "kk", "CH", "SS", "nn", "RR", "aa", "E", "ih", "oh", "ou",
] as const;

export type Viseme = (typeof VISEMES)[number];

/** Six numbers (each 0..1) that the SVG mouth is drawn from. */
export interface MouthShape {
  /** jaw / lip opening */
  open: number;
  /** mouth corners apart (spread lips) */
  width: number;
  /** lips rounded and pushed forward */
  round: number;
  /** lips pressed together (PP) */
  press: number;
  /** upper teeth showing (FF, SS) */
  teeth: number;
  /** tongue raised to the teeth (TH, DD, nn) */
  tongue: number;
}

export const SHAPE_KEYS: readonly (keyof MouthShape)[] = ["open", "width", "round", "press", "teeth", "tongue"];

/** One pose per viseme (index = Oculus id). */
export const VISEME_SHAPES: Record<Viseme, MouthShape> = {
  sil: { open: 0.0, width: 0.5, round: 0.0, press: 0.2, teeth: 0.0, tongue: 0.0 },
  PP: { open: 0.0, width: 0.46, round: 0.1, press: 1.0, teeth: 0.0, tongue: 0.0 },
  FF: { open: 0.14, width: 0.56, round: 0.0, press: 0.35, teeth: 1.0, tongue: 0.0 },
  TH: { open: 0.22, width: 0.52, round: 0.0, press: 0.0, teeth: 0.7, tongue: 1.0 },
  DD: { open: 0.3, width: 0.54, round: 0.0, press: 0.0, teeth: 0.55, tongue: 0.55 },
  kk: { open: 0.36, width: 0.52, round: 0.0, press: 0.0, teeth: 0.35, tongue: 0.15 },
  CH: { open: 0.24, width: 0.3, round: 0.72, press: 0.0, teeth: 0.85, tongue: 0.0 },
  SS: { open: 0.12, width: 0.74, round: 0.0, press: 0.0, teeth: 1.0, tongue: 0.0 },
  nn: { open: 0.26, width: 0.54, round: 0.0, press: 0.0, teeth: 0.45, tongue: 0.7 },
  RR: { open: 0.26, width: 0.36, round: 0.58, press: 0.0, teeth: 0.3, tongue: 0.2 },
  aa: { open: 1.0, width: 0.62, round: 0.0, press: 0.0, teeth: 0.3, tongue: 0.12 },
  E: { open: 0.58, width: 0.78, round: 0.0, press: 0.0, teeth: 0.55, tongue: 0.1 },
  ih: { open: 0.32, width: 0.84, round: 0.0, press: 0.0, teeth: 0.65, tongue: 0.1 },
  oh: { open: 0.68, width: 0.3, round: 0.82, press: 0.0, teeth: 0.1, tongue: 0.08 },
  ou: { open: 0.3, width: 0.14, round: 1.0, press: 0.0, teeth: 0.0, tongue: 0.0 },
};

const ALIASES: Record<string, Viseme> = Object.fromEntries([
  ...VISEMES.map((v) => [v.toLowerCase(), v] as const),
  ["i", "ih"], ["o", "oh"], ["u", "ou"], ["silence", "sil"], ["rest", "sil"],
]);

/** `PP`, `viseme_PP`, `I`/`O`/`U`, any case → the OVR name; unknown names are `sil`. */
export function normalizeViseme(name: string | number | null | undefined): Viseme {
  if (typeof name === "number") return VISEMES[name] ?? "sil";
  if (!name) return "sil";
  const key = String(name).trim().replace(/^viseme_/i, "").toLowerCase();
  return ALIASES[key] ?? "sil";
}

export function visemeIndex(v: Viseme): number {
  return VISEMES.indexOf(v);
}
