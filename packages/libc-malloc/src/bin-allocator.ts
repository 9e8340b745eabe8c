import { AV_FASTBINS, BK, BK_NEXTSIZE, FD, FD_NEXTSIZE } from "./arena-layout.js";
import {
  CHUNK_HDR_SZ,
  ENOMEM,
  FASTBIN_CONSOLIDATION_THRESHOLD,
  IS_MMAPPED,
  MALLOC_ALIGNMENT,
  MAX_ITERS,
  MIN_LARGE_SIZE,
  MINSIZE,
  NFASTBINS,
  PAGE,
  PREV_INUSE,
  PTRDIFF_MAX,
  SIZE_SZ,
  checkedRequest2size,
  csize2tidx,
  fastbinIndex,
  largebinIndex,
  xor64,
} from "./constants.js";
import { ArenaState, chunkSize, wrapsAround } from "./arena-state.js";

/**
 * The heart of ptmalloc2: `_int_malloc` (fastbins, small bins, the unsorted pass, large bins,
 * the binmap search, top), `_int_free` (tcache, fastbins, coalescing into the unsorted bin or
 * top), `malloc_consolidate`, `unlink_chunk`, `_int_realloc` and `_int_memalign`.
 */
export abstract class BinAllocator extends ArenaState {
  // =====================================================================================
  // _int_malloc
  // =====================================================================================

  protected intMalloc(nb: number, bytes: number): number {
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
          while (this.tcCount(tidx) < this.tcacheCount && (tcVictim = this.rd(fb)) !== 0) {
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
        if (this.nma !== 0) this.setNonMainArena(victim);
        const tidx = csize2tidx(nb);
        if (this.tcache !== 0 && tidx < this.tcacheBins) {
          let tcVictim: number;
          while (this.tcCount(tidx) < this.tcacheCount && (tcVictim = this.rd(bin + BK)) !== bin) {
            const b = this.rd(tcVictim + BK);
            this.setInuseBitAt(tcVictim + nb);
            if (this.nma !== 0) this.setNonMainArena(tcVictim);
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
        if (nextField < CHUNK_HDR_SZ || nextField > this.systemMem)
          this.abort("malloc(): invalid next size (unsorted)", "malloc", victim);
        if (chunkSize(this.rd(next)) !== size) this.abort("malloc(): mismatching next->prev_size (unsorted)", "malloc", victim);
        if (this.rd(bck + FD) !== victim || this.rd(victim + FD) !== unsorted) {
          this.abort("malloc(): unsorted double linked list corrupted", "malloc", victim);
        }
        if ((this.flagsOf(nextField, next) & PREV_INUSE) !== 0) this.abort("malloc(): invalid next->prev_inuse (unsorted)", "malloc", victim);

        if (nb < MIN_LARGE_SIZE && bck === unsorted && victim === this.lastRemainder && size > nb + MINSIZE) {
          const remainderSize = size - nb;
          const remainder = victim + nb;
          m.store64(unsorted + BK, remainder);
          m.store64(unsorted + FD, remainder);
          this.setLastRemainder(remainder);
          m.store64(remainder + BK, unsorted);
          m.store64(remainder + FD, unsorted);
          if (remainderSize >= MIN_LARGE_SIZE) this.clearNextsize(remainder);
          this.wr(victim + 8, nb + PREV_INUSE + this.nma);
          this.wr(remainder + 8, remainderSize + PREV_INUSE);
          this.wr(remainder + remainderSize, remainderSize);
          return this.allocPerturb(victim + CHUNK_HDR_SZ, bytes);
        }

        if (this.rd(bck + FD) !== victim) this.abort("malloc(): corrupted unsorted chunks 3", "malloc", victim);
        m.store64(unsorted + BK, bck);
        m.store64(bck + FD, unsorted);

        if (size === nb) {
          this.setInuseBitAt(next);
          if (this.nma !== 0) this.setNonMainArena(victim);
          if (tcacheNb && this.tcCount(tidx) < this.tcacheCount) {
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
            if (this.nma !== 0) this.setNonMainArena(v);
          } else {
            const remainder = v + nb;
            const fwd = this.rd(unsorted + FD);
            if (this.rd(fwd + BK) !== unsorted) this.abort("malloc(): corrupted unsorted chunks", "malloc", fwd);
            m.store64(remainder + BK, unsorted);
            m.store64(remainder + FD, fwd);
            m.store64(unsorted + FD, remainder);
            m.store64(fwd + BK, remainder);
            if (remainderSize >= MIN_LARGE_SIZE) this.clearNextsize(remainder);
            this.wr(v + 8, nb + PREV_INUSE + this.nma);
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

  protected binmapSearch(start: number, nb: number, bytes: number): number {
    const m = this.m;
    let idx = start;
    let block = idx >>> 5;
    let map = block < 4 ? this.binmapWord(block) : 0;
    let bit = (1 << (idx & 31)) >>> 0;
    if (block >= 4) return 0;
    for (;;) {
      if (bit > map || bit === 0) {
        do {
          if (++block >= 4) return 0;
        } while ((map = this.binmapWord(block)) === 0);
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
        if (this.nma !== 0) this.setNonMainArena(victim);
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
        this.wr(victim + 8, nb + PREV_INUSE + this.nma);
        this.wr(remainder + 8, remainderSize + PREV_INUSE);
        this.wr(remainder + remainderSize, remainderSize);
      }
      return this.allocPerturb(victim + CHUNK_HDR_SZ, bytes);
    }
  }

  protected splitTop(nb: number): void {
    const top = this.top;
    const remainderSize = chunkSize(this.sizeField(top)) - nb;
    const remainder = top + nb;
    this.setTop(remainder);
    this.wr(top + 8, nb + PREV_INUSE + this.nma);
    this.wr(remainder + 8, remainderSize + PREV_INUSE);
  }

  // =====================================================================================
  // _int_free and malloc_consolidate
  // =====================================================================================

  protected intFree(p: number, field: number, haveLock: boolean): void {
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

    if ((this.flagsOf(field, p) & IS_MMAPPED) !== 0) {
      this.munmapChunk(p, "free");
      return;
    }

    // consolidate with neighbours, then the unsorted bin or top
    const next = p + size;
    const top = this.top;
    if (p === top) this.abort("double free or corruption (top)", "free", p);
    if (!this.noncontiguous && next >= top + chunkSize(this.sizeField(top)))
      this.abort("double free or corruption (out)", "free", p);
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
    if (next !== top) {
      if ((this.flagsAt(next + nextsize) & PREV_INUSE) === 0) {
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
      if (this.av !== this.mainArena) this.heapTrimTop();
      else if (chunkSize(this.sizeField(this.top)) >= this.trimThreshold) this.systrim(this.topPad);
    }
  }

  protected mallocConsolidate(): void {
    if (this.fieldShift !== 0) return; // no fastbins in this release's malloc_state
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
        if ((this.flagsOf(field, p) & PREV_INUSE) === 0) {
          const prevsize = this.rd(p);
          size += prevsize;
          p -= prevsize;
          if (chunkSize(this.sizeField(p)) !== prevsize) this.abort("corrupted size vs. prev_size in fastbins", "malloc", p);
          this.unlinkChunk(p, "malloc");
        }
        if (next !== this.top) {
          if ((this.flagsAt(next + nextsize) & PREV_INUSE) === 0) {
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

  protected unlinkChunk(p: number, call: string): void {
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

  protected intRealloc(oldp: number, oldsize: number, nb: number): number {
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
      this.wr(oldp + 8, (this.flagsOf(oldField, oldp) | this.nma) + nb);
      this.setTop(oldp + nb);
      this.wr(oldp + nb + 8, newsize - nb + PREV_INUSE);
      return oldp + CHUNK_HDR_SZ;
    } else if (next !== this.top && (this.flagsAt(next + nextsize) & PREV_INUSE) === 0 && oldsize + nextsize >= nb) {
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
      this.wr(newp + 8, (this.flagsAt(newp) | this.nma) + newsize);
      this.setInuseBitAt(newp + newsize);
    } else {
      const remainder = newp + nb;
      this.wr(newp + 8, (this.flagsAt(newp) | this.nma) + nb);
      this.wr(remainder + 8, remainderSize + PREV_INUSE + this.nma);
      this.setInuseBitAt(remainder + remainderSize);
      this.intFree(remainder, this.sizeField(remainder), true);
    }
    return newp + CHUNK_HDR_SZ;
  }

  protected intMemalign(alignment: number, bytes: number): number {
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
      this.wr(brk + 8, newsize + PREV_INUSE + this.nma);
      this.setInuseBitAt(brk + newsize);
      this.wr(p + 8, ((field & 7) | this.nma) + leadsize);
      this.intFree(p, this.sizeField(p), true);
      p = brk;
    }
    const field = this.sizeField(p);
    if ((field & IS_MMAPPED) === 0) {
      const size = chunkSize(field);
      if (size > nb + MINSIZE) {
        const remainder = p + nb;
        this.wr(remainder + 8, size - nb + PREV_INUSE + this.nma);
        this.wr(p + 8, (field & 7) + nb);
        this.intFree(remainder, this.sizeField(remainder), true);
      }
    }
    return p + CHUNK_HDR_SZ;
  }
}
