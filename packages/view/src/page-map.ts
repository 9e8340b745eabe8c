import { aggregate, mixText, type Interval } from "./aggregate.js";
import type { PageMapData, RenderOptions } from "./api.js";
import { causeColour, GREY } from "./palette.js";
import { bytes, esc, hex, legend, rect, svgRoot, text } from "./svg.js";

const MAX_ROWS = 64;
const NOT_RESIDENT = "not resident";
const SWAPPED = "swapped out";
/** Swapped-out pages: a grey between not resident (light) and allocator structures (dark). */
const SWAPPED_COLOUR = "#A6A6A6";

/** The name of page code `code` (see {@link PageMapData}). */
export function pageCodeName(data: PageMapData, code: number): string {
  return code === 0 ? NOT_RESIDENT : code === 1 ? SWAPPED : (data.causes[code - 2] ?? `cause ${code}`);
}

/** The colour of page code `code`. */
function codeColour(data: PageMapData, code: number): string {
  return code === 0 ? GREY.light : code === 1 ? SWAPPED_COLOUR : causeColour(data.causes[code - 2] ?? "", code - 2);
}

/**
 * The page map: each mapping of the process as its pages, one row a mapping (its own scale:
 * the row is the whole mapping), not resident pages light grey, swapped-out pages dark grey,
 * resident pages in the colour of the cause that holds most of their bytes. Rows of few pages
 * show each page as a cell; longer ones are runs, aggregated beyond `maxNodes`. At most 64
 * rows are drawn (the largest resident ones first among the rest; a line counts the others).
 *
 * ```
 *   0x55d0c3a2e000 [heap] 132 KiB    [■■■■■■■■■■□□□□□□□□□□□□□□□□□□□]
 *   0x7f3a2c000000 1.0 MiB           [■■□■□□□□□□□□□□□□□□□□□□□□□□□□□]
 * ```
 */
export function renderPageMap(data: PageMapData, options: RenderOptions = {}): string {
  const width = options.width ?? 960;
  const maxNodes = Math.max(32, options.maxNodes ?? 4000);
  const left = 250;
  const barW = width - left - 8;
  const page = data.pageSize;
  let rows = data.mappings;
  let hidden: typeof rows = [];
  if (rows.length > MAX_ROWS) {
    const resident = (m: (typeof rows)[number]) => {
      let n = 0;
      for (let i = 0; i < m.runs.length; i += 2) if ((m.runs[i] ?? 0) >= 1) n += m.runs[i + 1] ?? 0;
      return n;
    };
    const keep = new Set([...rows].sort((a, b) => resident(b) - resident(a)).slice(0, MAX_ROWS));
    hidden = rows.filter((m) => !keep.has(m));
    rows = rows.filter((m) => keep.has(m));
  }
  const perRow = Math.max(2, Math.floor((maxNodes - rows.length * 3) / Math.max(1, rows.length)));
  const rowH = 14;
  const parts: string[] = [];
  const totals = new Map<number, number>();
  for (const m of data.mappings) for (let i = 0; i < m.runs.length; i += 2) totals.set(m.runs[i]!, (totals.get(m.runs[i]!) ?? 0) + m.runs[i + 1]!);
  const omitted = data.omitted ?? { count: 0, bytes: 0 };
  const residentPages = [...totals].filter(([c]) => c >= 2).reduce((a, [, n]) => a + n, 0);
  let y = 8;
  parts.push(text(8, y + 11, `${data.mappings.length + omitted.count} mappings, ${bytes(residentPages * page)} resident (${residentPages} pages)${(totals.get(1) ?? 0) > 0 ? `, ${bytes((totals.get(1) ?? 0) * page)} swapped out` : ""}`, ' class="caption"'));
  y += 20;
  for (const m of rows) {
    const pages = Math.round((m.end - m.start) / page);
    const label = `${hex(m.start)} ${m.name === "" ? "anon" : shortName(m.name)} ${bytes(m.end - m.start)}`;
    parts.push(text(8, y + 11, label, ' class="address"'));
    parts.push(rect(left, y, barW, rowH, "#FFFFFF", undefined, ` stroke="${GREY.mid}" stroke-width="0.5" class="mapping"`));
    const cellMode = pages * 3 <= barW;
    const scale = barW / Math.max(1, pages);
    const intervals: Interval[] = [];
    let at = 0;
    for (let i = 0; i < m.runs.length; i += 2) {
      const code = m.runs[i]!;
      const n = m.runs[i + 1]!;
      if (cellMode) for (let k = 0; k < n; k++) intervals.push({ start: at + k, end: at + k + 1, key: String(code) });
      else intervals.push({ start: at, end: at + n, key: String(code) });
      at += n;
    }
    for (const s of aggregate(intervals, 0, pages, perRow)) {
      const code = Number(s.key);
      const n = s.end - s.start;
      const t =
        s.mix === undefined
          ? cellMode
            ? `page ${hex(m.start + s.start * page)}: ${bytes(page)}, ${pageCodeName(data, code)}`
            : `${n} page${n === 1 ? "" : "s"} at ${hex(m.start + s.start * page)} (${bytes(n * page)}): ${pageCodeName(data, code)}`
          : `${hex(m.start + Math.floor(s.start) * page)}–${hex(m.start + Math.ceil(s.end) * page)}: ${mixText(Object.fromEntries(Object.entries(s.mix).map(([k, v]) => [pageCodeName(data, Number(k)), v])))}`;
      if (code === 0 && !cellMode && s.mix === undefined) {
        // not resident: the bare row shows it; a transparent rect keeps the hover text
        parts.push(rect(left + s.start * scale, y, (s.end - s.start) * scale, rowH, "transparent", t, ' class="page" data-state="0"'));
        continue;
      }
      parts.push(rect(left + s.start * scale + (cellMode ? 0.5 : 0), y + (cellMode ? 1 : 0), (s.end - s.start) * scale - (cellMode ? 1 : 0), rowH - (cellMode ? 2 : 0), codeColour(data, code), t, ` class="page" data-state="${esc(s.key)}"`));
    }
    y += rowH + 4;
  }
  if (hidden.length + omitted.count > 0) {
    const hiddenBytes = hidden.reduce((a, m) => a + m.end - m.start, 0) + omitted.bytes;
    parts.push(text(left, y + 11, `… ${hidden.length + omitted.count} more mappings (${bytes(hiddenBytes)}) not drawn`, ' class="note"'));
    y += 18;
  }
  const items = [
    { colour: GREY.light, label: `${NOT_RESIDENT} (${bytes((totals.get(0) ?? 0) * page)})` },
    { colour: SWAPPED_COLOUR, label: `${SWAPPED} (${bytes((totals.get(1) ?? 0) * page)})` },
    ...data.causes.map((c, i) => ({ colour: causeColour(c, i), label: `${c} (${bytes((totals.get(i + 2) ?? 0) * page)})` })),
  ];
  const lg = legend(items, y + 6, width);
  y += lg.height + 14;
  const desc =
    `${data.mappings.length} mappings; resident pages by the cause holding most of their bytes: ` +
    data.causes.map((c, i) => `${c} ${totals.get(i + 2) ?? 0} pages`).join(", ") +
    `; ${totals.get(0) ?? 0} pages not resident, ${totals.get(1) ?? 0} swapped out.`;
  return svgRoot("page-map", width, y, options.title ?? "Page map (resident pages by cause)", desc, parts.join("") + lg.svg, options.id);
}

function shortName(name: string): string {
  const slash = name.lastIndexOf("/");
  const base = slash >= 0 ? name.slice(slash + 1) : name;
  return base.length > 22 ? `${base.slice(0, 21)}…` : base;
}
