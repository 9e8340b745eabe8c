/**
 * Pymalloc's own raw-domain blocks (user pointer → cause) for a walk in address order: the
 * account asks about every in-use chunk of the heap, and a map lookup on a pointer-sized
 * number per chunk costs more than the walk itself. The pointers are kept sorted and a cursor
 * follows the walk (a step back, to the next heap region, searches again).
 *
 * ```
 *   keys    [k0 < k1 < k2 ...]      causes [c0, c1, c2 ...]
 *   at(user): the cursor moves to the first key >= user; that key (or the next) is user or
 *   user + 16 ─► its cause   (the same answer as structures.get(user) ?? structures.get(user + 16))
 * ```
 */
export class StructureIndex {
  private readonly keys: Float64Array;
  private readonly causes: string[];
  private cursor = 0;
  private last = -Infinity;

  /** Indexes `structures`. */
  constructor(structures: ReadonlyMap<number, string>) {
    const entries = [...structures].sort((x, y) => x[0] - y[0]);
    this.keys = Float64Array.from(entries, (e) => e[0]);
    this.causes = entries.map((e) => e[1]);
  }

  /** The cause of the block at `user`, or of one at `user + 16` (as `structures.get(user) ?? structures.get(user + 16)`). */
  at(user: number): string | undefined {
    const keys = this.keys;
    const n = keys.length;
    if (n === 0) return undefined;
    let k = this.cursor;
    if (user < this.last) {
      // a step back: search from the start
      let lo = 0;
      let hi = n;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (keys[mid]! < user) lo = mid + 1;
        else hi = mid;
      }
      k = lo;
    } else {
      while (k < n && keys[k]! < user) k++;
    }
    this.cursor = k;
    this.last = user;
    if (k >= n) return undefined;
    if (keys[k] === user) return this.causes[k];
    if (keys[k] === user + 16) return this.causes[k];
    if (k + 1 < n && keys[k + 1] === user + 16) return this.causes[k + 1];
    return undefined;
  }
}
