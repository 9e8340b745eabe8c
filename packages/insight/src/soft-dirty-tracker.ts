import { residentAnonPages, type Process, type ResidentVma } from "@mem/os-vm";
import { LibcPartCache } from "./libc-cache.js";
import { PoolHeaderCache } from "./pool-cache.js";

/**
 * Keeps an account incremental, as a tracker of a real process would with soft-dirty bits
 * (`/proc/PID/pagemap` bit 55, `echo 4 > /proc/PID/clear_refs`):
 *
 * ```
 *   account k:   list resident pages + soft-dirty ones, and clear the bits (one page-table
 *                walk: pagemap, then clear_refs 4; the next write to a page sets its bit again)
 *                re-read what lies on soft-dirty pages, take the rest from account k-1
 * ```
 * What is cached: each used pymalloc pool's header fields ({@link PoolHeaderCache}), and
 * glibc's whole part while nothing outside the arenas changed ({@link LibcPartCache}). The
 * result is byte for byte that of a full account (tested after random traces under every
 * preset). When anyone else cleared the soft-dirty bits in between (another tracker, a
 * `clear_refs` 4), the tracker sees the process's clear count move and starts afresh.
 * Clearing the bits changes no tier's state that an allocator or an account reads (only PTE
 * bit 11 and the TLB's write permissions).
 */
export class SoftDirtyTracker {
  /** The pool headers of the last account. */
  readonly pools = new PoolHeaderCache();
  /** glibc's part of the last account. */
  readonly libc = new LibcPartCache();
  /** Accounts completed. */
  accounts = 0;

  /** An account began and has not completed (it threw): the cache may hold stale entries. */
  private pending = false;
  /** The process's soft-dirty clear count after this tracker's last clear. */
  private clears = -1;

  /**
   * Starts an account: the resident pages with the soft-dirty ones, and the bits cleared in
   * the same walk (the account only reads, so clearing before it equals clearing after it).
   */
  begin(process: Process): ResidentVma[] {
    // an account that threw cleared the bits without re-reading every dirty header; someone
    // else clearing them (another tracker, a clear_refs) hid writes from this one
    if (this.pending || process.mm.softDirtyClears !== this.clears) {
      this.pools.reset();
      this.libc.reset();
    }
    this.pending = true;
    this.pools.begin();
    const vmas = residentAnonPages(process, { clearSoftDirty: true });
    this.clears = process.mm.softDirtyClears;
    return vmas;
  }

  /** Ends an account that completed: the cache now describes this moment. */
  commit(): void {
    this.pools.commit();
    this.pending = false;
    this.accounts++;
  }
}
