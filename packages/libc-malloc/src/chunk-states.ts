import type { Memory } from "@mem/hardware";
import type { HeapChunk } from "./api.js";
import { AV_FASTBINS, AV_TOP, FD, TCACHE_ENTRIES } from "./arena-layout.js";
import { CHUNK_HDR_SZ, MINSIZE, NBINS, NFASTBINS, PAGE, PREV_INUSE, TCACHE_MAX_BINS, TWO_32, xor64 } from "./constants.js";
import { HeapCheckError } from "./errors.js";
import type { GlibcHeapView } from "./heap-check.js";

/** {@link ChunkStates.state} of a chunk the program holds (or glibc's own tcache struct). */
export const CHUNK_IN_USE = 0;
/** {@link ChunkStates.state} of a chunk in a tcache bin. */
export const CHUNK_TCACHE = 1;
/** {@link ChunkStates.state} of a chunk in a fastbin. */
export const CHUNK_FASTBIN = 2;
/** {@link ChunkStates.state} of a chunk in a normal bin (unsorted, small or large). */
export const CHUNK_BIN = 3;
/** {@link ChunkStates.state} of the top chunk. */
export const CHUNK_TOP = 4;
/** {@link ChunkStates.state} of a fencepost. */
export const CHUNK_FENCEPOST = 5;

/** {@link HeapChunk.state} by {@link ChunkStates.state} code. */
export const CHUNK_STATE_NAMES: readonly HeapChunk["state"][] = ["in-use", "tcache", "fastbin", "bin", "top", "fencepost"];

/**
 * The main heap's chunks in address order (region by region), one column per field: what
 * `GlibcMalloc.walkHeap` returns, without an object per chunk. Entry `i < count` of each
 * column is chunk `i`; the columns may be longer than `count`.
 *
 * ```
 *   i        0        1        2      ...  count-1
 *   address  [p0]     [p1]     [p2]        [top]
 *   size     [0x290]  [0x20]   [0x410]     [...]
 *   state    IN_USE   TCACHE   BIN         TOP        (CHUNK_* codes; CHUNK_STATE_NAMES[code])
 *   bin      0        0 (idx)  1 (unsorted)  0       (meaningful for TCACHE, FASTBIN, BIN only)
 * ```
 */
export interface ChunkStates {
  /** Chunks listed. */
  readonly count: number;
  /** Chunk header addresses. */
  readonly address: Float64Array;
  /** Chunk sizes (flags masked off). */
  readonly size: Float64Array;
  /** Raw size fields, flag bits included. */
  readonly sizeField: Float64Array;
  /** `CHUNK_*` codes. */
  readonly state: Uint8Array;
  /** The list's index for chunks in a list (tcache index, fastbin index, bin 1..127), else 0. */
  readonly bin: Uint8Array;
}

/** Growable columns. */
class Columns implements ChunkStates {
  count = 0;
  address: Float64Array;
  size: Float64Array;
  sizeField: Float64Array;
  state: Uint8Array;
  bin: Uint8Array;

  constructor(capacity: number) {
    this.address = new Float64Array(capacity);
    this.size = new Float64Array(capacity);
    this.sizeField = new Float64Array(capacity);
    this.state = new Uint8Array(capacity);
    this.bin = new Uint8Array(capacity);
  }

  push(address: number, size: number, sizeField: number, state: number): void {
    if (this.count === this.address.length) this.grow();
    const i = this.count++;
    this.address[i] = address;
    this.size[i] = size;
    this.sizeField[i] = sizeField;
    this.state[i] = state;
  }

  private grow(): void {
    const n = this.address.length * 2;
    this.address = widened(this.address, new Float64Array(n));
    this.size = widened(this.size, new Float64Array(n));
    this.sizeField = widened(this.sizeField, new Float64Array(n));
    this.state = widened(this.state, new Uint8Array(n));
    this.bin = widened(this.bin, new Uint8Array(n));
  }
}

/** `into`, a longer column, with `from`'s entries at its start. */
function widened<T extends Float64Array | Uint8Array>(from: T, into: T): T {
  into.set(from);
  return into;
}

/** The capacity the last walk needed, so that the next one rarely grows its columns. */
let lastCount = 256;

/**
 * Walks `view`'s heap (as `walkGlibcHeap`) into columns, naming each chunk's list from the
 * normal bins, the fastbins and `view`'s tcache, and, when given, `threadTcaches` (every
 * thread's tcache entries: chunk address → tcache index) for chunks otherwise in use. Unlike
 * `walkGlibcHeap` it does not check the lists (links, sizes, counts, binmap): the chunk chain
 * alone is checked, as far as needed to end (a broken one throws {@link HeapCheckError}).
 */
export function walkChunkStates(view: GlibcHeapView, threadTcaches?: ReadonlyMap<number, number>): ChunkStates {
  const out = new Columns(lastCount);
  if (!view.initialised) return out;
  /** Index of each region's first chunk, and the end. */
  const regionStart: number[] = [];
  for (let r = 0; r < view.regions.length; r++) {
    regionStart.push(out.count);
    walkRegion(view, r, out);
  }
  regionStart.push(out.count);
  lastCount = Math.max(256, out.count + 64);
  markLists(view, out, regionStart);
  if (threadTcaches !== undefined) for (const [p, i] of threadTcaches) mark(out, regionStart, p, CHUNK_TCACHE, i);
  return out;
}

/** Appends region `r`'s chunks to `out`, from its start to the top chunk or its fenceposts. */
function walkRegion(view: GlibcHeapView, r: number, out: Columns): void {
  const mem = view.memory;
  const last = r === view.regions.length - 1;
  const top = view.top;
  let p = view.regions[r]!;
  for (;;) {
    const sizeField = read(mem, p + 8);
    const size = sizeField - (sizeField & 7);
    if (p === top) {
      out.push(p, size, sizeField, CHUNK_TOP);
      return;
    }
    if (size < MINSIZE) {
      // fenceposts: 0|P ends a full thread heap; 16|P pairs end a region
      if (sizeField === PREV_INUSE && view.noncontiguous && !last) {
        out.push(p, 0, sizeField, CHUNK_FENCEPOST);
        return;
      }
      if (size === CHUNK_HDR_SZ) {
        out.push(p, size, sizeField, CHUNK_FENCEPOST);
        const after = p + size;
        const afterField = read(mem, after + 8);
        const afterSize = afterField - (afterField & 7);
        if (afterSize === CHUNK_HDR_SZ || (afterField === PREV_INUSE && view.noncontiguous)) {
          out.push(after, afterSize, afterField, CHUNK_FENCEPOST);
          return;
        }
        p = after;
        continue;
      }
    }
    if (size < MINSIZE || (size & 15) !== 0) fail(`invalid chunk size 0x${sizeField.toString(16)}`, p);
    if (p + size > top && (last || !view.noncontiguous)) fail(`chunk of size 0x${size.toString(16)} runs past the top chunk`, p);
    out.push(p, size, sizeField, CHUNK_IN_USE);
    p += size;
  }
}

/** Names the chunks on glibc's lists: the normal bins, the fastbins, `view`'s tcache. */
function markLists(view: GlibcHeapView, out: Columns, regionStart: readonly number[]): void {
  const mem = view.memory;
  // a cycle cannot hold more chunks than the heap has
  const limit = Math.floor(view.systemMem / MINSIZE) + 2;
  const shift = view.stateFieldShift ?? 0;
  for (let i = 1; i < NBINS; i++) {
    const bin = view.arena + AV_TOP - shift + 16 * (i - 1);
    let n = 0;
    for (let p = read(mem, bin + FD); p !== bin && n++ <= limit; p = read(mem, p + FD)) mark(out, regionStart, p, CHUNK_BIN, i);
  }
  for (let i = 0; i < (view.stateFieldShift === undefined ? NFASTBINS : 0); i++) {
    let n = 0;
    for (let p = read(mem, view.arena + AV_FASTBINS + 8 * i); p !== 0 && n++ <= limit; p = reveal(mem, p + FD)) mark(out, regionStart, p, CHUNK_FASTBIN, i);
  }
  if (view.tcache !== 0) {
    const layout = view.tcacheLayout ?? { bins: TCACHE_MAX_BINS, entries: TCACHE_ENTRIES, countsDown: false };
    for (let i = 0; i < layout.bins; i++) {
      const word = mem.load16(view.tcache + 2 * i);
      let n = layout.countsDown ? view.tcacheCount - word : word;
      for (let e = read(mem, view.tcache + layout.entries + 8 * i); e !== 0 && n-- > 0; e = reveal(mem, e)) mark(out, regionStart, e - CHUNK_HDR_SZ, CHUNK_TCACHE, i);
    }
  }
}

/** Gives the chunk at `p`, if it is one and otherwise in use, the list `state` / `bin`. */
function mark(out: Columns, regionStart: readonly number[], p: number, state: number, bin: number): void {
  const i = find(out, regionStart, p);
  if (i >= 0 && out.state[i] === CHUNK_IN_USE) {
    out.state[i] = state;
    out.bin[i] = bin;
  }
}

/**
 * The chunks of `states` as `GlibcMalloc.walkHeap` gives them: one {@link HeapChunk} each,
 * `bin` set only for chunks in a list.
 * @throws RangeError when `count` is not a whole number within every column, or a state is not a `CHUNK_*` code
 */
export function heapChunksOf(states: ChunkStates): HeapChunk[] {
  const { count } = states;
  const shortest = Math.min(states.address.length, states.size.length, states.sizeField.length, states.state.length, states.bin.length);
  if (!Number.isSafeInteger(count) || count < 0 || count > shortest) {
    throw new RangeError(`libc-malloc: heapChunksOf: count must be a whole number from 0 to the columns' length ${shortest}, got ${String(count)}`);
  }
  const chunks: HeapChunk[] = new Array<HeapChunk>(count);
  for (let i = 0; i < count; i++) {
    const state = states.state[i]!;
    if (state >= CHUNK_STATE_NAMES.length) throw new RangeError(`libc-malloc: heapChunksOf: chunk ${i} has state code ${state}, not a CHUNK_* code (0..${CHUNK_STATE_NAMES.length - 1})`);
    const chunk: HeapChunk = { address: states.address[i]!, size: states.size[i]!, sizeField: states.sizeField[i]!, state: CHUNK_STATE_NAMES[state]! };
    if (state === CHUNK_TCACHE || state === CHUNK_FASTBIN || state === CHUNK_BIN) chunk.bin = states.bin[i]!;
    chunks[i] = chunk;
  }
  return chunks;
}

/** The index of the chunk at `p` (binary search in each region's ascending run), or -1. */
function find(out: Columns, regionStart: readonly number[], p: number): number {
  const address = out.address;
  for (let r = 0; r + 1 < regionStart.length; r++) {
    let lo = regionStart[r]!;
    let hi = regionStart[r + 1]! - 1;
    if (hi < lo || p < address[lo]! || p > address[hi]!) continue;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const a = address[mid]!;
      if (a === p) return mid;
      if (a < p) lo = mid + 1;
      else hi = mid - 1;
    }
  }
  return -1;
}

function read(mem: Memory, address: number): number {
  return mem.load32(address) + mem.load32(address + 4) * TWO_32;
}

function reveal(mem: Memory, position: number): number {
  return xor64(Math.floor(position / PAGE), read(mem, position));
}

function fail(rule: string, address: number): never {
  throw new HeapCheckError(rule, address);
}
