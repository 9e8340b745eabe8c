/**
 * What each used pymalloc pool's header said at the previous account, for an account kept
 * incrementally ({@link SoftDirtyTracker}): a pool whose header page is not soft-dirty since
 * then (not written, not remapped) still says the same, and is not read again.
 *
 * ```
 *   arena base ─► Int32Array [count, szidx, nextoffset, known] × pools of the arena
 *                 known = 1: read from memory at the last account, on the fast path
 * ```
 * Arenas not seen by an account are dropped at its end.
 */
export class PoolHeaderCache {
  private current = new Map<number, Int32Array>();
  private next = new Map<number, Int32Array>();
  /** Pool headers read from memory by the last account. */
  reads = 0;
  /** Pool headers taken from the cache by the last account. */
  hits = 0;

  /** Starts an account. */
  begin(): void {
    this.next = new Map();
    this.reads = 0;
    this.hits = 0;
  }

  /** The cached headers of the arena at `base` with `pools` pools (unknown ones for an arena not seen before). */
  arena(base: number, pools: number): Int32Array {
    let headers = this.current.get(base);
    if (headers === undefined || headers.length !== 4 * pools) headers = new Int32Array(4 * pools);
    this.next.set(base, headers);
    return headers;
  }

  /** Ends an account that completed: the arenas it saw are the cache from now on. */
  commit(): void {
    this.current = this.next;
    this.next = new Map();
  }

  /** Forgets everything (the soft-dirty bits were cleared by someone else, or an account failed). */
  reset(): void {
    this.current = new Map();
    this.next = new Map();
  }
}
