/**
 * A SmallObjectHost for tests that do not need the whole stack: physical memory used as a
 * flat 2^48-byte address space, a bump "raw" allocator that never reuses memory (with call
 * counters), and an mmap-like arena allocator placing mappings top-down like Linux, or at
 * addresses the test dictates.
 */
import type { Memory } from "@mem/hardware";
import { PhysicalMemory } from "@mem/hardware";
import type { PyObjectArenaAllocator, SmallObjectHost } from "@mem/pymem";

/** Linux-like top-down placement of fixed-size mappings below `top`. */
export class FakeMmap implements PyObjectArenaAllocator<FakeMmap> {
  readonly ctx = this;
  /** Live mappings: start -> length. */
  readonly mappings = new Map<number, number>();
  /** Addresses to return for the next allocations (overrides the top-down search). */
  readonly forced: number[] = [];
  readonly log: string[] = [];
  failNext = 0;

  constructor(private readonly top = 0x7f0000000000) {}

  alloc(_ctx: FakeMmap, size: number): number {
    if (this.failNext > 0) {
      this.failNext--;
      return 0;
    }
    let at = this.forced.shift();
    if (at === undefined) {
      // highest gap below top
      const spans = [...this.mappings].sort((a, b) => b[0] - a[0]);
      at = this.top - size;
      for (const [start, len] of spans) {
        if (at + size <= start) continue;
        if (at >= start + len) continue;
        at = start - size;
      }
    }
    this.mappings.set(at, size);
    this.log.push(`mmap ${size} -> 0x${at.toString(16)}`);
    return at;
  }

  free(_ctx: FakeMmap, ptr: number, size: number): void {
    this.log.push(`munmap 0x${ptr.toString(16)} ${size}`);
    const len = this.mappings.get(ptr);
    if (len === size) {
      this.mappings.delete(ptr);
      return;
    }
    // partial unmap at the head or tail of a mapping
    for (const [start, l] of this.mappings) {
      if (ptr === start && size < l) {
        this.mappings.delete(start);
        this.mappings.set(start + size, l - size);
        return;
      }
      if (ptr > start && ptr + size === start + l) {
        this.mappings.set(start, l - size);
        return;
      }
    }
    throw new Error(`FakeMmap: munmap of 0x${ptr.toString(16)} ${size} matches no mapping`);
  }
}

/** A raw allocator that bumps through a region and never reuses memory. */
export class BumpRaw {
  next: number;
  readonly sizes = new Map<number, number>();
  calls = { malloc: 0, calloc: 0, realloc: 0, free: 0 };
  failNext = 0;
  /** Outcomes of the next takes, first first: true fails that take. */
  readonly failPlan: boolean[] = [];

  constructor(
    private readonly memory: Memory,
    start = 0x555555560000,
  ) {
    this.next = start;
  }

  malloc(size: number): number {
    this.calls.malloc++;
    return this.take(size === 0 ? 1 : size);
  }

  calloc(nelem: number, elsize: number): number {
    this.calls.calloc++;
    const n = nelem === 0 || elsize === 0 ? 1 : nelem * elsize;
    const p = this.take(n);
    if (p !== 0) this.memory.fill(p, n, 0);
    return p;
  }

  realloc(ptr: number, size: number): number {
    this.calls.realloc++;
    const p = this.take(size === 0 ? 1 : size);
    if (p !== 0 && ptr !== 0) {
      this.memory.copy(p, ptr, Math.min(this.sizes.get(ptr)!, size));
      this.sizes.delete(ptr);
    }
    return p;
  }

  free(ptr: number): void {
    this.calls.free++;
    if (ptr === 0) return;
    if (!this.sizes.delete(ptr)) throw new Error(`BumpRaw: free of unknown pointer 0x${ptr.toString(16)}`);
  }

  private take(size: number): number {
    if (this.failPlan.shift() === true) return 0;
    if (this.failNext > 0) {
      this.failNext--;
      return 0;
    }
    const p = this.next + 16; // a 16-byte "header" like a malloc chunk
    this.next = p + Math.ceil(size / 16) * 16;
    this.sizes.set(p, size);
    return p;
  }
}

export interface TestHost extends SmallObjectHost {
  readonly mmap: FakeMmap;
  readonly bump: BumpRaw;
  arenaSlot: PyObjectArenaAllocator;
}

/** Builds a host over a sparse 2^48-byte physical memory. */
export function makeHost(top?: number): TestHost {
  const memory = new PhysicalMemory({ size: 2 ** 48, frameSize: 1 << 17 });
  const mmap = new FakeMmap(top);
  const bump = new BumpRaw(memory);
  const host: TestHost = {
    memory,
    raw: bump,
    mmap,
    bump,
    arenaSlot: mmap,
    arenaAllocator: () => host.arenaSlot,
  };
  return host;
}
