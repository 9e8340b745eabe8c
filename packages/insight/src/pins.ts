import { CHUNK_BIN, CHUNK_FASTBIN, CHUNK_FENCEPOST, CHUNK_STATE_NAMES, CHUNK_TOP, type ChunkStates } from "@mem/libc-malloc";
import type { Pymalloc } from "@mem/small-object";
import type { AccountDetail } from "./account.js";
import type { ArenaPin, Pins, TopPin, TrimDryRun } from "./api.js";
import { columnsOf } from "./glibc-source.js";
import { liveBlocksOfPool } from "./pymalloc-source.js";

const PAGE = 4096;
const MINSIZE = 32;
/** `sizeof(struct malloc_chunk)`: mtrim leaves this much of a free chunk alone before the first page it drops. */
const MALLOC_CHUNK_STRUCT = 48;

/** Options of {@link pinsOf}. */
export interface PinsOptions {
  /** Arenas to list. @defaultValue 10 */
  maxArenas?: number;
  /** Live blocks to list per arena. @defaultValue 8 */
  maxBlocks?: number;
}

/**
 * What keeps memory from going back to the kernel, read from an account: the pymalloc arenas
 * kept by their live blocks (the most wasteful first), the chunk that keeps glibc's top from
 * being trimmed, and a dry run of `malloc_trim(0)`.
 */
export function pinsOf(stack: { readonly pymalloc?: Pymalloc | undefined }, detail: AccountDetail, options: PinsOptions = {}): Pins {
  const maxArenas = options.maxArenas ?? 10;
  const maxBlocks = options.maxBlocks ?? 8;
  const arenas: ArenaPin[] = [];
  let keptEmptyArenas = 0;
  const sparse = { count: 0, residentBytes: 0, liveBytes: 0, minLiveBlocks: 0, maxLiveBlocks: 0 };
  const py = stack.pymalloc;
  if (py !== undefined && detail.pymalloc !== undefined) {
    const { poolSize } = py.params;
    const objects = new Map(py.arenaObjects().map((ao) => [ao.address, ao]));
    const pinned = detail.pymalloc.arenas.filter((a) => {
      if (a.liveBlocks === 0) keptEmptyArenas++;
      return a.liveBlocks > 0;
    });
    for (const a of pinned) {
      if (a.liveBytes * 10 > a.residentBytes) continue;
      sparse.count++;
      sparse.residentBytes += a.residentBytes;
      sparse.liveBytes += a.liveBytes;
      sparse.minLiveBlocks = sparse.count === 1 ? a.liveBlocks : Math.min(sparse.minLiveBlocks, a.liveBlocks);
      sparse.maxLiveBlocks = Math.max(sparse.maxLiveBlocks, a.liveBlocks);
    }
    pinned.sort((x, y) => y.residentBytes - y.liveBytes - (x.residentBytes - x.liveBytes) || x.base - y.base);
    for (const a of pinned.slice(0, maxArenas)) {
      const ao = objects.get(a.base);
      const blocks: { address: number; size: number }[] = [];
      const first = a.base % poolSize === 0 ? a.base : a.base + poolSize - (a.base % poolSize);
      for (let pool = first; ao !== undefined && pool < ao.poolAddress && blocks.length < maxBlocks; pool += poolSize) {
        blocks.push(...liveBlocksOfPool(py, pool, detail.ledger, maxBlocks - blocks.length));
      }
      arenas.push({ arena: a.base, liveBlocks: a.liveBlocks, liveBytes: a.liveBytes, residentBytes: a.residentBytes, blocks });
    }
  }
  const glibc = detail.libc.glibc;
  let top: TopPin | undefined;
  let trim: TrimDryRun | undefined;
  const states = detail.libc.chunkStates;
  if (glibc !== undefined && glibc.initialised && states !== undefined) {
    top = topPin(states, glibc.trimThreshold, glibc.topPad);
    trim = trimDryRun(detail, states);
  }
  return { arenas, keptEmptyArenas, sparseArenas: sparse, top, trim };
}

/**
 * The chunk that keeps the top from being trimmed: walking down from the top chunk, the free
 * chunks in bins would merge with it; the first chunk that is not in a bin (held by the
 * program, or cached in tcache or a fastbin, which glibc counts as in use) stops the merge.
 * Freed, it would merge with the free chunks above it, the top, and the free chunks just below it.
 * `wouldTrim` is what `_int_free` of that chunk would give back if it merged (systrim with
 * `mp_.top_pad`, once the merged top reaches `mp_.trim_threshold`); a chunk small enough
 * for tcache goes there instead, unless its bin is full.
 */
function topPin(chunks: ChunkStates, trimThreshold: number, topPad: number): TopPin | undefined {
  const { size, state } = chunks;
  let i = chunks.count - 1;
  if (i < 0 || state[i] !== CHUNK_TOP) return undefined;
  let freeAbove = size[i]!;
  for (i--; i >= 0 && state[i] === CHUNK_BIN; i--) freeAbove += size[i]!;
  if (i < 0 || state[i] === CHUNK_FENCEPOST) return undefined;
  // freeing it also merges the free chunks just below it
  let freeBelow = 0;
  for (let j = i - 1; j >= 0 && state[j] === CHUNK_BIN; j--) freeBelow += size[j]!;
  const merged = freeBelow + size[i]! + freeAbove;
  const wouldTrim = merged >= trimThreshold ? Math.max(0, Math.floor((merged - MINSIZE - 1 - topPad) / PAGE) * PAGE) : 0;
  return { chunk: chunks.address[i]!, size: size[i]!, state: CHUNK_STATE_NAMES[state[i]!]!, freeAbove, trimThreshold, wouldTrim };
}

/**
 * One arena's part of mtrim: every run of free chunks (consolidated into one) not merged
 * into the top gives back its whole pages past its first 48 bytes; appends them to `ranges`
 * and returns the top chunk as consolidation leaves it (a run just below it merged in).
 */
function madviseRuns(chunks: ChunkStates, ledger: AccountDetail["ledger"], ranges: { start: number; length: number; resident: number }[]): { topAddress: number; topSize: number } {
  const { address, size: sizes, state, count } = chunks;
  const free = (k: number): boolean => state[k] === CHUNK_BIN || state[k] === CHUNK_FASTBIN;
  let topSize = 0;
  let topAddress = 0;
  for (let i = 0; i < count; ) {
    if (state[i] === CHUNK_TOP) {
      topAddress = address[i]!;
      topSize = sizes[i]!;
      i++;
      continue;
    }
    if (!free(i)) {
      i++;
      continue;
    }
    let size = 0;
    const start = address[i]!;
    for (; i < count && free(i); i++) size += sizes[i]!;
    if (i < count && state[i] === CHUNK_TOP) {
      topAddress = start;
      topSize = sizes[i]! + size;
      i++;
      continue;
    }
    if (size <= PAGE - 1 + MALLOC_CHUNK_STRUCT) continue;
    const paligned = Math.ceil((start + MALLOC_CHUNK_STRUCT) / PAGE) * PAGE;
    const rest = size - (paligned - start);
    if (rest <= PAGE - 1) continue;
    const length = Math.floor(rest / PAGE) * PAGE;
    ranges.push({ start: paligned, length, resident: ledger.residentIn(paligned, paligned + length) });
  }
  return { topAddress, topSize };
}

/**
 * A dry run of glibc 2.36's `malloc_trim(0)` (`mtrim` on every arena, main_arena first):
 * in each arena `malloc_consolidate` first merges
 * fastbin chunks with their free neighbours (and into the top); then, for every free chunk in
 * the bins larger than a page plus `sizeof(struct malloc_chunk)`, the whole pages from
 * `ALIGN_UP(p + 48, 4096)` are dropped with `madvise(MADV_DONTNEED)`; then, for main_arena
 * only, `systrim(0)` moves the break down by `ALIGN_DOWN(top_size - MINSIZE - 1, 4096)` (a
 * thread heap's top keeps its pages).
 *
 * ```
 *   free chunk p [ 48 bytes kept | page | page | page | partial page ]   madvise on the pages
 *   top chunk    [ ............ | released by brk (ALIGN_DOWN(top - 33)) ]
 * ```
 */
function trimDryRun(detail: AccountDetail, states: ChunkStates): TrimDryRun {
  const ledger = detail.ledger;
  const ranges: { start: number; length: number; resident: number }[] = [];
  // main_arena first, then each thread arena (whose top mtrim leaves alone)
  const { topAddress, topSize } = madviseRuns(states, ledger, ranges);
  for (const chunks of detail.libc.threadChunks) madviseRuns(columnsOf(chunks), ledger, ranges);
  let madviseBytes = 0;
  for (const r of ranges) madviseBytes += r.resident;
  let topTrimBytes = 0;
  let topTrimResident = 0;
  const area = topSize - MINSIZE - 1;
  if (area > 0) {
    topTrimBytes = Math.floor(area / PAGE) * PAGE;
    const end = topAddress + topSize;
    topTrimResident = ledger.residentIn(end - topTrimBytes, end);
  }
  let unreachablePymalloc = 0;
  for (const a of detail.pymalloc?.arenas ?? []) unreachablePymalloc += a.freeResident;
  return { madviseBytes, ranges, topTrimBytes, topTrimResident, rssDrop: madviseBytes + topTrimResident, unreachablePymalloc };
}
