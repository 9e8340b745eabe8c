/**
 * The benchmark workload, identical to run_bench() in test/native/pymalloc_probe.c:
 * allocate LIVE blocks, then CHURN times free a random live block and allocate a new one,
 * then free everything. Sizes follow the size-class mix of a freshly started CPython 3.11
 * (2 % above the 512-byte threshold, served by the raw domain).
 */

/** Per-mille weights of the 32 size classes (must match CLASS_WEIGHTS in the probe). */
export const CLASS_WEIGHTS = [3, 32, 118, 360, 209, 43, 20, 33, 7, 75, 5, 6, 14, 13, 11, 7, 7, 5, 4, 3, 3, 2, 3, 2, 7, 2, 1, 1, 1, 1, 1, 1];

/** The allocator functions the workload calls. */
export interface Target {
  malloc(size: number): number;
  free(ptr: number): void;
}

/** Runs the workload once on `target`; returns the number of calls made. */
export function runWorkload(target: Target, live: number, churn: number): number {
  let x = 0x9e3779b9;
  const next = (): number => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
  const nextSize = (): number => {
    if (next() % 100 < 2) return 513 + (next() % 1536);
    const pick = next() % 1000;
    let acc = 0;
    let cls = 0;
    for (; cls < 31; cls++) {
      acc += CLASS_WEIGHTS[cls]!;
      if (pick < acc) break;
    }
    return (cls + 1) * 16 - (next() % 16);
  };
  const table = new Float64Array(live);
  for (let i = 0; i < live; i++) table[i] = target.malloc(nextSize());
  for (let i = 0; i < churn; i++) {
    const k = next() % live;
    target.free(table[k]!);
    table[k] = target.malloc(nextSize());
  }
  for (let i = 0; i < live; i++) target.free(table[i]!);
  return 2 * live + 2 * churn;
}
