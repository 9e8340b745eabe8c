import type { ResidentVma } from "@mem/os-vm";

const PAGE = 4096;

/**
 * The resident pages of one process and the bytes of each already given a cause. Sources add
 * byte ranges `[start, end)` with a cause; only the bytes that lie on resident pages count.
 * {@link ResidentLedger.finish} gives every byte still unclaimed a cause of its own, so the
 * causes always sum to exactly the resident bytes.
 *
 * ```
 *   page p (4096 bytes)  [ glibc.chunk-headers | glibc.in-use ........ | glibc.top ... ]
 *                        claimed[p] = bytes claimed so far; 4096 - claimed[p] is unclaimed
 * ```
 * Ranges must not overlap: a byte claimed twice is a bug of a source, reported by
 * {@link ResidentLedger.finish} (a page claimed beyond 4096 bytes).
 */
export class ResidentLedger {
  /** The resident page numbers, ascending (VMAs are listed in address order): slot i is page pageOf[i]. */
  private readonly pageOf: Float64Array;
  /** The slot found last: lookups walk memory mostly in address order, so the next is usually next. */
  private last = 0;
  private readonly claimed: Float64Array;
  private readonly vmaOf: Uint32Array;
  private readonly vmas: readonly ResidentVma[];
  /** 1 where the page is soft-dirty (every VMA listed its soft-dirty pages), else undefined: all count as dirty. */
  private readonly dirty: Uint8Array | undefined;
  /** Bytes by cause. */
  readonly causes = new Map<string, number>();
  /** Resident bytes in all. */
  readonly residentBytes: number;

  /** The page whose bytes are also recorded cause by cause ({@link watched}), or -1. */
  readonly watchedPage: number;
  /** The causes of the watched page's bytes. */
  readonly watched = new Map<string, number>();

  /**
   * Indexes the resident pages of `vmas` (as os-vm's `residentAnonPages` lists them). With
   * `watch` (an address), the causes of that page's 4096 bytes are recorded too.
   */
  constructor(vmas: readonly ResidentVma[], watch?: number) {
    this.vmas = vmas;
    this.watchedPage = watch === undefined ? -1 : Math.floor(watch / PAGE);
    let n = 0;
    for (const v of vmas) n += v.pages.length;
    this.claimed = new Float64Array(n);
    this.vmaOf = new Uint32Array(n);
    this.pageOf = new Float64Array(n);
    let i = 0;
    const pageOf = this.pageOf;
    const vmaOf = this.vmaOf;
    for (let index = 0; index < vmas.length; index++) {
      const pages = vmas[index]!.pages;
      pageOf.set(pages, i);
      vmaOf.fill(index, i, i + pages.length);
      i += pages.length;
    }
    this.residentBytes = n * PAGE;
    if (vmas.every((v) => v.softDirty !== undefined)) {
      const dirty = new Uint8Array(n);
      let slot = 0;
      for (const v of vmas) {
        // both lists ascend: one merge pass
        for (const page of v.softDirty!) {
          while (this.pageOf[slot]! < page) slot++;
          dirty[slot] = 1;
        }
      }
      this.dirty = dirty;
    }
  }

  /**
   * Whether some resident page outside the sorted, disjoint ranges `[start, end)` is
   * soft-dirty (true when the ledger has no soft-dirty information).
   */
  softDirtyOutside(ranges: readonly (readonly [number, number])[]): boolean {
    const dirty = this.dirty;
    if (dirty === undefined) return true;
    let r = 0;
    for (let slot = 0; slot < dirty.length; slot++) {
      if (dirty[slot] !== 1) continue;
      const address = this.pageOf[slot]! * PAGE;
      while (r < ranges.length && ranges[r]![1] <= address) r++;
      if (r >= ranges.length || address < ranges[r]![0]) return true;
    }
    return false;
  }

  /** The resident page numbers outside the sorted, disjoint ranges `[start, end)`, ascending. */
  pagesOutside(ranges: readonly (readonly [number, number])[]): Float64Array {
    const out = new Float64Array(this.pageOf.length);
    let n = 0;
    let r = 0;
    for (let slot = 0; slot < this.pageOf.length; slot++) {
      const page = this.pageOf[slot]!;
      const address = page * PAGE;
      while (r < ranges.length && ranges[r]![1] <= address) r++;
      if (r >= ranges.length || address < ranges[r]![0]) out[n++] = page;
    }
    return out.slice(0, n);
  }

  /** A copy of the bytes claimed so far on each resident page (for {@link claimsSince}). */
  claimsNow(): Float64Array {
    return this.claimed.slice();
  }

  /** The pages claimed on since `before` ({@link claimsNow}) and by how many bytes each. */
  claimsSince(before: Float64Array): { readonly pages: Float64Array; readonly bytes: Float64Array } {
    let n = 0;
    for (let slot = 0; slot < before.length; slot++) if (this.claimed[slot] !== before[slot]) n++;
    const pages = new Float64Array(n);
    const bytes = new Float64Array(n);
    n = 0;
    for (let slot = 0; slot < before.length; slot++) {
      if (this.claimed[slot] === before[slot]) continue;
      pages[n] = this.pageOf[slot]!;
      bytes[n++] = this.claimed[slot]! - before[slot]!;
    }
    return { pages, bytes };
  }

  /** Claims again what {@link claimsSince} recorded (the pages must be resident; no watched page). */
  replayClaims(claims: { readonly pages: Float64Array; readonly bytes: Float64Array }): void {
    for (let i = 0; i < claims.pages.length; i++) {
      const slot = this.slot(claims.pages[i]!);
      if (slot < 0) throw new Error(`insight: page 0x${(claims.pages[i]! * PAGE).toString(16)} of a cached claim is not resident`);
      this.claimed[slot]! += claims.bytes[i]!;
    }
  }

  /**
   * Whether the page in `slot` (from {@link claimWholeAt}) may have changed since the last
   * `clear_refs` 4: soft-dirty, or the ledger was built without soft-dirty information.
   */
  softDirty(slot: number): boolean {
    return this.dirty === undefined || this.dirty[slot] === 1;
  }

  /** The slot of resident page `page`, or -1 (a cursor for sequential lookups, else binary search). */
  private slot(page: number): number {
    const pages = this.pageOf;
    let i = this.last;
    if (pages[i] === page) return i;
    if (pages[i + 1] === page) return (this.last = i + 1);
    let lo = 0;
    let hi = pages.length - 1;
    while (lo <= hi) {
      i = (lo + hi) >>> 1;
      const p = pages[i]!;
      if (p === page) return (this.last = i);
      if (p < page) lo = i + 1;
      else hi = i - 1;
    }
    return -1;
  }

  /** Whether the watched page lies in `[start, end)` (sources then claim it range by range, exactly). */
  watches(start: number, end: number): boolean {
    return this.watchedPage >= 0 && this.watchedPage * PAGE < end && (this.watchedPage + 1) * PAGE > start;
  }

  /** Whether the page holding `address` is resident. */
  isResident(address: number): boolean {
    return this.slot(Math.floor(address / PAGE)) >= 0;
  }

  /** Whether every page of `[start, end)` is resident. */
  allResident(start: number, end: number): boolean {
    const first = Math.floor(start / PAGE);
    const n = Math.ceil(end / PAGE) - first;
    const slot = this.slot(first);
    // pages are sorted and distinct: n consecutive slots ending at first + n - 1 are all resident
    return slot >= 0 && slot + n <= this.pageOf.length && this.pageOf[slot + n - 1] === first + n - 1;
  }

  /** The first slot whose page is `page` or above (binary search). */
  private lowerBound(page: number): number {
    const pages = this.pageOf;
    let lo = 0;
    let hi = pages.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (pages[mid]! < page) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Bytes of `[start, end)` on resident pages (claimed or not). */
  residentIn(start: number, end: number): number {
    if (!(end > start)) return 0;
    const first = Math.floor(start / PAGE);
    const last = Math.ceil(end / PAGE) - 1;
    // the resident pages of the range are the consecutive slots between two binary searches
    const n = this.lowerBound(last + 1) - this.lowerBound(first);
    if (n === 0) return 0;
    let total = n * PAGE;
    // partial first and last pages count only their bytes inside the range
    if (start % PAGE !== 0 && this.slot(first) >= 0) total -= start - first * PAGE;
    if (end % PAGE !== 0 && this.slot(last) >= 0) total -= (last + 1) * PAGE - end;
    return total;
  }

  /** Gives the resident bytes of `[start, end)` the cause `cause`; returns how many there were. */
  add(start: number, end: number, cause: string): number {
    if (!(end > start)) return 0;
    let total = 0;
    const first = Math.floor(start / PAGE);
    for (let page = first; page * PAGE < end; page++) {
      const slot = this.slot(page);
      if (slot < 0) continue;
      const bytes = Math.min(end, (page + 1) * PAGE) - Math.max(start, page * PAGE);
      this.claimed[slot]! += bytes;
      total += bytes;
      if (page === this.watchedPage) this.watched.set(cause, (this.watched.get(cause) ?? 0) + bytes);
    }
    if (total !== 0) this.causes.set(cause, (this.causes.get(cause) ?? 0) + total);
    return total;
  }

  /**
   * Claims the resident bytes of `[start, end)` without giving them a cause yet; returns how
   * many there were. The caller gives them their cause with {@link credit} (a source summing
   * its causes itself: one map update per cause instead of one per range). Not for a ledger
   * watching a page ({@link watchedPage} `>= 0`): use {@link add}, which records the page's causes.
   */
  claim(start: number, end: number): number {
    if (!(end > start)) return 0;
    let total = 0;
    const claimed = this.claimed;
    for (let page = Math.floor(start / PAGE); page * PAGE < end; page++) {
      const slot = this.slot(page);
      if (slot < 0) continue;
      const bytes = Math.min(end, (page + 1) * PAGE) - Math.max(start, page * PAGE);
      claimed[slot]! += bytes;
      total += bytes;
    }
    return total;
  }

  /**
   * When every page of the page-aligned range `[start, end)` is resident, marks its bytes
   * claimed and returns true; else claims nothing and returns false. The caller then gives
   * the bytes their causes with {@link credit} (the fast path of a wholly resident pymalloc
   * pool: one lookup per page, no per-range bookkeeping).
   */
  claimWhole(start: number, end: number): boolean {
    return this.claimWholeAt(start, end) >= 0;
  }

  /** {@link claimWhole}, returning the slot of the range's first page (for {@link softDirty}), or -1. */
  claimWholeAt(start: number, end: number): number {
    if (this.watches(start, end)) return -1;
    const first = start / PAGE;
    const n = (end - start) / PAGE;
    const slot = this.slot(first);
    if (slot < 0 || slot + n > this.pageOf.length || this.pageOf[slot + n - 1] !== first + n - 1) return -1;
    // pages are sorted and distinct: the last of n consecutive slots being first + n - 1 means all are resident
    for (let i = slot; i < slot + n; i++) this.claimed[i]! += PAGE;
    this.last = slot + n - 1;
    return slot;
  }

  /** Adds `bytes` to `cause` for bytes already claimed with {@link claimWhole}. */
  credit(cause: string, bytes: number): void {
    if (bytes > 0) this.causes.set(cause, (this.causes.get(cause) ?? 0) + bytes);
  }

  /**
   * Adds bytes known to lie on resident pages of `[start, end)` without saying which (the
   * caller checked {@link allResident}: e.g. the carved blocks of a pool, split by count into
   * live and free). The pages' claims are spread in address order.
   */
  addSplit(start: number, end: number, parts: readonly (readonly [string, number])[]): void {
    let page = Math.floor(start / PAGE);
    let at = start;
    for (const [cause, bytes] of parts) {
      if (bytes <= 0) continue;
      this.causes.set(cause, (this.causes.get(cause) ?? 0) + bytes);
      let left = bytes;
      while (left > 0 && at < end) {
        const pageEnd = Math.min(end, (page + 1) * PAGE);
        const take = Math.min(left, pageEnd - at);
        const slot = this.slot(page);
        if (slot >= 0) this.claimed[slot]! += take;
        left -= take;
        at += take;
        if (at === pageEnd) page++;
      }
    }
  }

  /**
   * Gives every unclaimed resident byte a cause: on a page of an anonymous mapping partly
   * claimed, `kernel.page-slack`; on a page nobody claimed, or in a file's data segment,
   * `other.<mapping>` (`other.[stack]`, `other.libc.so.6`,
   * `other.anon`). Throws when a page was claimed beyond its 4096 bytes (overlapping ranges).
   */
  finish(): Map<string, number> {
    for (let slot = 0; slot < this.claimed.length; slot++) {
      const page = this.pageOf[slot]!;
      const c = this.claimed[slot]!;
      if (c > PAGE) throw new Error(`insight: page 0x${(page * PAGE).toString(16)} was given ${c} bytes of causes (more than 4096): two sources claimed the same bytes`);
      if (c === PAGE) continue;
      const name = this.vmas[this.vmaOf[slot]!]!.name;
      // a partly claimed page of an anonymous mapping or the heap: slack; of a file's data
      // segment (main_arena in libc's .data): the rest is that file's own data
      const file = name !== undefined && !name.startsWith("[");
      const cause = c > 0 && !file ? "kernel.page-slack" : `other.${mappingName(name)}`;
      this.causes.set(cause, (this.causes.get(cause) ?? 0) + PAGE - c);
      if (page === this.watchedPage) this.watched.set(cause, (this.watched.get(cause) ?? 0) + PAGE - c);
      this.claimed[slot] = PAGE;
    }
    return this.causes;
  }
}

/** `other.<name>` for a mapping: the file's base name, `[stack]`, `[heap]`, or `anon`. */
function mappingName(name: string | undefined): string {
  if (name === undefined) return "anon";
  const slash = name.lastIndexOf("/");
  return slash >= 0 ? name.slice(slash + 1) : name;
}
