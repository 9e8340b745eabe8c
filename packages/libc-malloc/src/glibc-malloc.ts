import type { Memory } from "@mem/hardware";
import type { ProcessSpace } from "@mem/os-vm";
import type { CAllocator, GlibcMallocOptions, HeapChunk, Mallinfo2 } from "./api.js";
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
import {
  AV_ATTACHED_THREADS,
  AV_BINMAP,
  AV_FASTBINS,
  AV_FLAGS,
  AV_HAVE_FASTCHUNKS,
  AV_LAST_REMAINDER,
  AV_MAX_SYSTEM_MEM,
  AV_NEXT,
  AV_SYSTEM_MEM,
  AV_TOP,
  BK,
  BK_NEXTSIZE,
  FD,
  FD_NEXTSIZE,
  MALLOC_STATE_SIZE,
  NONCONTIGUOUS_BIT,
  TCACHE_ENTRIES,
} from "./arena-layout.js";
import {
  CHUNK_HDR_SZ,
  DEFAULT_MMAP_MAX,
  DEFAULT_MMAP_THRESHOLD,
  DEFAULT_MMAP_THRESHOLD_MAX,
  DEFAULT_MXFAST,
  DEFAULT_TOP_PAD,
  DEFAULT_TRIM_THRESHOLD,
  EINVAL,
  ENOMEM,
  FASTBIN_CONSOLIDATION_THRESHOLD,
  IS_MMAPPED,
  MALLOC_ALIGNMENT,
  MALLOC_CHUNK_STRUCT,
  MAX_FAST_SIZE,
  MAX_ITERS,
  MAX_TCACHE_COUNT,
  MAX_TCACHE_SIZE,
  MIN_LARGE_SIZE,
  MINSIZE,
  MMAP_AS_MORECORE_SIZE,
  NBINS,
  NFASTBINS,
  NON_MAIN_ARENA,
  PAGE,
  PREV_INUSE,
  PTRDIFF_MAX,
  SIZE_SZ,
  TCACHE_FILL_COUNT,
  TCACHE_MAX_BINS,
  TCACHE_STRUCT_SIZE,
  TWO_32,
  TWO_64,
  binIndex,
  checkedRequest2size,
  csize2tidx,
  fastbinIndex,
  hex,
  largebinIndex,
  pageDown,
  pageUp,
  xor64,
} from "./constants.js";
import { MallocAbort, isSyscallError } from "./errors.js";
import { checkGlibcHeap, walkGlibcHeap, type GlibcHeapView } from "./heap-check.js";
import { formatMallocStats } from "./stats.js";

const PROT_RW = 0x1 | 0x2;
const MAP_PRIVATE_ANONYMOUS = 0x02 | 0x20;
const MAP_FIXED_NOREPLACE = 0x100000;
const MADV_DONTNEED = 4;
/** The text glibc's assert prints for the sysmalloc precondition on the old top. */
const SYSMALLOC_ASSERT =
  "Fatal glibc error: malloc assertion failure in sysmalloc: (old_top == initial_top (av) && old_size == 0) || ((unsigned long) (old_size) >= MINSIZE && prev_inuse (old_top) && ((unsigned long) old_end & (pagesize - 1)) == 0)";

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
 * The heap starts at the program break. The first allocation (of any kind) creates the
 * 0x290-byte `tcache_perthread_struct` at the heap start, exactly as glibc does, so the
 * offsets of every later chunk from {@link GlibcMalloc.heapStart} match a real process.
 */
export class GlibcMalloc implements CAllocator {
  /** The process whose memory this allocator manages. */
  readonly process: ProcessSpace;
  /** Address of `main_arena` (`struct malloc_state`). */
  readonly arena: number;
  private readonly m: Memory;

  // ---- mp_ and other libc statics -------------------------------------------------------
  private initialised = false;
  private trimThreshold = DEFAULT_TRIM_THRESHOLD;
  private topPad = DEFAULT_TOP_PAD;
  private mmapThreshold = DEFAULT_MMAP_THRESHOLD;
  private nMmapsMax = DEFAULT_MMAP_MAX;
  private noDynThreshold = false;
  private nMmaps = 0;
  private maxNMmaps = 0;
  private mmappedMem = 0;
  private maxMmappedMem = 0;
  private sbrkBase = 0;
  private tcacheBins = TCACHE_MAX_BINS;
  private tcacheCount = TCACHE_FILL_COUNT;
  private tcacheUnsortedLimit = 0;
  private perturbByte = 0;
  private globalMaxFast = 0;
  private arenaTest = 8;
  private arenaMax = 0;
  private readonly key: number;
  /** The tcache_perthread_struct (user address), 0 until created. */
  private tcache = 0;
  /**
   * Read caches of `tcache->counts[]` and `tcache->entries[]` (every write goes to memory
   * too): the tcache fast path then reads memory only for the entry's own link word.
   */
  private readonly tcCounts = new Uint16Array(TCACHE_MAX_BINS);
  private readonly tcHeads = new Float64Array(TCACHE_MAX_BINS);

  // ---- write-through caches of main_arena fields ---------------------------------------
  private top: number;
  private lastRemainder = 0;
  private systemMem = 0;
  private maxSystemMem = 0;
  private haveFastchunks = false;
  private noncontiguous = false;
  private readonly binmap = new Uint32Array(4);
  /** Starts of the heap's regions (more than one only after brk failed); for the walker. */
  private readonly regions: number[] = [];

  private errnoValue = 0;
  private readonly initialBrk: number;

  /**
   * Creates the C library's allocator for `process`. Like libc being loaded, this reserves
   * room for `main_arena` (one anonymous page unless `options.stateAddress` is given) but
   * touches neither the heap nor the tcache until the first call.
   */
  constructor(process: ProcessSpace, options: GlibcMallocOptions = {}) {
    this.process = process;
    this.m = process.memory;
    this.arena = options.stateAddress ?? process.mmap(0, pageUp(MALLOC_STATE_SIZE), PROT_RW, MAP_PRIVATE_ANONYMOUS);
    this.top = this.arena + AV_TOP;
    this.initialBrk = process.brk(0);
    this.key = options.tcacheKey ?? Math.floor(Math.random() * 2 ** 53);
    if (options.tcacheCount !== undefined && options.tcacheCount <= MAX_TCACHE_COUNT) this.tcacheCount = options.tcacheCount;
    if (options.tcacheMax !== undefined && options.tcacheMax <= MAX_TCACHE_SIZE) {
      this.tcacheBins = csize2tidx(checkedRequest2size(options.tcacheMax)) + 1;
    }
    if (options.tcacheUnsortedLimit !== undefined) this.tcacheUnsortedLimit = options.tcacheUnsortedLimit;
    this.pendingMxfast = options.mxfast !== undefined && options.mxfast <= MAX_FAST_SIZE ? options.mxfast : DEFAULT_MXFAST;
    if (options.topPad !== undefined) this.setParam("topPad", options.topPad);
    if (options.mmapThreshold !== undefined) this.setParam("mmapThreshold", options.mmapThreshold);
    if (options.trimThreshold !== undefined) this.setParam("trimThreshold", options.trimThreshold);
    if (options.mmapMax !== undefined) this.setParam("mmapMax", options.mmapMax);
    if (options.perturb !== undefined) this.perturbByte = options.perturb & 0xff;
  }
  private readonly pendingMxfast: number;

  /** The start of the main arena's heap: the first address sbrk returned (before that, the current break). */
  get heapStart(): number {
    return this.sbrkBase !== 0 ? this.sbrkBase : this.initialBrk;
  }

  /** {@inheritDoc CAllocator.errno} */
  get errno(): number {
    return this.errnoValue;
  }

  /** Sets `errno`, as a C program may (`errno = 0`). */
  set errno(value: number) {
    this.errnoValue = value;
  }

  /** The `tcache_key` stored in freed tcache entries. */
  get tcacheKey(): number {
    return this.key;
  }

  // =====================================================================================
  // Public C API
  // =====================================================================================

  /** `malloc(bytes)` (`__libc_malloc`). */
  malloc(bytes: number): number {
    if (!this.initialised) this.ptmallocInit();
    const nb = checkedRequest2size(bytes);
    if (nb === 0) return this.fail(ENOMEM);
    const tidx = csize2tidx(nb);
    if (this.tcache === 0) this.tcacheInit();
    if (tidx < this.tcacheBins && this.tcache !== 0 && (this.tcCounts[tidx] ?? 0) > 0) {
      return this.tcacheGet(tidx);
    }
    return this.intMalloc(nb, bytes);
  }

  /** `free(mem)` (`__libc_free`). */
  free(mem: number): void {
    if (mem === 0) return;
    const p = mem - CHUNK_HDR_SZ;
    const field = this.sizeField(p);
    if ((field & IS_MMAPPED) !== 0) {
      if (!this.noDynThreshold && field > this.mmapThreshold && field <= DEFAULT_MMAP_THRESHOLD_MAX) {
        this.mmapThreshold = chunkSize(field);
        this.trimThreshold = 2 * this.mmapThreshold;
      }
      this.munmapChunk(p, "free");
      return;
    }
    if (!this.initialised) this.ptmallocInit();
    if (this.tcache === 0) this.tcacheInit();
    this.checkMainArena(p, field, "free");
    this.intFree(p, field, false);
  }

  /** `calloc(n, size)` (`__libc_calloc`). */
  calloc(n: number, elemSize: number): number {
    const bytes = n * elemSize;
    if (!(bytes < TWO_64) || n < 0 || elemSize < 0) return this.fail(ENOMEM);
    if (!this.initialised) this.ptmallocInit();
    if (this.tcache === 0) this.tcacheInit();
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
    if (!this.initialised) this.ptmallocInit();
    if (bytes === 0 && oldmem !== 0) {
      this.free(oldmem);
      return 0;
    }
    if (oldmem === 0) return this.malloc(bytes);
    const oldp = oldmem - CHUNK_HDR_SZ;
    const field = this.sizeField(oldp);
    const oldsize = chunkSize(field);
    const mmapped = (field & IS_MMAPPED) !== 0;
    if (!mmapped) {
      if (this.tcache === 0) this.tcacheInit();
      this.checkMainArena(oldp, field, "realloc");
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
    return this.intRealloc(oldp, oldsize, nb);
  }

  /** `malloc_usable_size(mem)`. */
  usableSize(mem: number): number {
    if (mem === 0) return 0;
    const p = mem - CHUNK_HDR_SZ;
    const field = this.sizeField(p);
    const size = chunkSize(field);
    if ((field & IS_MMAPPED) !== 0) return size - CHUNK_HDR_SZ;
    if ((this.sizeField(p + size) & PREV_INUSE) !== 0) return size - SIZE_SZ;
    return 0;
  }

  /** `memalign(alignment, bytes)` (also `aligned_alloc`; `_mid_memalign`). */
  memalign(alignment: number, bytes: number): number {
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
    const rounded = bytes + PAGE - 1;
    // & -(4095) clears bits 1..11 and keeps bit 0 (glibc 2.36's off-by-one).
    const low = (rounded & 4095);
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

  /** `malloc_trim(pad)`: 1 if memory was given back (madvise of free pages or a lower break). */
  mallocTrim(pad: number): number {
    if (!this.initialised) this.ptmallocInit();
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
    return result | this.systrim(pad);
  }

  /** `mallinfo2()`. */
  mallinfo2(): Mallinfo2 {
    if (!this.initialised) this.ptmallocInit();
    let avail = chunkSize(this.sizeField(this.top));
    let nblocks = 1;
    let nfast = 0;
    let fastavail = 0;
    for (let i = 0; i < NFASTBINS; i++) {
      for (let p = this.rd(this.arena + AV_FASTBINS + 8 * i); p !== 0; p = this.reveal(p + FD)) {
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

  /** The exact text `malloc_stats()` writes to stderr. */
  mallocStats(): string {
    const info = this.mallinfo2();
    return formatMallocStats([{ system: info.arena, inUse: info.uordblks }], this.mmappedMem, this.maxNMmaps, this.maxMmappedMem);
  }

  /** Walks the main heap chunk by chunk (tcache and bins are consulted to name each free chunk's list). */
  walkHeap(): HeapChunk[] {
    return walkGlibcHeap(this.view());
  }

  /**
   * Verifies every invariant of the heap, the bins, the binmap, the fastbins and the tcache;
   * throws {@link HeapCheckError} naming the first broken one and its address.
   */
  checkHeap(): void {
    checkGlibcHeap(this.view());
  }

  // =====================================================================================
  // Initialisation
  // =====================================================================================

  private ptmallocInit(): void {
    this.initialised = true;
    const m = this.m;
    for (let i = 1; i < NBINS; i++) {
      const bin = this.binAt(i);
      m.store64(bin + FD, bin);
      m.store64(bin + BK, bin);
    }
    m.store32(this.arena + AV_FLAGS, 0);
    m.store64(this.arena + AV_NEXT, this.arena);
    m.store64(this.arena + AV_ATTACHED_THREADS, 1);
    this.setMaxFast(this.pendingMxfast);
    this.setHaveFastchunks(false);
    this.setTop(this.arena + AV_TOP);
  }

  private tcacheInit(): void {
    const victim = this.intMalloc(checkedRequest2size(TCACHE_STRUCT_SIZE), TCACHE_STRUCT_SIZE);
    if (victim === 0) return;
    this.tcache = victim;
    this.m.fill(victim, TCACHE_STRUCT_SIZE, 0);
  }

  private setParam(name: "topPad" | "mmapThreshold" | "trimThreshold" | "mmapMax", value: number): void {
    if (name === "mmapMax") this.nMmapsMax = value;
    else this[name] = value;
    this.noDynThreshold = true;
  }

  private setMaxFast(value: number): void {
    this.globalMaxFast = value <= MALLOC_ALIGNMENT - 1 - SIZE_SZ ? MINSIZE / 2 : (value + SIZE_SZ) & ~15;
  }

  // =====================================================================================
  // tcache
  // =====================================================================================

  private tcacheGet(tidx: number): number {
    const m = this.m;
    const e = this.tcHeads[tidx] ?? 0;
    if ((e & 15) !== 0) this.abort("malloc(): unaligned tcache chunk detected", "malloc", e);
    const next = this.reveal(e);
    this.tcHeads[tidx] = next;
    this.wr(this.tcache + TCACHE_ENTRIES + 8 * tidx, next);
    const count = (this.tcCounts[tidx] ?? 0) - 1;
    this.tcCounts[tidx] = count;
    m.store16(this.tcache + 2 * tidx, count);
    m.store64(e + 8, 0);
    return e;
  }

  private tcachePut(chunk: number, tidx: number): void {
    const m = this.m;
    const e = chunk + CHUNK_HDR_SZ;
    m.store64(e + 8, this.key);
    this.wr(e, xor64(Math.floor(e / PAGE), this.tcHeads[tidx] ?? 0));
    this.tcHeads[tidx] = e;
    m.store64(this.tcache + TCACHE_ENTRIES + 8 * tidx, e);
    const count = (this.tcCounts[tidx] ?? 0) + 1;
    this.tcCounts[tidx] = count;
    m.store16(this.tcache + 2 * tidx, count);
  }

  // =====================================================================================
  // _int_malloc
  // =====================================================================================

  private intMalloc(nb: number, bytes: number): number {
    const m = this.m;
    const av = this.arena;

    // 1. fastbins
    if (nb <= this.globalMaxFast) {
      const idx = fastbinIndex(nb);
      const fb = av + AV_FASTBINS + 8 * idx;
      const victim = this.rd(fb);
      if (victim !== 0) {
        if ((victim & 15) !== 0) this.abort("malloc(): unaligned fastbin chunk detected 2", "malloc", victim);
        this.wr(fb, this.reveal(victim + FD));
        if (fastbinIndex(chunkSize(this.sizeField(victim))) !== idx) {
          this.abort("malloc(): memory corruption (fast)", "malloc", victim);
        }
        const tidx = csize2tidx(nb);
        if (this.tcache !== 0 && tidx < this.tcacheBins) {
          let tcVictim: number;
          while ((this.tcCounts[tidx] ?? 0) < this.tcacheCount && (tcVictim = this.rd(fb)) !== 0) {
            if ((tcVictim & 15) !== 0) this.abort("malloc(): unaligned fastbin chunk detected 3", "malloc", tcVictim);
            this.wr(fb, this.reveal(tcVictim + FD));
            this.tcachePut(tcVictim, tidx);
          }
        }
        return this.allocPerturb(victim + CHUNK_HDR_SZ, bytes);
      }
    }

    // 2. small bins (exact size)
    let idx: number;
    if (nb < MIN_LARGE_SIZE) {
      idx = nb >>> 4;
      const bin = this.binAt(idx);
      const victim = this.rd(bin + BK);
      if (victim !== bin) {
        const bck = this.rd(victim + BK);
        if (this.rd(bck + FD) !== victim) this.abort("malloc(): smallbin double linked list corrupted", "malloc", victim);
        this.setInuseBitAt(victim + nb);
        m.store64(bin + BK, bck);
        m.store64(bck + FD, bin);
        const tidx = csize2tidx(nb);
        if (this.tcache !== 0 && tidx < this.tcacheBins) {
          let tcVictim: number;
          while ((this.tcCounts[tidx] ?? 0) < this.tcacheCount && (tcVictim = this.rd(bin + BK)) !== bin) {
            const b = this.rd(tcVictim + BK);
            this.setInuseBitAt(tcVictim + nb);
            m.store64(bin + BK, b);
            m.store64(b + FD, bin);
            this.tcachePut(tcVictim, tidx);
          }
        }
        return this.allocPerturb(victim + CHUNK_HDR_SZ, bytes);
      }
    } else {
      idx = largebinIndex(nb);
      if (this.haveFastchunks) this.mallocConsolidate();
    }

    const tidx = csize2tidx(nb);
    const tcacheNb = this.tcache !== 0 && tidx < this.tcacheBins;
    let returnCached = false;
    let tcacheUnsortedCount = 0;
    const unsorted = this.binAt(1);

    for (;;) {
      // 3. the unsorted bin, oldest first
      let iters = 0;
      let victim: number;
      while ((victim = this.rd(unsorted + BK)) !== unsorted) {
        const bck = this.rd(victim + BK);
        const field = this.sizeField(victim);
        const size = chunkSize(field);
        const next = victim + size;
        const nextField = this.sizeField(next);
        if (size <= CHUNK_HDR_SZ || size > this.systemMem) this.abort("malloc(): invalid size (unsorted)", "malloc", victim);
        if (nextField < CHUNK_HDR_SZ || nextField > this.systemMem) this.abort("malloc(): invalid next size (unsorted)", "malloc", victim);
        if (chunkSize(this.rd(next)) !== size) this.abort("malloc(): mismatching next->prev_size (unsorted)", "malloc", victim);
        if (this.rd(bck + FD) !== victim || this.rd(victim + FD) !== unsorted) {
          this.abort("malloc(): unsorted double linked list corrupted", "malloc", victim);
        }
        if ((nextField & PREV_INUSE) !== 0) this.abort("malloc(): invalid next->prev_inuse (unsorted)", "malloc", victim);

        if (nb < MIN_LARGE_SIZE && bck === unsorted && victim === this.lastRemainder && size > nb + MINSIZE) {
          const remainderSize = size - nb;
          const remainder = victim + nb;
          m.store64(unsorted + BK, remainder);
          m.store64(unsorted + FD, remainder);
          this.setLastRemainder(remainder);
          m.store64(remainder + BK, unsorted);
          m.store64(remainder + FD, unsorted);
          if (remainderSize >= MIN_LARGE_SIZE) this.clearNextsize(remainder);
          this.wr(victim + 8, nb + PREV_INUSE);
          this.wr(remainder + 8, remainderSize + PREV_INUSE);
          this.wr(remainder + remainderSize, remainderSize);
          return this.allocPerturb(victim + CHUNK_HDR_SZ, bytes);
        }

        if (this.rd(bck + FD) !== victim) this.abort("malloc(): corrupted unsorted chunks 3", "malloc", victim);
        m.store64(unsorted + BK, bck);
        m.store64(bck + FD, unsorted);

        if (size === nb) {
          this.setInuseBitAt(next);
          if (tcacheNb && (this.tcCounts[tidx] ?? 0) < this.tcacheCount) {
            this.tcachePut(victim, tidx);
            returnCached = true;
            continue;
          }
          return this.allocPerturb(victim + CHUNK_HDR_SZ, bytes);
        }

        // place the chunk in its bin
        let victimIndex: number;
        let bck2: number;
        let fwd: number;
        if (size < MIN_LARGE_SIZE) {
          victimIndex = size >>> 4;
          bck2 = this.binAt(victimIndex);
          fwd = this.rd(bck2 + FD);
        } else {
          victimIndex = largebinIndex(size);
          bck2 = this.binAt(victimIndex);
          fwd = this.rd(bck2 + FD);
          if (fwd !== bck2) {
            const sizeP = size + PREV_INUSE;
            if (sizeP < this.sizeField(this.rd(bck2 + BK))) {
              // smaller than the smallest: goes last
              fwd = bck2;
              bck2 = this.rd(bck2 + BK);
              const first = this.rd(fwd + FD);
              m.store64(victim + FD_NEXTSIZE, first);
              const firstBkNs = this.rd(first + BK_NEXTSIZE);
              m.store64(victim + BK_NEXTSIZE, firstBkNs);
              m.store64(firstBkNs + FD_NEXTSIZE, victim);
              m.store64(first + BK_NEXTSIZE, victim);
            } else {
              while (sizeP < this.sizeField(fwd)) fwd = this.rd(fwd + FD_NEXTSIZE);
              if (sizeP === this.sizeField(fwd)) {
                fwd = this.rd(fwd + FD); // always insert in the second position
              } else {
                m.store64(victim + FD_NEXTSIZE, fwd);
                const fwdBkNs = this.rd(fwd + BK_NEXTSIZE);
                m.store64(victim + BK_NEXTSIZE, fwdBkNs);
                if (this.rd(fwdBkNs + FD_NEXTSIZE) !== fwd) {
                  this.abort("malloc(): largebin double linked list corrupted (nextsize)", "malloc", fwd);
                }
                m.store64(fwd + BK_NEXTSIZE, victim);
                m.store64(fwdBkNs + FD_NEXTSIZE, victim);
              }
              bck2 = this.rd(fwd + BK);
              if (this.rd(bck2 + FD) !== fwd) this.abort("malloc(): largebin double linked list corrupted (bk)", "malloc", fwd);
            }
          } else {
            m.store64(victim + FD_NEXTSIZE, victim);
            m.store64(victim + BK_NEXTSIZE, victim);
          }
        }
        this.markBin(victimIndex);
        m.store64(victim + BK, bck2);
        m.store64(victim + FD, fwd);
        m.store64(fwd + BK, victim);
        m.store64(bck2 + FD, victim);

        tcacheUnsortedCount++;
        if (returnCached && this.tcacheUnsortedLimit > 0 && tcacheUnsortedCount > this.tcacheUnsortedLimit) {
          return this.tcacheGet(tidx);
        }
        if (++iters >= MAX_ITERS) break;
      }
      if (returnCached) return this.tcacheGet(tidx);

      // 4. large request: best fit in its own bin, via the nextsize ring
      if (nb >= MIN_LARGE_SIZE) {
        const bin = this.binAt(idx);
        let v = this.rd(bin + FD);
        if (v !== bin && this.sizeField(v) >= nb) {
          v = this.rd(v + BK_NEXTSIZE);
          let size: number;
          while ((size = chunkSize(this.sizeField(v))) < nb) v = this.rd(v + BK_NEXTSIZE);
          if (v !== this.rd(bin + BK) && this.sizeField(v) === this.sizeField(this.rd(v + FD))) v = this.rd(v + FD);
          const remainderSize = size - nb;
          this.unlinkChunk(v, "malloc");
          if (remainderSize < MINSIZE) {
            this.setInuseBitAt(v + size);
          } else {
            const remainder = v + nb;
            const fwd = this.rd(unsorted + FD);
            if (this.rd(fwd + BK) !== unsorted) this.abort("malloc(): corrupted unsorted chunks", "malloc", fwd);
            m.store64(remainder + BK, unsorted);
            m.store64(remainder + FD, fwd);
            m.store64(unsorted + FD, remainder);
            m.store64(fwd + BK, remainder);
            if (remainderSize >= MIN_LARGE_SIZE) this.clearNextsize(remainder);
            this.wr(v + 8, nb + PREV_INUSE);
            this.wr(remainder + 8, remainderSize + PREV_INUSE);
            this.wr(remainder + remainderSize, remainderSize);
          }
          return this.allocPerturb(v + CHUNK_HDR_SZ, bytes);
        }
      }

      // 5. binmap search: the smallest non-empty bin above idx
      const found = this.binmapSearch(idx + 1, nb, bytes);
      if (found !== 0) return found;

      // 6. the top chunk
      const top = this.top;
      const topSize = chunkSize(this.sizeField(top));
      if (topSize > this.systemMem) this.abort("malloc(): corrupted top size", "malloc", top);
      if (topSize >= nb + MINSIZE) {
        this.splitTop(nb);
        return this.allocPerturb(top + CHUNK_HDR_SZ, bytes);
      }
      if (this.haveFastchunks) {
        this.mallocConsolidate();
        idx = nb < MIN_LARGE_SIZE ? nb >>> 4 : largebinIndex(nb);
        continue;
      }
      const p = this.sysmalloc(nb);
      if (p !== 0) this.allocPerturb(p, bytes);
      return p;
    }
  }

  private binmapSearch(start: number, nb: number, bytes: number): number {
    const m = this.m;
    let idx = start;
    let block = idx >>> 5;
    let map = block < 4 ? (this.binmap[block] ?? 0) : 0;
    let bit = (1 << (idx & 31)) >>> 0;
    if (block >= 4) return 0;
    for (;;) {
      if (bit > map || bit === 0) {
        do {
          if (++block >= 4) return 0;
        } while ((map = this.binmap[block] ?? 0) === 0);
        idx = block << 5;
        bit = 1;
      }
      while ((bit & map) === 0) {
        idx++;
        bit = (bit << 1) >>> 0;
      }
      const bin = this.binAt(idx);
      const victim = this.rd(bin + BK);
      if (victim === bin) {
        map = (map & ~bit) >>> 0;
        this.setBinmapWord(block, map);
        idx++;
        bit = (bit << 1) >>> 0;
        continue;
      }
      const size = chunkSize(this.sizeField(victim));
      const remainderSize = size - nb;
      this.unlinkChunk(victim, "malloc");
      if (remainderSize < MINSIZE) {
        this.setInuseBitAt(victim + size);
      } else {
        const remainder = victim + nb;
        const unsorted = this.binAt(1);
        const fwd = this.rd(unsorted + FD);
        if (this.rd(fwd + BK) !== unsorted) this.abort("malloc(): corrupted unsorted chunks 2", "malloc", fwd);
        m.store64(remainder + BK, unsorted);
        m.store64(remainder + FD, fwd);
        m.store64(unsorted + FD, remainder);
        m.store64(fwd + BK, remainder);
        if (nb < MIN_LARGE_SIZE) this.setLastRemainder(remainder);
        if (remainderSize >= MIN_LARGE_SIZE) this.clearNextsize(remainder);
        this.wr(victim + 8, nb + PREV_INUSE);
        this.wr(remainder + 8, remainderSize + PREV_INUSE);
        this.wr(remainder + remainderSize, remainderSize);
      }
      return this.allocPerturb(victim + CHUNK_HDR_SZ, bytes);
    }
  }

  private splitTop(nb: number): void {
    const top = this.top;
    const remainderSize = chunkSize(this.sizeField(top)) - nb;
    const remainder = top + nb;
    this.setTop(remainder);
    this.wr(top + 8, nb + PREV_INUSE);
    this.wr(remainder + 8, remainderSize + PREV_INUSE);
  }

  // =====================================================================================
  // _int_free and malloc_consolidate
  // =====================================================================================

  private intFree(p: number, field: number, haveLock: boolean): void {
    const m = this.m;
    let size = chunkSize(field);
    if (wrapsAround(p, size) || (p & 15) !== 0) this.abort("free(): invalid pointer", "free", p);
    if (size < MINSIZE || (size & 15) !== 0) this.abort("free(): invalid size", "free", p);

    // tcache
    const tidx = csize2tidx(size);
    if (this.tcache !== 0 && tidx < this.tcacheBins) {
      const e = p + CHUNK_HDR_SZ;
      if (this.rd(e + 8) === this.key) {
        let cnt = 0;
        for (let tmp = this.tcHeads[tidx] ?? 0; tmp !== 0; tmp = this.reveal(tmp), cnt++) {
          if (cnt >= this.tcacheCount) this.abort("free(): too many chunks detected in tcache", "free", p);
          if ((tmp & 15) !== 0) this.abort("free(): unaligned chunk detected in tcache 2", "free", tmp);
          if (tmp === e) this.abort("free(): double free detected in tcache 2", "free", p);
        }
      }
      if ((this.tcCounts[tidx] ?? 0) < this.tcacheCount) {
        this.tcachePut(p, tidx);
        return;
      }
    }

    // fastbins
    if (size <= this.globalMaxFast) {
      const nextField = this.sizeField(p + size);
      if (nextField <= CHUNK_HDR_SZ || chunkSize(nextField) >= this.systemMem) {
        this.abort("free(): invalid next size (fast)", "free", p);
      }
      this.freePerturb(p + CHUNK_HDR_SZ, size - CHUNK_HDR_SZ);
      this.setHaveFastchunks(true);
      const idx = fastbinIndex(size);
      const fb = this.arena + AV_FASTBINS + 8 * idx;
      const old = this.rd(fb);
      if (old === p) this.abort("double free or corruption (fasttop)", "free", p);
      this.wr(p + FD, xor64(Math.floor((p + FD) / PAGE), old));
      m.store64(fb, p);
      if (haveLock && old !== 0 && fastbinIndex(chunkSize(this.sizeField(old))) !== idx) {
        this.abort("invalid fastbin entry (free)", "free", old);
      }
      return;
    }

    if ((field & IS_MMAPPED) !== 0) {
      this.munmapChunk(p, "free");
      return;
    }

    // consolidate with neighbours, then the unsorted bin or top
    const next = p + size;
    const top = this.top;
    if (p === top) this.abort("double free or corruption (top)", "free", p);
    if (!this.noncontiguous && next >= top + chunkSize(this.sizeField(top))) this.abort("double free or corruption (out)", "free", p);
    const nextField = this.sizeField(next);
    if ((nextField & PREV_INUSE) === 0) this.abort("double free or corruption (!prev)", "free", p);
    const nextsize = chunkSize(nextField);
    if (nextField <= CHUNK_HDR_SZ || nextsize >= this.systemMem) this.abort("free(): invalid next size (normal)", "free", p);
    this.freePerturb(p + CHUNK_HDR_SZ, size - CHUNK_HDR_SZ);

    if ((field & PREV_INUSE) === 0) {
      const prevsize = this.rd(p);
      size += prevsize;
      p -= prevsize;
      if (chunkSize(this.sizeField(p)) !== prevsize) this.abort("corrupted size vs. prev_size while consolidating", "free", p);
      this.unlinkChunk(p, "free");
    }
    if (next !== top) {
      if ((this.sizeField(next + nextsize) & PREV_INUSE) === 0) {
        this.unlinkChunk(next, "free");
        size += nextsize;
      } else {
        this.wr(next + 8, nextField - (nextField & PREV_INUSE));
      }
      const unsorted = this.binAt(1);
      const fwd = this.rd(unsorted + FD);
      if (this.rd(fwd + BK) !== unsorted) this.abort("free(): corrupted unsorted chunks", "free", p);
      m.store64(p + FD, fwd);
      m.store64(p + BK, unsorted);
      if (size >= MIN_LARGE_SIZE) this.clearNextsize(p);
      m.store64(unsorted + FD, p);
      m.store64(fwd + BK, p);
      this.wr(p + 8, size + PREV_INUSE);
      this.wr(p + size, size);
    } else {
      size += nextsize;
      this.wr(p + 8, size + PREV_INUSE);
      this.setTop(p);
    }

    if (size >= FASTBIN_CONSOLIDATION_THRESHOLD) {
      if (this.haveFastchunks) this.mallocConsolidate();
      if (chunkSize(this.sizeField(this.top)) >= this.trimThreshold) this.systrim(this.topPad);
    }
  }

  private mallocConsolidate(): void {
    const m = this.m;
    this.setHaveFastchunks(false);
    const unsorted = this.binAt(1);
    for (let i = 0; i < NFASTBINS; i++) {
      const fb = this.arena + AV_FASTBINS + 8 * i;
      let p = this.rd(fb);
      if (p === 0) continue;
      m.store64(fb, 0);
      do {
        if ((p & 15) !== 0) this.abort("malloc_consolidate(): unaligned fastbin chunk detected", "malloc", p);
        const field = this.sizeField(p);
        if (fastbinIndex(chunkSize(field)) !== i) this.abort("malloc_consolidate(): invalid chunk size", "malloc", p);
        const nextp = this.reveal(p + FD);
        let size = chunkSize(field);
        const next = p + size;
        const nextField = this.sizeField(next);
        const nextsize = chunkSize(nextField);
        if ((field & PREV_INUSE) === 0) {
          const prevsize = this.rd(p);
          size += prevsize;
          p -= prevsize;
          if (chunkSize(this.sizeField(p)) !== prevsize) this.abort("corrupted size vs. prev_size in fastbins", "malloc", p);
          this.unlinkChunk(p, "malloc");
        }
        if (next !== this.top) {
          if ((this.sizeField(next + nextsize) & PREV_INUSE) === 0) {
            size += nextsize;
            this.unlinkChunk(next, "malloc");
          } else {
            this.wr(next + 8, nextField - (nextField & PREV_INUSE));
          }
          const first = this.rd(unsorted + FD);
          m.store64(unsorted + FD, p);
          m.store64(first + BK, p);
          if (size >= MIN_LARGE_SIZE) this.clearNextsize(p);
          this.wr(p + 8, size + PREV_INUSE);
          m.store64(p + BK, unsorted);
          m.store64(p + FD, first);
          this.wr(p + size, size);
        } else {
          size += nextsize;
          this.wr(p + 8, size + PREV_INUSE);
          this.setTop(p);
        }
        p = nextp;
      } while (p !== 0);
    }
  }

  private unlinkChunk(p: number, call: string): void {
    const m = this.m;
    const field = this.sizeField(p);
    if (chunkSize(field) !== this.rd(p + chunkSize(field))) this.abort("corrupted size vs. prev_size", call, p);
    const fd = this.rd(p + FD);
    const bk = this.rd(p + BK);
    if (this.rd(fd + BK) !== p || this.rd(bk + FD) !== p) this.abort("corrupted double-linked list", call, p);
    m.store64(fd + BK, bk);
    m.store64(bk + FD, fd);
    if (field >= MIN_LARGE_SIZE && this.rd(p + FD_NEXTSIZE) !== 0) {
      const fdNs = this.rd(p + FD_NEXTSIZE);
      const bkNs = this.rd(p + BK_NEXTSIZE);
      if (this.rd(fdNs + BK_NEXTSIZE) !== p || this.rd(bkNs + FD_NEXTSIZE) !== p) {
        this.abort("corrupted double-linked list (not small)", call, p);
      }
      if (this.rd(fd + FD_NEXTSIZE) === 0) {
        if (fdNs === p) {
          m.store64(fd + FD_NEXTSIZE, fd);
          m.store64(fd + BK_NEXTSIZE, fd);
        } else {
          m.store64(fd + FD_NEXTSIZE, fdNs);
          m.store64(fd + BK_NEXTSIZE, bkNs);
          m.store64(fdNs + BK_NEXTSIZE, fd);
          m.store64(bkNs + FD_NEXTSIZE, fd);
        }
      } else {
        m.store64(fdNs + BK_NEXTSIZE, bkNs);
        m.store64(bkNs + FD_NEXTSIZE, fdNs);
      }
    }
  }

  // =====================================================================================
  // realloc and memalign internals
  // =====================================================================================

  private intRealloc(oldp: number, oldsize: number, nb: number): number {
    const oldField = this.sizeField(oldp);
    if (oldField <= CHUNK_HDR_SZ || oldsize >= this.systemMem) this.abort("realloc(): invalid old size", "realloc", oldp);
    const next = oldp + oldsize;
    const nextField = this.sizeField(next);
    const nextsize = chunkSize(nextField);
    if (nextField <= CHUNK_HDR_SZ || nextsize >= this.systemMem) this.abort("realloc(): invalid next size", "realloc", oldp);
    let newp: number;
    let newsize: number;
    if (oldsize >= nb) {
      newp = oldp;
      newsize = oldsize;
    } else if (next === this.top && oldsize + nextsize >= nb + MINSIZE) {
      newsize = oldsize + nextsize;
      this.wr(oldp + 8, (oldField & 7) + nb);
      this.setTop(oldp + nb);
      this.wr(oldp + nb + 8, (newsize - nb) + PREV_INUSE);
      return oldp + CHUNK_HDR_SZ;
    } else if (next !== this.top && (this.sizeField(next + nextsize) & PREV_INUSE) === 0 && oldsize + nextsize >= nb) {
      newp = oldp;
      newsize = oldsize + nextsize;
      this.unlinkChunk(next, "realloc");
    } else {
      const newmem = this.intMalloc(nb, nb - MALLOC_ALIGNMENT + 1);
      if (newmem === 0) return 0;
      newp = newmem - CHUNK_HDR_SZ;
      newsize = chunkSize(this.sizeField(newp));
      if (newp === next) {
        newsize += oldsize;
        newp = oldp;
      } else {
        this.m.copy(newmem, oldp + CHUNK_HDR_SZ, oldsize - SIZE_SZ);
        this.intFree(oldp, this.sizeField(oldp), true);
        return newmem;
      }
    }
    const remainderSize = newsize - nb;
    if (remainderSize < MINSIZE) {
      this.wr(newp + 8, (this.sizeField(newp) & 7) + newsize);
      this.setInuseBitAt(newp + newsize);
    } else {
      const remainder = newp + nb;
      this.wr(newp + 8, (this.sizeField(newp) & 7) + nb);
      this.wr(remainder + 8, remainderSize + PREV_INUSE);
      this.setInuseBitAt(remainder + remainderSize);
      this.intFree(remainder, this.sizeField(remainder), true);
    }
    return newp + CHUNK_HDR_SZ;
  }

  private intMemalign(alignment: number, bytes: number): number {
    const nb = checkedRequest2size(bytes);
    if (nb === 0 || nb > PTRDIFF_MAX - alignment - MINSIZE) return this.fail(ENOMEM);
    // No MAYBE_INIT_TCACHE here: a program whose first call is memalign has no tcache yet.
    const request = nb + alignment + MINSIZE;
    const mem = this.intMalloc(checkedRequest2size(request), request);
    if (mem === 0) return 0;
    let p = mem - CHUNK_HDR_SZ;
    if (mem % alignment !== 0) {
      let brk = Math.ceil(mem / alignment) * alignment - CHUNK_HDR_SZ;
      if (brk - p < MINSIZE) brk += alignment;
      const leadsize = brk - p;
      const field = this.sizeField(p);
      const newsize = chunkSize(field) - leadsize;
      if ((field & IS_MMAPPED) !== 0) {
        this.wr(brk, this.rd(p) + leadsize);
        this.wr(brk + 8, newsize + IS_MMAPPED);
        return brk + CHUNK_HDR_SZ;
      }
      this.wr(brk + 8, newsize + PREV_INUSE);
      this.setInuseBitAt(brk + newsize);
      this.wr(p + 8, (field & 7) + leadsize);
      this.intFree(p, this.sizeField(p), true);
      p = brk;
    }
    const field = this.sizeField(p);
    if ((field & IS_MMAPPED) === 0) {
      const size = chunkSize(field);
      if (size > nb + MINSIZE) {
        const remainder = p + nb;
        this.wr(remainder + 8, (size - nb) + PREV_INUSE);
        this.wr(p + 8, (field & 7) + nb);
        this.intFree(remainder, this.sizeField(remainder), true);
      }
    }
    return p + CHUNK_HDR_SZ;
  }

  // =====================================================================================
  // System memory: sysmalloc, systrim, mmapped chunks
  // =====================================================================================

  private sysmalloc(nb: number): number {
    if (nb >= this.mmapThreshold && this.nMmaps < this.nMmapsMax) {
      const mm = this.sysmallocMmap(nb);
      if (mm !== 0) return mm;
    }
    const oldTop = this.top;
    const oldField = this.sizeField(oldTop);
    let oldSize = chunkSize(oldField);
    const oldEnd = oldTop + oldSize;
    const initialTop = this.arena + AV_TOP;
    if (
      !((oldTop === initialTop && oldSize === 0) ||
        (oldSize >= MINSIZE && (oldField & PREV_INUSE) !== 0 && (oldEnd & 4095) === 0))
    ) {
      this.abort(SYSMALLOC_ASSERT, "malloc", oldTop);
    }

    let size = nb + this.topPad + MINSIZE;
    if (!this.noncontiguous) size -= oldSize;
    size = pageUp(size);
    let brk = -1;
    let sndBrk = -1;
    if (size > 0) brk = this.morecore(size);
    let viaMmap = false;
    if (brk === -1) {
      let fallback = size;
      if (!this.noncontiguous) fallback = pageUp(fallback + oldSize);
      if (fallback < MMAP_AS_MORECORE_SIZE) fallback = MMAP_AS_MORECORE_SIZE;
      if (fallback > nb) {
        const mbrk = this.mmap(fallback);
        if (mbrk !== -1) {
          this.setNoncontiguous();
          size = fallback;
          brk = mbrk;
          sndBrk = brk + size;
          viaMmap = true;
        }
      }
    }
    if (brk !== -1) {
      if (this.sbrkBase === 0) this.sbrkBase = brk;
      this.setSystemMem(this.systemMem + size);
      if (brk === oldEnd && !viaMmap) {
        this.wr(oldTop + 8, (size + oldSize) + PREV_INUSE);
      } else if (!this.noncontiguous && oldSize !== 0 && brk < oldEnd) {
        this.abort("break adjusted to free malloc space", "malloc", brk);
      } else {
        let correction = 0;
        let alignedBrk = brk;
        if (!this.noncontiguous) {
          if (oldSize !== 0) this.setSystemMem(this.systemMem + (brk - oldEnd));
          const frontMisalign = ((brk + CHUNK_HDR_SZ) & 15);
          if (frontMisalign > 0) {
            correction = MALLOC_ALIGNMENT - frontMisalign;
            alignedBrk += correction;
          }
          correction += oldSize;
          const endMisalign = brk + size + correction;
          correction += pageUp(endMisalign) - endMisalign;
          sndBrk = this.morecore(correction);
          if (sndBrk === -1) {
            correction = 0;
            sndBrk = this.process.brk(0);
          }
        } else if (sndBrk === -1) {
          sndBrk = this.process.brk(0);
        }
        this.regions.push(alignedBrk);
        this.setTop(alignedBrk);
        this.wr(alignedBrk + 8, (sndBrk - alignedBrk + correction) + PREV_INUSE);
        this.setSystemMem(this.systemMem + correction);
        if (oldSize !== 0) {
          oldSize = Math.floor((oldSize - 2 * CHUNK_HDR_SZ) / 16) * 16;
          this.wr(oldTop + 8, oldSize + PREV_INUSE);
          this.wr(oldTop + oldSize + 8, CHUNK_HDR_SZ + PREV_INUSE);
          this.wr(oldTop + oldSize + CHUNK_HDR_SZ + 8, CHUNK_HDR_SZ + PREV_INUSE);
          if (oldSize >= MINSIZE) this.intFree(oldTop, this.sizeField(oldTop), true);
        }
      }
    }
    if (this.systemMem > this.maxSystemMem) this.setMaxSystemMem(this.systemMem);
    const p = this.top;
    if (chunkSize(this.sizeField(p)) >= nb + MINSIZE) {
      this.splitTop(nb);
      return p + CHUNK_HDR_SZ;
    }
    return this.fail(ENOMEM);
  }

  private sysmallocMmap(nb: number): number {
    const size = pageUp(nb + SIZE_SZ);
    if (size <= nb) return 0;
    const mm = this.mmap(size);
    if (mm === -1) return 0;
    this.wr(mm, 0);
    this.wr(mm + 8, size + IS_MMAPPED);
    this.nMmaps++;
    if (this.nMmaps > this.maxNMmaps) this.maxNMmaps = this.nMmaps;
    this.mmappedMem += size;
    if (this.mmappedMem > this.maxMmappedMem) this.maxMmappedMem = this.mmappedMem;
    return mm + CHUNK_HDR_SZ;
  }

  private systrim(pad: number): number {
    const top = this.top;
    const topSize = chunkSize(this.sizeField(top));
    const topArea = topSize - MINSIZE - 1;
    if (topArea <= pad) return 0;
    const extra = pageDown(topArea - pad);
    if (extra === 0) return 0;
    const currentBrk = this.process.brk(0);
    if (currentBrk !== top + topSize) return 0;
    this.morecore(-extra);
    const newBrk = this.process.brk(0);
    const released = currentBrk - newBrk;
    if (released === 0) return 0;
    this.setSystemMem(this.systemMem - released);
    this.wr(top + 8, (topSize - released) + PREV_INUSE);
    return 1;
  }

  private munmapChunk(p: number, call: string): void {
    const size = chunkSize(this.sizeField(p));
    const prevSize = this.rd(p);
    const block = p - prevSize;
    const total = prevSize + size;
    const inPage = ((p + CHUNK_HDR_SZ) & 4095);
    if ((block & 4095) !== 0 || (total & 4095) !== 0 || !(inPage === 0 || isPowerOfTwo(inPage))) {
      this.abort(`${call === "realloc" ? "munmap_chunk" : "munmap_chunk"}(): invalid pointer`, call, p);
    }
    this.nMmaps--;
    this.mmappedMem -= total;
    try {
      this.process.munmap(block, total);
    } catch (error) {
      if (!isSyscallError(error)) throw error;
    }
  }

  /** `mremap_chunk`, with mremap(MREMAP_MAYMOVE) done as the kernel would: shrink in place, grow in place when the pages after are free, else move. */
  private mremapChunk(p: number, nb: number): number {
    const offset = this.rd(p);
    const size = chunkSize(this.sizeField(p));
    const block = p - offset;
    const total = offset + size;
    const inPage = ((p + CHUNK_HDR_SZ) & 4095);
    if ((block & 4095) !== 0 || (total & 4095) !== 0 || !(inPage === 0 || isPowerOfTwo(inPage))) {
      this.abort("mremap_chunk(): invalid pointer", "realloc", p);
    }
    const newSize = pageUp(nb + offset + SIZE_SZ);
    if (newSize === total) return p;
    let cp = block;
    try {
      if (newSize < total) {
        this.process.munmap(block + newSize, total - newSize);
      } else {
        let grown = false;
        try {
          this.process.mmap(block + total, newSize - total, PROT_RW, MAP_PRIVATE_ANONYMOUS | MAP_FIXED_NOREPLACE);
          grown = true;
        } catch (error) {
          if (!isSyscallError(error)) throw error;
        }
        if (!grown) {
          cp = this.process.mmap(0, newSize, PROT_RW, MAP_PRIVATE_ANONYMOUS);
          this.m.copy(cp, block, total);
          this.process.munmap(block, total);
        }
      }
    } catch (error) {
      if (isSyscallError(error)) return 0;
      throw error;
    }
    const np = cp + offset;
    this.wr(np + 8, (newSize - offset) + IS_MMAPPED);
    this.mmappedMem += newSize - size - offset;
    if (this.mmappedMem > this.maxMmappedMem) this.maxMmappedMem = this.mmappedMem;
    return np;
  }

  /** `__glibc_morecore`: sbrk(increment), -1 on failure. */
  private morecore(increment: number): number {
    if (!(Math.abs(increment) < 2 ** 47)) return -1;
    try {
      return this.process.sbrk(increment);
    } catch (error) {
      if (isSyscallError(error)) return -1;
      throw error;
    }
  }

  /** Anonymous read-write mmap, -1 on failure. */
  private mmap(length: number): number {
    if (!(length < 2 ** 47)) return -1;
    try {
      return this.process.mmap(0, length, PROT_RW, MAP_PRIVATE_ANONYMOUS);
    } catch (error) {
      if (isSyscallError(error)) return -1;
      throw error;
    }
  }

  // =====================================================================================
  // Small helpers: memory words, flags, state write-through
  // =====================================================================================

  /** A 64-bit word as a number (exact below 2^53; a larger value is approximate, never a throw). */
  private rd(address: number): number {
    try {
      return this.m.load64(address);
    } catch (error) {
      if (error instanceof RangeError) return this.m.load32(address) + this.m.load32(address + 4) * TWO_32;
      throw error;
    }
  }

  /** Stores a 64-bit word (values above 2^53 are stored as their approximation). */
  private wr(address: number, value: number): void {
    if (value <= Number.MAX_SAFE_INTEGER) {
      this.m.store64(address, value);
    } else {
      this.m.store32(address, value % TWO_32 >>> 0);
      this.m.store32(address + 4, Math.floor(value / TWO_32) % TWO_32 >>> 0);
    }
  }

  /** The raw size field of the chunk at `p`. */
  private sizeField(p: number): number {
    return this.rd(p + 8);
  }

  /** REVEAL_PTR: the safe-linked pointer stored at `position`. */
  private reveal(position: number): number {
    return xor64(Math.floor(position / PAGE), this.rd(position));
  }

  private setInuseBitAt(chunk: number): void {
    const low = this.m.load32(chunk + 8);
    this.m.store32(chunk + 8, (low | PREV_INUSE) >>> 0);
  }

  private clearNextsize(p: number): void {
    this.m.store64(p + FD_NEXTSIZE, 0);
    this.m.store64(p + BK_NEXTSIZE, 0);
  }

  private binAt(i: number): number {
    return this.arena + AV_TOP + 16 * (i - 1);
  }

  private markBin(i: number): void {
    const block = i >>> 5;
    this.setBinmapWord(block, ((this.binmap[block] ?? 0) | (1 << (i & 31))) >>> 0);
  }

  private setBinmapWord(block: number, value: number): void {
    this.binmap[block] = value;
    this.m.store32(this.arena + AV_BINMAP + 4 * block, value);
  }

  private setTop(value: number): void {
    this.top = value;
    this.m.store64(this.arena + AV_TOP, value);
  }

  private setLastRemainder(value: number): void {
    this.lastRemainder = value;
    this.m.store64(this.arena + AV_LAST_REMAINDER, value);
  }

  private setSystemMem(value: number): void {
    this.systemMem = value;
    this.m.store64(this.arena + AV_SYSTEM_MEM, value);
  }

  private setMaxSystemMem(value: number): void {
    this.maxSystemMem = value;
    this.m.store64(this.arena + AV_MAX_SYSTEM_MEM, value);
  }

  private setHaveFastchunks(value: boolean): void {
    if (this.haveFastchunks === value) return;
    this.haveFastchunks = value;
    this.m.store32(this.arena + AV_HAVE_FASTCHUNKS, value ? 1 : 0);
  }

  private setNoncontiguous(): void {
    this.noncontiguous = true;
    this.m.store32(this.arena + AV_FLAGS, NONCONTIGUOUS_BIT);
  }

  private allocPerturb(mem: number, bytes: number): number {
    if (this.perturbByte !== 0) this.m.fill(mem, bytes, this.perturbByte ^ 0xff);
    return mem;
  }

  private freePerturb(mem: number, length: number): void {
    if (this.perturbByte !== 0) this.m.fill(mem, length, this.perturbByte);
  }

  private fail(errno: number): number {
    this.errnoValue = errno;
    return 0;
  }

  private abort(message: string, call: string, address: number): never {
    throw new MallocAbort(message, call, address);
  }

  /** A chunk claiming the NON_MAIN_ARENA bit: glibc would read a heap_info this process never made. */
  private checkMainArena(p: number, field: number, call: string): void {
    if ((field & NON_MAIN_ARENA) === 0) return;
    const heapInfo = p - (p % (64 * 1024 * 1024));
    const arena = this.rd(heapInfo);
    if (arena !== this.arena) {
      throw new MallocAbort(
        `${call}(): chunk ${hex(p)} claims a non-main arena (A bit) whose heap_info at ${hex(heapInfo)} names ${hex(arena)}`,
        call,
        p,
      );
    }
  }

  private view(): GlibcHeapView {
    return {
      memory: this.m,
      arena: this.arena,
      regions: this.regions,
      top: this.top,
      brk: this.process.brk(0),
      noncontiguous: this.noncontiguous,
      systemMem: this.systemMem,
      binmap: this.binmap,
      tcache: this.tcache,
      tcacheCount: this.tcacheCount,
      tcacheKey: this.tcacheKey,
      globalMaxFast: this.globalMaxFast,
      haveFastchunks: this.haveFastchunks,
      initialised: this.initialised,
    };
  }
}

/** size_t wrap-around of a difference that C computes unsigned. */
function wrap64(value: number): number {
  return value < 0 ? TWO_64 + value : value;
}

/** `chunksize`: the size field without its three flag bits. */
function chunkSize(field: number): number {
  return field < TWO_32 ? (field & ~7) >>> 0 : field - ((field & 7));
}

/** `(uintptr_t) p > (uintptr_t) -size`: the chunk would wrap past the end of the address space (size 0 included). */
function wrapsAround(p: number, size: number): boolean {
  return size === 0 ? p > 0 : p > TWO_64 - size;
}

function isPowerOfTwo(value: number): boolean {
  return value > 0 && Number.isInteger(Math.log2(value)) && 2 ** Math.log2(value) === value;
}
