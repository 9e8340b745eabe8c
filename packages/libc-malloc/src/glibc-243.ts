import { M_MXFAST, type GlibcMallocOptions } from "./api.js";
import { MALLOC_STATE_WITHOUT_FASTBINS, type MallocStateLayout } from "./arena-layout.js";
import { chunkSize } from "./arena-state.js";
import {
  CHUNK_HDR_SZ,
  DEFAULT_MMAP_THRESHOLD_MAX,
  ENOMEM,
  IS_MMAPPED,
  MALLOC_ALIGNMENT,
  MIN_LARGE_SIZE,
  MINSIZE,
  PAGE,
  PREV_INUSE,
  SIZE_SZ,
  checkedRequest2size,
  csize2tidx,
  pointerArgument,
  sizeArgument,
} from "./constants.js";
import type { ProcessSpace } from "@mem/os-vm";
import { Glibc242Malloc, TCACHE_STRUCT_SIZE_242 } from "./glibc-242.js";
import { GlibcMalloc } from "./glibc-malloc.js";

/** `TCACHE_FILL_COUNT` of 2.43 (commit 0b9210bd76, "set default tcache fill count to 16"). */
const TCACHE_FILL_COUNT_243 = 16;

/**
 * glibc 2.43's malloc (bminor/glibc `malloc/malloc.c` of the 2.43 freeze, checked against
 * Debian unstable's libc6 2.43-7 with the driver scripts of test/glibc), where it differs
 * from 2.42's ({@link Glibc242Malloc}) and 2.41's:
 * - no fastbins and no `malloc_consolidate` (commits e3062b06c5, bf1015fb2d, bb5a4f5295):
 *   `mallopt(M_MXFAST)` and the `mxfast` tunable are accepted and do nothing;
 * - the tcache struct has 76 bins (`num_slots[76]`, counting down from the fill count, then
 *   `entries[76]`: 0x2f8 bytes, a 0x300-byte chunk) and holds 16 chunks a bin by default;
 * - the tcache is created lazily: `malloc`, `calloc` and `realloc` never create it; the first
 *   `free` of a chunk below the tcache limit allocates it (`tcache_free_init`, through
 *   `__libc_malloc2`) and then frees the chunk again; a small-bin hit in `_int_malloc` also
 *   creates it before stashing;
 * - `free` checks the tcache before anything else but the chunk's alignment: a chunk whose
 *   `key` matches is searched for in every bin; mmapped chunks go through `_int_free_chunk`
 *   (the dynamic mmap threshold is adjusted there);
 * - `realloc` keeps the block only when the request fits with less than 16 bytes to spare
 *   (the page of slack for mmapped chunks of 2.41 is gone);
 * - `calloc` takes from the tcache only when it exists, and clears `tidx2usize` bytes.
 * - an mmapped chunk has the layout of any other chunk (commit 614cfd0f8a): its size is its
 *   mapping's less 16 bytes, `malloc_usable_size` is size - 8, and `mremap_chunk` counts 16
 *   bytes too many into `mmapped_mem` (`hblkhd`) each time, as the real 2.43 does;
 * - `malloc_info` has no `<total type="fast">` lines.
 * - `malloc_state` without fastbins is 0x840 bytes ({@link MALLOC_STATE_WITHOUT_FASTBINS}):
 *   `top` and every later field sit 0x58 bytes lower, and so does a thread heap's first chunk.
 *
 * The tcache struct is a 0x300-byte chunk when the first free creates it, but 0x310 when a
 * small-bin hit in `_int_malloc` does (`tcache_init(av)` passes `request2size(bytes)` to
 * `_int_malloc`, which pads it again): both seen in the real 2.43 (scripts basic, largebins).
 *
 * Not modelled: the 12 large tcache bins (chunks above 0x3f0 bytes are cached only when the
 * `tcache_max` tunable raises the limit above that; this model keeps the limit at 1032 bytes
 * as 2.41 does).
 */
export class Glibc243Malloc extends Glibc242Malloc {
  /** The glibc release this model reproduces. */
  override readonly release: string = "2.43";
  /** `tcache_disabled()`: `tcache_init` ran (with a zero count, or the struct could not be allocated). */
  private tcacheDisabled = false;
  /** Set while `_int_malloc` creates the tcache (its request is padded twice). */
  private inIntMalloc = false;

  /** `struct malloc_state` of 2.43: 0x840 bytes, no `have_fastchunks` nor `fastbinsY` (a thread heap's first chunk sits 0x58 bytes lower). */
  protected override mallocStateLayout(): MallocStateLayout {
    return MALLOC_STATE_WITHOUT_FASTBINS;
  }

  /** As {@link Glibc242Malloc}'s constructor; the default tcache fill count is 16. */
  constructor(process: ProcessSpace, options: GlibcMallocOptions = {}) {
    super(process, options);
    if (options.tcacheCount === undefined)
      this.tcacheCount = TCACHE_FILL_COUNT_243;
  }

  private get tcacheInactive(): boolean {
    return this.tcache === 0 && !this.tcacheDisabled;
  }

  /** `tcache_disabled()` of the threads not running now. */
  private readonly disabledByThread = new Map<number, boolean>();

  /** Switches threads; the tcache state (inactive, disabled) is per thread, as glibc's `tcache` pointer. */
  override setThread(thread: number): void {
    if (thread === this.thread) return;
    this.disabledByThread.set(this.thread, this.tcacheDisabled);
    super.setThread(thread);
    this.tcacheDisabled = this.disabledByThread.get(thread) ?? false;
  }

  /**
   * A thread's exit (`tcache_thread_shutdown` of 2.43): its tcache is disabled first, so that
   * freeing its entries and the struct goes to the arenas and never creates a tcache again.
   */
  override threadExit(thread: number): void {
    const back = this.thread;
    this.setThread(thread);
    this.tcacheDisabled = true;
    this.setThread(back);
    super.threadExit(thread);
  }

  /** `malloc(bytes)` (`__libc_malloc` of 2.43: the tcache only if it exists). */
  override malloc(bytes: number): number {
    bytes = sizeArgument("malloc", bytes);
    if (!this.initialised) this.ptmallocInit();
    const nb = checkedRequest2size(bytes);
    if (nb === 0) return this.fail(ENOMEM);
    const tidx = csize2tidx(nb);
    if (this.tcache !== 0 && tidx < this.tcacheBins && this.tcHead(tidx) !== 0)
      return this.tcacheGet(tidx);
    return this.malloc2(nb, bytes);
  }

  /** `free(mem)` (`__libc_free` of 2.43). */
  override free(mem: number): void {
    mem = pointerArgument("free", mem);
    if (mem === 0) return;
    if (!this.initialised) this.ptmallocInit();
    const p = mem - CHUNK_HDR_SZ;
    const field = this.sizeField(p);
    const size = chunkSize(field);
    if ((p & 15) !== 0) this.abort("free(): invalid pointer", "free", p);
    if (size < this.tcacheMaxBytes) {
      if (this.tcache !== 0 && this.rd(mem + 8) === this.key) {
        this.doubleFreeVerify(p);
        this.m.store64(mem + 8, 0);
        this.free(mem);
        return;
      }
      const tidx = csize2tidx(size);
      if (this.tcache !== 0 && this.slots(tidx) !== 0) {
        this.tcachePut(p, tidx);
        return;
      }
      if (this.tcacheInactive) {
        this.tcacheInit();
        this.free(mem);
        return;
      }
    }
    this.freeAfterTcache(p, field);
  }

  /**
   * The part of `__libc_free` after the tcache, and `_int_free_chunk`: the size check, then an
   * mmapped chunk is unmapped (adjusting the dynamic threshold), any other merged into the bins.
   */
  protected override intFree(
    p: number,
    field: number,
    _haveLock: boolean
  ): void {
    const size = chunkSize(field);
    if (size < MINSIZE || p + size - MINSIZE >= 2 ** 64)
      this.abort("free(): invalid size", "free", p);
    if ((this.flagsOf(field, p) & IS_MMAPPED) !== 0) {
      if (
        !this.noDynThreshold &&
        field > this.mmapThreshold &&
        field <= DEFAULT_MMAP_THRESHOLD_MAX
      ) {
        this.mmapThreshold = size;
        this.trimThreshold = 2 * this.mmapThreshold;
      }
      this.munmapChunk(p, "free");
      return;
    }
    this.freeMergeChunk(p, size, field);
  }

  /** `tcache_init`: the 0x300-byte struct, every bin with `tcache_count` free slots. */
  protected override tcacheInit(): void {
    if (this.noTcacheInit) return;
    this.tcacheDisabled = true;
    if (this.tcacheCount === 0) return;
    const nb = checkedRequest2size(TCACHE_STRUCT_SIZE_242);
    const victim = this.inIntMalloc
      ? this.intMalloc(checkedRequest2size(nb), nb) // glibc pads request2size(bytes) again: a 0x310 chunk
      : this.malloc2(nb, TCACHE_STRUCT_SIZE_242);
    if (victim === 0) return;
    this.setUpTcache(victim);
    this.tcacheDisabled = false;
  }

  /**
   * `_int_malloc` of 2.43: as 2.41's without fastbins; a hit in a small bin creates the tcache
   * first when it is inactive (2.43 does so after unlinking the victim; the order matters only
   * when the request is itself 0x300 bytes).
   */
  protected override intMalloc(nb: number, bytes: number): number {
    if (
      this.tcacheInactive &&
      nb < MIN_LARGE_SIZE &&
      csize2tidx(nb) < this.tcacheBins
    ) {
      const bin = this.binAt(nb >>> 4);
      if (this.rd(bin + 24) !== bin) {
        this.inIntMalloc = true;
        try {
          this.tcacheInit();
        } finally {
          this.inIntMalloc = false;
        }
      }
    }
    return super.intMalloc(nb, bytes);
  }

  /** `mallopt`: `M_MXFAST` is accepted with any value and does nothing (`do_set_mxfast`). */
  override mallopt(param: number, value: number): number {
    if (param === M_MXFAST) {
      if (!this.initialised) this.ptmallocInit();
      return 1;
    }
    return super.mallopt(param, value);
  }

  /** No fastbins: `set_max_fast` is gone, nothing is ever small enough for one. */
  protected override setMaxFast(_value: number): void {
    this.globalMaxFast = 0;
  }

  /** `calloc(n, size)` (`__libc_calloc` of 2.43). */
  override calloc(n: number, elemSize: number): number {
    n = sizeArgument("calloc", n);
    elemSize = sizeArgument("calloc", elemSize);
    const bytes = n * elemSize;
    if (!(bytes < 2 ** 64)) return this.fail(ENOMEM);
    if (!this.initialised) this.ptmallocInit();
    const nb = checkedRequest2size(bytes);
    if (nb !== 0 && this.tcache !== 0) {
      const tidx = csize2tidx(nb);
      if (tidx < this.tcacheBins && this.tcHead(tidx) !== 0) {
        const mem = this.tcacheGet(tidx);
        this.m.fill(mem, tidx * MALLOC_ALIGNMENT + MINSIZE - SIZE_SZ, 0);
        return mem;
      }
    }
    return this.calloc2(n, elemSize);
  }

  /** `realloc(old, bytes)` (`__libc_realloc` of 2.43). */
  override realloc(oldmem: number, bytes: number): number {
    oldmem = pointerArgument("realloc", oldmem);
    bytes = sizeArgument("realloc", bytes);
    if (!this.initialised) this.ptmallocInit();
    if (oldmem === 0) return this.malloc(bytes);
    if (bytes === 0) {
      this.free(oldmem);
      return 0;
    }
    const p = oldmem - CHUNK_HDR_SZ;
    const field = this.sizeField(p);
    const size = chunkSize(field);
    const usable =
      (field & IS_MMAPPED) !== 0
        ? size - SIZE_SZ
        : (this.flagsAt(p + size) & PREV_INUSE) !== 0
        ? size - SIZE_SZ
        : 0;
    if (bytes <= usable && usable - bytes < 2 * SIZE_SZ) return oldmem;
    return this.withoutTcacheInit(() =>
      GlibcMalloc.prototype.realloc.call(this, oldmem, bytes)
    );
  }

  /**
   * `sysmalloc_mmap` of 2.43: an mmapped chunk has the layout of any other chunk (commit
   * 614cfd0f8a): its size is the mapping's less the header, so that a next chunk's header
   * would fit; `prev_size` holds the offset into the mapping (0).
   */
  protected override sysmallocMmap(nb: number): number {
    const size = Math.ceil((nb + CHUNK_HDR_SZ) / PAGE) * PAGE;
    if (size <= nb) return 0;
    const mm = this.mmap(size);
    if (mm === -1) return 0;
    this.wr(mm, 0);
    this.wr(mm + 8, size - CHUNK_HDR_SZ + IS_MMAPPED);
    this.nMmaps++;
    if (this.nMmaps > this.maxNMmaps) this.maxNMmaps = this.nMmaps;
    this.mmappedMem += size;
    if (this.mmappedMem > this.maxMmappedMem)
      this.maxMmappedMem = this.mmappedMem;
    return mm + CHUNK_HDR_SZ;
  }

  /** `munmap_chunk`: the mapping is `prev_size + size + CHUNK_HDR_SZ` bytes (2.36's code on the old layout). */
  protected override munmapChunk(p: number, call: string): void {
    this.wr(p + 8, this.sizeField(p) + CHUNK_HDR_SZ);
    super.munmapChunk(p, call);
  }

  /**
   * `mremap_chunk` of 2.43: the new mapping is `ALIGN_UP(nb + offset + CHUNK_HDR_SZ)`; its
   * `mmapped_mem` update still subtracts the chunk size, not the mapping's (16 bytes more
   * each time, as `malloc_stats`/`hblkhd` of the real 2.43 show).
   */
  protected override mremapChunk(p: number, nb: number): number {
    const field = this.sizeField(p);
    this.wr(p + 8, field + CHUNK_HDR_SZ);
    const np = super.mremapChunk(p, nb + SIZE_SZ);
    if (np === 0 || (np === p && this.sizeField(p) === field + CHUNK_HDR_SZ)) {
      this.wr(p + 8, field);
      return np;
    }
    this.wr(np + 8, this.sizeField(np) - CHUNK_HDR_SZ);
    this.mmappedMem += CHUNK_HDR_SZ;
    if (this.mmappedMem > this.maxMmappedMem)
      this.maxMmappedMem = this.mmappedMem;
    return np;
  }

  /** `malloc_info` of 2.43: without the `<total type="fast">` lines (commit 7447efa962). */
  override mallocInfo(): string {
    return super.mallocInfo().replace(/<total type="fast"[^\n]*\n/g, "");
  }

  /** `malloc_usable_size`: `memsize`, the same for mmapped chunks as for others since 2.43. */
  override usableSize(mem: number): number {
    mem = pointerArgument("malloc_usable_size", mem);
    if (mem === 0) return 0;
    const field = this.sizeField(mem - CHUNK_HDR_SZ);
    if ((field & IS_MMAPPED) !== 0) return chunkSize(field) - SIZE_SZ;
    return super.usableSize(mem);
  }

  /** `tcache_get_align` of 2.43 leaves a missing tcache missing. */
  protected override tcacheInitForMemalign(): void {}
}
