import type { ResidentLedger } from "./ledger.js";

/**
 * A source's bytes by cause, summed before they reach the ledger: each range is claimed on
 * its pages at once ({@link ResidentLedger.claim}) and its cause credited at {@link flush},
 * one map update per cause instead of one per range. The causes are credited in the order
 * they first claimed a resident byte, so the ledger's causes come out in the order
 * {@link ResidentLedger.add} would have given them (the account's ties keep that order).
 *
 * ```
 *   put(HEADERS, a, a + 16) ─► ledger.claim(a, a + 16) ─► sums[HEADERS] += 16 (first: order.push)
 *   flush()                 ─► ledger.credit(names[i], sums[i]) for i in order
 * ```
 * A ledger watching a page (`watchedPage >= 0`) records that page's causes range by range:
 * then every range goes straight to {@link ResidentLedger.add}.
 */
export class CauseSums {
  private readonly ledger: ResidentLedger;
  private readonly direct: boolean;
  private readonly names: string[];
  private sums: Float64Array;
  private seen: Uint8Array;
  private readonly order: number[] = [];
  private named: Map<string, number> | undefined;

  /** Sums for `ledger`; `names[i]` is the cause of index `i` given to {@link put}. */
  constructor(ledger: ResidentLedger, names: readonly string[]) {
    this.ledger = ledger;
    this.direct = ledger.watchedPage >= 0;
    this.names = [...names];
    this.sums = new Float64Array(names.length + 8);
    this.seen = new Uint8Array(names.length + 8);
  }

  /** Claims the resident bytes of `[start, end)` for cause `i` (an index into the names). */
  put(i: number, start: number, end: number): void {
    if (this.direct) {
      this.ledger.add(start, end, this.names[i]!);
      return;
    }
    const bytes = this.ledger.claim(start, end);
    if (bytes === 0) return;
    this.sums[i]! += bytes;
    if (this.seen[i] === 0) {
      this.seen[i] = 1;
      this.order.push(i);
    }
  }

  /** {@link put} for a cause given by name (one not in the constructor's list). */
  putNamed(cause: string, start: number, end: number): void {
    const named = (this.named ??= new Map<string, number>());
    let i = named.get(cause);
    if (i === undefined) {
      i = this.names.length;
      this.names.push(cause);
      named.set(cause, i);
      if (i >= this.sums.length) {
        const sums = new Float64Array(i * 2);
        sums.set(this.sums);
        this.sums = sums;
        const seen = new Uint8Array(i * 2);
        seen.set(this.seen);
        this.seen = seen;
      }
    }
    this.put(i, start, end);
  }

  /** Credits the sums to the ledger (in first-claim order) and starts again from zero. */
  flush(): void {
    for (const i of this.order) {
      this.ledger.credit(this.names[i]!, this.sums[i]!);
      this.sums[i] = 0;
      this.seen[i] = 0;
    }
    this.order.length = 0;
  }
}
