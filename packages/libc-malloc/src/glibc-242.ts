import { AV_FASTBINS, FD } from "./arena-layout.js";
import { chunkSize, isPowerOfTwo } from "./arena-state.js";
import {
  CHUNK_HDR_SZ,
  DEFAULT_MMAP_THRESHOLD_MAX,
  EINVAL,
  ENOMEM,
  IS_MMAPPED,
  MALLOC_ALIGNMENT,
  MINSIZE,
  PAGE,
  SIZE_SZ,
  checkedRequest2size,
  csize2tidx,
  fastbinIndex,
  pointerArgument,
  sizeArgument,
  xor64,
} from "./constants.js";
import { Glibc241Malloc } from "./glibc-241.js";
import { GlibcMalloc } from "./glibc-malloc.js";
import type { GlibcHeapView } from "./heap-check.js";

/** `TCACHE_SMALL_BINS + TCACHE_LARGE_BINS` since 2.42. */
export const TCACHE_BINS_242 = 76;
/** `sizeof(tcache_perthread_struct)` since 2.42: `num_slots[76]` (u16), then `entries[76]`. */
export const TCACHE_STRUCT_SIZE_242 = 2 * TCACHE_BINS_242 + 8 * TCACHE_BINS_242;
/** Offset of `entries[0]` in that struct. */
const TCACHE_ENTRIES_242 = 2 * TCACHE_BINS_242;

/**
 * glibc 2.42's malloc, from bminor/glibc `malloc/malloc.c` at `glibc-2.42` (NOT checked
 * against a real build: no distribution this project can run ships 2.42). Where it differs
 * from 2.41's ({@link Glibc241Malloc}):
 * - the tcache struct has 76 bins (64 small, 12 large): `num_slots[76]` (u16) counting down
 *   from the fill count (7), then `entries[76]`, 0x2f8 bytes, a 0x300-byte chunk;
 * - it is created lazily by the first `malloc`/`calloc` of a size below the tcache limit
 *   (`tcache_malloc_init`: the struct, then the request from the arena without looking at
 *   the empty tcache) or by a first `memalign`; `free` and `realloc` never create it;
 * - `free` checks the chunk's alignment, then the tcache (a chunk whose `key` matches is
 *   searched for in all 76 bins), then its size; an mmapped chunk is unmapped in
 *   `_int_free_chunk`, after the tcache;
 * - `malloc` and `calloc` take from the tcache when its bin's list is not empty (not by count).
 *
 * Fastbins, `malloc_consolidate`, the small-bin `free` and the mmap chunk layout are 2.41's.
 * Not modelled: the 12 large tcache bins (used only when the `tcache_max` tunable raises the
 * limit above 0x3f0 bytes; this model keeps 2.41's limit of 1032 bytes).
 */
export class Glibc242Malloc extends Glibc241Malloc {
  /** The glibc release this model reproduces. */
  override readonly release: string = "2.42";
  /** Set while 2.36 code that would create a missing tcache runs on behalf of a later release. */
  protected noTcacheInit = false;

  /** `mp_.tcache_max_bytes`: chunks below it are cached. */
  protected get tcacheMaxBytes(): number {
    return (this.tcacheBins - 1) * MALLOC_ALIGNMENT + MINSIZE + 1;
  }

  /** `malloc(bytes)` (`__libc_malloc` of 2.42: a first small request creates the tcache). */
  override malloc(bytes: number): number {
    bytes = sizeArgument("malloc", bytes);
    if (!this.initialised) this.ptmallocInit();
    const nb = checkedRequest2size(bytes);
    if (nb === 0) return this.fail(ENOMEM);
    if (nb < this.tcacheMaxBytes) {
      if (this.tcache === 0) {
        this.tcacheInit();
        return this.malloc2(nb, bytes);
      }
      const tidx = csize2tidx(nb);
      if (this.tcHead(tidx) !== 0) return this.tcacheGet(tidx);
    }
    return this.malloc2(nb, bytes);
  }

  /** `__libc_malloc2`: the arena path. */
  protected malloc2(nb: number, bytes: number): number {
    return this.threaded
      ? this.mallocInArena(nb, bytes)
      : this.intMalloc(nb, bytes);
  }

  /** `tcache_init`: the struct from the arena, every bin with `tcache_count` free slots. */
  protected override tcacheInit(): void {
    if (this.noTcacheInit) return;
    const victim = this.malloc2(
      checkedRequest2size(TCACHE_STRUCT_SIZE_242),
      TCACHE_STRUCT_SIZE_242
    );
    if (victim !== 0) this.setUpTcache(victim);
  }

  /** Zeroes the new struct at `victim` and gives every bin `tcache_count` free slots. */
  protected setUpTcache(victim: number): void {
    this.tcache = victim;
    this.m.fill(victim, TCACHE_STRUCT_SIZE_242, 0);
    for (let i = 0; i < TCACHE_BINS_242; i++)
      this.m.store16(victim + 2 * i, this.tcacheCount);
  }

  /** Runs 2.36 code that creates a missing tcache, where this release does not. */
  protected withoutTcacheInit(run: () => number): number {
    this.noTcacheInit = true;
    try {
      return run();
    } finally {
      this.noTcacheInit = false;
    }
  }

  /** `free(mem)` (`__libc_free` of 2.42). */
  override free(mem: number): void {
    mem = pointerArgument("free", mem);
    if (mem === 0) return;
    if (!this.initialised) this.ptmallocInit();
    const p = mem - CHUNK_HDR_SZ;
    const field = this.sizeField(p);
    const size = chunkSize(field);
    if ((p & 15) !== 0) this.abort("free(): invalid pointer", "free", p);
    if (size < this.tcacheMaxBytes && this.tcache !== 0) {
      if (this.rd(mem + 8) === this.key) {
        this.doubleFreeVerify(p);
        this.m.store64(mem + 8, 0);
        this.free(mem);
        return;
      }
      const tidx = csize2tidx(size);
      if (this.slots(tidx) !== 0) {
        this.tcachePut(p, tidx);
        return;
      }
    }
    this.freeAfterTcache(p, field);
  }

  /** The rest of `__libc_free`: to the chunk's arena. */
  protected freeAfterTcache(p: number, field: number): void {
    if (this.threaded) {
      this.freeInArena(p, field);
      return;
    }
    if ((field & IS_MMAPPED) === 0) this.checkMainArena(p, field, "free");
    this.intFree(p, field, false);
  }

  /** `tcache_double_free_verify`: every bin is walked. */
  protected doubleFreeVerify(p: number): void {
    const e = p + CHUNK_HDR_SZ;
    for (let tidx = 0; tidx < TCACHE_BINS_242; tidx++) {
      let cnt = 0;
      for (
        let tmp = this.tcHead(tidx);
        tmp !== 0;
        tmp = this.reveal(tmp), cnt++
      ) {
        if (cnt >= this.tcacheCount)
          this.abort("free(): too many chunks detected in tcache", "free", p);
        if ((tmp & 15) !== 0)
          this.abort(
            "free(): unaligned chunk detected in tcache 2",
            "free",
            tmp
          );
        if (tmp === e)
          this.abort("free(): double free detected in tcache 2", "free", p);
      }
    }
  }

  /**
   * The part of `__libc_free` after the tcache, and `_int_free_chunk` of 2.42: the size check,
   * a fastbin, an mmapped chunk unmapped (adjusting the dynamic threshold), or the bins.
   */
  protected override intFree(
    p: number,
    field: number,
    haveLock: boolean
  ): void {
    const size = chunkSize(field);
    if (size < MINSIZE || p + size - MINSIZE >= 2 ** 64)
      this.abort("free(): invalid size", "free", p);
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
      if (old === p)
        this.abort("double free or corruption (fasttop)", "free", p);
      this.wr(p + FD, xor64(Math.floor((p + FD) / PAGE), old));
      this.m.store64(fb, p);
      if (
        haveLock &&
        old !== 0 &&
        fastbinIndex(chunkSize(this.sizeField(old))) !== idx
      ) {
        this.abort("invalid fastbin entry (free)", "free", old);
      }
      return;
    }
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

  /** 76 bins since 2.42. */
  protected override get tcacheBinTotal(): number {
    return TCACHE_BINS_242;
  }

  /** `tcache->entries[i]` after the 76 `num_slots`. */
  protected override tcacheEntrySlot(tc: number, i: number): number {
    return tc + TCACHE_ENTRIES_242 + 8 * i;
  }

  /** Bin `i` holds `tcache_count - num_slots[i]` entries. */
  protected override tcacheEntryCount(tc: number, i: number): number {
    return this.tcacheCount - this.m.load16(tc + 2 * i);
  }

  /** The heap checker's view, with the 2.42 tcache layout. */
  protected override view(): GlibcHeapView {
    return { ...super.view(), tcacheLayout: { bins: TCACHE_BINS_242, entries: TCACHE_ENTRIES_242, countsDown: true } };
  }

  /** `num_slots[tidx]`: how many more chunks the bin takes. */
  protected slots(tidx: number): number {
    return this.m.load16(this.tcache + 2 * tidx);
  }

  /** The number of chunks in the bin, `tcache_count - num_slots[tidx]`. */
  protected override tcCount(tidx: number): number {
    return this.tcacheCount - this.slots(tidx);
  }

  /** `tcache->entries[tidx]`. */
  protected override tcHead(tidx: number): number {
    return this.rd(this.tcacheEntrySlot(this.tcache, tidx));
  }

  /** `tcache_get`. */
  protected override tcacheGet(tidx: number): number {
    const e = this.tcHead(tidx);
    if ((e & 15) !== 0)
      this.abort("malloc(): unaligned tcache chunk detected", "malloc", e);
    this.wr(this.tcache + TCACHE_ENTRIES_242 + 8 * tidx, this.reveal(e));
    this.m.store16(this.tcache + 2 * tidx, (this.slots(tidx) + 1) & 0xffff);
    this.m.store64(e + 8, 0);
    return e;
  }

  /** `tcache_put`. */
  protected override tcachePut(chunk: number, tidx: number): void {
    const e = chunk + CHUNK_HDR_SZ;
    this.m.store64(e + 8, this.key);
    this.wr(e, xor64(Math.floor(e / PAGE), this.tcHead(tidx)));
    this.m.store64(this.tcache + TCACHE_ENTRIES_242 + 8 * tidx, e);
    this.m.store16(this.tcache + 2 * tidx, (this.slots(tidx) - 1) & 0xffff);
  }

  /** `calloc(n, size)` (`__libc_calloc` of 2.42: a first small request creates the tcache). */
  override calloc(n: number, elemSize: number): number {
    n = sizeArgument("calloc", n);
    elemSize = sizeArgument("calloc", elemSize);
    const bytes = n * elemSize;
    if (!(bytes < 2 ** 64)) return this.fail(ENOMEM);
    if (!this.initialised) this.ptmallocInit();
    const nb = checkedRequest2size(bytes);
    if (nb === 0) return this.fail(ENOMEM);
    if (nb < this.tcacheMaxBytes) {
      if (this.tcache === 0) {
        this.tcacheInit();
        return this.calloc2(n, elemSize);
      }
      const mem = this.callocFromTcache(nb);
      if (mem !== 0) return mem;
    }
    return this.calloc2(n, elemSize);
  }

  /** The tcache part of `__libc_calloc`: an entry of the bin, cleared (`tidx2usize` bytes), or 0. */
  protected callocFromTcache(nb: number): number {
    const tidx = csize2tidx(nb);
    if (tidx >= this.tcacheBins || this.tcHead(tidx) === 0) return 0;
    const mem = this.tcacheGet(tidx);
    this.m.fill(mem, tidx * MALLOC_ALIGNMENT + MINSIZE - SIZE_SZ, 0);
    return mem;
  }

  /** `__libc_calloc2`: 2.36's arena path, without its tcache creation. */
  protected calloc2(n: number, elemSize: number): number {
    return this.withoutTcacheInit(() =>
      GlibcMalloc.prototype.calloc.call(this, n, elemSize)
    );
  }

  /** `realloc(old, bytes)`: 2.41's, which no longer creates the tcache. */
  override realloc(oldmem: number, bytes: number): number {
    oldmem = pointerArgument("realloc", oldmem);
    if (oldmem === 0) return this.malloc(sizeArgument("realloc", bytes));
    return this.withoutTcacheInit(() => super.realloc(oldmem, bytes));
  }

  /** `memalign(alignment, bytes)` (`_mid_memalign` of 2.42: `tcache_get_align` first, which may create the tcache). */
  override memalign(alignment: number, bytes: number): number {
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
    const nb = checkedRequest2size(bytes);
    if (nb === 0) return this.fail(ENOMEM);
    if (nb < this.tcacheMaxBytes) {
      if (this.tcache === 0) this.tcacheInitForMemalign();
      else {
        const e = this.tcacheGetAlign(csize2tidx(nb), alignment);
        if (e !== 0) return e;
      }
    }
    return this.intMemalign(alignment, bytes);
  }

  /** What `tcache_get_align` does when there is no tcache: 2.42 creates it. */
  protected tcacheInitForMemalign(): void {
    this.tcacheInit();
  }

  /** `tcache_get_align` for a small bin: the first entry at the alignment, unlinked where it is; else 0. */
  protected tcacheGetAlign(tidx: number, alignment: number): number {
    const head = this.tcache + TCACHE_ENTRIES_242 + 8 * tidx;
    let link = head;
    let e = this.tcHead(tidx);
    while (e !== 0 && e % alignment !== 0) {
      link = e;
      e = this.reveal(e);
    }
    if (e === 0) return 0;
    if ((e & 15) !== 0)
      this.abort("malloc(): unaligned tcache chunk detected", "memalign", e);
    const next = this.reveal(e);
    this.wr(link, link === head ? next : xor64(Math.floor(link / PAGE), next));
    this.m.store16(this.tcache + 2 * tidx, (this.slots(tidx) + 1) & 0xffff);
    this.m.store64(e + 8, 0);
    return e;
  }
}
