import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { GlibcMalloc } from "../src/index.js";
import { HEAP_MAX_SIZE } from "../src/heap.js";
import { freshProcess } from "./support/replay.js";

type Op =
  | { kind: "switch"; thread: number }
  | { kind: "malloc"; size: number }
  | { kind: "free"; pick: number }
  | { kind: "realloc"; pick: number; size: number }
  | { kind: "exit"; thread: number };

const size = fc.oneof(fc.integer({ min: 0, max: 1100 }), fc.integer({ min: 1100, max: 200_000 }));
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("switch" as const), thread: fc.integer({ min: 1, max: 12 }) }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant("malloc" as const), size }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("free" as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("realloc" as const), pick: fc.nat(), size }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("exit" as const), thread: fc.integer({ min: 2, max: 12 }) }) },
);

describe("glibc with threads: properties", () => {
  it("whatever the threads, exits and arena limit: blocks never overlap, keep their bytes, and free from any thread", () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 250 }), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 1, max: 4 }), (ops, arenaMax, cpus) => {
        const libc = new GlibcMalloc(freshProcess(), { tcacheKey: 7, arenaMax, cpus });
        const m = libc.process.memory;
        const live: { p: number; n: number; tag: number }[] = [];
        const exited = new Set<number>();
        let tag = 1;
        const fill = (p: number, n: number, t: number): void => {
          if (n > 0) m.fill(p, Math.min(n, 64), t & 0xff);
        };
        const intact = (b: { p: number; n: number; tag: number }): boolean => {
          for (let i = 0; i < Math.min(b.n, 64); i++) if (m.load8(b.p + i) !== (b.tag & 0xff)) return false;
          return true;
        };
        for (const o of ops) {
          if (o.kind === "switch") {
            if (!exited.has(o.thread)) libc.setThread(o.thread);
          } else if (o.kind === "exit") {
            if (o.thread !== libc.thread && !exited.has(o.thread)) {
              libc.threadExit(o.thread);
              exited.add(o.thread);
            }
          } else if (o.kind === "malloc") {
            const p = libc.malloc(o.size);
            expect(p).not.toBe(0);
            expect(libc.usableSize(p)).toBeGreaterThanOrEqual(o.size);
            live.push({ p, n: o.size, tag: ++tag });
            fill(p, o.size, tag);
          } else if (live.length > 0) {
            const i = o.pick % live.length;
            const b = live[i]!;
            expect(intact(b)).toBe(true);
            if (o.kind === "free") {
              libc.free(b.p);
              live.splice(i, 1);
            } else {
              const q = libc.realloc(b.p, o.size);
              if (o.size === 0) {
                live.splice(i, 1);
              } else {
                for (let k = 0; k < Math.min(b.n, o.size, 64); k++) expect(m.load8(q + k)).toBe(b.tag & 0xff);
                live[i] = { p: q, n: o.size, tag: ++tag };
                fill(q, o.size, tag);
              }
            }
          }
        }
        // no two live blocks overlap, and every one still holds its bytes
        const sorted = [...live].sort((a, b) => a.p - b.p);
        for (let i = 1; i < sorted.length; i++) expect(sorted[i]!.p).toBeGreaterThanOrEqual(sorted[i - 1]!.p + sorted[i - 1]!.n);
        for (const b of live) expect(intact(b)).toBe(true);
        // arenas stay within the limit (8 x cpus once past arena_test; arena_max when set)
        expect(libc.arenas().length).toBeLessThanOrEqual(arenaMax > 0 ? Math.max(arenaMax, 1) : Math.max(9, 8 * cpus));
        for (const a of libc.arenas().slice(1)) expect(a % HEAP_MAX_SIZE).toBe(0x30);
        libc.checkHeap();
        const info = libc.mallinfo2();
        expect(info.uordblks + info.fordblks).toBe(info.arena);
      }),
      { numRuns: 60 },
    );
  });
});
