/**
 * Deterministic call scripts for pymalloc_probe.c ("m slot size", "c slot n el",
 * "r slot size", "f slot"): the same script drives real pymalloc (through the probe) and
 * the simulated one (through the recorded trace).
 */

/** xorshift32, as in the probe. */
export function xorshift(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

/** A few calls touching every path: classes, raw fallback, size 0, realloc both ways, calloc. */
function basic(): string[] {
  return [
    "m 0 100", "m 1 20", "m 2 700", "m 3 0", "f 1", "r 0 600",
    "m 4 512", "m 5 513", "c 6 32 16", "c 7 33 16", "c 8 0 5", "m 9 1",
    "r 9 16", "r 9 17", "r 4 300", "r 4 400", "r 5 40", "r 3 8", "f 2", "f 6", "f 7",
  ];
}

/** Fills `arenas` arenas with 512-byte blocks, then frees them all in order `order`. */
function fillAndRelease(blocks: number, order: "forward" | "reverse" | "interleaved"): string[] {
  const out: string[] = [];
  for (let i = 0; i < blocks; i++) out.push(`m ${i} 512`);
  const ids = [...Array(blocks).keys()];
  if (order === "reverse") ids.reverse();
  if (order === "interleaved") ids.sort((a, b) => (a % 7) - (b % 7) || a - b);
  for (const i of ids) out.push(`f ${i}`);
  // and grow again
  for (let i = 0; i < blocks / 2; i++) out.push(`m ${i} ${16 + (i % 32) * 16}`);
  return out;
}

/** Random churn over a live set with a size mix, reallocs and callocs. */
export function churn(seed: number, steps: number, maxLive: number): string[] {
  const rnd = xorshift(seed);
  const out: string[] = [];
  const live: number[] = [];
  const freeSlots: number[] = [];
  let nextSlot = 0;
  const size = (): number => {
    const r = rnd() % 100;
    if (r < 3) return 0;
    if (r < 6) return 513 + (rnd() % 2000);
    if (r < 40) return 1 + (rnd() % 64);
    return 1 + (rnd() % 512);
  };
  for (let step = 0; step < steps; step++) {
    // grow for the first half, then mostly shrink
    const phase = step < steps / 2 ? 65 : 25;
    const r = rnd() % 100;
    if (live.length === 0 || (r < phase && live.length < maxLive)) {
      const slot = freeSlots.pop() ?? nextSlot++;
      if (rnd() % 10 === 0) out.push(`c ${slot} ${1 + (rnd() % 8)} ${1 + (rnd() % 64)}`);
      else out.push(`m ${slot} ${size()}`);
      live.push(slot);
    } else if (r < phase + 10) {
      const slot = live[rnd() % live.length]!;
      out.push(`r ${slot} ${size()}`);
    } else {
      const k = rnd() % live.length;
      const slot = live[k]!;
      live[k] = live[live.length - 1]!;
      live.pop();
      freeSlots.push(slot);
      out.push(`f ${slot}`);
    }
  }
  return out;
}

/** The scenarios recorded for every version, by name. */
export const SCENARIOS: Record<string, () => string[]> = {
  basic,
  "release-forward": () => fillAndRelease(31 * 64 * 5, "forward"),
  "release-reverse": () => fillAndRelease(31 * 64 * 5, "reverse"),
  "release-interleaved": () => fillAndRelease(31 * 64 * 3, "interleaved"),
  "churn-small": () => churn(12345, 4000, 600),
  "churn-large": () => churn(777, 30000, 9000),
};

/** CPython versions the probe is recorded with (3.12 needs a started interpreter, so it is left out). */
export const PROBE_VERSIONS = ["3.8", "3.9", "3.10", "3.11"] as const;
