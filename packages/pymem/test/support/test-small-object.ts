import type { PyMemAllocatorEx, SmallObjectFactory, SmallObjectHost } from "../../src/index.js";

/**
 * A tiny small-object allocator for this package's tests (pymalloc itself is @mem/small-object,
 * which this package never imports). It serves 1..512 bytes from 512-byte blocks carved out of
 * 256 KiB arenas obtained through the host's current arena allocator, and hands size 0, sizes
 * above 512 and arena failures to the RAW domain, like pymalloc. Its state is in memory:
 *
 *   arena: [ free-list head (8) ][ carve offset (8) ][ block 0 (512) ][ block 1 ] ...
 *   free block: [ next free block (8) ] ...
 */
export const TEST_ARENA_SIZE = 256 * 1024;
export const TEST_BLOCK_SIZE = 512;
const ARENA_HEADER = 16;

export class TestPool {
  readonly arenas: number[] = [];
  rawFallbacks = 0;
  constructor(readonly host: SmallObjectHost) {}

  owner(p: number): number {
    for (const a of this.arenas) if (p >= a + ARENA_HEADER && p < a + TEST_ARENA_SIZE) return a;
    return 0;
  }

  alloc(n: number): number {
    if (n === 0 || n > TEST_BLOCK_SIZE) return 0;
    const m = this.host.memory;
    for (const a of this.arenas) {
      const head = m.load64(a);
      if (head !== 0) {
        m.store64(a, m.load64(head));
        return head;
      }
      const carve = m.load64(a + 8);
      if (carve + TEST_BLOCK_SIZE <= TEST_ARENA_SIZE) {
        m.store64(a + 8, carve + TEST_BLOCK_SIZE);
        return a + carve;
      }
    }
    const arenaAllocator = this.host.arenaAllocator();
    const a = arenaAllocator.alloc(arenaAllocator.ctx, TEST_ARENA_SIZE);
    if (a === 0) return 0;
    this.arenas.push(a);
    m.store64(a, 0);
    m.store64(a + 8, ARENA_HEADER + TEST_BLOCK_SIZE);
    return a + ARENA_HEADER;
  }

  release(p: number, arena: number): void {
    const m = this.host.memory;
    m.store64(p, m.load64(arena));
    m.store64(arena, p);
  }
}

function poolMalloc(pool: TestPool, n: number): number {
  const p = pool.alloc(n);
  if (p !== 0) return p;
  const r = pool.host.raw.malloc(n);
  if (r !== 0) pool.rawFallbacks++;
  return r;
}

function poolCalloc(pool: TestPool, nelem: number, elsize: number): number {
  const n = nelem * elsize;
  const p = pool.alloc(n);
  if (p !== 0) {
    pool.host.memory.fill(p, n, 0);
    return p;
  }
  const r = pool.host.raw.calloc(nelem, elsize);
  if (r !== 0) pool.rawFallbacks++;
  return r;
}

function poolRealloc(pool: TestPool, p: number, n: number): number {
  if (p === 0) return poolMalloc(pool, n);
  const arena = pool.owner(p);
  if (arena === 0) return pool.host.raw.realloc(p, n);
  // pymalloc's policy with one 512-byte class: keep the block unless it shrinks by 25 % or more.
  if (n <= TEST_BLOCK_SIZE && 4 * n > 3 * TEST_BLOCK_SIZE) return p;
  const q = poolMalloc(pool, n);
  if (q === 0) return 0;
  pool.host.memory.copy(q, p, Math.min(n, TEST_BLOCK_SIZE));
  pool.release(p, arena);
  return q;
}

function poolFree(pool: TestPool, p: number): void {
  if (p === 0) return;
  const arena = pool.owner(p);
  if (arena !== 0) pool.release(p, arena);
  else pool.host.raw.free(p);
}

/** Builds a test factory; `pools` receives each pool created (one per PyMem). */
export function testSmallObject(pools: TestPool[] = []): SmallObjectFactory {
  return (host: SmallObjectHost): PyMemAllocatorEx => {
    const pool = new TestPool(host);
    pools.push(pool);
    return { ctx: pool, malloc: poolMalloc, calloc: poolCalloc, realloc: poolRealloc, free: poolFree };
  };
}
