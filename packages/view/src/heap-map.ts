import { aggregate, mixText, type Interval } from "./aggregate.js";
import type { ChunkState, HeapMapData, RenderOptions } from "./api.js";
import { CHUNK_COLOURS, OKABE_ITO } from "./palette.js";
import { bytes, esc, hex, legend, num, rect, svgRoot, text } from "./svg.js";

/** The chunk states the legend lists, per allocator. */
const GLIBC_STATES: readonly ChunkState[] = ["in-use", "tcache", "fastbin", "unsorted", "small", "large", "top", "structure", "fencepost"];
const TLSF_STATES: readonly ChunkState[] = ["in-use", "free", "structure"];
const LABELS: Readonly<Record<string, string>> = {
  "in-use": "in use",
  tcache: "tcache",
  fastbin: "fastbin",
  unsorted: "unsorted bin",
  small: "small bin",
  large: "large bin",
  top: "top chunk",
  structure: "allocator structure",
  fencepost: "fencepost",
  free: "free",
};
const LINE_BYTES = 256 * 1024;
const MAX_LINES = 8;
const MAX_CARDS = 48;

/**
 * The heap map: the C library's heap as chunks along the address line, coloured by state
 * (in use, tcache, fastbin, unsorted, small, large, top), wrapped over up to 8 lines; the
 * chunk that keeps glibc's top from being trimmed is outlined and flagged; chunks with a
 * mapping of their own are cards in a row beneath. Each chunk's `<title>` gives its address,
 * size and state; beyond `maxNodes` chunks, neighbours are aggregated (see aggregate.ts).
 *
 * ```
 *   0x55d0c3a2e000 [tc][in-use][in-use][tcache][ small ][in-use][▼pin][ top ............ ]
 *   0x55d0c3a6e000 [ top ............................................................... ]
 *   mmapped        [256 KiB] [1.0 MiB] ...
 * ```
 */
export function renderHeapMap(data: HeapMapData, options: RenderOptions = {}): string {
  const width = options.width ?? 960;
  const maxNodes = Math.max(16, options.maxNodes ?? 4000);
  const left = 116;
  const barW = width - left - 8;
  const size = Math.max(0, data.heapEnd - data.heapStart);
  const lines = size === 0 ? 0 : Math.min(MAX_LINES, Math.max(1, Math.ceil(size / LINE_BYTES)));
  const perLine = lines === 0 ? 0 : Math.ceil(size / lines / 16) * 16;
  const lineH = 26;
  const cards = data.mmapped.length > MAX_CARDS ? MAX_CARDS - 1 : data.mmapped.length;
  const mmappedCount = data.mmapped.length + (data.omittedMmapped?.count ?? 0);
  const budget = Math.max(lines, maxNodes - cards - 4);
  const parts: string[] = [];
  const totals = new Map<string, number>();
  for (const c of data.chunks) totals.set(c.state, (totals.get(c.state) ?? 0) + c.size);
  const title = options.title ?? `Heap map (${data.allocator === "glibc" ? "glibc ptmalloc2" : "TLSF"})`;
  let y = 8;
  parts.push(
    text(8, y + 11, `${data.allocator === "glibc" ? "brk heap" : "heap"} ${hex(data.heapStart)}–${hex(data.heapEnd)} (${bytes(size)}), ${data.chunks.length} chunks; ${mmappedCount} mmapped chunk${mmappedCount === 1 ? "" : "s"}`, ' class="caption"'),
  );
  y += 20;
  const intervals: Interval[] = data.chunks.map((c) => ({ start: c.address, end: c.address + c.size, key: c.state }));
  let drawn = 0;
  for (let l = 0; l < lines; l++) {
    const lo = data.heapStart + l * perLine;
    const hi = Math.min(data.heapEnd, lo + perLine);
    const scale = barW / perLine;
    parts.push(text(8, y + 17, hex(lo), ' class="address"'));
    parts.push(rect(left, y, (hi - lo) * scale, lineH, "#FFFFFF", undefined, ' stroke="#999" stroke-width="0.5" class="line"'));
    const inLine = clip(intervals, lo, hi);
    const segments = aggregate(inLine, lo, hi, Math.floor(budget / lines));
    for (const s of segments) {
      const c = s.index === undefined ? undefined : data.chunks[inLine[s.index]!.index];
      const t = s.mix === undefined ? (c === undefined ? "" : `${hex(c.address)}: ${c.size} bytes, ${LABELS[c.state] ?? c.state}`) : `${hex(Math.floor(s.start))}–${hex(Math.ceil(s.end))}: ${s.count} chunks (${bytes(Math.round(s.end - s.start))}): ${mixText(s.mix)}`;
      parts.push(rect(left + (s.start - lo) * scale, y, (s.end - s.start) * scale, lineH, CHUNK_COLOURS[s.key] ?? "#999", t, ` class="chunk" data-state="${esc(s.key)}"`));
      drawn++;
    }
    const pin = data.topPin;
    if (pin !== undefined && pin.chunk >= lo && pin.chunk < hi) {
      const x = left + (pin.chunk - lo) * scale;
      const w = Math.max(3, pin.size * scale);
      const t = `pin: the ${pin.state} chunk ${hex(pin.chunk)} (${pin.size} bytes) keeps the top from being trimmed${pin.wouldTrim > 0 ? `; freeing it would trim ${bytes(pin.wouldTrim)}` : ""}`;
      parts.push(
        `<g class="pin">${rect(x - 1, y - 1, w + 2, lineH + 2, "none", undefined, ` stroke="${OKABE_ITO.black}" stroke-width="2"`)}` +
          `<path d="M${num(x + w / 2 - 5)} ${num(y - 7)}h10l-5 6z" fill="${OKABE_ITO.black}"><title>${esc(t)}</title></path></g>`,
      );
    }
    y += lineH + 6;
  }
  if (lines === 0) {
    parts.push(text(left, y + 12, "(the heap is empty: malloc has not been called)", ' class="note"'));
    y += 22;
  }
  if (data.mmapped.length > 0) {
    parts.push(text(8, y + 16, "mmapped", ' class="address"'));
    const cardW = Math.min(90, (barW - (MAX_CARDS - 1) * 2) / Math.min(MAX_CARDS, data.mmapped.length) - 2);
    let x = left;
    let row = 0;
    const sorted = [...data.mmapped].sort((a, b) => a.address - b.address);
    const shown = sorted.slice(0, cards);
    for (const m of shown) {
      if (x + cardW > left + barW + 1) {
        x = left;
        row++;
      }
      parts.push(rect(x, y + row * 26, cardW, 22, OKABE_ITO.skyBlue, `${hex(m.address)}: ${m.size} bytes, mmapped chunk`, ' class="chunk" data-state="mmapped"'));
      if (cardW > 44) parts.push(text(x + 3, y + row * 26 + 15, bytes(m.size), ' class="card-label"'));
      x += cardW + 2;
      drawn++;
    }
    const omitted = data.omittedMmapped ?? { count: 0, bytes: 0 };
    if (sorted.length > cards || omitted.count > 0) {
      const rest = sorted.slice(cards);
      const restCount = rest.length + omitted.count;
      const restBytes = rest.reduce((a, m) => a + m.size, 0) + omitted.bytes;
      parts.push(rect(x, y + row * 26, cardW, 22, "#FFFFFF", `${restCount} more mmapped chunks (${bytes(restBytes)})`, ` stroke="${OKABE_ITO.skyBlue}" class="chunk more" data-state="mmapped"`));
      parts.push(text(x + 3, y + row * 26 + 15, `+${restCount}`, ' class="card-label"'));
    }
    y += (row + 1) * 26 + 4;
  }
  const states = data.allocator === "glibc" ? GLIBC_STATES : TLSF_STATES;
  const items = states.map((s) => ({ colour: CHUNK_COLOURS[s]!, label: `${LABELS[s]} (${bytes(totals.get(s) ?? 0)})` }));
  if (data.mmapped.length > 0) items.push({ colour: OKABE_ITO.skyBlue, label: `mmapped chunk (${bytes(data.mmapped.reduce((a, m) => a + m.size, 0))})` });
  if (data.topPin !== undefined) items.push({ colour: "#FFFFFF", label: "▼ pin keeping the top from trimming" });
  const lg = legend(items, y + 4, width);
  y += lg.height + 10;
  const desc =
    `The ${data.allocator} heap from ${hex(data.heapStart)} to ${hex(data.heapEnd)} (${bytes(size)}) in ${data.chunks.length} chunks: ` +
    [...totals].map(([s, n]) => `${bytes(n)} ${LABELS[s] ?? s}`).join(", ") +
    `. ${mmappedCount} chunk(s) mapped on their own.` +
    (data.topPin !== undefined ? ` The ${data.topPin.state} chunk at ${hex(data.topPin.chunk)} keeps the top from being trimmed.` : "") +
    (drawn < data.chunks.length ? ` Drawn as ${drawn} shapes (neighbouring chunks aggregated).` : "");
  return svgRoot("heap-map", width, y, title, desc, parts.join("") + lg.svg, options.id);
}

/** The intervals overlapping `[lo, hi)`, cut to it. */
function clip(intervals: readonly Interval[], lo: number, hi: number): (Interval & { index: number })[] {
  const out: (Interval & { index: number })[] = [];
  intervals.forEach((it, index) => {
    if (it.end <= lo || it.start >= hi) return;
    out.push({ start: Math.max(lo, it.start), end: Math.min(hi, it.end), key: it.key, index });
  });
  return out;
}
