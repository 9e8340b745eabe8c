import type { ArenaCell, ArenaMapData, PoolCell, RenderOptions } from "./api.js";
import { GREY, OKABE_ITO, sizeClassColour } from "./palette.js";
import { bytes, esc, hex, legend, num, rect, svgRoot, text } from "./svg.js";

/** A pool, or several neighbouring pools drawn as one cell beyond the budget. */
interface Cell {
  readonly first: number;
  readonly pools: number;
  readonly state: PoolCell["state"];
  readonly sizeClass: number;
  readonly used: number;
  readonly capacity: number;
}

/**
 * The arena map: every pymalloc arena as a strip of its pools. A used pool is filled in its
 * size class's colour (viridis: small classes dark, large ones yellow) up to how full it is;
 * an empty pool is a dashed white box; never-carved pools are the bare strip; the arena's
 * alignment loss (the bytes before the first pool-aligned address, and after the last pool)
 * is hatched grey. An arena kept mapped by a few live blocks is flagged ◆ with ticks at its
 * survivors. Beyond `maxNodes`, neighbouring pools share a cell, and beyond that only the
 * first arenas are drawn (a line says how many are not).
 *
 * ```
 *   ◆ 0x7f3a2c000000 [▨][▇▇][▅▅][  ][▂▂][┆┆][          never carved          ][▨]
 *                    loss  pools by class/fullness  empty        uncarved      loss
 * ```
 */
export function renderArenaMap(data: ArenaMapData, options: RenderOptions = {}): string {
  const width = options.width ?? 960;
  const maxNodes = Math.max(32, options.maxNodes ?? 4000);
  const left = 118;
  const barW = width - left - 8;
  const perArenaFixed = 5;
  let arenas = data.arenas;
  let hidden = data.omitted ?? 0;
  const maxArenas = Math.floor(maxNodes / (perArenaFixed + 4));
  if (arenas.length > maxArenas) {
    hidden += arenas.length - maxArenas;
    arenas = arenas.slice(0, maxArenas);
  }
  const totalPools = arenas.reduce((a, x) => a + x.pools.length, 0);
  const poolBudget = Math.max(arenas.length * 4, maxNodes - arenas.length * perArenaFixed);
  const group = Math.max(1, Math.ceil(totalPools / poolBudget));
  const stripH = data.arenas.length > 40 ? 10 : 22;
  const gap = stripH > 10 ? 6 : 2;
  const scale = barW / Math.max(1, data.arenaSize);
  const parts: string[] = [
    `<defs><pattern id="${esc(options.id ?? "arena-map")}-hatch" width="4" height="4" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="4" height="4" fill="${GREY.light}"/><line x1="0" y1="0" x2="0" y2="4" stroke="${GREY.dark}" stroke-width="1"/></pattern></defs>`,
  ];
  const hatch = `url(#${esc(options.id ?? "arena-map")}-hatch)`;
  let y = 8;
  let used = 0;
  let empty = 0;
  let live = 0;
  let pinned = 0;
  for (const a of data.arenas) {
    for (const p of a.pools) {
      if (p.state === "used") used++;
      if (p.state === "empty") empty++;
      live += p.used * p.sizeClass;
    }
    if (a.pin !== undefined) pinned++;
  }
  parts.push(
    text(8, y + 11, `${data.arenas.length + (data.omitted ?? 0)} arena${data.arenas.length + (data.omitted ?? 0) === 1 ? "" : "s"} of ${bytes(data.arenaSize)}, ${used} pools in use, ${empty} empty, ${bytes(live)} in live blocks${pinned > 0 ? `; ${pinned} pinned by a few survivors` : ""}${group > 1 ? ` (${group} pools a cell)` : ""}`, ' class="caption"'),
  );
  y += 20;
  const classes = new Map<number, number>();
  for (const a of arenas) {
    const x0 = left;
    const label = a.pin !== undefined ? `◆ ${hex(a.base)}` : hex(a.base);
    if (stripH > 10 || arenas.indexOf(a) % 5 === 0) parts.push(text(8, y + Math.min(15, stripH - 1), label, ` class="address"${stripH > 10 ? "" : ' font-size="8"'}`));
    parts.push(rect(x0, y, data.arenaSize * scale, stripH, "#FFFFFF", `arena ${hex(a.base)}: ${bytes(data.arenaSize)}, ${a.pools.filter((p) => p.state === "used").length} pools in use, ${a.pools.filter((p) => p.state === "empty").length} empty, ${a.pools.filter((p) => p.state === "uncarved").length} never carved`, ` stroke="${GREY.mid}" stroke-width="0.5" class="arena"`));
    const lossFront = a.firstPool - a.base;
    const poolsEnd = a.firstPool + a.pools.length * data.poolSize;
    const lossBack = a.base + data.arenaSize - poolsEnd;
    if (lossFront > 0) parts.push(rect(x0, y, lossFront * scale, stripH, hatch, `alignment loss ${hex(a.base)}: ${lossFront} bytes before the first pool`, ' class="loss"'));
    if (lossBack > 0) parts.push(rect(x0 + (poolsEnd - a.base) * scale, y, lossBack * scale, stripH, hatch, `alignment loss ${hex(poolsEnd)}: ${lossBack} bytes after the last pool`, ' class="loss"'));
    for (const c of cells(a.pools, group)) {
      const px = x0 + (a.firstPool - a.base + c.first * data.poolSize) * scale;
      const pw = c.pools * data.poolSize * scale - (group === 1 && data.poolSize * scale > 4 ? 1 : 0);
      const address = a.firstPool + c.first * data.poolSize;
      const span = c.pools > 1 ? `${c.pools} pools at ${hex(address)}` : `pool ${hex(address)}`;
      if (c.state === "used") {
        classes.set(c.sizeClass, (classes.get(c.sizeClass) ?? 0) + 1);
        const full = c.capacity === 0 ? 0 : c.used / c.capacity;
        const h = Math.max(1, stripH * full);
        parts.push(
          rect(px, y + stripH - h, pw, h, sizeClassColour(c.sizeClass, data.maxSizeClass), `${span}: ${bytes(c.pools * data.poolSize)}, size class ${c.sizeClass}, ${c.used} of ${c.capacity} blocks in use (${Math.round(100 * full)}%)`, ` class="pool" data-state="used" data-class="${c.sizeClass}"`),
        );
      } else if (c.state === "empty") {
        parts.push(rect(px + 0.5, y + 0.5, pw - 1, stripH - 1, "#FFFFFF", `${span}: ${bytes(c.pools * data.poolSize)}, empty (on the arena's free-pool list)`, ` stroke="${OKABE_ITO.orange}" stroke-dasharray="2 1" class="pool" data-state="empty"`));
      } else if (c.state === "unknown") {
        parts.push(rect(px, y, pw, stripH, GREY.mid, `${span}: header not resident`, ' class="pool" data-state="unknown"'));
      }
    }
    if (a.pin !== undefined) {
      const pin = a.pin;
      const t = `pinned arena ${hex(a.base)}: ${bytes(pin.residentBytes)} resident kept by ${pin.liveBlocks} live block${pin.liveBlocks === 1 ? "" : "s"} (${bytes(pin.liveBytes)}): ${pin.survivors.map((s) => `${hex(s.address)} (${s.size})`).join(", ")}`;
      let ticks = "";
      for (const s of pin.survivors) ticks += `M${num(x0 + (s.address - a.base) * scale)} ${num(y - 2)}v${num(stripH + 4)}`;
      parts.push(`<g class="pin"><path d="${ticks}" stroke="${OKABE_ITO.vermillion}" stroke-width="1.5"/>${rect(x0 - 1, y - 1, data.arenaSize * scale + 2, stripH + 2, "none", t, ` stroke="${OKABE_ITO.vermillion}" stroke-width="1.5"`)}</g>`);
    }
    y += stripH + gap;
  }
  if (data.arenas.length === 0) {
    parts.push(text(left, y + 12, "(no pymalloc arena: pymalloc is not in use, or has allocated nothing yet)", ' class="note"'));
    y += 22;
  }
  if (hidden > 0) {
    parts.push(text(left, y + 12, `… ${hidden} more arenas not drawn (node budget ${maxNodes})`, ' class="note"'));
    y += 20;
  }
  const ramp = [16, 64, 128, 192, 256, 320, 384, 448, 512].filter((s) => s <= data.maxSizeClass);
  const items = [
    ...ramp.map((s) => ({ colour: sizeClassColour(s, data.maxSizeClass), label: `${s} B` })),
    { colour: "#FFFFFF", label: "empty pool", swatch: ` stroke="${OKABE_ITO.orange}" stroke-dasharray="2 1"` },
    { colour: hatch, label: "alignment loss" },
    { colour: "#FFFFFF", label: "never carved" },
    { colour: "#FFFFFF", label: "◆ pinned by survivors", swatch: ` stroke="${OKABE_ITO.vermillion}" stroke-width="1.5"` },
  ];
  const note = text(8, y + 14, "pool colour: size class; filled height: share of blocks in use", ' class="legend-note"');
  const lg = legend(items, y + 22, width);
  y += 22 + lg.height + 8;
  const desc =
    `${data.arenas.length + (data.omitted ?? 0)} pymalloc arenas of ${bytes(data.arenaSize)}, pools of ${bytes(data.poolSize)}: ${used} pools in use, ${empty} empty; ${bytes(live)} in live blocks. ` +
    (pinned > 0 ? `${pinned} arenas are kept mapped by a few surviving blocks. ` : "") +
    (classes.size > 0 ? `Size classes in use: ${[...classes.keys()].sort((a, b) => a - b).join(", ")} bytes.` : "");
  return svgRoot("arena-map", width, y, options.title ?? "Arena map (pymalloc)", desc, parts.join("") + note + lg.svg, options.id);
}

/** The pools of an arena as cells of `group` pools each (the dominant state and class; summed blocks). */
function cells(pools: ArenaCell["pools"], group: number): Cell[] {
  const out: Cell[] = [];
  if (group === 1) {
    pools.forEach((p, i) => out.push({ first: i, pools: 1, ...p }));
    return out;
  }
  for (let i = 0; i < pools.length; i += group) {
    const slice = pools.slice(i, i + group);
    const states = new Map<string, number>();
    const sizes = new Map<number, number>();
    let usedBlocks = 0;
    let capacity = 0;
    for (const p of slice) {
      states.set(p.state, (states.get(p.state) ?? 0) + 1);
      if (p.state === "used") {
        sizes.set(p.sizeClass, (sizes.get(p.sizeClass) ?? 0) + 1);
        usedBlocks += p.used;
        capacity += p.capacity;
      }
    }
    const state = ([...states].sort((a, b) => b[1] - a[1])[0]?.[0] ?? "uncarved") as PoolCell["state"];
    const sizeClass = [...sizes].sort((a, b) => b[1] - a[1])[0]?.[0] ?? 0;
    out.push({ first: i, pools: slice.length, state: sizes.size > 0 && state !== "used" && (states.get("used") ?? 0) * 2 >= slice.length ? "used" : state, sizeClass, used: usedBlocks, capacity });
  }
  return out;
}
