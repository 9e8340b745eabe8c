/**
 * Model-driven fuzzer of the PyMem API under every PYTHONMALLOC preset over the real stack
 * (pymalloc, glibc, an os-vm process): random calls in the three domains, impossible sizes
 * (2^53-1 included), invalid arguments, misuse (double free, a free in the wrong domain) and
 * writes past a block's end. After every call the checkers run (pymalloc's check(), glibc's
 * checkHeap()); after a typed error on an untainted stack every live block must still hold
 * its data. Rules: scripts/fuzz-support.ts.
 */
import fc from "fast-check";
import type { PyMemDomain, PythonMallocPreset } from "@mem/pymem";
import { afterAll, describe, expect, it } from "vitest";
import { FuzzTally, fuzzRuns, fuzzSeed, isTyped } from "../../../scripts/fuzz-support.js";
import { makeStack } from "./helpers/stack.js";

const PRESETS: PythonMallocPreset[] = ["default", "malloc", "pymalloc", "debug", "malloc_debug", "pymalloc_debug"];
const domain = fc.constantFrom<PyMemDomain>("raw", "mem", "obj");
const size = fc.oneof(
  { weight: 10, arbitrary: fc.integer({ min: 0, max: 600 }) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 300_000 }) },
  { weight: 1, arbitrary: fc.constantFrom(2 ** 53 - 1, 2 ** 53 - 24, 2 ** 62, 2 ** 63, 2 ** 64) },
);
const junk = fc.constantFrom<unknown>("16", 16n, 1.5, Number.NaN, -16, null, undefined);

type Op =
  | { op: "malloc" | "calloc"; domain: PyMemDomain; size: number }
  | { op: "realloc"; pick: number; size: number }
  | { op: "free"; pick: number }
  | { op: "double-free"; pick: number }
  | { op: "wrong-domain"; pick: number; domain: PyMemDomain }
  | { op: "junk"; call: "malloc" | "free" | "realloc" | "calloc"; domain: PyMemDomain; value: unknown }
  | { op: "overflow"; pick: number; extra: number; byte: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 12, arbitrary: fc.record({ op: fc.constantFrom("malloc" as const, "calloc" as const), domain, size }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant("realloc" as const), pick: fc.nat(), size }) },
  { weight: 8, arbitrary: fc.record({ op: fc.constant("free" as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("double-free" as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("wrong-domain" as const), pick: fc.nat(), domain }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("junk" as const), call: fc.constantFrom("malloc" as const, "free" as const, "realloc" as const, "calloc" as const), domain, value: junk }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("overflow" as const), pick: fc.nat(), extra: fc.integer({ min: 1, max: 24 }), byte: fc.integer({ min: 0, max: 255 }) }) },
);

interface Block {
  p: number;
  domain: PyMemDomain;
  /** The size requested. */
  requested: number;
  /** The bytes at the start filled with `fill` and checked (at most 64). */
  size: number;
  fill: number;
}

function runSequence(preset: PythonMallocPreset, ops: Op[], tally: FuzzTally): void {
  tally.sequences++;
  const { py, pm, libc, process } = makeStack(preset);
  const memory = process.memory;
  const live: Block[] = [];
  const freed: Block[] = [];
  let tainted = false;
  const pick = <T>(list: T[], i: number): T | undefined => (list.length === 0 ? undefined : list[i % list.length]);
  const adopt = (p: number, d: PyMemDomain, n: number, fill: number): void => {
    if (p === 0) return;
    const keep = Math.min(n, 64);
    if (keep > 0) memory.fill(p, keep, fill);
    live.push({ p, domain: d, requested: n, size: keep, fill });
  };
  const intact = (): string | null => {
    for (const b of live) {
      const bytes = memory.read(b.p, b.size);
      if (bytes.some((x) => x !== b.fill)) return `the ${b.domain} block at 0x${b.p.toString(16)} lost its data`;
    }
    return null;
  };
  let n = 0;
  for (const o of ops) {
    const wasTainted = tainted;
    let misuse = false;
    n++;
    try {
      tally.calls++;
      switch (o.op) {
        case "malloc":
          adopt(py.malloc(o.domain, o.size), o.domain, o.size, n & 0xff);
          break;
        case "calloc":
          adopt(py.calloc(o.domain, 1, o.size), o.domain, o.size, n & 0xff);
          break;
        case "realloc": {
          const b = pick(live, o.pick);
          if (b === undefined) break;
          const q = py.realloc(b.domain, b.p, o.size);
          if (q !== 0) {
            live.splice(live.indexOf(b), 1);
            const keep = Math.min(b.size, o.size);
            // (an overrun may have written into this block: only an untainted block must keep its data)
            if (!tainted && keep > 0 && memory.read(q, keep).some((x) => x !== b.fill)) throw new Error(`${tally.name}: realloc lost the data`);
            adopt(q, b.domain, o.size, b.fill);
          } else if (o.size !== 0 && !tainted) {
            const problem = intact();
            if (problem !== null) throw new Error(`${tally.name}: a failed realloc changed a block: ${problem}`);
          }
          break;
        }
        case "free": {
          const b = pick(live, o.pick);
          if (b === undefined) break;
          live.splice(live.indexOf(b), 1);
          freed.push(b);
          py.free(b.domain, b.p);
          break;
        }
        case "double-free": {
          const b = pick(freed, o.pick);
          if (b === undefined || live.some((l) => l.p === b.p)) break;
          misuse = true;
          tainted = true;
          py.free(b.domain, b.p);
          break;
        }
        case "wrong-domain": {
          const b = pick(live, o.pick);
          if (b === undefined || b.domain === o.domain) break;
          misuse = true;
          tainted = true;
          live.splice(live.indexOf(b), 1);
          py.free(o.domain, b.p);
          break;
        }
        case "junk": {
          const call = (py as unknown as Record<string, (this: typeof py, ...args: unknown[]) => unknown>)[o.call]!;
          call.call(py, o.domain, o.value, o.value);
          break;
        }
        case "overflow": {
          const b = pick(live, o.pick);
          if (b === undefined) break;
          tainted = true;
          memory.fill(b.p + b.requested, o.extra, o.byte); // past the end: the debug pads or the next chunk
          break;
        }
      }
    } catch (error) {
      tally.error(error, `${preset} ${o.op} ${JSON.stringify(o, (_k, v: unknown) => (typeof v === "bigint" ? `${v}n` : v))}`);
      if (error instanceof Error && ["SegmentationFault", "PySegmentationFault", "MallocAbort"].includes(error.name)) tainted = true;
      if (!wasTainted && (misuse || o.op === "junk" || !tainted)) {
        const problem = intact();
        if (problem !== null) {
          tally.corruptions++;
          throw new Error(`${tally.name}: after a typed ${(error as Error).name} in ${o.op}: ${problem}`, { cause: error });
        }
      }
    }
    for (const [name, check, typed] of [
      ["pymalloc check()", () => pm?.check(), "PymallocInvariantError"],
      ["glibc checkHeap()", () => libc.checkHeap(), "HeapCheckError"],
    ] as const) {
      tally.checks++;
      try {
        check();
      } catch (checkError) {
        if (!isTyped(checkError) || checkError.name !== typed) {
          throw new Error(`${tally.name}: ${name} crashed instead of reporting: ${String(checkError)}`, { cause: checkError });
        }
        if (!tainted) {
          tally.corruptions++;
          throw new Error(`${tally.name}: ${name} failed without misuse: ${checkError.message}`, { cause: checkError });
        }
        tally.error(checkError, name);
        return;
      }
    }
  }
}

const tallies: FuzzTally[] = [];
afterAll(() => {
  for (const t of tallies) console.log(t.summary());
});

describe("fuzz: PyMem presets over pymalloc and glibc", () => {
  it("random calls in every domain and preset: only typed errors, blocks intact after refused calls, 0 corruptions", () => {
    const tally = new FuzzTally("small-object PyMem presets");
    tallies.push(tally);
    fc.assert(
      fc.property(fc.constantFrom(...PRESETS), fc.array(op, { minLength: 1, maxLength: 50, size: "max" }), (preset, ops) => runSequence(preset, ops, tally)),
      { numRuns: fuzzRuns(60, 3_000), seed: fuzzSeed() },
    );
    expect(tally.corruptions).toBe(0);
  }, 1_200_000);
});
