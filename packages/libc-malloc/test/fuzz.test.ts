/**
 * Model-driven fuzzer of the C allocators (GlibcMalloc, TlsfMalloc): random call sequences
 * with valid calls, invalid arguments, misuse (double free, realloc of a freed block, free of
 * an interior pointer) and corruptions written into the heap, each followed by the checker.
 * See scripts/fuzz-support.ts for the rules; CI size here, full size under `npm run fuzz`.
 */
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { FuzzTally, fuzzRuns, fuzzSeed, isTyped } from "../../../scripts/fuzz-support.js";
import { GlibcMalloc, TlsfMalloc, type CAllocator } from "../src/index.js";
import { freshProcess } from "./support/replay.js";

type Heap = CAllocator & { checkHeap(): void; process: { memory: { store64Big(a: number, v: bigint): void; write(a: number, b: Uint8Array): void } } };

const size = fc.oneof(
  { weight: 8, arbitrary: fc.nat({ max: 600 }) },
  { weight: 3, arbitrary: fc.nat({ max: 70_000 }) },
  { weight: 1, arbitrary: fc.integer({ min: 128 * 1024, max: 600 * 1024 }) },
  { weight: 1, arbitrary: fc.constantFrom(2 ** 53 - 1, 2 ** 62, 2 ** 64 - 16, -1) },
);
const junk = fc.constantFrom<unknown>("16", 16n, 1.5, Number.NaN, null, undefined, {}, -16);
const word = fc.oneof(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.constantFrom(0n, 0x21n, 0x20000000000002n, 0xfffffffffffffff1n, 2n ** 53n));

type Op =
  | { op: "malloc" | "calloc"; size: number }
  | { op: "realloc"; pick: number; size: number }
  | { op: "free" | "usable"; pick: number }
  | { op: "memalign"; alignment: number; size: number }
  | { op: "double-free" | "realloc-freed"; pick: number }
  | { op: "free-interior"; pick: number; offset: number }
  | { op: "junk"; call: "malloc" | "free" | "realloc" | "calloc"; value: unknown }
  | { op: "write"; pick: number; freed: boolean; offset: number; value: bigint };

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 10, arbitrary: fc.record({ op: fc.constantFrom("malloc" as const, "calloc" as const), size }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant("realloc" as const), pick: fc.nat(), size }) },
  { weight: 8, arbitrary: fc.record({ op: fc.constantFrom("free" as const, "usable" as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("memalign" as const), alignment: fc.constantFrom(16, 32, 64, 4096, 24), size: fc.nat({ max: 5000 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constantFrom("double-free" as const, "realloc-freed" as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("free-interior" as const), pick: fc.nat(), offset: fc.integer({ min: -64, max: 64 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("junk" as const), call: fc.constantFrom("malloc" as const, "free" as const, "realloc" as const, "calloc" as const), value: junk }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("write" as const), pick: fc.nat(), freed: fc.boolean(), offset: fc.integer({ min: -32, max: 40 }).map((o) => o & ~7), value: word }) },
);

/** Runs one sequence; returns normally or throws (failing the property) on a broken rule. */
function runSequence(heap: Heap, ops: Op[], tally: FuzzTally): void {
  tally.sequences++;
  const live: number[] = [];
  const freed: number[] = [];
  /** Set once the sequence misused the heap or wrote into it: from then on inconsistency is the program's fault. */
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
          const p = o.op === "malloc" ? heap.malloc(o.size) : heap.calloc(1, o.size);
          if (p !== 0) live.push(p);
          break;
        }
        case "realloc": {
          const p = pick(live, o.pick);
          if (p === undefined) break;
          const q = heap.realloc(p, o.size);
          if (q !== 0 || o.size === 0) {
            retire(p);
            if (q !== 0) {
              freed.pop();
              live.push(q);
            }
          }
          break;
        }
        case "free": {
          const p = pick(live, o.pick);
          if (p === undefined) break;
          retire(p);
          heap.free(p);
          break;
        }
        case "usable": {
          const p = pick(live, o.pick);
          if (p !== undefined) heap.usableSize(p);
          break;
        }
        case "memalign": {
          const p = heap.memalign(o.alignment, o.size);
          if (p !== 0) live.push(p);
          break;
        }
        case "double-free":
        case "realloc-freed": {
          const p = pick(freed, o.pick);
          if (p === undefined || live.includes(p)) break;
          misuse = true;
          tainted = true;
          if (o.op === "double-free") heap.free(p);
          else {
            const q = heap.realloc(p, 100);
            if (q !== 0 && !live.includes(q)) live.push(q);
          }
          break;
        }
        case "free-interior": {
          const p = pick(live, o.pick);
          if (p === undefined || o.offset === 0) break;
          misuse = true;
          tainted = true;
          heap.free(p + o.offset);
          break;
        }
        case "junk": {
          const call = (heap as unknown as Record<string, (this: Heap, ...args: unknown[]) => unknown>)[o.call]!;
          call.call(heap, o.value, o.value);
          break;
        }
        case "write": {
          const p = pick(o.freed ? freed : live, o.pick);
          if (p === undefined) break;
          tainted = true;
          heap.process.memory.store64Big(p + o.offset, o.value);
          break;
        }
      }
    } catch (error) {
      tally.error(error, `${o.op} ${JSON.stringify(o, (_k, v: unknown) => (typeof v === "bigint" ? `${v}n` : v))}`);
      if (error instanceof Error && (error.name === "SegmentationFault" || error.name === "OutOfMemoryError")) tainted = true;
      if (!wasTainted && (misuse || o.op === "junk" || !tainted)) {
        // A typed error on an untainted heap: the heap must be exactly as consistent as before.
        tally.checks++;
        try {
          heap.checkHeap();
        } catch (checkError) {
          tally.corruptions++;
          throw new Error(`${tally.name}: the heap is inconsistent after a typed ${(error as Error).name} (${(error as Error).message}) in ${o.op}: ${String(checkError)}`, {
            cause: checkError,
          });
        }
      }
    }
    tally.checks++;
    try {
      heap.checkHeap();
    } catch (checkError) {
      // The checker reports corruption with its typed error, never anything else.
      if (!isTyped(checkError) || checkError.name !== "HeapCheckError") {
        throw new Error(`${tally.name}: checkHeap crashed instead of reporting: ${String(checkError)}`, { cause: checkError });
      }
      if (!tainted) {
        tally.corruptions++;
        throw new Error(`${tally.name}: checkHeap failed without any misuse: ${checkError.message}`, { cause: checkError });
      }
      tally.error(checkError, "checkHeap");
      return; // a corrupted heap: the sequence ends (the real process would soon die)
    }
  }
}

const tallies: FuzzTally[] = [];
afterAll(() => {
  for (const t of tallies) console.log(t.summary());
});

describe.each([
  ["glibc", () => new GlibcMalloc(freshProcess(), { tcacheKey: 0x1234_5678_9abc }) as unknown as Heap],
  ["tlsf", () => new TlsfMalloc(freshProcess()) as unknown as Heap],
] as const)("fuzz: %s", (name, make) => {
  it("random calls, misuse and corruption: only typed errors, the checker reports or passes, 0 corruptions", () => {
    const tally = new FuzzTally(`libc-malloc ${name}`);
    tallies.push(tally);
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 80, size: "max" }), (ops) => runSequence(make(), ops, tally)),
      { numRuns: fuzzRuns(100, 3_000), seed: fuzzSeed() },
    );
    expect(tally.corruptions).toBe(0);
  }, 600_000);
});
