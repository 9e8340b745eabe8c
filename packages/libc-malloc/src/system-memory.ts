import { AV_TOP } from "./arena-layout.js";
import {
  CHUNK_HDR_SZ,
  ENOMEM,
  IS_MMAPPED,
  MALLOC_ALIGNMENT,
  MINSIZE,
  MMAP_AS_MORECORE_SIZE,
  PREV_INUSE,
  SIZE_SZ,
  pageDown,
  pageUp,
} from "./constants.js";
import { isSyscallError } from "./errors.js";
import { chunkSize, isPowerOfTwo } from "./arena-state.js";
import { BinAllocator } from "./bin-allocator.js";

import { MAP_FIXED_NOREPLACE, MAP_PRIVATE_ANONYMOUS, MREMAP_MAYMOVE, PROT_RW, SYSMALLOC_ASSERT } from "./constants.js";
import type { MremapSyscall, ProcessSpace } from "@mem/os-vm";

/**
 * Getting memory from the kernel and giving it back: `sysmalloc` (brk growth, foreign sbrk,
 * fenceposts, the mmap fallback, mmapped chunks), `systrim`, `munmap_chunk` and
 * `mremap_chunk`.
 */
export abstract class SystemMemory extends BinAllocator {
  // =====================================================================================
  // System memory: sysmalloc, systrim, mmapped chunks
  // =====================================================================================

  protected sysmalloc(nb: number): number {
    if (nb >= this.mmapThreshold && this.nMmaps < this.nMmapsMax) {
      const mm = this.sysmallocMmap(nb);
      if (mm !== 0) return mm;
    }
    const oldTop = this.top;
    const oldField = this.sizeField(oldTop);
    let oldSize = chunkSize(oldField);
    const oldEnd = oldTop + oldSize;
    const initialTop = this.arena + AV_TOP - this.fieldShift;
    if (
      !(
        (oldTop === initialTop && oldSize === 0) ||
        (oldSize >= MINSIZE && (this.flagsOf(oldField, oldTop) & PREV_INUSE) !== 0 && (oldEnd & 4095) === 0)
      )
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
        this.wr(oldTop + 8, size + oldSize + PREV_INUSE);
      } else if (!this.noncontiguous && oldSize !== 0 && brk < oldEnd) {
        this.abort("break adjusted to free malloc space", "malloc", brk);
      } else {
        let correction = 0;
        let alignedBrk = brk;
        if (!this.noncontiguous) {
          if (oldSize !== 0) this.setSystemMem(this.systemMem + (brk - oldEnd));
          const frontMisalign = (brk + CHUNK_HDR_SZ) & 15;
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
        this.wr(alignedBrk + 8, sndBrk - alignedBrk + correction + PREV_INUSE);
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

  protected sysmallocMmap(nb: number): number {
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

  protected systrim(pad: number): number {
    const top = this.top;
    const topSize = chunkSize(this.sizeField(top));
    // glibc computes top_area as a long and compares it with the size_t pad: a top of 32 bytes
    // gives top_area = -1, which as unsigned is huge, so extra = ALIGN_DOWN(-1 - pad) = -4096
    // and "trimming" grows the break by a page (observed: malloc_trim(0) returns 1).
    const topArea = topSize - MINSIZE - 1;
    if (topArea >= 0 && topArea <= pad) return 0;
    const extra = pageDown(topArea - pad);
    if (extra === 0) return 0;
    const currentBrk = this.process.brk(0);
    if (currentBrk !== top + topSize) return 0;
    this.morecore(-extra);
    const newBrk = this.process.brk(0);
    const released = currentBrk - newBrk;
    if (released === 0) return 0;
    this.setSystemMem(this.systemMem - released);
    this.wr(top + 8, topSize - released + PREV_INUSE);
    return 1;
  }

  protected munmapChunk(p: number, call: string): void {
    const size = chunkSize(this.sizeField(p));
    const prevSize = this.rd(p);
    const block = p - prevSize;
    const total = prevSize + size;
    const inPage = (p + CHUNK_HDR_SZ) & 4095;
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

  /**
   * `mremap_chunk`: mremap(MREMAP_MAYMOVE) through the process when it offers mremap, else
   * done as the kernel would with mmap/munmap (shrink in place, grow in place when the pages
   * after are free, else map anew, copy and unmap).
   */
  protected mremapChunk(p: number, nb: number): number {
    const offset = this.rd(p);
    const size = chunkSize(this.sizeField(p));
    const block = p - offset;
    const total = offset + size;
    const inPage = (p + CHUNK_HDR_SZ) & 4095;
    if ((block & 4095) !== 0 || (total & 4095) !== 0 || !(inPage === 0 || isPowerOfTwo(inPage))) {
      this.abort("mremap_chunk(): invalid pointer", "realloc", p);
    }
    const newSize = pageUp(nb + offset + SIZE_SZ);
    if (newSize === total) return p;
    let cp = block;
    try {
      if (hasMremap(this.process)) {
        // The kernel's mremap moves the page-table entries: no copy, no new page faults.
        cp = this.process.mremap(block, total, newSize, MREMAP_MAYMOVE);
      } else if (newSize < total) {
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
    this.wr(np + 8, newSize - offset + IS_MMAPPED);
    this.mmappedMem += newSize - size - offset;
    if (this.mmappedMem > this.maxMmappedMem) this.maxMmappedMem = this.mmappedMem;
    return np;
  }

  /** `__glibc_morecore`: sbrk(increment), -1 on failure. */
  protected morecore(increment: number): number {
    if (!(Math.abs(increment) < 2 ** 47)) return -1;
    try {
      return this.process.sbrk(increment);
    } catch (error) {
      if (isSyscallError(error)) return -1;
      throw error;
    }
  }

  /** Anonymous read-write mmap, -1 on failure. */
  protected mmap(length: number): number {
    if (!(length < 2 ** 47)) return -1;
    try {
      return this.process.mmap(0, length, PROT_RW, MAP_PRIVATE_ANONYMOUS);
    } catch (error) {
      if (isSyscallError(error)) return -1;
      throw error;
    }
  }
}

/** Whether the process offers `mremap` (optional in the kernel tier's interface). */
function hasMremap(process: ProcessSpace): process is ProcessSpace & MremapSyscall {
  return "mremap" in process && typeof (process as Partial<MremapSyscall>).mremap === "function";
}
