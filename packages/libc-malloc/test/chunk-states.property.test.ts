import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Glibc241Malloc, Glibc242Malloc, Glibc243Malloc, GlibcMalloc, HeapCheckError, heapChunksOf, CHUNK_BIN, CHUNK_TOP } from "../src/index.js";
import { freshProcess } from "./support/replay.js";

type Op = { kind: "malloc"; size: number } | { kind: "free"; pick: number } | { kind: "realloc"; pick: number; size: number } | { kind: "switch"; thread: number } | { kind: "trim" };

const size = fc.oneof(fc.integer({ min: 0, max: 160 }), fc.integer({ min: 0, max: 1100 }), fc.integer({ min: 1100, max: 150_000 }));
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant("malloc" as const), size }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant("free" as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("realloc" as const), pick: fc.nat(), size }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("switch" as const), thread: fc.integer({ min: 1, max: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("trim" as const) }) },
);
const RELEASES = [GlibcMalloc, Glibc241Malloc, Glibc242Malloc, Glibc243Malloc] as const;

describe("GlibcMalloc.chunkStates (the lean heap walk)", () => {
  it("lists the chunks walkHeap lists, in the same order, with the same states and bins, in every release, with and without threads", () => {
    fc.assert(
      fc.property(fc.constantFrom(...RELEASES), fc.array(op, { maxLength: 200 }), fc.boolean(), (Release, ops, threads) => {
        const g = new Release(freshProcess(), { tcacheKey: 0x1234_5678_9abc });
        const live: number[] = [];
        for (const o of ops) {
          if (o.kind === "malloc") {
            const p = g.malloc(o.size);
            if (p !== 0) live.push(p);
          } else if (o.kind === "switch") {
            if (threads) g.setThread(o.thread);
          } else if (o.kind === "trim") {
            g.mallocTrim(0);
          } else if (live.length > 0) {
            const i = o.pick % live.length;
            if (o.kind === "free") {
              g.free(live[i]!);
              live.splice(i, 1);
            } else {
              const q = g.realloc(live[i]!, o.size);
              if (q !== 0) live[i] = q;
              else if (o.size === 0) live.splice(i, 1);
            }
          }
        }
        expect(heapChunksOf(g.chunkStates())).toEqual(g.walkHeap());
      }),
      { numRuns: 150 },
    );
  });

  it("grows its columns past the capacity the last walk left (1,200 chunks after a walk of 4)", () => {
    const small = new GlibcMalloc(freshProcess(), { tcacheKey: 1 });
    small.malloc(100);
    expect(small.chunkStates().count).toBeLessThan(8); // the next walk starts with room for about 256
    const g = new GlibcMalloc(freshProcess(), { tcacheKey: 1 });
    const blocks = Array.from({ length: 1200 }, (_, i) => g.malloc(24 + (i % 7) * 16));
    for (let i = 0; i < blocks.length; i += 3) g.free(blocks[i]!); // tcache, fastbins, and chunks kept apart
    const s = g.chunkStates();
    expect(s.count).toBeGreaterThan(1200);
    expect(heapChunksOf(s)).toEqual(g.walkHeap());
  });

  it("is empty before ptmalloc_init, and ends with the top chunk after it", () => {
    const g = new GlibcMalloc(freshProcess(), { tcacheKey: 1 });
    expect(g.chunkStates().count).toBe(0);
    const p = g.malloc(2000);
    g.malloc(24);
    g.free(p);
    const s = g.chunkStates();
    expect(s.state[s.count - 1]).toBe(CHUNK_TOP);
    expect(s.address[s.count - 1]).toBe(g.inspect().top);
    // the 2000-byte chunk went to the unsorted bin (too large for tcache)
    const i = Array.from(s.address.subarray(0, s.count)).indexOf(p - 16);
    expect([s.state[i], s.bin[i]]).toEqual([CHUNK_BIN, 1]);
  });

  it("does not check the lists: a broken bk link that walkHeap refuses still walks (the chunk chain alone is checked)", () => {
    const g = new GlibcMalloc(freshProcess(), { tcacheKey: 1 });
    const p = g.malloc(2000);
    g.malloc(24);
    g.free(p);
    const mem = g.process.memory;
    mem.store32(p + 8, 0x10); // the free chunk's bk (user pointer + 8) no longer points back at the bin
    expect(() => g.walkHeap()).toThrow(HeapCheckError);
    expect(g.chunkStates().count).toBe(4);
    mem.store32(p - 8, 0); // its size field: the chain itself is broken
    expect(() => g.chunkStates()).toThrow(/invalid chunk size 0x0/);
  });

  it("heapChunksOf refuses columns it cannot read: a count past them, not whole, or a state that is no CHUNK_* code", () => {
    const g = new GlibcMalloc(freshProcess(), { tcacheKey: 1 });
    g.malloc(100);
    const s = g.chunkStates();
    expect(heapChunksOf(s)).toHaveLength(s.count);
    expect(() => heapChunksOf({ ...s, count: s.address.length + 1 })).toThrow(/count must be a whole number from 0/);
    expect(() => heapChunksOf({ ...s, count: 1.5 })).toThrow(RangeError);
    expect(() => heapChunksOf({ ...s, count: -1 })).toThrow(RangeError);
    const state = Uint8Array.from(s.state);
    state[0] = 9;
    expect(() => heapChunksOf({ ...s, state })).toThrow(/chunk 0 has state code 9/);
  });
});
