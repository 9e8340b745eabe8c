import { AV_FASTBINS, BK, FD, TCACHE_ENTRIES } from "./arena-layout.js";
import { chunkSize, isPowerOfTwo, wrapsAround } from "./arena-state.js";
import {
  CHUNK_HDR_SZ,
  EINVAL,
  ENOMEM,
  FASTBIN_CONSOLIDATION_THRESHOLD,
  IS_MMAPPED,
  MALLOC_ALIGNMENT,
  MIN_LARGE_SIZE,
  MINSIZE,
  PAGE,
  PREV_INUSE,
  PTRDIFF_MAX,
  SIZE_SZ,
  checkedRequest2size,
  csize2tidx,
  fastbinIndex,
  pointerArgument,
  sizeArgument,
  xor64,
} from "./constants.js";
import { GlibcMalloc } from "./glibc-malloc.js";

/**
 * glibc 2.41's malloc, where its code differs from 2.36's ({@link GlibcMalloc}); everything
 * else (`_int_malloc`, `malloc_consolidate`, the tcache, the system-memory paths) is the
 * same code in both releases (bminor/glibc `malloc/malloc.c` at `glibc-2.36` and
 * `glibc-2.41`, diffed function by function).
 *
 * What 2.41 does differently:
 * - `free` of a chunk that goes to the bins (not the tcache, not a fastbin) puts a small
 *   chunk (below 0x400 bytes after coalescing) straight into its small bin, at the front,
 *   and marks the bin in the binmap (commit e2436d6, "send freed small chunks to smallbin");
 *   large chunks still go to the unsorted bin. A corrupted small bin aborts with
 *   `free(): chunks in smallbin corrupted`.
 * - `calloc` first tries the tcache, as `malloc` does (commit 226e3b0), and clears the
 *   whole chunk it takes from there (`chunksize - SIZE_SZ` bytes).
 * - `realloc` returns the block unchanged when the request fits in its usable size with
 *   less than 16 bytes to spare, or, for an mmapped chunk, with at most a page to spare
 *   (commits f4f2ca1 and 2fb12bb), before looking at the chunk any further.
 *
 *
 * Not modelled: since 2.37 the heaps of thread arenas are reserved without `MAP_NORESERVE`
 * (commit 85860ad), so growing one charges the commit limit (`Committed_AS`); this model
 * reserves them as 2.36 does. Placements do not depend on it. `malloc/arena.c` has no other
 * change between the two releases that moves a chunk (the maps decoration is off by default).
 *
 * ```
 *   free(p), p not for tcache/fastbin, after coalescing:
 *     size <  0x400:  bin[size >> 4]  <- p at the front; binmap bit set      (2.41)
 *     size >= 0x400:  unsorted bin    <- p at the front                      (2.36 and 2.41)
 *     2.36: every size to the unsorted bin; the next malloc's unsorted pass sorts it
 * ```
 */
export class Glibc241Malloc extends GlibcMalloc {
  /** The glibc release this model reproduces. */
  readonly release: string = "2.41";

  /** `calloc(n, size)` (`__libc_calloc` of 2.41: the tcache first). */
  override calloc(n: number, elemSize: number): number {
    n = sizeArgument("calloc", n);
    elemSize = sizeArgument("calloc", elemSize);
    const bytes = n * elemSize;
    // __builtin_mul_overflow into a ptrdiff_t
    if (!(bytes < 2 ** 63)) return this.failCalloc();
    if (!this.initialised) this.ptmallocInit();
    // tcache_try_malloc
    const tbytes = checkedRequest2size(bytes);
    if (tbytes === 0) return this.failCalloc();
    const tidx = csize2tidx(tbytes);
    if (this.tcache === 0) this.tcacheInit();
    if (tidx < this.tcacheBins && this.tcache !== 0 && this.tcCount(tidx) > 0) {
      const mem = this.tcacheGet(tidx);
      const csz = chunkSize(this.sizeField(mem - CHUNK_HDR_SZ));
      this.m.fill(mem, csz - SIZE_SZ, 0);
      return mem;
    }
    return super.calloc(n, elemSize);
  }

  /** `realloc(old, bytes)` (`__libc_realloc` of 2.41: a request that fits is answered first). */
  override realloc(oldmem: number, bytes: number): number {
    oldmem = pointerArgument("realloc", oldmem);
    bytes = sizeArgument("realloc", bytes);
    if (!this.initialised) this.ptmallocInit();
    if (oldmem !== 0 && bytes !== 0) {
      // musable(): the usable size of an mmapped or in-use chunk, else 0
      const p = oldmem - CHUNK_HDR_SZ;
      const field = this.sizeField(p);
      const size = chunkSize(field);
      const mmapped = (field & IS_MMAPPED) !== 0;
      const usable = mmapped ? size - CHUNK_HDR_SZ : (this.flagsAt(p + size) & PREV_INUSE) !== 0 ? size - SIZE_SZ : 0;
      if (bytes <= usable) {
        const difference = usable - bytes;
        if (difference < 2 * SIZE_SZ || (mmapped && difference <= PAGE)) return oldmem;
      }
    }
    return super.realloc(oldmem, bytes);
  }

  /**
   * `_int_free` of 2.41 (`_int_free_check`, `tcache_free`, `_int_free_chunk`,
   * `_int_free_merge_chunk`, `_int_free_create_chunk`, `_int_free_maybe_consolidate`): as
   * 2.36's but a small chunk goes to its small bin (see the class comment).
   */
  protected override intFree(p: number, field: number, haveLock: boolean): void {
    const m = this.m;
    const size = chunkSize(field);
    // _int_free_check
    if (wrapsAround(p, size) || (p & 15) !== 0) this.abort("free(): invalid pointer", "free", p);
    if (size < MINSIZE || (size & 15) !== 0) this.abort("free(): invalid size", "free", p);

    // tcache_free
    const tidx = csize2tidx(size);
    if (this.tcache !== 0 && tidx < this.tcacheBins) {
      const e = p + CHUNK_HDR_SZ;
      if (this.rd(e + 8) === this.key) {
        let cnt = 0;
        for (let tmp = this.tcHead(tidx); tmp !== 0; tmp = this.reveal(tmp), cnt++) {
          if (cnt >= this.tcacheCount) this.abort("free(): too many chunks detected in tcache", "free", p);
          if ((tmp & 15) !== 0) this.abort("free(): unaligned chunk detected in tcache 2", "free", tmp);
          if (tmp === e) this.abort("free(): double free detected in tcache 2", "free", p);
        }
      }
      if (this.tcCount(tidx) < this.tcacheCount) {
        this.tcachePut(p, tidx);
        return;
      }
    }

    // _int_free_chunk: fastbins
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

    if ((this.flagsOf(field, p) & IS_MMAPPED) !== 0) {
      this.munmapChunk(p, "free");
      return;
    }

    this.freeMergeChunk(p, size, field);
  }

  /** `_int_free_merge_chunk`: checks, coalesces backward, then creates the free chunk. */
  protected freeMergeChunk(p: number, size: number, field: number): void {
    const next = p + size;
    const top = this.top;
    if (p === top) this.abort("double free or corruption (top)", "free", p);
    if (!this.noncontiguous && next >= top + chunkSize(this.sizeField(top))) this.abort("double free or corruption (out)", "free", p);
    const nextField = this.sizeField(next);
    if ((this.flagsOf(nextField, next) & PREV_INUSE) === 0) this.abort("double free or corruption (!prev)", "free", p);
    const nextsize = chunkSize(nextField);
    if (nextField <= CHUNK_HDR_SZ || nextsize >= this.systemMem) this.abort("free(): invalid next size (normal)", "free", p);
    this.freePerturb(p + CHUNK_HDR_SZ, size - CHUNK_HDR_SZ);
    if ((this.flagsOf(field, p) & PREV_INUSE) === 0) {
      const prevsize = this.rd(p);
      size += prevsize;
      p -= prevsize;
      if (chunkSize(this.sizeField(p)) !== prevsize) this.abort("corrupted size vs. prev_size while consolidating", "free", p);
      this.unlinkChunk(p, "free");
    }
    this.freeMaybeConsolidate(this.freeCreateChunk(p, size, next, nextsize));
  }

  /**
   * `_int_free_create_chunk`: the free chunk at `p`, merged with `next` when that is free or
   * the top; a large one goes to the unsorted bin, a small one to its small bin. Returns its size.
   */
  protected freeCreateChunk(p: number, size: number, next: number, nextsize: number): number {
    const m = this.m;
    if (next !== this.top) {
      const nextField = this.sizeField(next);
      if ((this.flagsAt(next + nextsize) & PREV_INUSE) === 0) {
        this.unlinkChunk(next, "free");
        size += nextsize;
      } else {
        this.wr(next + 8, nextField - (nextField & PREV_INUSE));
      }
      let bck: number;
      if (size >= MIN_LARGE_SIZE) {
        bck = this.binAt(1); // the unsorted bin
        if (this.rd(this.rd(bck + FD) + BK) !== bck) this.abort("free(): corrupted unsorted chunks", "free", p);
        this.clearNextsize(p);
      } else {
        const index = size >>> 4; // smallbin_index
        bck = this.binAt(index);
        if (this.rd(this.rd(bck + FD) + BK) !== bck) this.abort("free(): chunks in smallbin corrupted", "free", p);
        this.markBin(index);
      }
      const fwd = this.rd(bck + FD);
      m.store64(p + BK, bck);
      m.store64(p + FD, fwd);
      m.store64(bck + FD, p);
      m.store64(fwd + BK, p);
      this.wr(p + 8, size + PREV_INUSE);
      this.wr(p + size, size);
    } else {
      size += nextsize;
      this.wr(p + 8, size + PREV_INUSE);
      this.setTop(p);
    }
    return size;
  }

  /** `_int_free_maybe_consolidate`. */
  protected freeMaybeConsolidate(size: number): void {
    if (size >= FASTBIN_CONSOLIDATION_THRESHOLD) {
      if (this.haveFastchunks) this.mallocConsolidate();
      if (this.av !== this.mainArena) this.heapTrimTop();
      else if (chunkSize(this.sizeField(this.top)) >= this.trimThreshold) this.systrim(this.topPad);
    }
  }

  /** `memalign(alignment, bytes)` (`_mid_memalign` of 2.41: an aligned tcache entry first). */
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
    const tbytes = checkedRequest2size(bytes);
    if (tbytes === 0) return this.fail(ENOMEM);
    const tidx = csize2tidx(tbytes);
    if (tidx < this.tcacheBins && this.tcache !== 0 && this.tcCount(tidx) > 0) {
      // walk the bin for an entry at the alignment; unlink it where it is (tcache_get_n)
      let link = this.tcache + TCACHE_ENTRIES + 8 * tidx;
      let e = this.tcHead(tidx);
      while (e !== 0 && e % alignment !== 0) {
        link = e;
        e = this.reveal(e);
      }
      if (e !== 0) {
        if ((e & 15) !== 0) this.abort("malloc(): unaligned tcache chunk detected", "memalign", e);
        const next = this.reveal(e);
        this.wr(link, link === this.tcache + TCACHE_ENTRIES + 8 * tidx ? next : xor64(Math.floor(link / PAGE), next));
        this.m.store16(this.tcache + 2 * tidx, (this.tcCount(tidx) - 1) & 0xffff);
        this.m.store64(e + 8, 0);
        return e;
      }
    }
    return super.memalign(alignment, bytes);
  }

  /** `aligned_alloc(alignment, bytes)`: since 2.38 (C17) EINVAL unless the alignment is a power of two. */
  override alignedAlloc(alignment: number, bytes: number): number {
    alignment = sizeArgument("aligned_alloc", alignment);
    bytes = sizeArgument("aligned_alloc", bytes);
    if (!this.initialised) this.ptmallocInit();
    if (alignment === 0 || !isPowerOfTwo(alignment)) return this.fail(EINVAL);
    return this.memalign(alignment, bytes);
  }

  /**
   * `_int_memalign` of 2.41: the leading space goes back through `_int_free_merge_chunk`
   * (never the tcache or a fastbin), and the tail whenever it is at least MINSIZE or the
   * next chunk is free or the top (merged into it).
   */
  protected override intMemalign(alignment: number, bytes: number): number {
    const nb = checkedRequest2size(bytes);
    if (nb === 0 || nb > PTRDIFF_MAX - alignment - MINSIZE) return this.fail(ENOMEM);
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
      this.wr(brk + 8, newsize + PREV_INUSE + this.nma);
      this.setInuseBitAt(brk + newsize);
      this.wr(p + 8, ((field & 7) | this.nma) + leadsize);
      this.freeMergeChunk(p, leadsize, this.sizeField(p));
      p = brk;
    }
    const field = this.sizeField(p);
    if ((field & IS_MMAPPED) === 0) {
      const size = chunkSize(field);
      const next = p + size;
      const nextsize = chunkSize(this.sizeField(next));
      if (size > nb) {
        const remainderSize = size - nb;
        if (remainderSize >= MINSIZE || next === this.top || (this.flagsAt(next + nextsize) & PREV_INUSE) === 0) {
          this.wr(p + 8, (field & 7) + nb);
          this.freeMaybeConsolidate(this.freeCreateChunk(p + nb, remainderSize, next, nextsize));
        }
      }
    }
    return p + CHUNK_HDR_SZ;
  }

  private failCalloc(): number {
    return this.fail(ENOMEM);
  }
}
