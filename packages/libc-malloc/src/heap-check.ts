import type { Memory } from "@mem/hardware";
import type { HeapChunk } from "./api.js";
import { AV_FASTBINS, AV_TOP, BK, BK_NEXTSIZE, FD, FD_NEXTSIZE, TCACHE_ENTRIES } from "./arena-layout.js";
import {
  CHUNK_HDR_SZ,
  MINSIZE,
  NBINS,
  NFASTBINS,
  PAGE,
  PREV_INUSE,
  TCACHE_MAX_BINS,
  TWO_32,
  binIndex,
  csize2tidx,
  fastbinIndex,
  xor64,
} from "./constants.js";
import { HeapCheckError } from "./errors.js";

/** What the walker and checker need to see of a {@link GlibcMalloc}. */
export interface GlibcHeapView {
  /** The process memory. */
  memory: Memory;
  /** Address of main_arena. */
  arena: number;
  /** Start of every heap region (the first is the heap start). */
  regions: readonly number[];
  /** The top chunk. */
  top: number;
  /** The current program break. */
  brk: number;
  /** Whether the heap became non-contiguous (mmap fallback). */
  noncontiguous: boolean;
  /** main_arena.system_mem. */
  systemMem: number;
  /** The binmap words. */
  binmap: Uint32Array;
  /** The tcache struct (user address) or 0. */
  tcache: number;
  /** mp_.tcache_count. */
  tcacheCount: number;
  /** The tcache struct's layout since 2.42 (76 bins, `num_slots` counting down); absent: 2.36's (64 bins, counts). */
  tcacheLayout?: TcacheLayout;
  /** tcache_key. */
  tcacheKey: number;
  /** global_max_fast. */
  globalMaxFast: number;
  /** main_arena.have_fastchunks. */
  haveFastchunks: boolean;
  /** `MallocStateLayout.fieldShift` when the release has no fastbins (2.43: 0x58); absent: 0x898-byte layout. */
  stateFieldShift?: number;
  /** Whether ptmalloc_init ran. */
  initialised: boolean;
}

/** The layout of a `tcache_perthread_struct`. */
export interface TcacheLayout {
  /** `TCACHE_MAX_BINS`. */
  bins: number;
  /** Offset of `entries[0]`. */
  entries: number;
  /** Whether the u16 per bin is `num_slots` (free slots, counting down from tcache_count) rather than a count. */
  countsDown: boolean;
}

type Membership = { state: "tcache" | "fastbin" | "bin"; bin: number };

/**
 * Walks the heap from its start to the top chunk and names every chunk's state.
 *
 * ```
 * heap start ─► [tcache struct 0x290][chunk][chunk]...[top ........ brk)
 *                each chunk's size field gives the next; P of the next tells "free in a bin"
 * ```
 * Throws {@link HeapCheckError} when the chunk chain itself is broken.
 */
export function walkGlibcHeap(view: GlibcHeapView): HeapChunk[] {
  if (!view.initialised) return [];
  const members = collectMembers(view);
  return walkChunks(view, members);
}

/** Checks every invariant; throws {@link HeapCheckError} with the first broken one. */
export function checkGlibcHeap(view: GlibcHeapView): void {
  if (!view.initialised) return;
  const members = collectMembers(view);
  if (view.regions.length === 0) {
    // no heap yet: top is still the fake chunk overlaying the unsorted bin header
    if (view.top !== view.arena + AV_TOP - (view.stateFieldShift ?? 0)) fail("top moved although the heap was never created", view.top);
    // (a thread's tcache may hold chunks of other arenas, NON_MAIN_ARENA: not this heap's)
    const first = [...members.keys()].find((address) => (view.memory.load32(address + 8) & 4) === 0);
    if (first !== undefined) fail("a bin holds a chunk although the heap was never created", first);
    return;
  }
  const chunks = walkChunks(view, members);
  const seen = new Set<number>();
  let previousFree = false;
  for (let i = 0; i < chunks.length; i++) {
    const chunk = chunks[i]!;
    const m = members.get(chunk.address);
    if (m !== undefined) seen.add(chunk.address);
    const next = chunks[i + 1];
    const nextPrevInuse = next === undefined || chunk.state === "top" ? true : (next.sizeField & PREV_INUSE) !== 0;
    if (chunk.state === "fencepost") {
      previousFree = false;
      continue;
    }
    if (chunk.state === "bin") {
      if (nextPrevInuse) fail("a chunk in a bin is followed by a chunk whose P bit says it is in use", chunk.address);
      if (previousFree) fail("two free chunks are adjacent (they should have been merged)", chunk.address);
      const footer = read(view.memory, chunk.address + chunk.size);
      if (footer !== chunk.size) fail(`the footer (next chunk's prev_size) ${hexs(footer)} differs from the size ${hexs(chunk.size)}`, chunk.address);
    } else if (chunk.state !== "top" && !nextPrevInuse) {
      fail("the next chunk's P bit is clear but this chunk is not in a normal bin", chunk.address);
    }
    if (chunk.state === "top" && (chunk.sizeField & PREV_INUSE) === 0) fail("the top chunk's P bit is clear", chunk.address);
    previousFree = chunk.state === "bin";
  }
  for (const [address, m] of members) {
    // A thread's tcache may hold chunks of other arenas (NON_MAIN_ARENA): their heaps are not walked here.
    if (!seen.has(address) && (view.memory.load32(address + 8) & 4) === 0) fail(`a chunk listed in ${m.state} ${m.bin} is not a chunk of the heap`, address);
  }
  const last = chunks[chunks.length - 1];
  if (last === undefined || last.state !== "top") fail("the heap walk did not end at the top chunk", view.top);
  if (!view.noncontiguous && view.top + last.size !== view.brk) {
    fail(`the top chunk ends at ${hexs(view.top + last.size)}, not at the program break ${hexs(view.brk)}`, view.top);
  }
  if (!view.noncontiguous && ((view.top + last.size) & 4095) !== 0) fail("the top chunk does not end on a page boundary", view.top);
  if (last.size > view.systemMem) fail("the top chunk is larger than system_mem", view.top);
}

function collectMembers(view: GlibcHeapView): Map<number, Membership> {
  const mem = view.memory;
  const members = new Map<number, Membership>();
  const limit = Math.floor(view.systemMem / MINSIZE) + 2;
  const add = (p: number, state: Membership["state"], bin: number): void => {
    const before = members.get(p);
    if (before !== undefined) fail(`a chunk is both in ${before.state} ${before.bin} and in ${state} ${bin}`, p);
    members.set(p, { state, bin });
  };

  // normal bins: doubly linked, right sizes, large bins sorted with a consistent nextsize ring
  for (let i = 1; i < NBINS; i++) {
    const bin = view.arena + AV_TOP - (view.stateFieldShift ?? 0) + 16 * (i - 1);
    let count = 0;
    let previous = bin;
    let previousSize = Infinity;
    for (let p = read(mem, bin + FD); p !== bin; p = read(mem, p + FD)) {
      if (++count > limit) fail(`bin ${i} has a cycle`, bin);
      if ((p & 15) !== 0) fail(`bin ${i} links a misaligned chunk`, p);
      if (read(mem, p + BK) !== previous) fail(`bin ${i}: bk does not point back to the previous chunk`, p);
      const size = sizeOf(mem, p);
      if (i !== 1 && binIndex(size) !== i) fail(`a chunk of size ${hexs(size)} is in bin ${i}`, p);
      if (i >= 64) {
        if (size > previousSize) fail(`large bin ${i} is not sorted largest first`, p);
        const leader = size !== previousSize;
        const fdns = read(mem, p + FD_NEXTSIZE);
        if (leader) {
          if (fdns === 0) fail(`the first chunk of its size in large bin ${i} is not on the nextsize ring`, p);
          if (read(mem, fdns + BK_NEXTSIZE) !== p) fail(`large bin ${i}: nextsize ring broken`, p);
        } else if (fdns !== 0) {
          fail(`large bin ${i}: a chunk that is not its size's first has nextsize links`, p);
        }
      }
      previousSize = size;
      add(p, "bin", i);
      previous = p;
    }
    if (read(mem, bin + BK) !== previous) fail(`bin ${i}: the header's bk is not the last chunk`, bin);
    if (count > 0 && i !== 1 && ((view.binmap[i >>> 5] ?? 0) & (1 << (i & 31))) === 0) {
      fail(`bin ${i} is not empty but its binmap bit is clear`, bin);
    }
  }

  // fastbins
  let anyFast = false;
  for (let i = 0; i < (view.stateFieldShift === undefined ? NFASTBINS : 0); i++) {
    let count = 0;
    for (let p = read(mem, view.arena + AV_FASTBINS + 8 * i); p !== 0; p = reveal(mem, p + FD)) {
      if (++count > limit) fail(`fastbin ${i} has a cycle`, p);
      if ((p & 15) !== 0) fail(`fastbin ${i} links a misaligned chunk`, p);
      const size = sizeOf(mem, p);
      if (fastbinIndex(size) !== i) fail(`a chunk of size ${hexs(size)} is in fastbin ${i}`, p);
      if (size > view.globalMaxFast) fail(`a chunk above global_max_fast is in fastbin ${i}`, p);
      add(p, "fastbin", i);
      anyFast = true;
    }
  }
  if (anyFast && !view.haveFastchunks) fail("fastbins hold chunks but have_fastchunks is clear", view.arena);

  // tcache
  if (view.tcache !== 0) {
    const layout = view.tcacheLayout ?? { bins: TCACHE_MAX_BINS, entries: TCACHE_ENTRIES, countsDown: false };
    for (let i = 0; i < layout.bins; i++) {
      const word = mem.load16(view.tcache + 2 * i);
      const expected = layout.countsDown ? view.tcacheCount - word : word;
      let count = 0;
      for (let e = read(mem, view.tcache + layout.entries + 8 * i); e !== 0; e = reveal(mem, e)) {
        if (++count > expected) fail(`tcache bin ${i} holds more entries than its count ${expected}`, view.tcache);
        if ((e & 15) !== 0) fail(`tcache bin ${i} links a misaligned entry`, e);
        const p = e - CHUNK_HDR_SZ;
        if (csize2tidx(sizeOf(mem, p)) !== i) fail(`a chunk of size ${hexs(sizeOf(mem, p))} is in tcache bin ${i}`, p);
        if (read(mem, e + 8) !== view.tcacheKey) fail(`tcache entry's key is not tcache_key`, p);
        add(p, "tcache", i);
      }
      if (count !== expected) fail(`tcache bin ${i} has ${count} entries but its count says ${expected}`, view.tcache);
    }
  }
  return members;
}

function walkChunks(view: GlibcHeapView, members: Map<number, Membership>): HeapChunk[] {
  const mem = view.memory;
  const chunks: HeapChunk[] = [];
  for (let r = 0; r < view.regions.length; r++) {
    let p = view.regions[r]!;
    for (;;) {
      const sizeField = read(mem, p + 8);
      const size = chunkSize(sizeField);
      if (p === view.top) {
        chunks.push({ address: p, size, sizeField, state: "top" });
        break;
      }
      if (sizeField === PREV_INUSE && view.noncontiguous && r < view.regions.length - 1) {
        chunks.push({ address: p, size: 0, sizeField, state: "fencepost" });
        break; // a thread heap that filled up ends with 0|P (sysmalloc of a non-main arena)
      }
      if (size === CHUNK_HDR_SZ) {
        chunks.push({ address: p, size, sizeField, state: "fencepost" });
        const after = p + size;
        const afterField = read(mem, after + 8);
        if (chunkSize(afterField) === CHUNK_HDR_SZ || (afterField === PREV_INUSE && view.noncontiguous)) {
          chunks.push({ address: after, size: chunkSize(afterField), sizeField: afterField, state: "fencepost" });
          break; // the region ends with two fenceposts (16|P 16|P, or 16|P 0|P in a thread heap)
        }
        p = after;
        continue;
      }
      if (size < MINSIZE || (size & 15) !== 0) fail(`invalid chunk size ${hexs(sizeField)}`, p);
      if (p + size > view.top && (r === view.regions.length - 1 || !view.noncontiguous)) {
        fail(`chunk of size ${hexs(size)} runs past the top chunk`, p);
      }
      const m = members.get(p);
      const chunk: HeapChunk = { address: p, size, sizeField, state: m === undefined ? "in-use" : m.state };
      if (m !== undefined) chunk.bin = m.bin;
      chunks.push(chunk);
      p += size;
    }
  }
  return chunks;
}

function fail(rule: string, address: number): never {
  throw new HeapCheckError(rule, address);
}

function read(mem: Memory, address: number): number {
  return mem.load32(address) + mem.load32(address + 4) * TWO_32;
}

function reveal(mem: Memory, position: number): number {
  return xor64(Math.floor(position / PAGE), read(mem, position));
}

function chunkSize(field: number): number {
  return field - ((field & 7));
}

function sizeOf(mem: Memory, p: number): number {
  return chunkSize(read(mem, p + 8));
}

function hexs(value: number): string {
  return `0x${value.toString(16)}`;
}
