import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { account } from "../src/index.js";
import { makeStack } from "./support.js";

const PRESETS = ["default", "malloc", "pymalloc", "debug", "malloc_debug", "pymalloc_debug"] as const;
const LIBCS = ["glibc", "tlsf"] as const;
type Domain = "raw" | "mem" | "obj";

/** A size from the ranges that exercise every path: pymalloc classes, tcache, bins, mmap. */
const size = fc.oneof(
  fc.integer({ min: 0, max: 512 }),
  fc.integer({ min: 513, max: 4096 }),
  fc.integer({ min: 4097, max: 100_000 }),
  fc.integer({ min: 120_000, max: 600_000 }),
);
const op = fc.oneof(
  fc.record({ kind: fc.constant("malloc" as const), domain: fc.constantFrom<Domain>("raw", "mem", "obj"), size }),
  fc.record({ kind: fc.constant("calloc" as const), domain: fc.constantFrom<Domain>("raw", "mem", "obj"), size }),
  fc.record({ kind: fc.constant("free" as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant("realloc" as const), pick: fc.nat(), size }),
);

describe("account (property)", () => {
  for (const preset of PRESETS) {
    for (const libc of LIBCS) {
      it(`causes sum to RssAnon at every sampled step: PYTHONMALLOC=${preset}, ${libc}`, () => {
        fc.assert(
          fc.property(fc.array(op, { minLength: 1, maxLength: 120 }), fc.integer({ min: 1, max: 15 }), (ops, every) => {
            const s = makeStack(preset, libc, 128);
            const live: { p: number; domain: Domain; size: number }[] = [];
            const requested = new Map<number, number>();
            ops.forEach((o, step) => {
              if (o.kind === "malloc" || o.kind === "calloc") {
                const p = o.kind === "malloc" ? s.pymem.malloc(o.domain, o.size) : s.pymem.calloc(o.domain, 1, o.size);
                if (p !== 0) {
                  live.push({ p, domain: o.domain, size: o.size });
                  requested.set(p, o.size);
                }
              } else if (live.length > 0) {
                const i = o.pick % live.length;
                const b = live[i]!;
                if (o.kind === "free") {
                  s.pymem.free(b.domain, b.p);
                  live.splice(i, 1);
                  requested.delete(b.p);
                } else {
                  const q = s.pymem.realloc(b.domain, b.p, o.size);
                  if (q !== 0 || o.size === 0) {
                    requested.delete(b.p);
                    live.splice(i, 1);
                    if (q !== 0) {
                      live.push({ p: q, domain: b.domain, size: o.size });
                      requested.set(q, o.size);
                    }
                  }
                }
              }
              if (step % every === 0 || step === ops.length - 1) {
                const a = account(s, { requested });
                const total = Object.values(a.causes).reduce((x, y) => x + y, 0);
                expect(total).toBe(a.rssAnon);
                expect(a.rssAnon).toBe(s.process.mm.rssAnon * 4096);
                for (const [cause, bytes] of Object.entries(a.causes)) {
                  expect(cause).toMatch(/^[a-z]+\.[a-z0-9.[\]_-]+$/);
                  expect(bytes).toBeGreaterThan(0);
                }
                if (libc === "tlsf") expect(Object.keys(a.causes).some((c) => c.startsWith("glibc."))).toBe(false);
                // no unexplained anonymous memory: every mapping the stack made is some allocator's
                expect(a.causes["other.anon"]).toBeUndefined();
              }
            });
          }),
          { numRuns: 12 },
        );
      });
    }
  }
});
