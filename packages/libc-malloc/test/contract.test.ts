/**
 * The contract every C allocator of this tier keeps, run against both implementations:
 * GlibcMalloc (ptmalloc2) and TlsfMalloc (two-level segregated fit).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { ProcessSpace } from "@mem/os-vm";
import { EINVAL, ENOMEM, GlibcMalloc, MallocAbort, TlsfMalloc, type CAllocator } from "../src/index.js";
import { freshProcess } from "./support/replay.js";

type Subject = CAllocator & { checkHeap(): void; readonly process: ProcessSpace; errno: number };

const implementations: [string, () => Subject][] = [
  ["GlibcMalloc", () => new GlibcMalloc(freshProcess(), { tcacheKey: 0xabcdef })],
  ["TlsfMalloc", () => new TlsfMalloc(freshProcess())],
];

/** Fills a block with a pattern derived from `tag` and checks it later. */
function stamp(a: Subject, p: number, n: number, tag: number): void {
  if (n === 0) return;
  a.process.memory.fill(p, n, tag & 0xff);
}
function intact(a: Subject, p: number, n: number, tag: number): boolean {
  if (n === 0) return true;
  const bytes = a.process.memory.read(p, n);
  return bytes.every((b) => b === (tag & 0xff));
}

for (const [name, make] of implementations) {
  describe(`${name} keeps the CAllocator contract`, () => {
    it("returns distinct 16-aligned blocks of at least the requested size that do not overlap", () => {
      const a = make();
      const sizes = [0, 1, 24, 25, 100, 1000, 1032, 1033, 4096, 65536, 200_000, 1 << 20];
      const blocks = sizes.map((n, i) => {
        const p = a.malloc(n);
        expect(p).not.toBe(0);
        expect(p % 16).toBe(0);
        expect(a.usableSize(p)).toBeGreaterThanOrEqual(n);
        stamp(a, p, a.usableSize(p), i + 1);
        return p;
      });
      blocks.forEach((p, i) => expect(intact(a, p, a.usableSize(p), i + 1)).toBe(true));
      a.checkHeap();
      for (const p of blocks) a.free(p);
      a.checkHeap();
      expect(a.usableSize(0)).toBe(0);
    });

    it("reuses freed memory: the same workload twice does not grow the heap", () => {
      const a = make();
      const round = (): void => {
        const ps = Array.from({ length: 200 }, (_, i) => a.malloc(16 + ((i * 37) % 900)));
        for (const p of ps) a.free(p);
      };
      round();
      const brk = a.process.brk(0);
      round();
      round();
      expect(a.process.brk(0)).toBeLessThanOrEqual(brk);
      a.checkHeap();
    });

    it("calloc returns zeroed memory, even over dirty reused blocks, and fails on overflow", () => {
      const a = make();
      const dirty = a.malloc(200);
      a.process.memory.fill(dirty, 200, 0xff);
      a.free(dirty);
      const p = a.calloc(10, 20);
      expect(a.process.memory.read(p, 200).every((b) => b === 0)).toBe(true);
      expect(a.calloc(2 ** 32, 2 ** 32)).toBe(0);
      expect(a.errno).toBe(ENOMEM);
      a.checkHeap();
    });

    it("realloc keeps contents when growing and shrinking, and follows C's NULL and 0 rules", () => {
      const a = make();
      let p = a.realloc(0, 40);
      expect(p).not.toBe(0);
      stamp(a, p, 40, 7);
      p = a.realloc(p, 3000);
      expect(intact(a, p, 40, 7)).toBe(true);
      p = a.realloc(p, 300_000);
      expect(intact(a, p, 40, 7)).toBe(true);
      p = a.realloc(p, 16);
      expect(intact(a, p, 16, 7)).toBe(true);
      expect(a.realloc(p, 0)).toBe(0);
      a.checkHeap();
    });

    it("aligns memalign, aligned_alloc and posix_memalign results and rejects bad alignments", () => {
      const a = make();
      for (const align of [32, 64, 256, 4096, 65536]) {
        for (const n of [1, 100, 5000, 300_000]) {
          const p = a.memalign(align, n);
          expect(p % align).toBe(0);
          expect(a.usableSize(p)).toBeGreaterThanOrEqual(n);
          stamp(a, p, n, align);
          const q = a.alignedAlloc(align, n);
          expect(q % align).toBe(0);
          const r = a.posixMemalign(align, n);
          expect(r.error).toBe(0);
          expect(r.pointer % align).toBe(0);
          expect(intact(a, p, n, align)).toBe(true);
          a.free(q);
          a.free(r.pointer);
          a.free(p);
        }
      }
      expect(a.posixMemalign(24, 10)).toEqual({ error: EINVAL, pointer: 0 });
      expect(a.posixMemalign(0, 10)).toEqual({ error: EINVAL, pointer: 0 });
      expect(a.memalign(2 ** 63 + 4096, 10)).toBe(0);
      expect(a.errno).toBe(EINVAL);
      a.checkHeap();
    });

    it("answers impossible sizes with NULL and ENOMEM and stays usable", () => {
      const a = make();
      const keep = a.malloc(10);
      for (const n of [2 ** 63, 2 ** 62, 2 ** 53 + 2, Number.MAX_SAFE_INTEGER, 2 ** 48, 2 ** 64 + 4096]) {
        a.errno = 0;
        expect(a.malloc(n)).toBe(0);
        expect(a.errno).toBe(ENOMEM);
        expect(a.realloc(keep, n)).toBe(0);
        expect(a.memalign(64, n)).toBe(0);
      }
      expect(a.usableSize(keep)).toBeGreaterThanOrEqual(10);
      a.checkHeap();
      expect(a.malloc(100)).not.toBe(0);
      a.checkHeap();
    });

    it("treats arguments as C does (negative sizes wrap to huge) and rejects non-integers with a TypeError", () => {
      const a = make();
      const keep = a.malloc(10);
      expect(a.malloc(-1)).toBe(0);
      expect(a.errno).toBe(ENOMEM);
      expect(a.memalign(-8, 10)).toBe(0);
      expect(a.errno).toBe(EINVAL);
      expect(() => a.malloc(1.5)).toThrow(TypeError);
      expect(() => a.malloc(Number.NaN)).toThrow(/libc-malloc: malloc: size must be an integer, got NaN/);
      expect(() => a.free(Number.NaN)).toThrow(TypeError);
      expect(() => a.free(-16)).toThrow(/pointer must be an address/);
      expect(() => a.realloc(keep, Infinity)).toThrow(TypeError);
      a.checkHeap();
      expect(a.usableSize(keep)).toBeGreaterThanOrEqual(10);
    });

    it("counts large blocks served by mmap in mallinfo2", () => {
      const a = make();
      const p = a.malloc(4 << 20);
      expect(a.mallinfo2().hblks).toBe(1);
      expect(a.mallinfo2().hblkhd).toBeGreaterThanOrEqual(4 << 20);
      a.free(p);
      expect(a.mallinfo2().hblks).toBe(0);
      expect(a.mallinfo2().hblkhd).toBe(0);
    });

    it("aborts with a typed MallocAbort on double free, interior and never-allocated pointers, and stays consistent", () => {
      const a = make();
      const p = a.malloc(24);
      const guard = a.malloc(24);
      const big = a.malloc(2000);
      a.malloc(24);
      a.free(p);
      expect(() => a.free(p)).toThrow(MallocAbort);
      a.checkHeap();
      expect(() => a.free(big + 32)).toThrow(MallocAbort);
      a.checkHeap();
      expect(() => a.free(guard + 8)).toThrow(MallocAbort);
      a.checkHeap();
      const top = a.malloc(64);
      expect(() => a.free(top + 4096)).toThrow(MallocAbort);
      a.checkHeap();
      a.free(big);
      expect(() => a.free(big)).toThrow(MallocAbort);
      a.checkHeap();
      expect(a.malloc(100)).not.toBe(0);
    });

    it("survives random call sequences with its heap checker passing after every step (property)", () => {
      const op = fc.oneof(
        fc.record({ kind: fc.constant("malloc" as const), size: fc.oneof(fc.nat(130), fc.nat(5000), fc.nat(300_000)) }),
        fc.record({ kind: fc.constant("calloc" as const), n: fc.nat(20), size: fc.nat(300) }),
        fc.record({ kind: fc.constant("free" as const), pick: fc.nat() }),
        fc.record({ kind: fc.constant("realloc" as const), pick: fc.nat(), size: fc.oneof(fc.nat(200), fc.nat(20_000)) }),
        fc.record({ kind: fc.constant("memalign" as const), align: fc.constantFrom(16, 32, 64, 4096), size: fc.nat(3000) }),
      );
      fc.assert(
        fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
          const a = make();
          const live: { p: number; n: number; tag: number }[] = [];
          let tag = 1;
          for (const o of ops) {
            if (o.kind === "free" || o.kind === "realloc") {
              if (live.length === 0) continue;
              const i = o.pick % live.length;
              const b = live[i]!;
              expect(intact(a, b.p, Math.min(b.n, 64), b.tag)).toBe(true);
              if (o.kind === "free") {
                a.free(b.p);
                live.splice(i, 1);
              } else {
                const q = a.realloc(b.p, o.size);
                if (o.size === 0) live.splice(i, 1);
                else {
                  expect(intact(a, q, Math.min(b.n, o.size, 64), b.tag)).toBe(true);
                  const t = tag++;
                  stamp(a, q, o.size, t);
                  live[i] = { p: q, n: o.size, tag: t };
                }
              }
            } else {
              const p =
                o.kind === "malloc" ? a.malloc(o.size) : o.kind === "calloc" ? a.calloc(o.n, o.size) : a.memalign(o.align, o.size);
              const n = o.kind === "calloc" ? o.n * o.size : o.size;
              expect(p).not.toBe(0);
              if (o.kind === "calloc") expect(a.process.memory.read(p, n).every((x) => x === 0)).toBe(true);
              if (o.kind === "memalign") expect(p % o.align).toBe(0);
              const t = tag++;
              stamp(a, p, n, t);
              live.push({ p, n, tag: t });
            }
            a.checkHeap();
          }
          for (const b of live) a.free(b.p);
          a.checkHeap();
        }),
        { numRuns: Number(process.env.CONTRACT_RUNS ?? 25) },
      );
    }, 600_000);
  });
}

describe("TlsfMalloc regressions found by the property test", () => {
  it("grows the heap by enough for the rounded-up list of a request just below the growth step", () => {
    const a = new TlsfMalloc(freshProcess());
    expect(a.malloc(126961)).not.toBe(0);
    a.checkHeap();
  });
});
