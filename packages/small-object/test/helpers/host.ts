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

const LIVE = 0xa110c;
const FREED = 0xf4ee;

/**
 * A raw allocator that bumps through a region and never reuses memory. Each block has a
 * 16-byte header in memory: a state word (live / freed) and the requested size.
 */
export class BumpRaw {
  next: number;
  /** The first 1000 blocks handed out, in order: [pointer, size]. */
  readonly history: [number, number][] = [];
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
      this.memory.copy(p, ptr, Math.min(this.sizeOf(ptr), size));
      this.memory.store64(ptr - 16, FREED);
    }
    return p;
  }

  free(ptr: number): void {
    this.calls.free++;
    if (ptr === 0) return;
    this.sizeOf(ptr);
    this.memory.store64(ptr - 16, FREED);
  }

  /** The size of the live block at `ptr` (throws for anything else). */
  sizeOf(ptr: number): number {
    if (this.memory.load64(ptr - 16) !== LIVE) throw new Error(`BumpRaw: 0x${ptr.toString(16)} is not a live block`);
    return this.memory.load64(ptr - 8);
  }

  private take(size: number): number {
    if (this.failPlan.shift() === true) return 0;
    if (this.failNext > 0) {
      this.failNext--;
      return 0;
    }
    const p = this.next + 16;
    this.next = p + Math.ceil(size / 16) * 16;
    this.memory.store64(p - 16, LIVE);
    this.memory.store64(p - 8, size);
    if (this.history.length < 1000) this.history.push([p, size]);
    return p;
  }
}

export interface TestHost extends SmallObjectHost {
  readonly mmap: FakeMmap;
  readonly bump: BumpRaw;
  arenaSlot: PyObjectArenaAllocator;
}

const GiB = 2 ** 30;

/**
 * Two windows of virtual addresses onto one compact physical memory (so that the
 * physical directory stays dense): [rawBase, rawBase + 1 GiB) for the raw allocator and
 * [top - 62 GiB, top + 1 GiB) for mappings, the rest of the address space faults.
 */
export class WindowedMemory implements Memory {
  readonly size = 2 ** 47;
  private readonly physical = new PhysicalMemory({ size: 64 * GiB });
  private readonly mmapStart: number;

  constructor(
    private readonly rawBase: number,
    top: number,
  ) {
    this.mmapStart = top - 62 * GiB;
  }

  private at(address: number, length: number): number {
    const r = address - this.rawBase;
    if (r >= 0 && r + length <= GiB) return r;
    const m = address - this.mmapStart;
    if (m >= 0 && m + length <= 63 * GiB) return GiB + m;
    throw new RangeError(`test memory: access of ${length} bytes at 0x${address.toString(16)} outside the mapped windows`);
  }

  load8(a: number): number { return this.physical.load8(this.at(a, 1)); }
  load16(a: number): number { return this.physical.load16(this.at(a, 2)); }
  load32(a: number): number { return this.physical.load32(this.at(a, 4)); }
  load64(a: number): number { return this.physical.load64(this.at(a, 8)); }
  load64Big(a: number): bigint { return this.physical.load64Big(this.at(a, 8)); }
  store8(a: number, v: number): void { this.physical.store8(this.at(a, 1), v); }
  store16(a: number, v: number): void { this.physical.store16(this.at(a, 2), v); }
  store32(a: number, v: number): void { this.physical.store32(this.at(a, 4), v); }
  store64(a: number, v: number): void { this.physical.store64(this.at(a, 8), v); }
  store64Big(a: number, v: bigint): void { this.physical.store64Big(this.at(a, 8), v); }
  read(a: number, n: number): Uint8Array { return this.physical.read(this.at(a, n), n); }
  readInto(a: number, t: Uint8Array): void { this.physical.readInto(this.at(a, t.length), t); }
  write(a: number, b: Uint8Array): void { this.physical.write(this.at(a, b.length), b); }
  fill(a: number, n: number, v: number): void { this.physical.fill(this.at(a, n), n, v); }
  copy(d: number, s: number, n: number): void { this.physical.copy(this.at(d, n), this.at(s, n), n); }
}

/** Builds a host: a bump raw allocator at 0x555555560000 and mappings placed top-down below `top`. */
export function makeHost(top = 0x7f0000000000): TestHost {
  const memory = new WindowedMemory(0x555555550000, top);
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
