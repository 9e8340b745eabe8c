import fc from "fast-check";
import type { GlibcMalloc } from "@mem/libc-malloc";
import { describe, expect, it } from "vitest";
import { Timeline } from "../src/index.js";
import { makeStack } from "./support.js";

type Op = { kind: "malloc"; size: number } | { kind: "free"; pick: number } | { kind: "thread"; thread: number } | { kind: "burst"; n: number };
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant("malloc" as const), size: fc.oneof(fc.constantFrom(24, 40), fc.integer({ min: 1, max: 120 }), fc.integer({ min: 513, max: 3000 }), fc.integer({ min: 100_000, max: 300_000 })) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("free" as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("thread" as const), thread: fc.integer({ min: 1, max: 3 }) }) },
  // 24-byte blocks freed together: tcache's bin fills (7), the rest goes to a fastbin
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("burst" as const), n: fc.integer({ min: 8, max: 20 }) }) },
);

describe("Timeline samples' C-library counters", () => {
  it("equal glibc's mallinfo2() at every sample (taken from the account's heap walk with the main arena alone), with and without thread arenas", () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), fc.integer({ min: 1, max: 7 }), fc.boolean(), (ops, every, threads) => {
        const s = makeStack();
        const g = s.libc as GlibcMalloc;
        const t = new Timeline(s, { every });
        const live: number[] = [];
        const expected: { arena: number; uordblks: number; hblkhd: number }[] = [];
        let calls = 0;
        for (const o of ops) {
          if (o.kind === "thread") {
            if (threads) g.setThread(o.thread);
            continue;
          }
          if (o.kind === "burst") {
            const burst: number[] = [];
            for (let i = 0; i < o.n; i++) burst.push(s.pymem.rawMalloc(24));
            for (const p of burst) s.pymem.rawFree(p);
          } else if (o.kind === "malloc") live.push(s.pymem.rawMalloc(o.size));
          else if (live.length > 0) s.pymem.rawFree(live.splice(o.pick % live.length, 1)[0]!);
          else continue;
          if (++calls % every === 0) {
            const info = g.inspect().initialised ? g.mallinfo2() : { arena: 0, uordblks: 0, hblkhd: 0 };
            expected.push({ arena: info.arena, uordblks: info.uordblks, hblkhd: info.hblkhd });
          }
          t.afterCall();
        }
        const got = t.finish().timeline.filter((x) => x.event % every === 0 && x.event > 0);
        expect(got.map((x) => ({ arena: x.libcSystem, uordblks: x.libcInUse, hblkhd: x.mmappedBytes }))).toEqual(expected);
      }),
      { numRuns: 120 },
    );
  });
});
