/**
 * The benchmark workload, identical to run_bench() in test/native/pymalloc_probe.c:
 * allocate LIVE blocks, then CHURN times free a random live block and allocate a new one,
 * then free everything. Sizes follow the size-class mix of a freshly started CPython 3.11
 * (2 % above the 512-byte threshold, served by the raw domain). The sequence is generated
 * before the clock starts, on both sides.
 */

/** Per-mille weights of the 32 size classes (must match CLASS_WEIGHTS in the probe). */
export const CLASS_WEIGHTS = [3, 32, 118, 360, 209, 43, 20, 33, 7, 75, 5, 6, 14, 13, 11, 7, 7, 5, 4, 3, 3, 2, 3, 2, 7, 2, 1, 1, 1, 1, 1, 1];

/** The allocator functions the workload calls. */
export interface Target {
  malloc(size: number): number;
  free(ptr: number): void;
}

/** A generated call sequence: `live + churn` request sizes and `churn` victim slots. */
export interface Plan {
  readonly live: number;
  readonly churn: number;
  readonly sizes: Uint32Array;
  readonly victims: Uint32Array;
}

/** Generates the sequence with the probe's xorshift32 generator (seed 0x9e3779b9). */
export function makePlan(live: number, churn: number): Plan {
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
  const sizes = new Uint32Array(live + churn);
  const victims = new Uint32Array(churn);
  for (let i = 0; i < live; i++) sizes[i] = nextSize();
  for (let i = 0; i < churn; i++) {
    victims[i] = next() % live;
    sizes[live + i] = nextSize();
  }
  return { live, churn, sizes, victims };
}

/** Runs `plan` once on `target`; returns the number of calls made. */
export function runPlan(target: Target, plan: Plan): number {
  const { live, churn, sizes, victims } = plan;
  const table = new Float64Array(live);
  for (let i = 0; i < live; i++) table[i] = target.malloc(sizes[i]!);
  for (let i = 0; i < churn; i++) {
    const k = victims[i]!;
    target.free(table[k]!);
    table[k] = target.malloc(sizes[live + i]!);
  }
  for (let i = 0; i < live; i++) target.free(table[i]!);
  return 2 * live + 2 * churn;
}

/** Generates and runs the workload (for callers that do not time it). */
export function runWorkload(target: Target, live: number, churn: number): number {
  return runPlan(target, makePlan(live, churn));
}
