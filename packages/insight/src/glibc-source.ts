import { CHUNK_FASTBIN, CHUNK_FENCEPOST, CHUNK_IN_USE, CHUNK_STATE_NAMES, CHUNK_TCACHE, CHUNK_TOP, heapChunksOf } from "@mem/libc-malloc";
import type { ChunkStates, GlibcInspection, GlibcMalloc, HeapChunk } from "@mem/libc-malloc";
import type { ResidentVma } from "@mem/os-vm";
import { CauseSums } from "./cause-sums.js";
import { StructureIndex } from "./structure-index.js";
import type { ResidentLedger } from "./ledger.js";
import { findMappedChunks, type MappedChunk } from "./mapped-scan.js";
import { addDecorated, isDecorated, DEBUG_PAD_BYTES, DEBUG_SIZE_BYTES } from "./pymalloc-source.js";

/** `HEAP_MAX_SIZE`: a thread heap's reservation (64 MiB, aligned to it). */
const HEAP_MAX_SIZE = 64 * 1024 * 1024;

/** glibc's IS_MMAPPED bit. */
const IS_MMAPPED = 2;

/** What the C-library part of the account found. */
export interface LibcFindings {
  /** Live blocks of the program (allocator and pymalloc structures excluded). */
  liveBlocks: number;
  /** Their usable bytes (debug decorations excluded). */
  liveUsable: number;
  /** The heap's chunks in address order (glibc), for the pins and the trim dry run (built from {@link chunkStates} when first read). */
  readonly chunks: readonly HeapChunk[];
  /** The same chunks in columns (`GlibcMalloc.chunkStates`), or undefined (no glibc, or not initialised). */
  readonly chunkStates: ChunkStates | undefined;
  /** Each thread arena's chunks (its heaps oldest first, in address order; list order of the arenas), for the trim dry run. */
  readonly threadChunks: readonly (readonly HeapChunk[])[];
  /** The thread heaps' own structures, sorted: each heap's heap_info, and the first heap's malloc_state with its pad. */
  readonly threadStructures: readonly (readonly [number, number])[];
  /** Chunks with a mapping of their own. */
  readonly mapped: readonly MappedChunk[];
  /** glibc's layout and policy, when the allocator is glibc. */
  readonly glibc: GlibcInspection | undefined;
}

/** The causes {@link accountChunks} sums, by index. */
const CAUSES = ["glibc.chunk-headers", "glibc.top", "glibc.tcache", "glibc.fastbins", "glibc.unsorted", "glibc.small-bins", "glibc.large-bins", "glibc.in-use", "glibc.tcache-struct"] as const;
const HEADERS = 0;
const TOP = 1;
const TCACHE = 2;
const FASTBINS = 3;
const UNSORTED = 4;
const SMALL_BINS = 5;
const LARGE_BINS = 6;
const IN_USE = 7;
const TCACHE_STRUCT = 8;

/** The cause index of a free chunk by the list glibc keeps it on. */
function freeCause(state: number, bin: number): number {
  if (state === CHUNK_TCACHE) return TCACHE;
  if (state === CHUNK_FASTBIN) return FASTBINS;
  return bin === 1 ? UNSORTED : bin < 64 ? SMALL_BINS : LARGE_BINS;
}

/**
 * Gives each resident byte of glibc's memory its cause. A chunk owns `[p + 8, p + size + 8)`:
 * its size word, and its data up to and including the next chunk's `prev_size` word (which an
 * in-use chunk's data overlaps, as in glibc: usable size = size - 8).
 *
 * ```
 *  main_arena (libc .data) ─ glibc.main-arena
 *  heap: [prev_size][size|P][tcache_perthread_struct]...[size|P][data ......][size|P][top ... brk)
 *        headers: glibc.chunk-headers; data: glibc.in-use / glibc.tcache-struct / pymalloc.*;
 *        free chunks (header included): glibc.tcache, .fastbins, .unsorted, .small-bins, .large-bins
 *  thread heap: [heap_info][malloc_state][pad][chunks as above ...][top ...)   glibc.heap-info, glibc.arena
 *        (a later heap of the same arena: [heap_info][chunks ...])
 *  mmapped chunk: [0][size|M][data .................. page end]  glibc.mmapped-payload / -slack
 * ```
 * `requested` (user pointer → bytes asked for, or a function giving them for the pointers
 * asked about) splits an mmapped chunk into payload and slack.
 */
export function accountGlibc(
  g: GlibcMalloc,
  ledger: ResidentLedger,
  vmas: readonly ResidentVma[],
  structures: ReadonlyMap<number, string>,
  skip: readonly (readonly [number, number])[],
  debug: boolean,
  requested: ReadonlyMap<number, number> | ((pointers: ReadonlySet<number>) => ReadonlyMap<number, number>) | undefined,
): LibcFindings {
  const view = g.inspect();
  const mem = g.process.memory;
  const findings: LibcFindings = { liveBlocks: 0, liveUsable: 0, chunks: [], chunkStates: undefined, threadChunks: [], threadStructures: [], mapped: [], glibc: view };
  if (!view.initialised) return findings;
  ledger.add(view.arena, view.arena + view.mainArenaSize, "glibc.main-arena");
  // the lean walk: columns, no object per chunk (those are built only if a caller reads `chunks`)
  const states = g.chunkStates();
  const add = (c: ChunkCounts): void => {
    findings.liveBlocks += c.liveBlocks;
    findings.liveUsable += c.liveUsable;
  };
  const index = new StructureIndex(structures);
  add(accountChunks(states, view.regions, view.tcacheChunks, ledger, mem, index, debug));
  // thread arenas: heap_info at each heap's start, the arena's malloc_state after the first's
  const threadArenas = g.walkThreadHeaps();
  const threadStructures: [number, number][] = [];
  for (const t of threadArenas) {
    for (const h of t.heaps) ledger.add(h.start, h.start + t.heapInfoSize, "glibc.heap-info");
    // the malloc_state and the 8 bytes that align the first chunk after it
    const stateEnd = Math.max(t.arena + t.arenaSize, t.chunks[0]?.address ?? 0);
    ledger.add(t.arena, stateEnd, "glibc.arena");
    t.heaps.forEach((h, i) => threadStructures.push([h.start, i === 0 ? stateEnd : h.start + t.heapInfoSize]));
    const starts = t.heaps.map((h, i) => (i === 0 ? (t.chunks[0]?.address ?? 0) : h.start + t.heapInfoSize));
    add(accountChunks(columnsOf(t.chunks), starts, t.tcacheStructs, ledger, mem, index, debug));
  }
  // the thread heaps' reservations are heaps, not mmapped chunks
  const heapRanges = threadArenas.flatMap((t) => t.heaps.map((h) => [h.start, h.start + HEAP_MAX_SIZE] as const));
  const mapped = findMappedChunks(vmas, mem, ledger, IS_MMAPPED, [...skip, ...heapRanges].sort((x, y) => x[0] - y[0]));
  const asked = typeof requested === "function" ? (mapped.length === 0 ? undefined : requested(new Set(mapped.map((m) => m.address + 16)))) : requested;
  for (const m of mapped) {
    const user = m.address + 16;
    const end = m.address + m.size;
    ledger.add(m.address, user, "glibc.chunk-headers");
    const structure = structures.get(user) ?? structures.get(user + 16);
    if (structure !== undefined) {
      ledger.add(user, end, structure);
      continue;
    }
    findings.liveBlocks++;
    if (debug && isDecorated(mem, user, end - user)) {
      addDecorated(ledger, mem, user, end, "glibc.mmapped-payload");
      findings.liveUsable += end - user - DEBUG_SIZE_BYTES - DEBUG_PAD_BYTES;
      continue;
    }
    findings.liveUsable += end - user;
    const bytes = asked?.get(user);
    const split = bytes === undefined ? end : Math.min(end, user + bytes);
    ledger.add(user, split, "glibc.mmapped-payload");
    ledger.add(split, end, "glibc.mmapped-slack");
  }
  let chunks: HeapChunk[] | undefined;
  return {
    liveBlocks: findings.liveBlocks,
    liveUsable: findings.liveUsable,
    get chunks(): HeapChunk[] {
      return (chunks ??= heapChunksOf(states));
    },
    chunkStates: states,
    mapped,
    threadChunks: threadArenas.map((t) => t.chunks),
    threadStructures: threadStructures.sort((x, y) => x[0] - y[0]),
    glibc: view,
  };
}

/** `chunks` in columns (a thread arena's, as walkThreadHeaps lists them). */
export function columnsOf(chunks: readonly HeapChunk[]): ChunkStates {
  const n = chunks.length;
  const states = { count: n, address: new Float64Array(n), size: new Float64Array(n), sizeField: new Float64Array(n), state: new Uint8Array(n), bin: new Uint8Array(n) };
  for (let i = 0; i < n; i++) {
    const c = chunks[i]!;
    states.address[i] = c.address;
    states.size[i] = c.size;
    states.sizeField[i] = c.sizeField;
    states.state[i] = CHUNK_STATE_NAMES.indexOf(c.state);
    states.bin[i] = c.bin ?? 0;
  }
  return states;
}

interface ChunkCounts {
  liveBlocks: number;
  liveUsable: number;
}

/** Gives the causes of one heap's chunks (main heap or a thread arena's heaps); returns the live blocks found. */
function accountChunks(
  chunks: ChunkStates,
  starts: readonly number[],
  tcacheStructs: readonly number[],
  ledger: ResidentLedger,
  mem: GlibcMalloc["process"]["memory"],
  structures: StructureIndex,
  debug: boolean,
): ChunkCounts {
  const counts: ChunkCounts = { liveBlocks: 0, liveUsable: 0 };
  const sums = new CauseSums(ledger, CAUSES);
  const { address, size, state, bin } = chunks;
  for (let i = 0; i < chunks.count; i++) {
    const a = address[i]!;
    const s = state[i]!;
    // (a few region starts and tcache structs: a scan of a short list beats a set of doubles)
    if (starts.includes(a)) sums.put(HEADERS, a, a + 8);
    if (s === CHUNK_TOP) {
      sums.put(TOP, a + 8, a + size[i]!);
      continue;
    }
    if (s === CHUNK_FENCEPOST) {
      sums.put(HEADERS, a + 8, a + 16);
      continue;
    }
    if (s !== CHUNK_IN_USE) {
      sums.put(freeCause(s, bin[i]!), a + 8, a + size[i]! + 8);
      continue;
    }
    sums.put(HEADERS, a + 8, a + 16);
    const user = a + 16;
    const end = a + size[i]! + 8;
    if (tcacheStructs.includes(a)) {
      sums.put(TCACHE_STRUCT, user, end);
      continue;
    }
    const structure = structures.at(user);
    if (structure !== undefined) {
      sums.putNamed(structure, user, end);
      continue;
    }
    counts.liveBlocks++;
    if (debug && ledger.isResident(user) && ledger.isResident(user + 15) && isDecorated(mem, user, end - user)) {
      // its causes go straight to the ledger: the sums so far first, to keep the causes' order
      sums.flush();
      addDecorated(ledger, mem, user, end, "glibc.in-use");
      counts.liveUsable += end - user - DEBUG_SIZE_BYTES - DEBUG_PAD_BYTES;
    } else {
      sums.put(IN_USE, user, end);
      counts.liveUsable += end - user;
    }
  }
  sums.flush();
  return counts;
}
