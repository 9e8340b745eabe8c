import { aggregate } from "./aggregate.js";
import type { ArenaMapData, ChunkCell, ChunkState, HeapMapData, MappingRow, PageMapData, PoolCell } from "./api.js";

/**
 * A compact, JSON-safe form of the three maps at one moment, for pages that carry many
 * snapshots (the report's time slider). Pools are one number each, chunks three numbers
 * (offset from the heap start, size, state), pages stay run-length encoded; a heap of more
 * than `maxChunks` chunks is merged (same-state neighbours first, then buckets of the
 * dominant state) and a mapping of more than `maxRuns` runs likewise.
 *
 * ```
 *   pool  = state + 4 * (sizeClass + 1024 * (used + 2048 * capacity))     state: used 0, empty 1, uncarved 2, unknown 3
 *   chunk = [address - heapStart, size, stateIndex]                         stateIndex into CHUNK_STATES
 * ```
 */
export interface PackedMaps {
  /** Call events replayed when the maps were read. */
  readonly event: number;
  /** The arena map: geometry and one number array a pool per arena. */
  readonly a?: { readonly arenaSize: number; readonly poolSize: number; readonly maxSizeClass: number; readonly arenas: readonly (readonly [number, number, readonly number[], PinPacked?])[]; readonly omitted: number };
  /** The heap map: allocator, start, end, flat chunk triples, mmapped pairs, top pin. */
  readonly h: {
    readonly allocator: "glibc" | "tlsf";
    readonly start: number;
    readonly end: number;
    readonly c: readonly number[];
    readonly m: readonly number[];
    readonly pin?: HeapMapData["topPin"];
    readonly merged: number;
    readonly mo?: { readonly count: number; readonly bytes: number };
  };
  /** The page map. */
  readonly p: { readonly causes: readonly string[]; readonly rows: readonly (readonly [number, number, string, readonly number[]])[]; readonly omitted?: { readonly count: number; readonly bytes: number } };
}

type PinPacked = readonly [number, number, number, readonly number[]];

const POOL_STATES: readonly PoolCell["state"][] = ["used", "empty", "uncarved", "unknown"];
/** The chunk states in their packed order. */
export const CHUNK_STATES: readonly ChunkState[] = ["in-use", "tcache", "fastbin", "unsorted", "small", "large", "top", "fencepost", "structure", "free"];

/** Limits of {@link packMaps}. */
export interface PackLimits {
  /** Heap chunks kept per snapshot. @defaultValue 800 */
  maxChunks?: number;
  /** Runs kept per mapping. @defaultValue 64 */
  maxRuns?: number;
  /** Arenas kept (the first by address, as the arena map draws them). @defaultValue 64 */
  maxArenas?: number;
  /** Mappings kept (those with the most resident pages, as the page map draws them). @defaultValue 64 */
  maxMappings?: number;
  /** Mmapped chunks kept (the first by address). @defaultValue 256 */
  maxMmapped?: number;
}

/**
 * The most bytes of JSON one packed snapshot can take, roughly, under the default limits:
 * 64 arenas × 64 pools × 10 bytes, 800 chunks × 24, 256 mmapped chunks × 32, 64 mappings ×
 * (64 runs × 2 × 8 + 80): about 140 KB (a real one is typically 5–20 KB).
 */
export const PACKED_SNAPSHOT_BOUND = 64 * 64 * 10 + 800 * 24 + 256 * 32 + 64 * (64 * 2 * 8 + 80);

/** Packs the maps read at `event` (see {@link PackedMaps}). */
export function packMaps(event: number, arenas: ArenaMapData | undefined, heap: HeapMapData, pages: PageMapData, limits: PackLimits = {}): PackedMaps {
  const maxChunks = limits.maxChunks ?? 800;
  const maxRuns = limits.maxRuns ?? 64;
  const maxArenas = limits.maxArenas ?? 64;
  const maxMappings = limits.maxMappings ?? 64;
  const maxMmapped = limits.maxMmapped ?? 256;
  const a =
    arenas === undefined
      ? undefined
      : {
          arenaSize: arenas.arenaSize,
          poolSize: arenas.poolSize,
          maxSizeClass: arenas.maxSizeClass,
          omitted: (arenas.omitted ?? 0) + Math.max(0, arenas.arenas.length - maxArenas),
          arenas: arenas.arenas.slice(0, maxArenas).map((x) => {
            const pools = x.pools.map((p) => POOL_STATES.indexOf(p.state) + 4 * (p.sizeClass + 1024 * (p.used + 2048 * p.capacity)));
            const pin: PinPacked | undefined = x.pin === undefined ? undefined : [x.pin.liveBlocks, x.pin.liveBytes, x.pin.residentBytes, x.pin.survivors.flatMap((s) => [s.address - x.base, s.size])];
            return pin === undefined ? ([x.base, x.firstPool - x.base, pools] as const) : ([x.base, x.firstPool - x.base, pools, pin] as const);
          }),
        };
  const chunks = mergeChunks(heap, maxChunks);
  const c: number[] = [];
  for (const ch of chunks) c.push(ch.address - heap.heapStart, ch.size, CHUNK_STATES.indexOf(ch.state));
  const m: number[] = [];
  const mmapped = [...heap.mmapped].sort((x, y) => x.address - y.address);
  for (const x of mmapped.slice(0, maxMmapped)) m.push(x.address, x.size);
  const leftOut = mmapped.slice(maxMmapped);
  const mo = leftOut.length + (heap.omittedMmapped?.count ?? 0) > 0 ? { count: leftOut.length + (heap.omittedMmapped?.count ?? 0), bytes: leftOut.reduce((a, x) => a + x.size, 0) + (heap.omittedMmapped?.bytes ?? 0) } : undefined;
  const kept = keepMappings(pages.mappings, maxMappings);
  const rows = kept.map((row) => [row.start, row.end, row.name, limitRuns(row, maxRuns)] as const);
  let omittedRows = pages.omitted ?? { count: 0, bytes: 0 };
  if (kept.length < pages.mappings.length) {
    const keptSet = new Set(kept);
    const out = pages.mappings.filter((r) => !keptSet.has(r));
    omittedRows = { count: omittedRows.count + out.length, bytes: omittedRows.bytes + out.reduce((a, r) => a + r.end - r.start, 0) };
  }
  return {
    event,
    ...(a === undefined ? {} : { a }),
    h: { allocator: heap.allocator, start: heap.heapStart, end: heap.heapEnd, c, m, ...(heap.topPin === undefined ? {} : { pin: heap.topPin }), merged: heap.chunks.length - chunks.length, ...(mo === undefined ? {} : { mo }) },
    p: { causes: pages.causes, rows, ...(omittedRows.count > 0 ? { omitted: omittedRows } : {}) },
  };
}

/** The maps back from {@link packMaps} (merged chunks and runs stay merged). */
export function unpackMaps(packed: PackedMaps): { event: number; arenas: ArenaMapData | undefined; heap: HeapMapData; pages: PageMapData } {
  const a = packed.a;
  const arenas: ArenaMapData | undefined =
    a === undefined
      ? undefined
      : {
          arenaSize: a.arenaSize,
          poolSize: a.poolSize,
          maxSizeClass: a.maxSizeClass,
          ...(a.omitted > 0 ? { omitted: a.omitted } : {}),
          arenas: a.arenas.map(([base, loss, pools, pin]) => {
            const cells: PoolCell[] = pools.map((n) => {
              const state = POOL_STATES[n % 4]!;
              let rest = Math.floor(n / 4);
              const sizeClass = rest % 1024;
              rest = Math.floor(rest / 1024);
              return { state, sizeClass, used: rest % 2048, capacity: Math.floor(rest / 2048) };
            });
            if (pin === undefined) return { base, firstPool: base + loss, pools: cells };
            const survivors: { address: number; size: number }[] = [];
            for (let i = 0; i < pin[3].length; i += 2) survivors.push({ address: base + pin[3][i]!, size: pin[3][i + 1]! });
            return { base, firstPool: base + loss, pools: cells, pin: { liveBlocks: pin[0], liveBytes: pin[1], residentBytes: pin[2], survivors } };
          }),
        };
  const h = packed.h;
  const chunks: ChunkCell[] = [];
  for (let i = 0; i < h.c.length; i += 3) chunks.push({ address: h.start + h.c[i]!, size: h.c[i + 1]!, state: CHUNK_STATES[h.c[i + 2]!] ?? "in-use" });
  const mmapped: { address: number; size: number }[] = [];
  for (let i = 0; i < h.m.length; i += 2) mmapped.push({ address: h.m[i]!, size: h.m[i + 1]! });
  const heap: HeapMapData = { allocator: h.allocator, heapStart: h.start, heapEnd: h.end, chunks, mmapped, ...(h.mo === undefined ? {} : { omittedMmapped: h.mo }), ...(h.pin === undefined ? {} : { topPin: h.pin }) };
  const pages: PageMapData = {
    pageSize: 4096,
    causes: packed.p.causes,
    mappings: packed.p.rows.map(([start, end, name, runs]) => ({ start, end, name, runs })),
    ...(packed.p.omitted === undefined ? {} : { omitted: packed.p.omitted }),
  };
  return { event: packed.event, arenas, heap, pages };
}

/** At most `max` chunks: neighbours of one state merge, then (if still too many) buckets of the dominant state. */
function mergeChunks(heap: HeapMapData, max: number): readonly ChunkCell[] {
  if (heap.chunks.length <= max) return heap.chunks;
  const merged: ChunkCell[] = [];
  for (const c of heap.chunks) {
    const last = merged[merged.length - 1];
    if (last !== undefined && last.state === c.state && last.address + last.size === c.address && c.state !== "top") merged[merged.length - 1] = { ...last, size: last.size + c.size };
    else merged.push(c);
  }
  if (merged.length <= max) return merged;
  const lo = heap.heapStart;
  const hi = Math.max(heap.heapEnd, lo + 1);
  return aggregate(
    merged.map((c) => ({ start: c.address, end: c.address + c.size, key: c.state })),
    lo,
    hi,
    max,
  ).map((s) => {
    const start = Math.ceil(s.start / 16) * 16;
    return { address: start, size: Math.max(16, Math.ceil(s.end / 16) * 16 - start), state: s.key as ChunkState };
  });
}

/** A mapping's runs, at most `max` of them (buckets of the dominant page state beyond). */
function limitRuns(row: MappingRow, max: number): number[] {
  if (row.runs.length / 2 <= max) return [...row.runs];
  const pages = Math.round((row.end - row.start) / 4096);
  const intervals = [];
  let at = 0;
  for (let i = 0; i < row.runs.length; i += 2) {
    intervals.push({ start: at, end: at + row.runs[i + 1]!, key: String(row.runs[i]) });
    at += row.runs[i + 1]!;
  }
  const out: number[] = [];
  let done = 0;
  for (const s of aggregate(intervals, 0, pages, max)) {
    const end = Math.min(pages, Math.round(s.end));
    if (end <= done) continue;
    const code = Number(s.key);
    if (out.length > 0 && out[out.length - 2] === code) out[out.length - 1]! += end - done;
    else out.push(code, end - done);
    done = end;
  }
  if (done < pages) out.push(0, pages - done);
  return out;
}

/** The `max` mappings with the most resident pages (as the page map picks its rows), in address order. */
function keepMappings(rows: readonly MappingRow[], max: number): readonly MappingRow[] {
  if (rows.length <= max) return rows;
  const resident = (m: MappingRow): number => {
    let n = 0;
    for (let i = 0; i < m.runs.length; i += 2) if ((m.runs[i] ?? 0) >= 1) n += m.runs[i + 1] ?? 0;
    return n;
  };
  const keep = new Set([...rows].sort((a, b) => resident(b) - resident(a)).slice(0, max));
  return rows.filter((r) => keep.has(r));
}
