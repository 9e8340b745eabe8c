import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CauseSums } from "../src/cause-sums.js";
import { ResidentLedger } from "../src/index.js";

const NAMES = ["a", "b", "c"];
/** A range with a cause: an index into NAMES, or a name of its own (putNamed); `flush` before it when set. */
const claim = fc.record({
  cause: fc.oneof(fc.integer({ min: 0, max: 2 }), fc.constantFrom("x", "y", "a")),
  start: fc.nat({ max: 40 * 4096 }),
  length: fc.nat({ max: 3 * 4096 }),
  flush: fc.boolean(),
  direct: fc.boolean(),
});

describe("CauseSums", () => {
  it("leaves the ledger as ResidentLedger.add range by range would: the same bytes per page and the same causes, in the same order", () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 0, max: 45 }), { maxLength: 30 }), fc.array(claim, { maxLength: 40 }), fc.option(fc.nat({ max: 45 * 4096 })), (pages, claims, watch) => {
        const vmas = [{ start: 0, end: 48 * 4096, name: undefined, pages: [...pages].sort((x, y) => x - y) }];
        const byAdd = new ResidentLedger(vmas, watch ?? undefined);
        const bySums = new ResidentLedger(vmas, watch ?? undefined);
        const sums = new CauseSums(bySums, NAMES);
        // ranges must not overlap: each claim takes the next free stretch
        let at = 0;
        for (const c of claims) {
          const start = at + (c.start % 4096);
          const end = start + c.length;
          at = end;
          const name = typeof c.cause === "number" ? NAMES[c.cause]! : c.cause;
          byAdd.add(start, end, name);
          if (c.flush) sums.flush();
          if (c.direct) {
            // a source adding straight to the ledger in between (after a flush, as accountChunks does)
            sums.flush();
            bySums.add(start, end, name);
          } else if (typeof c.cause === "number") sums.put(c.cause, start, end);
          else sums.putNamed(c.cause, start, end);
        }
        sums.flush();
        expect([...bySums.causes]).toEqual([...byAdd.causes]);
        expect([...bySums.watched]).toEqual([...byAdd.watched]);
        expect([...bySums.finish()]).toEqual([...byAdd.finish()]);
      }),
      { numRuns: 400 },
    );
  });
});
