import type { Memory } from "@mem/hardware";
import type { ProcessSpace } from "@mem/os-vm";
import type { CAllocator, Mallinfo2 } from "./api.js";
import type { TlsfBlock, TlsfInspection } from "./inspect.js";
import { EINVAL, ENOMEM, PAGE, hex, pageUp, pointerArgument, sizeArgument } from "./constants.js";
import { HeapCheckError, MallocAbort, guardChecker, isSyscallError } from "./errors.js";

/** Header bytes before every user pointer. */
const HEADER = 16;
/** Smallest block: header + the two free-list links. */
const MIN_BLOCK = 32;
/** Flag: this block is free. */
const FREE = 1;
/** Flag: the previous physical block is free. */
const PREV_FREE = 2;
/** Flag: the block is its own mmap. */
const MAPPED = 4;
/** Second-level lists per first level: 2^4. */
const SL_LOG2 = 4;
const SL_COUNT = 1 << SL_LOG2;
/** Sizes below 2^FL_SHIFT (256) share first level 0, in 16-byte steps. */
const FL_SHIFT = SL_LOG2 + 4;
const SMALL = 1 << FL_SHIFT;
/** First levels: blocks up to 4 GiB. */
const FL_COUNT = 32 - FL_SHIFT + 1;
/** Requests of at least this many bytes get their own mapping. */
const MMAP_MIN = 256 * 1024;
/** The heap grows by at least this much. */
const GROW_MIN = 128 * 1024;
/** The largest block kept in the heap (the first-level range). */
const MAX_BLOCK = 2 ** 32 - PAGE;
const PROT_RW = 0x3;
const MAP_PRIVATE_ANONYMOUS = 0x22;

/** Control block layout (in one mmapped page pair): fl bitmap, sl bitmaps, list heads. */
const CB_FL = 0;
const CB_SL = 8;
const CB_HEADS = CB_SL + 4 * FL_COUNT + 4;
const CB_SIZE = CB_HEADS + 8 * FL_COUNT * SL_COUNT;

/**
 * A second C allocator, deliberately unlike glibc's: TLSF (Two-Level Segregated Fit,
 * Masmano et al. 2004), whose malloc and free are O(1) — two bitmap scans find a free list
 * whose every block fits, with no bin walking, no caches and no deferred coalescing.
 *
 * ```
 * block ─► +0  prev_phys   address of the previous block in the heap (kept always)
 *          +8  size | MAPPED(4) | PREV_FREE(2) | FREE(1)
 * user  ─► +16 data ...    | free: next_free (+16), prev_free (+24)
 *
 * lists: first level = floor(log2 size) (sizes < 256 share level 0), 16 second levels each
 * control block (mmapped): fl_bitmap u32 | sl_bitmap[25] u32 | heads[25][16] u64
 * heap: [block][block]...[sentinel: size 0, in use]   grown with sbrk, merged when contiguous
 * ```
 *
 * Requests of 256 KiB and more get their own mmap. Coalescing is immediate on free.
 */
export class TlsfMalloc implements CAllocator {
  /** The process whose memory this allocator manages. */
  readonly process: ProcessSpace;
  /** Address of the control block (bitmaps and list heads). */
  readonly control: number;
  private readonly m: Memory;
  private flBitmap = 0;
  private readonly slBitmaps = new Uint32Array(FL_COUNT);
  private readonly heads = new Float64Array(FL_COUNT * SL_COUNT);
  /** Heap regions [start, sentinel) made by sbrk; contiguous growth extends the last one. */
  private readonly regions: { start: number; sentinel: number }[] = [];
  private errnoValue = 0;
  private heapBytes = 0;
  private freeBlocks = 0;
  private freeBytes = 0;
  private mapped = 0;
  private mappedBytes = 0;

  /** Creates the allocator for `process`; maps its control block at once. */
  constructor(process: ProcessSpace) {
    this.process = process;
    this.m = process.memory;
    this.control = process.mmap(0, pageUp(CB_SIZE), PROT_RW, MAP_PRIVATE_ANONYMOUS);
  }

  /** {@inheritDoc CAllocator.errno} */
  get errno(): number {
    return this.errnoValue;
  }

  /** Sets `errno`, as a C program may. */
  set errno(value: number) {
    this.errnoValue = value;
  }

  /** The first heap address (the first region's start; the current break before any growth). */
  get heapStart(): number {
    return this.regions[0]?.start ?? this.process.brk(0);
  }

  // ---- C API ---------------------------------------------------------------------------

  /** `malloc(bytes)`. */
  malloc(bytes: number): number {
    bytes = sizeArgument("malloc", bytes);
    const size = blockSize(bytes);
    if (size === 0) return this.fail(ENOMEM);
    if (size >= MMAP_MIN) return this.mapBlock(size);
    let block = this.findFree(size);
    if (block === 0) {
      // the search rounds a size up to the next list, so grow by enough for that list
      const searched = size < SMALL ? size : size + 2 ** (31 - Math.clz32(size) - SL_LOG2);
      if (!this.grow(searched)) return this.fail(ENOMEM);
      block = this.findFree(size);
      if (block === 0) return this.fail(ENOMEM);
    }
    this.removeFree(block, this.sizeOf(block));
    this.use(block, size);
    return block + HEADER;
  }

  /**
   * Inspection (read-only): the block size (header included) from which a request gets a
   * mapping of its own instead of a block of the heap: 256 KiB, fixed.
   */
  currentMmapThreshold(): number {
    return MMAP_MIN;
  }

  /** `free(p)`. Throws {@link MallocAbort} for a pointer this allocator did not hand out or already freed. */
  free(pointer: number): void {
    pointer = pointerArgument("free", pointer);
    if (pointer === 0) return;
    const block = this.validate(pointer, "free");
    const field = this.rd(block + 8);
    if ((field & MAPPED) !== 0) {
      // prev_phys of a mapped block holds its offset from the mapping start (memalign lead)
      const lead = this.rd(block);
      const length = field - ((field & 7)) + lead;
      this.mapped--;
      this.mappedBytes -= length;
      this.process.munmap(block - lead, length);
      return;
    }
    this.release(block);
  }

  /** `calloc(n, size)`: zeroed, or 0 with ENOMEM (also on overflow). */
  calloc(n: number, elemSize: number): number {
    n = sizeArgument("calloc", n);
    elemSize = sizeArgument("calloc", elemSize);
    const bytes = n * elemSize;
    if (!(bytes < 2 ** 64) || n < 0 || elemSize < 0) return this.fail(ENOMEM);
    const p = this.malloc(bytes);
    if (p !== 0) this.m.fill(p, this.usableSize(p), 0);
    return p;
  }

  /** `realloc(p, n)`: shrinks or grows in place when it can, else moves. */
  realloc(pointer: number, bytes: number): number {
    pointer = pointerArgument("realloc", pointer);
    bytes = sizeArgument("realloc", bytes);
    if (pointer === 0) return this.malloc(bytes);
    if (bytes === 0) {
      this.free(pointer);
      return 0;
    }
    const block = this.validate(pointer, "realloc");
    const size = blockSize(bytes);
    if (size === 0) return this.fail(ENOMEM);
    const field = this.rd(block + 8);
    const current = field - ((field & 7));
    if ((field & MAPPED) === 0 && size < MMAP_MIN) {
      if (current >= size) {
        this.splitTail(block, current, size);
        return pointer;
      }
      const next = block + current;
      const nextField = this.rd(next + 8);
      const nextSize = nextField - ((nextField & 7));
      if ((nextField & FREE) !== 0 && current + nextSize >= size) {
        this.removeFree(next, nextSize);
        this.wr(block + 8, (current + nextSize) + (field & PREV_FREE));
        this.setPrevPhys(block + current + nextSize, block, false);
        this.splitTail(block, current + nextSize, size);
        return pointer;
      }
    }
    const fresh = this.malloc(bytes);
    if (fresh === 0) return 0;
    const keep = Math.min(current - HEADER, this.usableSize(fresh));
    this.m.copy(fresh, pointer, keep);
    this.free(pointer);
    return fresh;
  }

  /** Bytes usable at `p` (block size minus the 16-byte header). */
  usableSize(pointer: number): number {
    pointer = pointerArgument("malloc_usable_size", pointer);
    if (pointer === 0) return 0;
    const field = this.rd(pointer - HEADER + 8);
    return field - ((field & 7)) - HEADER;
  }

  /** `memalign(alignment, n)`: alignment rounded up to a power of two, at least 16. */
  memalign(alignment: number, bytes: number): number {
    alignment = sizeArgument("memalign", alignment);
    bytes = sizeArgument("memalign", bytes);
    if (alignment > 2 ** 63) return this.fail(EINVAL);
    let align = 16;
    while (align < alignment) align *= 2;
    if (align === 16) return this.malloc(bytes);
    const size = blockSize(bytes);
    if (size === 0) return this.fail(ENOMEM);
    const raw = this.malloc(bytes + align + MIN_BLOCK);
    if (raw === 0) return 0;
    let block = raw - HEADER;
    const field = this.rd(block + 8);
    if (raw % align === 0) return raw;
    let aligned = Math.ceil(raw / align) * align - HEADER;
    if (aligned - block < MIN_BLOCK) aligned += align;
    if ((field & MAPPED) !== 0) {
      const lead = aligned - block;
      this.wr(aligned, lead);
      this.wr(aligned + 8, (field - ((field & 7)) - lead) + MAPPED);
      return aligned + HEADER;
    }
    // give the lead back as a free block
    const total = field - ((field & 7));
    const lead = aligned - block;
    this.wr(block + 8, lead + (field & PREV_FREE));
    this.wr(aligned, block);
    this.wr(aligned + 8, total - lead);
    this.setPrevPhys(aligned + total - lead, aligned, false);
    this.release(block);
    block = aligned;
    this.splitTail(block, total - lead, Math.max(size, MIN_BLOCK));
    return block + HEADER;
  }

  /** `aligned_alloc(alignment, n)` = memalign. */
  alignedAlloc(alignment: number, bytes: number): number {
    return this.memalign(alignment, bytes);
  }

  /** `posix_memalign`: EINVAL unless the alignment is a power-of-two multiple of 8. */
  posixMemalign(alignment: number, bytes: number): { error: number; pointer: number } {
    alignment = sizeArgument("posix_memalign", alignment);
    bytes = sizeArgument("posix_memalign", bytes);
    if (alignment === 0 || (alignment & 7) !== 0 || !Number.isInteger(Math.log2(alignment / 8))) return { error: EINVAL, pointer: 0 };
    const pointer = this.memalign(alignment, bytes);
    return pointer === 0 ? { error: ENOMEM, pointer: 0 } : { error: 0, pointer };
  }

  /** Statistics in `mallinfo2` shape (kept as counters: O(1)). */
  mallinfo2(): Mallinfo2 {
    const last = this.regions[this.regions.length - 1];
    let keepcost = 0;
    if (last !== undefined && (this.rd(last.sentinel + 8) & PREV_FREE) !== 0) {
      const before = this.rd(last.sentinel);
      keepcost = this.sizeOf(before);
    }
    return {
      arena: this.heapBytes,
      ordblks: this.freeBlocks,
      smblks: 0,
      hblks: this.mapped,
      hblkhd: this.mappedBytes,
      usmblks: 0,
      fsmblks: 0,
      uordblks: this.heapBytes - this.freeBytes,
      fordblks: this.freeBytes,
      keepcost,
    };
  }

  /**
   * Inspection (read-only): the control block, every block of every heap region with its
   * state (read from the size fields in memory), and the counters of mapped blocks.
   */
  inspect(): TlsfInspection {
    const blocks: TlsfBlock[] = [];
    for (const region of this.regions) {
      for (let b = region.start; b < region.sentinel; ) {
        const field = this.rd(b + 8);
        const size = field - (field & 7);
        if (size < MIN_BLOCK) break; // a corrupt heap: checkHeap names the problem
        blocks.push({ address: b, size, state: (field & FREE) !== 0 ? "free" : "in-use" });
        b += size;
      }
      blocks.push({ address: region.sentinel, size: HEADER, state: "sentinel" });
    }
    return { control: this.control, controlSize: CB_SIZE, blocks, mapped: this.mapped, mappedBytes: this.mappedBytes };
  }

  /**
   * Walks every heap region and checks: prev_phys links, FREE/PREV_FREE agreement, no two
   * free neighbours, every free block on the list its size maps to, bitmaps that match the
   * lists, and the free counters. Throws {@link HeapCheckError} with the first broken rule,
   * also when a link or size leads where memory cannot be read (never a segfault or RangeError).
   */
  checkHeap(): void {
    guardChecker(() => this.checkHeapUnguarded());
  }

  private checkHeapUnguarded(): void {
    const onLists = new Set<number>();
    let listed = 0;
    for (let fl = 0; fl < FL_COUNT; fl++) {
      for (let sl = 0; sl < SL_COUNT; sl++) {
        const head = this.rd(this.control + CB_HEADS + 8 * (fl * SL_COUNT + sl));
        if (head !== this.heads[fl * SL_COUNT + sl]) throw new HeapCheckError(`tlsf: list head [${fl}][${sl}] differs from its cache`, head);
        const bit = ((this.slBitmaps[fl] ?? 0) >>> sl) & 1;
        if ((head !== 0) !== (bit === 1)) throw new HeapCheckError(`tlsf: bitmap bit [${fl}][${sl}] disagrees with its list`, this.control);
        let previous = 0;
        for (let b = head; b !== 0; b = this.rd(b + 16)) {
          if (++listed > 1e7) throw new HeapCheckError("tlsf: a free list has a cycle", b);
          const size = this.sizeOf(b);
          if (mapping(size) !== fl * SL_COUNT + sl) throw new HeapCheckError(`tlsf: a free block of size ${hex(size)} is on list [${fl}][${sl}]`, b);
          if (this.rd(b + 24) !== previous) throw new HeapCheckError("tlsf: prev_free link broken", b);
          onLists.add(b);
          previous = b;
        }
      }
      if ((this.slBitmaps[fl] !== 0) !== (((this.flBitmap >>> fl) & 1) === 1)) {
        throw new HeapCheckError(`tlsf: first-level bit ${fl} disagrees with its second level`, this.control);
      }
    }
    let freeCount = 0;
    let freeBytes = 0;
    for (const region of this.regions) {
      let previous = 0;
      let previousFree = false;
      let b = region.start;
      while (b !== region.sentinel) {
        const field = this.rd(b + 8);
        const size = field - ((field & 7));
        if (size < MIN_BLOCK || (size & 15) !== 0 || b + size > region.sentinel) throw new HeapCheckError(`tlsf: bad block size ${hex(field)}`, b);
        if (previous !== 0 && this.rd(b) !== previous) throw new HeapCheckError("tlsf: prev_phys does not name the previous block", b);
        if (((field & PREV_FREE) !== 0) !== previousFree) throw new HeapCheckError("tlsf: PREV_FREE disagrees with the previous block", b);
        const free = (field & FREE) !== 0;
        if (free && previousFree) throw new HeapCheckError("tlsf: two adjacent free blocks", b);
        if (free) {
          if (!onLists.has(b)) throw new HeapCheckError("tlsf: a free block is on no list", b);
          freeCount++;
          freeBytes += size;
        }
        previous = b;
        previousFree = free;
        b += size;
      }
      const sentinel = this.rd(b + 8);
      if (((sentinel & PREV_FREE) !== 0) !== previousFree) throw new HeapCheckError("tlsf: sentinel's PREV_FREE is wrong", b);
    }
    if (freeCount !== onLists.size) throw new HeapCheckError("tlsf: a listed block is not a free block of the heap", this.control);
    if (freeCount !== this.freeBlocks || freeBytes !== this.freeBytes) throw new HeapCheckError("tlsf: free counters are wrong", this.control);
  }

  // ---- blocks ----------------------------------------------------------------------------

  /**
   * Checks, before anything changes, that `pointer` is a block this allocator handed out and
   * that is still in use, reading only the headers around it (O(1)): free and realloc then
   * cannot fault half way. A freed block that was merged into a neighbour keeps a stale header
   * that can look in use; its links give it away:
   *
   * ```
   *   [prev: FREE, size s]? [block: size n, PREV_FREE?] [next: prev_phys = block, PREV_FREE clear]
   *    prev + s === block    when PREV_FREE is set          or next is the sentinel
   * ```
   */
  private validate(pointer: number, call: string): number {
    const block = pointer - HEADER;
    if ((pointer & 15) !== 0) this.invalid(call, block, "invalid pointer (misaligned)");
    const field = this.rd(block + 8);
    const size = field - (field & 7);
    let region: { start: number; sentinel: number } | undefined;
    for (let i = 0; i < this.regions.length; i++) {
      const r = this.regions[i]!;
      if (block >= r.start && block <= r.sentinel) region = r;
    }
    if ((field & MAPPED) !== 0) {
      const lead = this.rd(block);
      if (region !== undefined || ((block - lead) & 4095) !== 0 || ((size + lead) & 4095) !== 0 || size < MIN_BLOCK) {
        this.invalid(call, block, "invalid pointer (not a mapped block)");
      }
      return block;
    }
    if ((field & FREE) !== 0) this.invalid(call, block, "double free");
    if (region === undefined || block === region.sentinel || size < MIN_BLOCK || (size & 15) !== 0 || block + size > region.sentinel) {
      this.invalid(call, block, "invalid pointer (not a block of this heap)");
    }
    const next = block + size;
    if (this.rd(next) !== block || (this.m.load32(next + 8) & PREV_FREE) !== 0) {
      this.invalid(call, block, "invalid pointer (the next block does not point back: freed already?)");
    }
    if ((field & PREV_FREE) !== 0) {
      const previous = this.rd(block);
      const previousField = previous >= region.start && previous < block ? this.rd(previous + 8) : 0;
      if ((previousField & FREE) === 0 || previous + (previousField - (previousField & 7)) !== block) {
        this.invalid(call, block, "double free (the block was merged into the free block before it)");
      }
    }
    return block;
  }

  private invalid(call: string, block: number, rule: string): never {
    throw new MallocAbort(`tlsf: ${call}(): ${rule}`, call, block);
  }

  /** Marks a block taken from a list as used with `size` bytes, returning any tail to the lists. */
  private use(block: number, size: number): void {
    const field = this.rd(block + 8);
    const total = field - ((field & 7));
    this.wr(block + 8, total + (field & PREV_FREE));
    this.setPrevFree(block + total, false);
    this.splitTail(block, total, size);
  }

  /** Cuts a used block of `total` bytes down to `size`, freeing the tail if it is a block. */
  private splitTail(block: number, total: number, size: number): void {
    if (total - size < MIN_BLOCK) return;
    const field = this.rd(block + 8);
    this.wr(block + 8, size + (field & PREV_FREE));
    const tail = block + size;
    this.wr(tail, block);
    this.wr(tail + 8, total - size);
    this.setPrevPhys(block + total, tail, false);
    this.release(tail);
  }

  /** Frees a used block: merges with free neighbours and lists the result. */
  private release(block: number): void {
    let field = this.rd(block + 8);
    let size = field - ((field & 7));
    if ((field & PREV_FREE) !== 0) {
      const previous = this.rd(block);
      const previousSize = this.sizeOf(previous);
      this.removeFree(previous, previousSize);
      block = previous;
      size += previousSize;
      field = this.rd(block + 8);
    }
    const next = block + size;
    const nextField = this.rd(next + 8);
    if ((nextField & FREE) !== 0 && size + (nextField - ((nextField & 7))) <= MAX_BLOCK) {
      const nextSize = nextField - ((nextField & 7));
      this.removeFree(next, nextSize);
      size += nextSize;
    }
    this.wr(block + 8, size + FREE + (field & PREV_FREE));
    this.setPrevPhys(block + size, block, true);
    this.insertFree(block, size);
  }

  private mapBlock(size: number): number {
    const length = pageUp(size);
    let block: number;
    try {
      block = this.process.mmap(0, length, PROT_RW, MAP_PRIVATE_ANONYMOUS);
    } catch (error) {
      if (isSyscallError(error)) return this.fail(ENOMEM);
      throw error;
    }
    this.wr(block, 0);
    this.wr(block + 8, length + MAPPED);
    this.mapped++;
    this.mappedBytes += length;
    return block + HEADER;
  }

  /** Extends the heap with sbrk by at least `size` bytes and lists the new space. */
  private grow(size: number): boolean {
    const want = pageUp(Math.max(size + MIN_BLOCK, GROW_MIN));
    let start: number;
    try {
      start = this.process.sbrk(want);
    } catch (error) {
      if (isSyscallError(error)) return false;
      throw error;
    }
    this.heapBytes += want;
    const last = this.regions[this.regions.length - 1];
    if (last !== undefined && last.sentinel + HEADER === start) {
      // contiguous: the old sentinel becomes the header of the new free block
      const block = last.sentinel;
      const sentinel = start + want - HEADER;
      const prevFree = this.rd(block + 8) & PREV_FREE;
      this.wr(block + 8, (sentinel - block) + prevFree);
      this.wr(sentinel, block);
      this.wr(sentinel + 8, 0);
      last.sentinel = sentinel;
      this.release(block); // merges with a free block before the old sentinel
      return true;
    }
    const aligned = Math.ceil(start / 16) * 16;
    const sentinel = start + want - HEADER;
    this.regions.push({ start: aligned, sentinel });
    this.wr(aligned, 0);
    this.wr(aligned + 8, sentinel - aligned);
    this.wr(sentinel, aligned);
    this.wr(sentinel + 8, 0);
    this.release(aligned);
    return true;
  }

  // ---- the two-level lists -------------------------------------------------------------

  private findFree(size: number): number {
    let fl: number;
    let sl: number;
    if (size < SMALL) {
      fl = 0;
      sl = size >>> 4;
    } else {
      const log = 31 - Math.clz32(size);
      const index = mapping(size + (1 << (log - SL_LOG2)) - 1);
      fl = index >>> SL_LOG2;
      sl = index & (SL_COUNT - 1);
      if (fl >= FL_COUNT) return 0;
    }
    let slMap = (this.slBitmaps[fl] ?? 0) & (~0 << sl);
    if (slMap === 0) {
      const flMap = fl + 1 >= 32 ? 0 : this.flBitmap & (~0 << (fl + 1));
      if (flMap === 0) return 0;
      fl = ctz(flMap);
      slMap = this.slBitmaps[fl] ?? 0;
    }
    sl = ctz(slMap);
    return this.heads[fl * SL_COUNT + sl] ?? 0;
  }

  private insertFree(block: number, size: number): void {
    const index = mapping(size);
    const fl = index >>> SL_LOG2;
    const sl = index & (SL_COUNT - 1);
    const head = this.heads[index] ?? 0;
    this.wr(block + 16, head);
    this.wr(block + 24, 0);
    if (head !== 0) this.wr(head + 24, block);
    this.setHead(index, block);
    this.slBitmaps[fl] = ((this.slBitmaps[fl] ?? 0) | (1 << sl)) >>> 0;
    this.flBitmap = (this.flBitmap | (1 << fl)) >>> 0;
    this.m.store32(this.control + CB_SL + 4 * fl, this.slBitmaps[fl] ?? 0);
    this.m.store32(this.control + CB_FL, this.flBitmap);
    this.freeBlocks++;
    this.freeBytes += size;
  }

  private removeFree(block: number, size: number): void {
    const index = mapping(size);
    const fl = index >>> SL_LOG2;
    const sl = index & (SL_COUNT - 1);
    const next = this.rd(block + 16);
    const previous = this.rd(block + 24);
    if (next !== 0) this.wr(next + 24, previous);
    if (previous !== 0) this.wr(previous + 16, next);
    else {
      this.setHead(index, next);
      if (next === 0) {
        this.slBitmaps[fl] = ((this.slBitmaps[fl] ?? 0) & ~(1 << sl)) >>> 0;
        if (this.slBitmaps[fl] === 0) this.flBitmap = (this.flBitmap & ~(1 << fl)) >>> 0;
        this.m.store32(this.control + CB_SL + 4 * fl, this.slBitmaps[fl] ?? 0);
        this.m.store32(this.control + CB_FL, this.flBitmap);
      }
    }
    const field = this.rd(block + 8);
    this.wr(block + 8, field - (field & FREE));
    this.freeBlocks--;
    this.freeBytes -= size;
  }

  private setHead(index: number, block: number): void {
    this.heads[index] = block;
    this.wr(this.control + CB_HEADS + 8 * index, block);
  }

  // ---- words -------------------------------------------------------------------------------

  private setPrevPhys(next: number, block: number, prevFree: boolean): void {
    this.wr(next, block);
    this.setPrevFree(next, prevFree);
  }

  private setPrevFree(block: number, prevFree: boolean): void {
    const low = this.m.load32(block + 8);
    this.m.store32(block + 8, prevFree ? (low | PREV_FREE) >>> 0 : (low & ~PREV_FREE) >>> 0);
  }

  private sizeOf(block: number): number {
    const field = this.rd(block + 8);
    return field - ((field & 7));
  }

  private rd(address: number): number {
    try {
      return this.m.load64(address);
    } catch (error) {
      if (error instanceof RangeError) return this.m.load32(address) + this.m.load32(address + 4) * 2 ** 32;
      throw error;
    }
  }

  private wr(address: number, value: number): void {
    this.m.store64(address, value);
  }

  private fail(errno: number): number {
    this.errnoValue = errno;
    return 0;
  }
}

/** Block size for a request: header added, 16-aligned, at least 32; 0 when impossible. */
function blockSize(bytes: number): number {
  if (!(bytes >= 0) || bytes > 2 ** 47) return 0;
  return Math.max(MIN_BLOCK, Math.ceil((bytes + HEADER) / 16) * 16);
}

/** The list of a block size: first level * 16 + second level (no allocation). */
function mapping(size: number): number {
  if (size < SMALL) return size >>> 4;
  const log = 31 - Math.clz32(size >= 2 ** 32 ? 2 ** 32 - 1 : size);
  const sl = Math.floor(size / 2 ** (log - SL_LOG2)) - SL_COUNT;
  return (log - FL_SHIFT + 1) * SL_COUNT + sl;
}

function ctz(value: number): number {
  return 31 - Math.clz32(value & -value);
}
