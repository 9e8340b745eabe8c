import type { Memory } from "@mem/hardware";
import { ARENA_OBJECT_SIZE } from "./api.js";
import type { ArenaMap } from "./arena-map.js";
import type { PymallocGeometry } from "./geometry.js";
import { Arena, Pool } from "./layout.js";

/** A read-only snapshot of pymalloc's static variables, plus the memory its structures live in. */
export interface PymallocState {
  /** The memory holding pools, arena objects and radix nodes. */
  readonly memory: Memory;
  /** The geometry in force. */
  readonly geometry: PymallocGeometry;
  /** `arenas`: address of the arena_object vector. */
  readonly arenas: number;
  /** `maxarenas`. */
  readonly maxarenas: number;
  /** `unused_arena_objects`. */
  readonly unusedArenaObjects: number;
  /** `usable_arenas`. */
  readonly usableArenas: number;
  /** `nfp2lasta`. */
  readonly nfp2lasta: Float64Array;
  /** First pool of each class's used list (0 = empty). */
  readonly usedpools: Float64Array;
  /** `narenas_currently_allocated`. */
  readonly narenasCurrentlyAllocated: number;
  /** `ntimes_arena_allocated`. */
  readonly ntimesArenaAllocated: number;
  /** `narenas_highwater`. */
  readonly narenasHighwater: number;
  /** `raw_allocated_blocks`. */
  readonly rawAllocatedBlocks: number;
  /** The arena map, or null. */
  readonly arenaMap: ArenaMap | null;
}

/** Formats `value` with a `,` every three digits, as obmalloc.c's `printone` does. */
export function groupThousands(value: number): string {
  const digits = String(value);
  let out = "";
  for (let i = 0; i < digits.length; i++) {
    if (i > 0 && (digits.length - i) % 3 === 0) out += ",";
    out += digits[i];
  }
  return out;
}

/**
 * obmalloc.c's `printone`: the message padded to 35 columns, `=`, and the value
 * comma-grouped and right-aligned in 21 columns.
 */
export function printone(message: string, value: number): string {
  return `${message.padEnd(35)}=${groupThousands(value).padStart(21)}\n`;
}

/**
 * `_PyObject_DebugMallocStats`: the pymalloc section of `sys._debugmallocstats()`.
 * Walks the arenas vector and every carved pool in memory, as CPython does.
 */
export function formatMallocStats(s: PymallocState): string {
  const g = s.geometry;
  const { poolSize, arenaSize, alignment, smallRequestThreshold } = g.params;
  const mem = s.memory;
  const numpools = new Float64Array(g.numClasses);
  const numblocks = new Float64Array(g.numClasses);
  const numfree = new Float64Array(g.numClasses);
  let narenas = 0;
  let unusedPools = 0;
  let arenaAlignment = 0;
  for (let i = 0; i < s.maxarenas; i++) {
    const ao = s.arenas + i * ARENA_OBJECT_SIZE;
    let base = mem.load64(ao + Arena.Address);
    if (base === 0) continue;
    narenas++;
    unusedPools += mem.load32(ao + Arena.NFreePools);
    if (base % poolSize !== 0) {
      arenaAlignment += poolSize;
      base += poolSize - (base % poolSize);
    }
    const end = mem.load64(ao + Arena.PoolAddress);
    for (; base < end; base += poolSize) {
      const count = mem.load32(base + Pool.Count);
      if (count === 0) continue;
      const sz = mem.load32(base + Pool.SizeIndex);
      numpools[sz]! += 1;
      numblocks[sz]! += count;
      numfree[sz]! += g.blocksPerPool[sz]! - count;
    }
  }

  let out = `Small block threshold = ${smallRequestThreshold}, in ${g.numClasses} size classes.\n\n`;
  out += "class   size   num pools   blocks in use  avail blocks\n";
  out += "-----   ----   ---------   -------------  ------------\n";
  let allocatedBytes = 0;
  let availableBytes = 0;
  let poolHeaderBytes = 0;
  let quantization = 0;
  for (let i = 0; i < g.numClasses; i++) {
    const p = numpools[i]!;
    if (p === 0) continue;
    const size = (i + 1) * alignment;
    const b = numblocks[i]!;
    const f = numfree[i]!;
    out += `${String(i).padStart(5)} ${String(size).padStart(6)} ${String(p).padStart(11)} ${String(b).padStart(15)} ${String(f).padStart(13)}\n`;
    allocatedBytes += b * size;
    availableBytes += f * size;
    poolHeaderBytes += p * g.poolOverhead;
    quantization += p * ((poolSize - g.poolOverhead) % size);
  }
  out += "\n";
  out += printone("# arenas allocated total", s.ntimesArenaAllocated);
  out += printone("# arenas reclaimed", s.ntimesArenaAllocated - narenas);
  out += printone("# arenas highwater mark", s.narenasHighwater);
  out += printone("# arenas allocated current", narenas);
  out += printone(`${narenas} arenas * ${arenaSize} bytes/arena`, narenas * arenaSize);
  out += "\n";
  const lines: [string, number][] = [
    ["# bytes in allocated blocks", allocatedBytes],
    ["# bytes in available blocks", availableBytes],
    [`${unusedPools} unused pools * ${poolSize} bytes`, unusedPools * poolSize],
    ["# bytes lost to pool headers", poolHeaderBytes],
    ["# bytes lost to quantization", quantization],
    ["# bytes lost to arena alignment", arenaAlignment],
  ];
  let total = 0;
  for (const [message, value] of lines) {
    out += printone(message, value);
    total += value;
  }
  out += printone("Total", total);
  if (s.arenaMap !== null) {
    const r = s.arenaMap.radix;
    out += "\narena map counts\n";
    out += printone("# arena map mid nodes", s.arenaMap.midCount);
    out += printone("# arena map bot nodes", s.arenaMap.botCount);
    out += "\n";
    const root = r.rootBytes;
    const mid = r.midBytes * s.arenaMap.midCount;
    const bot = r.botBytes * s.arenaMap.botCount;
    out += printone("# bytes lost to arena map root", root);
    out += printone("# bytes lost to arena map mid", mid);
    out += printone("# bytes lost to arena map bot", bot);
    out += printone("Total", root + mid + bot);
  }
  return out;
}

/** `_Py_GetAllocatedBlocks`: `raw_allocated_blocks` plus the count of every carved pool of every live arena. */
export function countAllocatedBlocks(s: PymallocState): number {
  const mem = s.memory;
  const { poolSize } = s.geometry.params;
  let n = s.rawAllocatedBlocks;
  for (let i = 0; i < s.maxarenas; i++) {
    const ao = s.arenas + i * ARENA_OBJECT_SIZE;
    const address = mem.load64(ao + Arena.Address);
    if (address === 0) continue;
    const end = mem.load64(ao + Arena.PoolAddress);
    const first = address % poolSize === 0 ? address : address + poolSize - (address % poolSize);
    for (let pool = first; pool < end; pool += poolSize) n += mem.load32(pool + Pool.Count);
  }
  return n;
}
