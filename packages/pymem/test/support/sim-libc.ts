import type { Memory } from "@mem/hardware";
import type { CAllocator, Mallinfo2 } from "@mem/libc-malloc";
import type { ProcessSpace } from "@mem/os-vm";

/**
 * A small but real C allocator for this package's tests (the glibc model lives in
 * @mem/libc-malloc): 16-byte aligned chunks with an 8-byte size header in memory, first-fit
 * over a free list threaded through freed chunks, in a heap mmapped from the test process.
 * Like glibc, free writes a link into the first 16 user bytes, and a bad free is a typed error.
 *
 *   chunk: [ size|inuse (8) ][ pad (8) ][ user data ... ]   user pointer = chunk + 16
 *   free chunk user area: [ next free chunk (8) ][ 0x5a5a.. key (8) ]
 */
export class LibcError extends Error {
  override readonly name = "LibcError";
}

const HEADER = 16;
const ENOMEM = 12;

export class SimLibc implements CAllocator {
  errno = 0;
  /** Calls made (for assertions that a path was or was not taken). */
  calls = 0;
  private readonly memory: Memory;
  private readonly base: number;
  private readonly end: number;
  private top: number;
  private freeHead = 0;

  constructor(process: ProcessSpace, heapSize = 64 * 1024 * 1024) {
    this.memory = process.memory;
    this.base = process.mmap(0, heapSize, 3, 0x22);
    this.top = this.base;
    this.end = this.base + heapSize;
  }

  malloc(size: number): number {
    this.calls++;
    if (!(size >= 0) || size > this.end - this.base) return this.fail();
    const need = Math.max(32, Math.ceil((size + HEADER) / 16) * 16);
    let prev = 0;
    for (let c = this.freeHead; c !== 0; c = this.memory.load64(c + HEADER)) {
      const csize = this.memory.load64(c);
      if (csize >= need) {
        const next = this.memory.load64(c + HEADER);
        if (prev === 0) this.freeHead = next;
        else this.memory.store64(prev + HEADER, next);
        this.memory.store64(c, csize + 1);
        return c + HEADER;
      }
      prev = c;
    }
    if (this.top + need > this.end) return this.fail();
    const c = this.top;
    this.top += need;
    this.memory.store64(c, need + 1);
    return c + HEADER;
  }

  calloc(nmemb: number, size: number): number {
    const n = nmemb * size;
    if (n > Number.MAX_SAFE_INTEGER) return this.fail();
    const p = this.malloc(n);
    if (p !== 0) this.memory.fill(p, n, 0);
    return p;
  }

  realloc(pointer: number, size: number): number {
    if (pointer === 0) return this.malloc(size);
    if (size === 0) {
      this.free(pointer);
      return 0;
    }
    const usable = this.usableSize(pointer);
    if (size <= usable) return pointer;
    const q = this.malloc(size);
    if (q === 0) return 0;
    this.memory.copy(q, pointer, usable);
    this.free(pointer);
    return q;
  }

  free(pointer: number): void {
    this.calls++;
    if (pointer === 0) return;
    const c = pointer - HEADER;
    if (c < this.base || c >= this.top || (c - this.base) % 16 !== 0 || this.memory.load64(c) % 2 !== 1) {
      throw new LibcError(`free(): invalid pointer 0x${pointer.toString(16)}`);
    }
    this.memory.store64(c, this.memory.load64(c) - 1);
    this.memory.store64(pointer, this.freeHead);
    this.memory.store64(pointer + 8, 0x5a5a5a5a5a5a);
    this.freeHead = c;
  }

  usableSize(pointer: number): number {
    return pointer === 0 ? 0 : this.memory.load64(pointer - HEADER) - 1 - HEADER;
  }

  /** Whether `pointer` is a live block of this heap. */
  owns(pointer: number): boolean {
    const c = pointer - HEADER;
    return c >= this.base && c < this.top && this.memory.load64(c) % 2 === 1;
  }

  memalign(): number {
    throw new LibcError("memalign: not needed by PyMem");
  }
  posixMemalign(): { error: number; pointer: number } {
    throw new LibcError("posix_memalign: not needed by PyMem");
  }
  alignedAlloc(): number {
    throw new LibcError("aligned_alloc: not needed by PyMem");
  }
  mallinfo2(): Mallinfo2 {
    throw new LibcError("mallinfo2: not needed by PyMem");
  }

  private fail(): number {
    this.errno = ENOMEM;
    return 0;
  }
}
