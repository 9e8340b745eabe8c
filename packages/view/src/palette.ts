/**
 * Colours readable with every common colour-vision deficiency. Categories use the Okabe–Ito
 * palette (Okabe & Ito, "Color Universal Design", 2008: eight colours distinguishable under
 * protanopia, deuteranopia and tritanopia); ordered quantities (size classes) use a viridis
 * ramp (perceptually uniform, monotonic in lightness, so it also reads in grey scale).
 * Pictures never rely on colour alone: every shape has a `<title>` naming its state.
 */

/** The eight Okabe–Ito colours. */
export const OKABE_ITO = {
  black: "#000000",
  orange: "#E69F00",
  skyBlue: "#56B4E9",
  bluishGreen: "#009E73",
  yellow: "#F0E442",
  blue: "#0072B2",
  vermillion: "#D55E00",
  reddishPurple: "#CC79A7",
} as const;

/** Neutral greys for "nothing here" (not resident, uncarved, empty). */
export const GREY = { light: "#EEEEEE", mid: "#BBBBBB", dark: "#666666" } as const;

/** Heap-map chunk states → colour. */
export const CHUNK_COLOURS: Readonly<Record<string, string>> = {
  "in-use": OKABE_ITO.blue,
  tcache: OKABE_ITO.skyBlue,
  fastbin: OKABE_ITO.bluishGreen,
  unsorted: OKABE_ITO.yellow,
  small: OKABE_ITO.orange,
  large: OKABE_ITO.vermillion,
  top: OKABE_ITO.reddishPurple,
  fencepost: OKABE_ITO.black,
  structure: GREY.dark,
  free: OKABE_ITO.orange,
};

/** Viridis, sampled at nine points (0 → dark purple, 1 → yellow). */
const VIRIDIS = ["#440154", "#472d7b", "#3b528b", "#2c728e", "#21918c", "#28ae80", "#5ec962", "#addc30", "#fde725"];

function hexToRgb(hex: string): [number, number, number] {
  const n = Number.parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

/** The viridis colour at `t` in [0, 1] (clamped), linearly interpolated between samples. */
export function viridis(t: number): string {
  const x = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(x));
  const f = x - i;
  const a = hexToRgb(VIRIDIS[i]!);
  const b = hexToRgb(VIRIDIS[i + 1]!);
  const c = a.map((v, k) => Math.round(v + (b[k]! - v) * f));
  return `#${c.map((v) => v.toString(16).padStart(2, "0")).join("").toUpperCase()}`;
}

/** A size class's colour: viridis over `(size - 1) / maxSize`. */
export function sizeClassColour(size: number, maxSize: number): string {
  return viridis(maxSize <= 0 ? 0 : (size - 1) / maxSize);
}

/**
 * Colours of causes for the page map and the timeline: the cause groups (the part of a cause
 * before a dot, and a few notable causes) get fixed Okabe–Ito colours, so that a cause has
 * the same colour in every picture.
 */
const CAUSE_COLOURS: Readonly<Record<string, string>> = {
  "pymalloc.live-blocks": OKABE_ITO.bluishGreen,
  "pymalloc.used-pools": OKABE_ITO.bluishGreen,
  "pymalloc.free-blocks": OKABE_ITO.yellow,
  "pymalloc.empty-pools": OKABE_ITO.orange,
  "pymalloc.other": OKABE_ITO.yellow,
  "glibc.in-use": OKABE_ITO.blue,
  "libc.in-use": OKABE_ITO.blue,
  "glibc.mmapped-payload": OKABE_ITO.skyBlue,
  "glibc.mmapped": OKABE_ITO.skyBlue,
  "glibc.top": OKABE_ITO.reddishPurple,
  "glibc.free": OKABE_ITO.vermillion,
  "libc.free": OKABE_ITO.vermillion,
  "glibc.structures": GREY.dark,
  other: OKABE_ITO.black,
};

/** Fallback colours, in order, for causes without a fixed one. */
const FALLBACK = [OKABE_ITO.vermillion, OKABE_ITO.skyBlue, OKABE_ITO.orange, OKABE_ITO.reddishPurple, OKABE_ITO.yellow, GREY.dark, OKABE_ITO.black];

/** The colour of `cause` (`glibc.tcache`, `other.[stack]` ...); `index` picks a fallback. */
export function causeColour(cause: string, index = 0): string {
  const fixed = CAUSE_COLOURS[cause];
  if (fixed !== undefined) return fixed;
  if (cause.startsWith("other")) return OKABE_ITO.black;
  if (/^glibc\.(tcache|fastbins|unsorted|small-bins|large-bins)$/.test(cause)) return OKABE_ITO.vermillion;
  if (cause.startsWith("pymalloc.")) return OKABE_ITO.yellow;
  return FALLBACK[index % FALLBACK.length]!;
}

/** Every palette colour a picture may give a category, in the order they are handed out. */
const DISTINCT = [OKABE_ITO.bluishGreen, OKABE_ITO.blue, OKABE_ITO.orange, OKABE_ITO.reddishPurple, OKABE_ITO.skyBlue, OKABE_ITO.vermillion, OKABE_ITO.yellow, OKABE_ITO.black, GREY.dark];

/**
 * Distinct colours for `causes` drawn together (the timeline's areas): causes with a fixed
 * colour (glibc.in-use blue, glibc.top reddish purple ...) take it first; each other cause
 * takes its own ({@link causeColour}) unless taken, else the next palette colour nobody
 * has; `other causes` is mid grey.
 */
export function distinctCauseColours(causes: readonly string[]): string[] {
  const used = new Set<string>();
  const out: (string | undefined)[] = causes.map(() => undefined);
  // causes with a colour of their own claim it first, the others then take what is free
  causes.forEach((c, i) => {
    const fixed = c === "other causes" ? "#999999" : CAUSE_COLOURS[c];
    if (fixed !== undefined && !used.has(fixed)) {
      out[i] = fixed;
      used.add(fixed);
    }
  });
  return causes.map((c, i) => {
    if (out[i] !== undefined) return out[i];
    let colour = causeColour(c, i);
    if (used.has(colour)) colour = DISTINCT.find((d) => !used.has(d)) ?? colour;
    used.add(colour);
    return colour;
  });
}
