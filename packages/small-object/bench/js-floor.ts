/**
 * A reference point for the benchmark, not an allocator of this package: the smallest
 * pymalloc-shaped allocator JavaScript can run — 32 size classes, 16 KiB pools carved
 * lazily, LIFO free lists through the blocks' first word, a count and a free-list head per
 * pool header — over one `Uint32Array` addressed with small integers. No arenas, no arena
 * map, no checks; requests above 512 bytes return a sentinel. What it costs per call is what
 * any JavaScript simulation of this workload costs at least.
 */
import type { Target } from "./workload.js";

const POOL = 16384;
const BIG = 8; // the sentinel for requests above 512 bytes

/** Header words of a pool: [0] block count, [2] free-list head, [8] size class, [10] next virgin offset. */
export function minimalAllocator(): Target {
  const words = new Uint32Array((256 * 1024 * 1024) / 4);
  const current = new Int32Array(32); // the pool each size class allocates from (0: none)
  let nextPool = POOL;
  return {
    malloc(size: number): number {
      if (size > 512) return BIG;
      const idx = (size - 1) >>> 4;
      const blockSize = (idx + 1) << 4;
      let pool = current[idx]!;
      if (pool === 0 || (words[(pool + 8) >> 2] === 0 && words[(pool + 40) >> 2]! + blockSize > POOL)) {
        pool = nextPool;
        nextPool += POOL;
        if (nextPool > words.length * 4) throw new RangeError("minimal allocator: out of memory");
        current[idx] = pool;
        words[(pool + 32) >> 2] = idx;
        words[(pool + 40) >> 2] = 48;
      }
      words[pool >> 2]!++;
      const head = words[(pool + 8) >> 2]!;
      if (head === 0) {
        const offset = words[(pool + 40) >> 2]!;
        words[(pool + 40) >> 2] = offset + blockSize;
        return pool + offset;
      }
      words[(pool + 8) >> 2] = words[head >> 2]!;
      return head;
    },
    free(p: number): void {
      if (p === BIG) return;
      const pool = p & ~(POOL - 1);
      words[p >> 2] = words[(pool + 8) >> 2]!;
      words[(pool + 8) >> 2] = p;
      words[pool >> 2]!--;
      current[words[(pool + 32) >> 2]!] = pool;
    },
  };
}
