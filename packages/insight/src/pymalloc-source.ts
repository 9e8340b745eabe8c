import type { Memory } from "@mem/hardware";
import type { Pymalloc } from "@mem/small-object";
import type { ResidentLedger } from "./ledger.js";
import type { PoolHeaderCache } from "./pool-cache.js";

/** The pool_header fields the account reads (see small-object's layout.ts for the diagram). */
const COUNT = 0;
const FREEBLOCK = 8;
const SZIDX = 36;
const NEXTOFFSET = 40;
/** PyMem debug hooks: 8 size bytes, 8 bytes of API id and pad before the data, 8 pad bytes after. */
export const DEBUG_SIZE_BYTES = 8;
/** Pad bytes of one decorated block (API id + 7 leading, 8 trailing). */
export const DEBUG_PAD_BYTES = 16;

/** One arena as the account saw it (for the pins). */
export interface ArenaSummary {
  /** Base address. */
  readonly base: number;
  /** Live blocks. */
  liveBlocks: number;
  /** Bytes of live blocks. */
  liveBytes: number;
  /** Resident bytes of the arena. */
  residentBytes: number;
  /** Resident bytes of free blocks and empty pools (memory pymalloc holds but nobody uses). */
  freeResident: number;
}

/** What the pymalloc part of the account found. */
export interface PymallocFindings {
  /** Live blocks and their bytes (usable, debug decorations excluded). */
  liveBlocks: number;
  /** Usable bytes of live blocks. */
  liveUsable: number;
  /** Every live arena. */
  readonly arenas: ArenaSummary[];
  /** User pointers of pymalloc's own raw-domain blocks (arenas vector, arena-map nodes) → cause. */
  readonly structures: Map<number, string>;
}

/**
 * Gives each resident byte of pymalloc's arenas its cause:
 *
 * ```
 *   arena [base ............................................................ base + ARENA_SIZE)
 *         [alignment loss][pool][pool]...[pool (carved last)][never-carved pools][alignment loss]
 *   used pool:  [header 48][carved: live blocks + free blocks][never carved tail][quantization]
 *   empty pool (count 0, on the arena's freepools list): pymalloc.empty-pools
 * ```
 * Carved blocks are always resident (carving writes each block's free-list link), so live and
 * free bytes are split by the pool's count; when a carved page is not resident (it was
 * swapped out or dropped) the pool's free list is walked to place each block.
 */
export function accountPymalloc(pymalloc: Pymalloc, ledger: ResidentLedger, debug: boolean, cache?: PoolHeaderCache): PymallocFindings {
  const s = pymalloc.state();
  const mem = s.memory;
  const g = s.geometry;
  const { poolSize, arenaSize, alignment } = g.params;
  const overhead = g.poolOverhead;
  const findings: PymallocFindings = { liveBlocks: 0, liveUsable: 0, arenas: [], structures: new Map() };
  if (s.arenas !== 0) findings.structures.set(s.arenas, "pymalloc.arena-objects");
  for (const node of arenaMapNodes(pymalloc, ledger)) findings.structures.set(node, "pymalloc.arena-map");
  const perBlockDebug = debug ? DEBUG_SIZE_BYTES + DEBUG_PAD_BYTES : 0;
  /** Totals of the wholly resident pools: headers, live, debug decoration, free, never carved, quantization, empty pools. */
  const whole = new Float64Array(7);
  const poolsPerArena = Math.floor(arenaSize / poolSize);
  let reads = 0;
  let hits = 0;
  for (const ao of pymalloc.arenaObjects()) {
    const base = ao.address;
    const first = base % poolSize === 0 ? base : base + poolSize - (base % poolSize);
    const poolsEnd = first + ao.ntotalpools * poolSize;
    // with a cache: [count, szidx, nextoffset, known] of each pool at the last account
    const headers = cache?.arena(base, poolsPerArena);
    const arena: ArenaSummary = { base, liveBlocks: 0, liveBytes: 0, residentBytes: ledger.residentIn(base, base + arenaSize), freeResident: 0 };
    findings.arenas.push(arena);
    ledger.add(base, first, "pymalloc.arena-alignment");
    ledger.add(poolsEnd, base + arenaSize, "pymalloc.arena-alignment");
    ledger.add(ao.poolAddress, poolsEnd, "pymalloc.uncarved-pools");
    for (let pool = first, k = 0; pool < ao.poolAddress; pool += poolSize, k += 4) {
      // the fast path: a wholly resident pool (not the watched page) claimed with one lookup
      const slot = ledger.claimWholeAt(pool, pool + poolSize);
      if (slot >= 0) {
        let count: number;
        let szidx = 0;
        let nextoffset = 0;
        if (headers !== undefined && headers[k + 3] === 1 && !ledger.softDirty(slot)) {
          // the header page was not written since the last account: its fields are the same
          hits++;
          count = headers[k]!;
          szidx = headers[k + 1]!;
          nextoffset = headers[k + 2]!;
        } else {
          reads++;
          count = mem.load32(pool + COUNT);
          if (count !== 0) {
            szidx = mem.load32(pool + SZIDX);
            nextoffset = mem.load32(pool + NEXTOFFSET);
          }
          if (headers !== undefined) {
            headers[k] = count;
            headers[k + 1] = szidx;
            headers[k + 2] = nextoffset;
            headers[k + 3] = 1;
          }
        }
        if (count === 0) {
          whole[6]! += poolSize;
          arena.freeResident += poolSize;
          continue;
        }
        const size = (szidx + 1) * alignment;
        const blocksEnd = pool + overhead + Math.floor((poolSize - overhead) / size) * size;
        const carvedEnd = Math.min(pool + nextoffset, blocksEnd);
        const free = (carvedEnd - pool - overhead) / size - count;
        arena.liveBlocks += count;
        arena.liveBytes += count * size;
        arena.freeResident += free * size;
        findings.liveBlocks += count;
        findings.liveUsable += count * (size - perBlockDebug);
        addWholePool(whole, overhead, count, size, perBlockDebug, free, blocksEnd - carvedEnd, pool + poolSize - blocksEnd);
        continue;
      }
      if (headers !== undefined) headers[k + 3] = 0;
      accountPartialPool(pymalloc, mem, ledger, pool, arena, findings, whole, debug);
    }
  }
  if (cache !== undefined) {
    cache.reads += reads;
    cache.hits += hits;
  }
  ledger.credit("pymalloc.pool-headers", whole[0]!);
  ledger.credit("pymalloc.live-blocks", whole[1]!);
  ledger.credit("debug.size", (whole[2]! / (DEBUG_SIZE_BYTES + DEBUG_PAD_BYTES)) * DEBUG_SIZE_BYTES);
  ledger.credit("debug.pad", (whole[2]! / (DEBUG_SIZE_BYTES + DEBUG_PAD_BYTES)) * DEBUG_PAD_BYTES);
  ledger.credit("pymalloc.free-blocks", whole[3]!);
  ledger.credit("pymalloc.never-carved", whole[4]!);
  ledger.credit("pymalloc.quantization", whole[5]!);
  ledger.credit("pymalloc.empty-pools", whole[6]!);
  return findings;
}

/**
 * Adds a used pool that is resident and claimed whole to the sums {@link accountPymalloc}
 * credits at its end (`whole`: pool headers, live blocks, debug bytes, free blocks, the
 * never-carved tail, quantization), `count` live blocks of `size` bytes and `free` free ones.
 */
function addWholePool(
  whole: Float64Array,
  overhead: number,
  count: number,
  size: number,
  perBlockDebug: number,
  free: number,
  neverCarved: number,
  quantization: number,
): void {
  whole[0]! += overhead;
  whole[1]! += count * (size - perBlockDebug);
  whole[2]! += count * perBlockDebug;
  whole[3]! += free * size;
  whole[4]! += neverCarved;
  whole[5]! += quantization;
}

/**
 * {@link accountPymalloc}'s slow path, out of its loop: a pool not wholly resident (or on the
 * watched page), claimed range by range.
 */
function accountPartialPool(
  pymalloc: Pymalloc,
  mem: Memory,
  ledger: ResidentLedger,
  pool: number,
  arena: ArenaSummary,
  findings: PymallocFindings,
  whole: Float64Array,
  debug: boolean,
): void {
  const { poolSize, alignment } = pymalloc.params;
  const overhead = pymalloc.geometry.poolOverhead;
  const perBlockDebug = debug ? DEBUG_SIZE_BYTES + DEBUG_PAD_BYTES : 0;
  const wholly = ledger.allResident(pool, pool + poolSize);
  if (!wholly && !ledger.isResident(pool)) {
    ledger.add(pool, pool + poolSize, "pymalloc.empty-pools");
    return;
  }
  const count = mem.load32(pool + COUNT);
  if (count === 0) {
    arena.freeResident += ledger.add(pool, pool + poolSize, "pymalloc.empty-pools");
    return;
  }
  const size = (mem.load32(pool + SZIDX) + 1) * alignment;
  const blocks = Math.floor((poolSize - overhead) / size);
  const nextoffset = mem.load32(pool + NEXTOFFSET);
  const carvedEnd = pool + Math.min(nextoffset, overhead + blocks * size);
  const blocksEnd = pool + overhead + blocks * size;
  const carved = (carvedEnd - pool - overhead) / size;
  const free = carved - count;
  arena.liveBlocks += count;
  arena.liveBytes += count * size;
  findings.liveBlocks += count;
  findings.liveUsable += count * (size - perBlockDebug);
  if (wholly && ledger.claimWhole(pool, pool + poolSize)) {
    addWholePool(whole, overhead, count, size, perBlockDebug, free, blocksEnd - carvedEnd, pool + poolSize - blocksEnd);
    arena.freeResident += free * size;
    return;
  }
  const parts: [string, number][] = [
    ["pymalloc.live-blocks", count * (size - perBlockDebug)],
    ["debug.size", debug ? count * DEBUG_SIZE_BYTES : 0],
    ["debug.pad", debug ? count * DEBUG_PAD_BYTES : 0],
    ["pymalloc.free-blocks", free * size],
  ];
  ledger.add(pool, pool + overhead, "pymalloc.pool-headers");
  ledger.add(carvedEnd, blocksEnd, "pymalloc.never-carved");
  ledger.add(blocksEnd, pool + poolSize, "pymalloc.quantization");
  if (!ledger.watches(pool, pool + poolSize) && ledger.allResident(pool + overhead, carvedEnd)) {
    ledger.addSplit(pool + overhead, carvedEnd, parts);
    arena.freeResident += free * size;
  } else {
    const freeSet = freeBlocks(pymalloc, pool, ledger);
    for (let b = pool + overhead; b < carvedEnd; b += size) {
      if (freeSet.has(b)) arena.freeResident += ledger.add(b, b + size, "pymalloc.free-blocks");
      else if (debug) addDecorated(ledger, mem, b, b + size, "pymalloc.live-blocks");
      else ledger.add(b, b + size, "pymalloc.live-blocks");
    }
  }
}

/**
 * The free blocks of a used pool: its free list, walked in memory (only the links on resident
 * pages are read; a link on a page that is not resident ends the walk).
 */
export function freeBlocks(pymalloc: Pymalloc, pool: number, ledger: ResidentLedger): Set<number> {
  const mem = pymalloc.state().memory;
  const out = new Set<number>();
  const limit = pymalloc.params.poolSize / pymalloc.params.alignment;
  for (let b = mem.load64(pool + FREEBLOCK); b !== 0 && out.size <= limit && ledger.isResident(b); b = mem.load64(b)) out.add(b);
  return out;
}

/**
 * The live blocks of a used pool (for the pins): every carved block not on the free list.
 * `max` bounds the answer.
 */
export function liveBlocksOfPool(pymalloc: Pymalloc, pool: number, ledger: ResidentLedger, max: number): { address: number; size: number }[] {
  const mem = pymalloc.state().memory;
  const { poolSize, alignment } = pymalloc.params;
  const overhead = pymalloc.geometry.poolOverhead;
  if (!ledger.isResident(pool) || mem.load32(pool + COUNT) === 0) return [];
  const size = (mem.load32(pool + SZIDX) + 1) * alignment;
  const blocks = Math.floor((poolSize - overhead) / size);
  const carvedEnd = pool + Math.min(mem.load32(pool + NEXTOFFSET), overhead + blocks * size);
  const free = freeBlocks(pymalloc, pool, ledger);
  const out: { address: number; size: number }[] = [];
  for (let b = pool + overhead; b < carvedEnd && out.length < max; b += size) if (!free.has(b)) out.push({ address: b, size });
  return out;
}

/** The nodes found last time, by pymalloc instance, with the node counts they were found at (nodes are never freed). */
const nodeCache = new WeakMap<Pymalloc, { mid: number; bot: number; nodes: number[] }>();

/** The user pointers of the arena map's mid and bottom nodes (raw-domain blocks). */
function arenaMapNodes(pymalloc: Pymalloc, ledger: ResidentLedger): number[] {
  const map = pymalloc.arenaMap;
  if (map === null) return [];
  const cached = nodeCache.get(pymalloc);
  if (cached !== undefined && cached.mid === map.midCount && cached.bot === map.botCount) return cached.nodes;
  const nodes = findArenaMapNodes(pymalloc, ledger);
  nodeCache.set(pymalloc, { mid: map.midCount, bot: map.botCount, nodes });
  return nodes;
}

function findArenaMapNodes(pymalloc: Pymalloc, ledger: ResidentLedger): number[] {
  const map = pymalloc.arenaMap;
  if (map === null) return [];
  const mem = pymalloc.state().memory;
  const out: number[] = [];
  for (const mid of map.midNodes()) {
    out.push(mid);
    for (let i = 0; i < map.radix.midEntries; i++) {
      const at = mid + 8 * i;
      if (!ledger.isResident(at)) {
        i += (4096 - (at % 4096)) / 8 - 1; // skip the rest of a page never written (all zero)
        continue;
      }
      const bot = mem.load64(at);
      if (bot !== 0) out.push(bot);
    }
  }
  return out;
}

/** The big-endian requested size the debug hooks store at `q`. */
export function debugRequestedSize(mem: Memory, q: number): number {
  const hi = mem.load32(q);
  const lo = mem.load32(q + 4);
  const swap = (x: number): number => (((x & 0xff) << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24)) >>> 0;
  return swap(hi) * 2 ** 32 + swap(lo);
}

/** Whether the debug hooks decorated the block at `q` of `usable` bytes (API id and pad bytes in place). */
export function isDecorated(mem: Memory, q: number, usable: number): boolean {
  if (usable < DEBUG_SIZE_BYTES + DEBUG_PAD_BYTES) return false;
  const word = mem.load32(q + 8);
  const id = word & 0xff;
  if ((word >>> 8) !== 0xfdfdfd || (id !== 0x72 && id !== 0x6d && id !== 0x6f) || mem.load32(q + 12) !== 0xfdfdfdfd) return false;
  const n = debugRequestedSize(mem, q);
  return n + DEBUG_SIZE_BYTES + DEBUG_PAD_BYTES <= usable;
}

/**
 * Claims a block `[q, end)` decorated by the debug hooks: `debug.size` (8 bytes), `debug.pad`
 * (API id + 7 pad bytes, and 8 pad bytes after the data), the rest `cause`.
 * ```
 *   q: [size BE 8][id + 7 x FD][n data bytes][8 x FD][slack up to end]
 * ```
 */
export function addDecorated(ledger: ResidentLedger, mem: Memory, q: number, end: number, cause: string): void {
  const n = ledger.isResident(q) ? debugRequestedSize(mem, q) : 0;
  const tail = Math.min(q + 16 + n, end - 8);
  ledger.add(q, q + DEBUG_SIZE_BYTES, "debug.size");
  ledger.add(q + DEBUG_SIZE_BYTES, q + 16, "debug.pad");
  ledger.add(q + 16, tail, cause);
  ledger.add(tail, tail + 8, "debug.pad");
  ledger.add(tail + 8, end, cause);
}
