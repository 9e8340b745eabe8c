/**
 * Model-driven fuzzer of pymalloc over the whole stack beneath it (os-vm process, glibc for
 * the raw domain): random calls, invalid arguments, misuse (double free, free of an interior
 * or foreign pointer) and corruptions written into freed and live blocks (free-list links of
 * 2^53 or more included), with `check()` after every call. Rules: scripts/fuzz-support.ts.
 */
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { FuzzTally, fuzzRuns, fuzzSeed, isTyped } from "../../../scripts/fuzz-support.js";
import { makeStack } from "./helpers/stack.js";

const size = fc.oneof(
  { weight: 10, arbitrary: fc.integer({ min: 1, max: 512 }) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 5000 }) },
  { weight: 1, arbitrary: fc.constantFrom(0, 2 ** 53 - 1, 2 ** 62, 2 ** 31) },
);
const junk = fc.constantFrom<unknown>("16", 16n, 1.5, Number.NaN, -16, null, undefined, {});
const word = fc.oneof(
  fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
  fc.constantFrom(0n, 0x20000000000000n, 0xdeadbeef00000000n, 0x7fffffffffffn, 16n),
);

type Op =
  | { op: "malloc" | "calloc"; size: number }
  | { op: "realloc"; pick: number; size: number }
  | { op: "free"; pick: number }
  | { op: "double-free"; pick: number }
  | { op: "free-bad"; pick: number; offset: number }
  | { op: "junk"; call: "malloc" | "free" | "realloc" | "calloc"; value: unknown }
  | { op: "write"; pick: number; freed: boolean; offset: number; value: bigint };

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 12, arbitrary: fc.record({ op: fc.constantFrom("malloc" as const, "calloc" as const), size }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant("realloc" as const), pick: fc.nat(), size }) },
  { weight: 9, arbitrary: fc.record({ op: fc.constant("free" as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("double-free" as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("free-bad" as const), pick: fc.nat(), offset: fc.integer({ min: -4096, max: 4096 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("junk" as const), call: fc.constantFrom("malloc" as const, "free" as const, "realloc" as const, "calloc" as const), value: junk }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("write" as const), pick: fc.nat(), freed: fc.boolean(), offset: fc.constantFrom(0, 8, -8, 16), value: word }) },
);

function runSequence(ops: Op[], tally: FuzzTally, strictFree: boolean): void {
  tally.sequences++;
  const { pm: maybe, process } = makeStack("default", { strictFree });
  const pm = maybe!;
  const live: number[] = [];
  const freed: number[] = [];
  let tainted = false;
  const pick = <T>(list: T[], i: number): T | undefined => (list.length === 0 ? undefined : list[i % list.length]);
  const retire = (p: number): void => {
    live.splice(live.indexOf(p), 1);
    freed.push(p);
    if (freed.length > 16) freed.shift();
  };
  for (const o of ops) {
    const wasTainted = tainted;
    let misuse = false;
    try {
      tally.calls++;
      switch (o.op) {
        case "malloc":
        case "calloc": {
          const p = o.op === "malloc" ? pm.malloc(o.size) : pm.calloc(1, o.size);
          if (p !== 0 && !live.includes(p)) live.push(p);
          break;
        }
        case "realloc": {
          const p = pick(live, o.pick);
          if (p === undefined) break;
          const q = pm.realloc(p, o.size);
          if (q !== 0) {
            retire(p);
            freed.pop();
            live.push(q);
          }
          break;
        }
        case "free": {
          const p = pick(live, o.pick);
          if (p === undefined) break;
          retire(p);
          pm.free(p);
          break;
        }
        case "double-free": {
          const p = pick(freed, o.pick);
          if (p === undefined || live.includes(p)) break;
          misuse = true;
          tainted = true;
          pm.free(p);
          break;
        }
        case "free-bad": {
          const p = pick(live, o.pick);
          if (p === undefined || o.offset === 0) break;
          misuse = true;
          tainted = true;
          pm.free(p + o.offset);
          break;
        }
        case "junk": {
          const call = (pm as unknown as Record<string, (this: typeof pm, ...args: unknown[]) => unknown>)[o.call]!;
          call.call(pm, o.value, o.value);
          break;
        }
        case "write": {
          const p = pick(o.freed ? freed : live, o.pick);
          if (p === undefined) break;
          tainted = true;
          process.memory.store64Big(p + o.offset, o.value);
          break;
        }
      }
    } catch (error) {
      tally.error(error, `${o.op} ${JSON.stringify(o, (_k, v: unknown) => (typeof v === "bigint" ? `${v}n` : v))}`);
      if (error instanceof Error && (error.name === "SegmentationFault" || error.name === "MallocAbort")) tainted = true;
      if (!wasTainted && (misuse || o.op === "junk" || !tainted)) {
        tally.checks++;
        try {
          pm.check();
        } catch (checkError) {
          tally.corruptions++;
          throw new Error(`${tally.name}: pymalloc is inconsistent after a typed ${(error as Error).name} in ${o.op}: ${String(checkError)}`, { cause: checkError });
        }
      }
    }
    tally.checks++;
    try {
      pm.check();
    } catch (checkError) {
      if (!isTyped(checkError) || checkError.name !== "PymallocInvariantError") {
        throw new Error(`${tally.name}: check() crashed instead of reporting: ${String(checkError)}`, { cause: checkError });
      }
      if (!tainted) {
        tally.corruptions++;
        throw new Error(`${tally.name}: check() failed without any misuse: ${checkError.message}`, { cause: checkError });
      }
      tally.error(checkError, "check");
      return;
    }
  }
}

const tallies: FuzzTally[] = [];
afterAll(() => {
  for (const t of tallies) console.log(t.summary());
});

describe.each([
  ["validated frees", false],
  ["strictFree", true],
] as const)("fuzz: pymalloc (%s)", (name, strictFree) => {
  it("random calls, misuse and corruption: only typed errors, check() reports or passes, 0 corruptions", () => {
    const tally = new FuzzTally(`small-object pymalloc (${name})`);
    tallies.push(tally);
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 60, size: "max" }), (ops) => runSequence(ops, tally, strictFree)),
      { numRuns: fuzzRuns(40, 2_000), seed: fuzzSeed() },
    );
    expect(tally.corruptions).toBe(0);
  }, 1_200_000);
});
