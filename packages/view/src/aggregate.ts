/**
 * Aggregation beyond the pixel budget: a line of intervals (chunks along the address line,
 * pages of a mapping, pools of arenas) becomes at most `max` segments. When there are more
 * intervals than that, the line is cut into `max` equal buckets, each bucket takes the state
 * holding most of its bytes (its title gives the whole mix), and neighbouring buckets of the
 * same state merge.
 *
 * ```
 *   intervals  |a|a|b|a|a|a|c|c|b|b|b|b|       (12, max 4)
 *   buckets    |  a  |  a  |  c  |  b  |       dominant state of each third of the line
 *   segments   |     a     |  c  |  b  |       3 shapes
 * ```
 */

/** One interval of a line. */
export interface Interval {
  /** Start (an address, a page number). */
  readonly start: number;
  /** End, exclusive. */
  readonly end: number;
  /** Its state (what decides its colour). */
  readonly key: string;
}

/** A drawn segment: an interval, or a bucket of several. */
export interface Segment extends Interval {
  /** The index of the interval when it is drawn alone (hover text is made for those only). */
  readonly index?: number;
  /** How many intervals it stands for. */
  readonly count: number;
  /** Share of each state in it (only for aggregated segments). */
  readonly mix?: Readonly<Record<string, number>>;
}

/**
 * At most `max` segments for `intervals` (sorted by start, not overlapping) over `[lo, hi)`.
 * Intervals are returned as they are (merged with nothing) when there are at most `max`.
 */
export function aggregate(intervals: readonly Interval[], lo: number, hi: number, max: number): Segment[] {
  const budget = Math.max(1, Math.floor(max));
  if (intervals.length <= budget) return intervals.map((i, index) => ({ start: i.start, end: i.end, key: i.key, count: 1, index }));
  const span = (hi - lo) / budget;
  const buckets = Array.from({ length: budget }, () => new Map<string, number>());
  const counts = new Uint32Array(budget);
  for (const it of intervals) {
    const a = Math.max(lo, it.start);
    const b = Math.min(hi, it.end);
    if (!(b > a)) continue;
    const first = Math.min(budget - 1, Math.floor((a - lo) / span));
    const last = Math.min(budget - 1, Math.floor((b - lo - 1e-9) / span));
    counts[first]!++;
    for (let k = first; k <= last; k++) {
      const s = Math.max(a, lo + k * span);
      const e = Math.min(b, lo + (k + 1) * span);
      if (e > s) buckets[k]!.set(it.key, (buckets[k]!.get(it.key) ?? 0) + (e - s));
    }
  }
  const out: Segment[] = [];
  for (let k = 0; k < budget; k++) {
    const mix = buckets[k]!;
    if (mix.size === 0) continue;
    let key = "";
    let most = -1;
    for (const [state, n] of mix) if (n > most) [key, most] = [state, n];
    const start = lo + k * span;
    const end = lo + (k + 1) * span;
    const prev = out[out.length - 1];
    if (prev !== undefined && prev.key === key && prev.end >= start - 1e-9) {
      const merged: Record<string, number> = { ...prev.mix };
      for (const [state, n] of mix) merged[state] = (merged[state] ?? 0) + n;
      out[out.length - 1] = { start: prev.start, end, key, count: prev.count + counts[k]!, mix: merged };
    } else out.push({ start, end, key, count: counts[k]!, mix: Object.fromEntries(mix) });
  }
  return out;
}

/** "62% in-use, 30% tcache, 8% top" for a segment's mix. */
export function mixText(mix: Readonly<Record<string, number>>): string {
  const total = Object.values(mix).reduce((a, b) => a + b, 0) || 1;
  return Object.entries(mix)
    .sort((a, b) => b[1] - a[1])
    .map(([state, n]) => `${Math.round((100 * n) / total)}% ${state}`)
    .join(", ");
}
