/**
 * A trivial C allocator for stack tests until @mem/libc-malloc lands: chunks bumped out of
 * one big private mapping of the process, each with an 8-byte size header in memory; free
 * only marks the header. Enough to serve pymalloc's raw fallbacks and bookkeeping.
 */
import type { CAllocator, Mallinfo2 } from "@mem/libc-malloc";
import { MAP_ANONYMOUS, MAP_NORESERVE, MAP_PRIVATE, PROT_READ, PROT_WRITE, type ProcessSpace } from "@mem/os-vm";

export class MmapBumpLibc implements CAllocator {
  errno = 0;
  private top: number;
  private readonly end: number;

  constructor(
    private readonly process: ProcessSpace,
    size = 1 << 30,
  ) {
    this.top = process.mmap(0, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE);
    this.end = this.top + size;
  }

  malloc(size: number): number {
    const n = Math.max(16, Math.ceil(size / 16) * 16);
    if (this.top + 16 + n > this.end) {
      this.errno = 12;
      return 0;
    }
    const p = this.top + 16;
    this.process.memory.store64(p - 8, size);
    this.top = p + n;
    return p;
  }

  calloc(nmemb: number, size: number): number {
    const p = this.malloc(nmemb * size);
    if (p !== 0) this.process.memory.fill(p, nmemb * size, 0);
    return p;
  }

  realloc(pointer: number, size: number): number {
    if (pointer === 0) return this.malloc(size);
    const p = this.malloc(size);
    if (p !== 0) {
      this.process.memory.copy(p, pointer, Math.min(size, this.usableSize(pointer)));
      this.free(pointer);
    }
    return p;
  }

  free(pointer: number): void {
    if (pointer === 0) return;
    const size = this.process.memory.load64Big(pointer - 8);
    if ((size & (1n << 63n)) !== 0n) throw new Error(`mmap-libc: double free of 0x${pointer.toString(16)}`);
    this.process.memory.store64Big(pointer - 8, size | (1n << 63n));
  }

  usableSize(pointer: number): number {
    return pointer === 0 ? 0 : this.process.memory.load64(pointer - 8);
  }

  memalign(alignment: number, size: number): number {
    while ((this.top + 16) % alignment !== 0) this.top += 16;
    return this.malloc(size);
  }

  posixMemalign(alignment: number, size: number): { error: number; pointer: number } {
    const pointer = this.memalign(alignment, size);
    return { error: pointer === 0 ? 12 : 0, pointer };
  }

  alignedAlloc(alignment: number, size: number): number {
    return this.memalign(alignment, size);
  }

  mallinfo2(): Mallinfo2 {
    return { arena: 0, ordblks: 0, smblks: 0, hblks: 0, hblkhd: 0, usmblks: 0, fsmblks: 0, uordblks: 0, fordblks: 0, keepcost: 0 };
  }
}
