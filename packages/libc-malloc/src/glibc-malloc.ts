import type { CAllocator, HeapChunk, Mallinfo2 } from "./api.js";
import {
  M_ARENA_MAX,
  M_ARENA_TEST,
  M_MMAP_MAX,
  M_MMAP_THRESHOLD,
  M_MXFAST,
  M_PERTURB,
  M_TOP_PAD,
  M_TRIM_THRESHOLD,
} from "./api.js";
import { AV_FASTBINS, BK, FD } from "./arena-layout.js";
import type { GlibcInspection } from "./inspect.js";
import {
  CHUNK_HDR_SZ,
  DEFAULT_MMAP_THRESHOLD_MAX,
  EINVAL,
  ENOMEM,
  IS_MMAPPED,
  MALLOC_ALIGNMENT,
  MALLOC_CHUNK_STRUCT,
  MAX_FAST_SIZE,
  MINSIZE,
  NBINS,
  NFASTBINS,
  PAGE,
  PREV_INUSE,
  SIZE_SZ,
  TWO_64,
  binIndex,
  checkedRequest2size,
  csize2tidx,
  pageDown,
  pageUp,
} from "./constants.js";
import { checkGlibcHeap, walkGlibcHeap } from "./heap-check.js";
import { walkChunkStates, type ChunkStates } from "./chunk-states.js";
import { guardChecker } from "./errors.js";
import { formatMallocInfoArenas, formatMallocStats, type InfoArena, type InfoArenaHeaps, type InfoSizes } from "./stats.js";
import { HI_MPROTECT_SIZE, HI_PREV, HI_SIZE, heapForPtr } from "./heap.js";
import { chunkSize, isPowerOfTwo, wrap64, wrapsAround } from "./arena-state.js";
import { ThreadArenas } from "./thread-arenas.js";

import { MADV_DONTNEED, MALLOC_ALIGN_MASK, pointerArgument, sizeArgument } from "./constants.js";

/**
 * glibc 2.36's malloc (ptmalloc2), single-threaded main arena, over a simulated process.
 *
 * Every chunk header, free-list link, bin header and tcache slot is a word in the process's
 * memory, at the address glibc would use; the JavaScript fields below only cache scalars of
 * `main_arena` (written through to memory) and the `mp_` parameters.
 *
 * ```
 * chunk ─► +0  prev_size   (previous chunk's size when it is free, else its user data)
 *          +8  size | A | M | P        P: previous chunk in use; M: mmapped; A: non-main arena
 * mem   ─► +16 user data ...  | free: fd (+16), bk (+24), fd_nextsize (+32), bk_nextsize (+40)
 *          +size: the next chunk (its prev_size word is this chunk's last 8 user bytes)
 * tcache entry (at mem): +0 next = (&next >> 12) XOR next_mem, +8 key = tcache_key
 * fastbin link (at mem): +0 fd = (&fd >> 12) XOR next_chunk
 * ```
 *
 * The heap starts at the program break. The first malloc, calloc, realloc or free creates the
 * 0x290-byte `tcache_perthread_struct` at the heap start (a first memalign does not), so the
 * offsets of every later chunk from {@link GlibcMalloc.heapStart} match a real process.
 */
export class GlibcMalloc extends ThreadArenas implements CAllocator {
  // =====================================================================================
  // Public C API
  // =====================================================================================

  /** `malloc(bytes)` (`__libc_malloc`). */
  malloc(bytes: number): number {
    bytes = sizeArgument("malloc", bytes);
    if (!this.initialised) this.ptmallocInit();
    const nb = checkedRequest2size(bytes);
    if (nb === 0) return this.fail(ENOMEM);
    const tidx = csize2tidx(nb);
    if (this.tcache === 0) this.tcacheInit();
    if (tidx < this.tcacheBins && this.tcache !== 0 && this.tcCount(tidx) > 0) {
      return this.tcacheGet(tidx);
    }
    return this.threaded ? this.mallocInArena(nb, bytes) : this.intMalloc(nb, bytes);
  }

  /** `free(mem)` (`__libc_free`). */
  free(mem: number): void {
    mem = pointerArgument("free", mem);
    if (mem === 0) return;
    const p = mem - CHUNK_HDR_SZ;
    let field = this.sizeField(p);
    if ((this.flagsOf(field, p) & IS_MMAPPED) !== 0) {
      if (!this.noDynThreshold && field > this.mmapThreshold && field <= DEFAULT_MMAP_THRESHOLD_MAX) {
        this.mmapThreshold = chunkSize(field);
        this.trimThreshold = 2 * this.mmapThreshold;
      }
      this.munmapChunk(p, "free");
      return;
    }
    if (!this.initialised) this.ptmallocInit();
    if (this.tcache === 0) {
      // creating the tcache may consolidate fastbins next to p: _int_free reads p's size afresh
      this.tcacheInit();
      field = this.sizeField(p);
    }
    if (this.threaded) {
      this.freeInArena(p, field);
      return;
    }
    this.checkMainArena(p, field, "free");
    this.intFree(p, field, false);
  }

  /** `calloc(n, size)` (`__libc_calloc`). */
  calloc(n: number, elemSize: number): number {
    n = sizeArgument("calloc", n);
    elemSize = sizeArgument("calloc", elemSize);
    const bytes = n * elemSize;
    if (!(bytes < TWO_64) || n < 0 || elemSize < 0) return this.fail(ENOMEM);
    if (!this.initialised) this.ptmallocInit();
    if (this.tcache === 0) this.tcacheInit();
    if (this.threaded) return this.callocThreaded(bytes);
    const oldTop = this.top;
    let oldTopSize = chunkSize(this.sizeField(oldTop));
    // Only memory below the highest break ever reached can be dirty (unsigned, as in C).
    const fresh = this.sbrkBase + this.maxSystemMem - oldTop;
    if (fresh < 0) oldTopSize = Infinity;
    else if (oldTopSize < fresh) oldTopSize = fresh;
    const nb = checkedRequest2size(bytes);
    if (nb === 0) return this.fail(ENOMEM);
    const mem = this.intMalloc(nb, bytes);
    if (mem === 0) return 0;
    const p = mem - CHUNK_HDR_SZ;
    const field = this.sizeField(p);
    let csz = chunkSize(field);
    if ((field & IS_MMAPPED) !== 0) {
      if (this.perturbByte !== 0) this.m.fill(mem, bytes, 0);
      return mem;
    }
    if (this.perturbByte === 0 && p === oldTop && csz > oldTopSize) csz = oldTopSize;
    this.m.fill(mem, csz - SIZE_SZ, 0);
    return mem;
  }

  /** `realloc(old, bytes)` (`__libc_realloc`). */
  realloc(oldmem: number, bytes: number): number {
    oldmem = pointerArgument("realloc", oldmem);
    bytes = sizeArgument("realloc", bytes);
    if (!this.initialised) this.ptmallocInit();
    if (bytes === 0 && oldmem !== 0) {
      this.free(oldmem);
      return 0;
    }
    if (oldmem === 0) return this.malloc(bytes);
    const oldp = oldmem - CHUNK_HDR_SZ;
    const field = this.sizeField(oldp);
    const oldsize = chunkSize(field);
    const mmapped = (this.flagsOf(field, oldp) & IS_MMAPPED) !== 0;
    if (!mmapped) {
      if (this.tcache === 0) this.tcacheInit();
      if (!this.threaded) this.checkMainArena(oldp, field, "realloc");
      else this.arenaForChunk(oldp, field, "realloc");
    }
    if (wrapsAround(oldp, oldsize) || (oldp & 15) !== 0) this.abort("realloc(): invalid pointer", "realloc", oldp);
    const nb = checkedRequest2size(bytes);
    if (nb === 0) return this.fail(ENOMEM);
    if (mmapped) {
      const newp = this.mremapChunk(oldp, nb);
      if (newp !== 0) return newp + CHUNK_HDR_SZ;
      if (oldsize - SIZE_SZ >= nb) return oldmem;
      const newmem = this.malloc(bytes);
      if (newmem === 0) return 0;
      this.m.copy(newmem, oldmem, oldsize - CHUNK_HDR_SZ);
      this.munmapChunk(oldp, "realloc");
      return newmem;
    }
    if (this.threaded) return this.reallocInArena(oldp, oldsize, nb, bytes);
    return this.intRealloc(oldp, oldsize, nb);
  }

  /** `malloc_usable_size(mem)`. */
  usableSize(mem: number): number {
    mem = pointerArgument("malloc_usable_size", mem);
    if (mem === 0) return 0;
    const p = mem - CHUNK_HDR_SZ;
    const field = this.sizeField(p);
    const size = chunkSize(field);
    if ((this.flagsOf(field, p) & IS_MMAPPED) !== 0) return size - CHUNK_HDR_SZ;
    if ((this.flagsAt(p + size) & PREV_INUSE) !== 0) return size - SIZE_SZ;
    return 0;
  }

  /** `memalign(alignment, bytes)` (also `aligned_alloc`; `_mid_memalign`). */
  memalign(alignment: number, bytes: number): number {
    alignment = sizeArgument("memalign", alignment);
    bytes = sizeArgument("memalign", bytes);
    if (!this.initialised) this.ptmallocInit();
    if (alignment <= MALLOC_ALIGNMENT) return this.malloc(bytes);
    if (alignment < MINSIZE) alignment = MINSIZE;
    if (alignment > 2 ** 63) return this.fail(EINVAL);
    if (!isPowerOfTwo(alignment)) {
      let a = MALLOC_ALIGNMENT * 2;
      while (a < alignment) a *= 2;
      alignment = a;
    }
    return this.intMemalign(alignment, bytes);
  }

  /** `aligned_alloc(alignment, bytes)`: in glibc 2.36 an alias of memalign. */
  alignedAlloc(alignment: number, bytes: number): number {
    return this.memalign(alignment, bytes);
  }

  /** `posix_memalign(&p, alignment, bytes)`: the error number (0, EINVAL, ENOMEM) and the pointer (0 on error). */
  posixMemalign(alignment: number, bytes: number): { error: number; pointer: number } {
    alignment = sizeArgument("posix_memalign", alignment);
    bytes = sizeArgument("posix_memalign", bytes);
    if (!this.initialised) this.ptmallocInit();
    if (alignment % SIZE_SZ !== 0 || !isPowerOfTwo(alignment / SIZE_SZ) || alignment === 0) return { error: EINVAL, pointer: 0 };
    const saved = this.errnoValue;
    const pointer = this.memalign(alignment, bytes);
    if (pointer !== 0) return { error: 0, pointer };
    this.errnoValue = saved;
    return { error: ENOMEM, pointer: 0 };
  }

  /** `valloc(bytes)`: memalign(4096, bytes). */
  valloc(bytes: number): number {
    return this.memalign(PAGE, bytes);
  }

  /** `pvalloc(bytes)`, with 2.36's rounding `(n + 4095) & -(4095)`. */
  pvalloc(bytes: number): number {
    bytes = sizeArgument("pvalloc", bytes);
    const rounded = bytes + PAGE - 1;
    // & -(4095) clears bits 1..11 and keeps bit 0 (glibc 2.36's off-by-one).
    const low = rounded & 4095;
    return this.memalign(PAGE, rounded - low + (low & 1));
  }

  /** `mallopt(param, value)`: 1 on success, 0 when the value is rejected. Runs malloc_consolidate first, as glibc does. */
  mallopt(param: number, value: number): number {
    if (!this.initialised) this.ptmallocInit();
    this.mallocConsolidate();
    const asSize = value < 0 ? TWO_64 + value : value;
    switch (param) {
      case M_MXFAST:
        if (asSize <= MAX_FAST_SIZE) {
          this.setMaxFast(asSize);
          return 1;
        }
        return 0;
      case M_TRIM_THRESHOLD:
        this.setParam("trimThreshold", asSize);
        return 1;
      case M_TOP_PAD:
        this.setParam("topPad", asSize);
        return 1;
      case M_MMAP_THRESHOLD:
        this.setParam("mmapThreshold", asSize);
        return 1;
      case M_MMAP_MAX:
        this.setParam("mmapMax", value);
        return 1;
      case M_PERTURB:
        this.perturbByte = value & 0xff;
        return 1;
      case M_ARENA_TEST:
        if (value > 0) this.arenaTest = value;
        return 1;
      case M_ARENA_MAX:
        if (value > 0) this.arenaMax = value;
        return 1;
      default:
        return 1;
    }
  }

  /**
   * `malloc_trim(pad)` (`__malloc_trim`): `mtrim` on every arena in list order (main_arena,
   * then the thread arenas newest first). 1 if memory was given back (madvise of free pages
   * or a lower break).
   */
  mallocTrim(pad: number): number {
    pad = sizeArgument("malloc_trim", pad);
    if (!this.initialised) this.ptmallocInit();
    let result = 0;
    const current = this.av;
    try {
      for (const a of this.arenas()) {
        this.useArena(a);
        result |= this.mtrim(pad);
      }
    } finally {
      this.useArena(current);
    }
    return result;
  }

  /**
   * `mtrim(av, pad)` on the arena being worked on: consolidates it, then every free chunk of
   * the unsorted bin and of the bins from the page's index up gives back the whole pages
   * past its first 48 bytes (`sizeof(struct malloc_chunk)`: its header and links stay) with
   * madvise(MADV_DONTNEED); only main_arena's top is trimmed (`systrim`), a thread heap's
   * top keeps its pages.
   */
  private mtrim(pad: number): number {
    this.mallocConsolidate();
    const psindex = binIndex(PAGE);
    let result = 0;
    for (let i = 1; i < NBINS; i++) {
      if (i !== 1 && i < psindex) continue;
      const bin = this.binAt(i);
      for (let p = this.rd(bin + BK); p !== bin; p = this.rd(p + BK)) {
        let size = chunkSize(this.sizeField(p));
        if (size > PAGE - 1 + MALLOC_CHUNK_STRUCT) {
          const paligned = pageUp(p + MALLOC_CHUNK_STRUCT);
          size -= paligned - p;
          if (size > PAGE - 1) {
            this.process.madvise(paligned, pageDown(size), MADV_DONTNEED);
            result = 1;
          }
        }
      }
    }
    return this.av === this.mainArena ? result | this.systrim(pad) : result;
  }

  /** `mallinfo2()`: the sums over every arena (main_arena, then the thread arenas). */
  mallinfo2(): Mallinfo2 {
    if (!this.initialised) this.ptmallocInit();
    if (!this.threaded) return this.intMallinfo();
    const sum = this.intMallinfo();
    try {
      for (const a of this.arenas().slice(1)) {
        this.useArena(a);
        const info = this.intMallinfo();
        sum.arena += info.arena;
        sum.ordblks += info.ordblks;
        sum.smblks += info.smblks;
        sum.fsmblks += info.fsmblks;
        sum.uordblks += info.uordblks;
        sum.fordblks += info.fordblks;
      }
    } finally {
      this.useArena(this.mainArena);
    }
    return sum;
  }

  /** `int_mallinfo` of the arena being worked on (the mmapped counters and keepcost are main_arena's). */
  protected intMallinfo(): Mallinfo2 {
    let avail = chunkSize(this.sizeField(this.top));
    let nblocks = 1;
    let nfast = 0;
    let fastavail = 0;
    for (let i = 0; i < NFASTBINS; i++) {
      for (let p = this.fieldShift === 0 ? this.rd(this.arena + AV_FASTBINS + 8 * i) : 0; p !== 0; p = this.reveal(p + FD)) {
        if ((p & 15) !== 0) this.abort("int_mallinfo(): unaligned fastbin chunk detected", "mallinfo2", p);
        nfast++;
        fastavail += chunkSize(this.sizeField(p));
      }
    }
    avail += fastavail;
    for (let i = 1; i < NBINS; i++) {
      const bin = this.binAt(i);
      for (let p = this.rd(bin + BK); p !== bin; p = this.rd(p + BK)) {
        nblocks++;
        avail += chunkSize(this.sizeField(p));
      }
    }
    return {
      arena: this.systemMem,
      ordblks: nblocks,
      smblks: nfast,
      hblks: this.nMmaps,
      hblkhd: this.mmappedMem,
      usmblks: 0,
      fsmblks: fastavail,
      uordblks: wrap64(this.systemMem - avail),
      fordblks: avail,
      keepcost: chunkSize(this.sizeField(this.top)),
    };
  }

  /** The exact text `malloc_stats()` writes to stderr: one paragraph per arena, then the totals. */
  mallocStats(): string {
    if (!this.initialised) this.ptmallocInit();
    const arenas: { system: number; inUse: number }[] = [];
    try {
      for (const a of this.arenas()) {
        this.useArena(a);
        const info = this.intMallinfo();
        arenas.push({ system: info.arena, inUse: info.uordblks });
      }
    } finally {
      this.useArena(this.mainArena);
    }
    return formatMallocStats(arenas, this.mmappedMem, this.maxNMmaps, this.maxMmappedMem);
  }

  /** The exact XML `malloc_info(0, fp)` writes: every arena (bins walked as glibc walks them), then the totals. */
  mallocInfo(): string {
    if (!this.initialised) this.ptmallocInit();
    const arenas: InfoArenaHeaps[] = [];
    try {
      for (const a of this.arenas()) {
        this.useArena(a);
        const info: InfoArenaHeaps = this.intMallocInfo();
        if (a !== this.mainArena) {
          const heaps = { size: 0, mprotectSize: 0, count: 0 };
          for (let h = heapForPtr(this.top); h !== 0; h = this.rd(h + HI_PREV)) {
            heaps.size += this.rd(h + HI_SIZE);
            heaps.mprotectSize += this.rd(h + HI_MPROTECT_SIZE);
            heaps.count++;
          }
          info.heaps = heaps;
        }
        arenas.push(info);
      }
    } finally {
      this.useArena(this.mainArena);
    }
    return formatMallocInfoArenas(arenas, this.nMmaps, this.mmappedMem);
  }

  /** The `<heap>` figures of the arena being worked on. */
  protected intMallocInfo(): InfoArena {
    const sizes: InfoSizes[] = [];
    let fastCount = 0;
    let fastBytes = 0;
    for (let i = 0; i < NFASTBINS; i++) {
      let p = this.fieldShift === 0 ? this.rd(this.arena + AV_FASTBINS + 8 * i) : 0;
      if (p === 0) {
        sizes.push({ from: 0, to: 0, total: 0, count: 0 });
        continue;
      }
      const size = chunkSize(this.sizeField(p));
      let count = 0;
      for (; p !== 0; p = this.reveal(p + FD)) {
        if ((p & 15) !== 0) this.abort("__malloc_info(): unaligned fastbin chunk detected", "malloc_info", p);
        count++;
      }
      fastCount += count;
      fastBytes += count * size;
      sizes.push({ from: size - MALLOC_ALIGN_MASK, to: size, total: count * size, count });
    }
    let restCount = 1;
    let restBytes = chunkSize(this.sizeField(this.top));
    for (let i = 1; i < NBINS; i++) {
      const bin = this.binAt(i);
      const line = { from: Infinity, to: 0, total: 0, count: 0 };
      for (let r = this.rd(bin + FD); r !== bin; r = this.rd(r + FD)) {
        const raw = this.sizeField(r);
        line.count++;
        line.total += raw;
        line.from = Math.min(line.from, raw);
        line.to = Math.max(line.to, raw);
      }
      if (line.count === 0) line.from = 0;
      restCount += line.count;
      restBytes += line.total;
      sizes.push(line);
    }
    return { sizes, fastCount, fastBytes, restCount, restBytes, system: this.systemMem, maxSystem: this.maxSystemMem };
  }

  /**
   * Inspection (read-only): `mp_.mmap_threshold` now. A request whose chunk is at least this
   * big, when no free chunk fits, gets a mapping of its own. 128 KiB at first; `mallopt` and the
   * tunables set it, and freeing an mmapped chunk bigger than it (up to 32 MiB) raises it to that
   * chunk's size (glibc's dynamic threshold).
   */
  currentMmapThreshold(): number {
    return this.mmapThreshold;
  }

  /**
   * Inspection (read-only): where main_arena, the heap regions, the top chunk and the tcache
   * struct are, the `mp_` policy parameters and the mmapped-chunk counters. Before the first
   * call initialised the allocator nothing is read from memory (top, topSize and systemMem are 0).
   */
  inspect(): GlibcInspection {
    const ready = this.initialised;
    const top = ready ? this.top : 0;
    return {
      initialised: ready,
      arena: this.arena,
      mainArenaSize: this.stateLayout.size,
      regions: [...this.regions],
      top,
      topSize: ready ? chunkSize(this.sizeField(top)) : 0,
      brk: this.process.brk(0),
      tcacheChunk: this.tcache === 0 ? 0 : this.tcache - CHUNK_HDR_SZ,
      tcacheChunks: this.threaded ? [...this.allTcaches().structs] : this.tcache === 0 ? [] : [this.tcache - CHUNK_HDR_SZ],
      systemMem: ready ? this.systemMem : 0,
      mmapThreshold: this.mmapThreshold,
      trimThreshold: this.trimThreshold,
      topPad: this.topPad,
      dynamicThreshold: !this.noDynThreshold,
      nMmaps: this.nMmaps,
      mmappedMem: this.mmappedMem,
    };
  }

  /**
   * Walks the main heap chunk by chunk (tcache and bins are consulted to name each free
   * chunk's list; with threads, a chunk in any thread's tcache is named `tcache`).
   */
  walkHeap(): HeapChunk[] {
    const chunks = walkGlibcHeap(this.view());
    if (!this.threaded) return chunks;
    const { entries } = this.allTcaches();
    return chunks.map((c) => {
      const bin = c.state === "in-use" ? entries.get(c.address) : undefined;
      return bin === undefined ? c : { ...c, state: "tcache" as const, bin };
    });
  }

  /**
   * {@link walkHeap}'s chunks in columns, without an object per chunk and without checking the
   * bins, fastbins and tcache (the inspection tools' lean walk: chunk-states.ts).
   */
  chunkStates(): ChunkStates {
    return walkChunkStates(this.view(), this.threaded ? this.allTcaches().entries : undefined);
  }

  /**
   * Verifies every invariant of the heap, the bins, the binmap, the fastbins and the tcache;
   * throws {@link HeapCheckError} naming the first broken one and its address, also when a
   * link or size leads where memory cannot be read (never a segfault or RangeError).
   */
  checkHeap(): void {
    guardChecker(() => checkGlibcHeap(this.view()));
    if (this.threaded) for (const view of this.threadArenaViews()) guardChecker(() => checkGlibcHeap(view));
  }
}
