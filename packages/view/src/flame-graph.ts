import type { FlameNode, FlameRestSums, RenderOptions } from "./api.js";
import { GREY, OKABE_ITO } from "./palette.js";
import { bytes, legend, rect, svgRoot, text } from "./svg.js";

const ROW = 18;
/** Files that get a colour of their own; frames of the others share dark grey. */
const FILE_COLOURS = [OKABE_ITO.blue, OKABE_ITO.orange, OKABE_ITO.bluishGreen, OKABE_ITO.reddishPurple, OKABE_ITO.skyBlue, OKABE_ITO.vermillion, OKABE_ITO.yellow];
/** Fills on which white text reads better than black. */
const DARK = new Set<string>([OKABE_ITO.blue, OKABE_ITO.vermillion, OKABE_ITO.reddishPurple, OKABE_ITO.bluishGreen, GREY.dark, OKABE_ITO.black]);
const AGGREGATE = GREY.mid;
const ROOT = "#555555";
/** Pseudo files that are no source (`<frozen …>` modules are real sources). */
const PSEUDO = /^<(no live block|unknown)>$/;

/** A frame as laid out: where it goes and what it stands for. */
export interface PlacedFrame {
  /** The frame (a synthetic `other (k frames)` node for merged callees). */
  readonly node: FlameNode;
  /** Left edge, in pixels from the plot's left. */
  readonly x: number;
  /** Width in pixels. */
  readonly w: number;
  /** Row: 0 for the root. */
  readonly depth: number;
  /** Narrow frames merged into this one (0: a frame drawn on its own). */
  readonly merged: number;
}

type Placed = PlacedFrame;

const valueOf = (n: FlameNode, metric: "resident" | "requested") => (metric === "resident" ? n.resident : n.requested);

/** Lays the tree out; callees narrower than `minPx` (and a pruned node's left-out callees) are merged, per caller, into one "other" frame. */
function layout(root: FlameNode, metric: "resident" | "requested", plotW: number, minPx: number): Placed[] {
  const total = valueOf(root, metric);
  const out: Placed[] = [];
  const scale = total > 0 ? plotW / total : 0;
  const walk = (n: FlameNode, x: number, depth: number, merged: number) => {
    const w = valueOf(n, metric) * scale;
    out.push({ node: n, x, w, depth, merged });
    let cx = x;
    const narrow: FlameNode[] = [];
    for (const c of n.children) {
      const v = valueOf(c, metric);
      if (v <= 0) continue;
      if (v * scale < minPx) {
        narrow.push(c);
        continue;
      }
      walk(c, cx, depth + 1, 0);
      cx += v * scale;
    }
    const rest = n.rest?.[metric];
    if (narrow.length > 0 || (rest !== undefined && rest.frames > 0)) {
      const sum = (f: (m: FlameNode | FlameRestSums) => number) => narrow.reduce((s, m) => s + f(m), rest !== undefined ? f(rest) : 0);
      const frames = narrow.length + (rest?.frames ?? 0);
      const other: FlameNode = { name: `other (${frames} frames)`, file: "", resident: sum((m) => m.resident), requested: sum((m) => m.requested), count: sum((m) => m.count), children: [] };
      out.push({ node: other, x: cx, w: valueOf(other, metric) * scale, depth: depth + 1, merged: frames });
    }
  };
  if (total > 0) walk(root, 0, 0, 0);
  return out;
}

/**
 * The frames {@link renderFlameGraph} draws for `metric`, and the merge width it settled on:
 * callees narrower than `minPx` pixels are merged per caller, and `minPx` (from
 * `startPx`) doubles while more than `maxNodes` frames would be drawn.
 */
export function placeFlameFrames(root: FlameNode, metric: "resident" | "requested", plotW: number, maxNodes: number, startPx = 1): { placed: PlacedFrame[]; minPx: number } {
  let minPx = startPx;
  let placed = layout(root, metric, plotW, minPx);
  while (placed.length > maxNodes && minPx < plotW) placed = layout(root, metric, plotW, (minPx *= 2));
  return { placed, minPx };
}

/** The node budget a flame graph applies for `maxNodes` (at least 8; 4,000 when absent). */
export const flameMaxNodes = (maxNodes: number | undefined): number => Math.max(8, maxNodes ?? 4000);

/** The plot width of a flame graph `width` pixels wide (8 pixels of margin each side). */
export const flamePlotWidth = (width: number): number => width - 16;

/** The files by their bytes, biggest first (the colour order). */
function filesBySize(placed: readonly Placed[], metric: "resident" | "requested"): string[] {
  const by = new Map<string, number>();
  for (const p of placed) if (p.node.file !== "" && p.merged === 0 && p.depth > 0) by.set(p.node.file, (by.get(p.node.file) ?? 0) + valueOf(p.node, metric));
  return [...by].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([f]) => f);
}

function basename(file: string): string {
  const i = file.lastIndexOf("/");
  return i < 0 ? file : file.slice(i + 1);
}

/**
 * The sources picture: an icicle graph (a flame graph upside down, the outermost call on top)
 * of resident bytes by traceback (or, with `metric: "requested"`, of live requested bytes):
 * each frame is as wide as the bytes of the tracebacks through it, its callees below it,
 * biggest first. Frames are coloured by their file (Okabe–Ito, the biggest seven files; the
 * rest dark grey); the hover text of every frame gives its resident and requested bytes and
 * live blocks. Callees narrower than a pixel budget are merged per caller into one grey
 * "other (k frames)"; when more than `maxNodes` frames would still be drawn, the budget widens
 * until they fit.
 *
 * ```
 *   ┌──────────────────────── all 4.0 MiB ─────────────────────────┐
 *   ├──────────────────────── main.py:30 ──────────────┬ <no live block>
 *   ├──────────── load.py:12 ───────────┬ other (9) ───┘
 *   ├──── json/decoder.py:353 ──┬ read ┘
 * ```
 */
export function renderFlameGraph(root: FlameNode, options: RenderOptions = {}): string {
  const width = options.width ?? 960;
  const metric = options.metric ?? "resident";
  const maxNodes = flameMaxNodes(options.maxNodes);
  const left = 8;
  const plotW = flamePlotWidth(width);
  const top = 8;
  const { placed } = placeFlameFrames(root, metric, plotW, maxNodes, options.minFramePx ?? 1);
  const depth = placed.reduce((d, p) => Math.max(d, p.depth), 0);
  // pseudo files (`<no live block>`, `<unknown>`) are no source: light grey, apart in the legend
  const all = filesBySize(placed, metric);
  const files = all.filter((f) => !PSEUDO.test(f));
  const pseudo = all.filter((f) => PSEUDO.test(f));
  const colourOf = new Map(files.slice(0, FILE_COLOURS.length).map((f, i) => [f, FILE_COLOURS[i]!]));
  const fillOf = (p: Placed) => (p.depth === 0 ? ROOT : p.merged > 0 ? AGGREGATE : PSEUDO.test(p.node.file) ? GREY.light : (colourOf.get(p.node.file) ?? GREY.dark));
  const parts: string[] = [];
  for (const p of placed) {
    const n = p.node;
    const y = top + p.depth * ROW;
    const fill = fillOf(p);
    const tip = `${n.name}: ${bytes(n.resident)} resident, ${bytes(n.requested)} requested in ${n.count.toLocaleString("en-US")} live blocks` + (p.merged > 0 ? " (narrow frames merged)" : "");
    parts.push(rect(left + p.x, y, Math.max(p.w - 0.5, 0.5), ROW - 1, fill, tip, ` class="frame" data-depth="${p.depth}" data-bytes="${valueOf(n, metric)}"${p.merged > 0 ? ` data-merged="${p.merged}"` : ""}`));
    if (p.w >= 36) {
      const label = p.depth === 0 ? `${n.name} ${bytes(valueOf(n, metric))}` : `${n.file === "" ? n.name : `${basename(n.file)}${n.name.slice(n.file.length)}`} ${bytes(valueOf(n, metric))}`;
      const fit = Math.floor((p.w - 6) / 6.2);
      const shown = label.length <= fit ? label : `${label.slice(0, Math.max(1, fit - 1))}…`;
      parts.push(text(left + p.x + 3, y + 12.5, shown, ` class="frame-label" pointer-events="none" fill="${DARK.has(fill) ? "#FFFFFF" : "#000000"}"`));
    }
  }
  const height = top + (depth + 1) * ROW + 10;
  const items = [
    ...files.slice(0, FILE_COLOURS.length).map((f) => ({ colour: colourOf.get(f)!, label: basename(f) })),
    ...(files.length > FILE_COLOURS.length ? [{ colour: GREY.dark, label: `${files.length - FILE_COLOURS.length} other files` }] : []),
    ...pseudo.map((f) => ({ colour: GREY.light, label: f })),
    { colour: AGGREGATE, label: "narrow frames merged" },
  ];
  const lg = legend(items, height, width);
  const what = metric === "resident" ? "resident bytes" : "live requested bytes";
  const biggest = [...placed].filter((p) => p.merged === 0 && p.depth > 0 && p.node.children.length === 0 && p.node.rest === undefined).sort((a, b) => valueOf(b.node, metric) - valueOf(a.node, metric)).slice(0, 3);
  const desc =
    `Icicle graph of ${bytes(valueOf(root, metric))} of ${what} by traceback, outermost call on top, ${placed.length} frames drawn in ${depth + 1} rows` +
    (biggest.length > 0 ? `. Largest: ${biggest.map((p) => `${p.node.name} ${bytes(valueOf(p.node, metric))}`).join(", ")}.` : ".");
  return svgRoot("flame-graph", width, height + lg.height + 8, options.title ?? `${what[0]!.toUpperCase()}${what.slice(1)} by traceback`, desc, `<g class="frames">${parts.join("")}</g>` + lg.svg, options.id);
}
