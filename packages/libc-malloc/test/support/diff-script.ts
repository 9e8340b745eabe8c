/**
 * The random call sequences of the differential tests (test/glibc-differential.test.ts against
 * this machine's glibc 2.36, test/glibc-release-differential.test.ts against Debian 13's 2.41 and unstable's 2.43):
 * fast-check arbitraries for driver script operations and start-up tunables.
 */
import fc from "fast-check";

const size = fc.oneof(
  { weight: 6, arbitrary: fc.nat(140) },
  { weight: 3, arbitrary: fc.integer({ min: 140, max: 1100 }) },
  { weight: 2, arbitrary: fc.integer({ min: 1100, max: 70_000 }) },
  { weight: 1, arbitrary: fc.integer({ min: 70_000, max: 400_000 }) },
);
/** One generated call (kind and arguments) of a driver script. */
export const op = fc.oneof(
  { weight: 8, arbitrary: fc.tuple(fc.constant("m"), size) },
  { weight: 7, arbitrary: fc.tuple(fc.constant("f"), fc.nat()) },
  { weight: 2, arbitrary: fc.tuple(fc.constant("r"), fc.nat(), size) },
  { weight: 1, arbitrary: fc.tuple(fc.constant("c"), fc.integer({ min: 1, max: 8 }), fc.nat(600)) },
  { weight: 1, arbitrary: fc.tuple(fc.constant("a"), fc.constantFrom(32, 64, 256, 4096), size) },
  { weight: 1, arbitrary: fc.tuple(fc.constant("t"), fc.constantFrom(0, 4096, 131072)) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom("s", "I"), fc.constant(0)) },
  {
    weight: 1,
    arbitrary: fc.oneof(
      fc.tuple(fc.constant("o"), fc.constant(1), fc.constantFrom(0, 8, 24, 64, 160)),
      fc.tuple(fc.constant("o"), fc.constantFrom(-1, -2, -3), fc.constantFrom(0, 4096, 65536, 262144)),
      fc.tuple(fc.constant("o"), fc.constant(-4), fc.constantFrom(0, 1, 100)),
    ),
  },
);

/** Start-up tunables: mostly none, sometimes a mix of glibc.malloc.* settings. */
export const tunables = fc.oneof(
  { weight: 3, arbitrary: fc.constant("") },
  {
    weight: 2,
    arbitrary: fc
      .subarray([
        "glibc.malloc.tcache_count=0",
        "glibc.malloc.tcache_count=2",
        "glibc.malloc.mxfast=0",
        "glibc.malloc.mxfast=160",
        "glibc.malloc.tcache_max=100",
        "glibc.malloc.top_pad=0",
        "glibc.malloc.mmap_threshold=32768",
        "glibc.malloc.trim_threshold=0",
        "glibc.malloc.tcache_unsorted_limit=2",
      ])
      .map((items) => items.filter((item, i) => items.findIndex((x) => x.split("=")[0] === item.split("=")[0]) === i).join(":")),
  },
);

/** Turns generated operations into a driver script over live slots (no double frees). */
export function toScript(ops: (readonly [string, number, number?])[]): string {
  const live: number[] = [];
  let next = 0;
  const lines: string[] = [];
  const allocate = (line: string): void => {
    lines.push(line);
    live.push(next++);
  };
  for (const [kind, x, y = 0] of ops) {
    if (kind === "m") allocate(`m ${next} ${x}`);
    else if (kind === "c") allocate(`c ${next} ${x} ${y}`);
    else if (kind === "a") allocate(`a ${next} ${x} ${y}`);
    else if (kind === "t") lines.push(`t ${x}`);
    else if (kind === "o") lines.push(`o ${x} ${y}`);
    else if (kind === "s" || kind === "I") lines.push(kind);
    else if (live.length > 0) {
      const slot = live.splice(x % live.length, 1)[0]!;
      if (kind === "f") lines.push(`f ${slot}`);
      else allocate(`r ${next} ${slot} ${y}`);
    }
  }
  return `${lines.join("\n")}\n`;
}

