/**
 * Property tests: random call sequences, the checker after every step, and a model of the
 * live blocks (no overlap, contents intact, sys.getallocatedblocks() = live blocks).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Pymalloc, type PymallocOptions } from "../src/index.js";
import { makeHost } from "./helpers/host.js";

type Op =
  | { kind: "malloc"; size: number }
  | { kind: "calloc"; nelem: number; elsize: number }
  | { kind: "realloc"; pick: number; size: number }
  | { kind: "free"; pick: number }
  | { kind: "bad-free"; pick: number; interior: boolean };

const size = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 1, max: 512 }) },
  { weight: 2, arbitrary: fc.integer({ min: 1, max: 64 }) },
  { weight: 1, arbitrary: fc.constantFrom(0, 513, 1000, 4096) },
);
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: size.map((s) => ({ kind: "malloc" as const, size: s })) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("calloc" as const), nelem: fc.integer({ min: 0, max: 40 }), elsize: fc.integer({ min: 0, max: 24 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("realloc" as const), pick: fc.nat(), size }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("free" as const), pick: fc.nat() }) },
);
/** The same mix plus invalid frees (interior pointers, double frees, frees after release). */
const opWithMisuse: fc.Arbitrary<Op> = fc.oneof(
  { weight: 12, arbitrary: op },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("bad-free" as const), pick: fc.nat(), interior: fc.boolean() }) },
);

interface Live {
  size: number;
  tag: number;
}

function run(options: PymallocOptions, top: number, ops: Op[], checkEach: boolean): void {
  options = { strictFree: true, ...options };
  const host = makeHost(top);
  const pm = new Pymalloc(host, options);
  const mem = host.memory;
  const live = new Map<number, Live>();
  let tagSeq = 1;
  let steps = 0;
  const tag = (p: number, n: number): void => {
    const t = tagSeq++;
    if (n >= 8) mem.store64(p, t);
    live.set(p, { size: n, tag: n >= 8 ? t : -1 });
  };
  const verify = (p: number): void => {
    const l = live.get(p)!;
    if (l.tag >= 0) expect(mem.load64(p), `contents of block 0x${p.toString(16)}`).toBe(l.tag);
  };
  const keys = (): number[] => [...live.keys()];
  const freed = new Set<number>(); // pointers freed and not handed out again
  for (const o of ops) {
    switch (o.kind) {
      case "malloc": {
        const p = pm.malloc(o.size);
        expect(live.has(p)).toBe(false);
        freed.delete(p);
        tag(p, o.size);
        break;
      }
      case "calloc": {
        const p = pm.calloc(o.nelem, o.elsize);
        freed.delete(p);
        const n = o.nelem * o.elsize;
        for (let i = 0; i < n; i += 8) expect(mem.load64(p + i) % 2 ** (Math.min(8, n - i) * 8)).toBe(0);
        expect(live.has(p)).toBe(false);
        tag(p, n);
        break;
      }
      case "realloc": {
        const k = keys();
        if (k.length === 0) break;
        const p = k[o.pick % k.length]!;
        verify(p);
        const before = live.get(p)!;
        const q = pm.realloc(p, o.size);
        live.delete(p);
        freed.delete(q);
        if (q !== p) freed.add(p);
        if (before.tag >= 0 && o.size >= 8) expect(mem.load64(q)).toBe(before.tag);
        expect(live.has(q)).toBe(false);
        tag(q, o.size);
        break;
      }
      case "free": {
        const k = keys();
        if (k.length === 0) break;
        const p = k[o.pick % k.length]!;
        verify(p);
        pm.free(p);
        live.delete(p);
        freed.add(p);
        break;
      }
      case "bad-free": {
        // an interior pointer of a live pymalloc block, or a pointer freed before
        const candidates = o.interior ? keys().filter((p) => pm.owns(p) && live.get(p)!.size >= 16) : [...freed];
        if (candidates.length === 0) break;
        const p = candidates[o.pick % candidates.length]! + (o.interior ? 8 : 0);
        const before = pm.allocatedBlocks();
        expect(() => pm.free(p)).toThrow();
        expect(pm.allocatedBlocks()).toBe(before);
        break;
      }
    }
    if (checkEach) pm.check({ scanArenaMap: ++steps % 25 === 0 });
    expect(pm.allocatedBlocks()).toBe(live.size);
  }
  // no two live pymalloc blocks overlap
  const spans = keys()
    .filter((p) => pm.owns(p))
    .map((p) => [p, pm.blockSize(Math.max(1, live.get(p)!.size))] as const)
    .sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < spans.length; i++) expect(spans[i]![0]).toBeGreaterThanOrEqual(spans[i - 1]![0] + spans[i - 1]![1]);
  for (const p of keys()) verify(p);
  // free everything: at most one empty arena stays (none in 3.8)
  for (const p of keys()) pm.free(p);
  pm.check();
  expect(pm.allocatedBlocks()).toBe(0);
  expect(pm.narenasCurrentlyAllocated).toBeLessThanOrEqual(pm.params.keepLastEmptyArena ? 1 : 0);
}

const tops = fc.constantFrom(0x7f0000000000, 0x7f0000001000, 0x7f0000002000, 0x7f0000003000);

describe("random call sequences keep every invariant", () => {
  it("3.11 geometry, with invalid frees that must be refused with the state intact", () => {
    fc.assert(
      fc.property(tops, fc.array(opWithMisuse, { maxLength: 250 }), (top, ops) => run({ version: "3.11" }, top, ops, true)),
      { numRuns: 40 },
    );
  });

  it("3.8 geometry (256 KiB arenas, 4 KiB pools, no radix tree, every empty arena released)", () => {
    fc.assert(
      fc.property(tops, fc.array(op, { maxLength: 250 }), (top, ops) => run({ version: "3.8" }, top, ops, true)),
      { numRuns: 30 },
    );
  });

  it("tiny arenas (4 pools each): heavy arena churn exercises usable_arenas order and nfp2lasta", () => {
    fc.assert(
      fc.property(
        tops,
        fc.constantFrom<"3.9" | "3.11">("3.9", "3.11"),
        fc.array(op, { minLength: 100, maxLength: 400 }),
        (top, version, ops) =>
          run({ version, params: version === "3.9" ? { arenaSize: 16384 } : { arenaSize: 65536 } }, top, ops, true),
      ),
      { numRuns: 40 },
    );
  });
});
