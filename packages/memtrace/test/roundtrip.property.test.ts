import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DOMAINS, TraceStream, formatEvent, formatTrace, parseLine, parseTrace, type MemtraceEvent } from "../src/index.js";

const size = fc.oneof(fc.nat({ max: 4096 }), fc.maxSafeNat());
const ptr = fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 2 ** 47 - 1 }), fc.maxSafeNat());
/** A and D lines describe mmapped arenas: page-aligned, non-NULL, whole pages. */
const arenaPtr = fc.integer({ min: 1, max: 2 ** 35 - 1 }).map((page) => page * 4096);
const arenaSize = fc.integer({ min: 1, max: 2 ** 20 }).map((pages) => pages * 4096);
const domain = fc.constantFrom(...DOMAINS);
const commentText = fc.string({ maxLength: 30 }).map((s) => s.replace(/[\r\n]/g, "")).filter((s) => !s.startsWith(" heap-start ") && !s.startsWith(" cpus ") && !/^[FTSR] /.test(s));

const event: fc.Arbitrary<MemtraceEvent> = fc.oneof(
  fc.record({ kind: fc.constant("malloc" as const), domain, size, result: ptr }),
  fc.record({ kind: fc.constant("calloc" as const), domain, nelem: size, elsize: size, result: ptr }),
  fc.record({ kind: fc.constant("realloc" as const), domain, ptr, size, result: ptr }),
  fc.record({ kind: fc.constant("free" as const), domain, ptr }),
  fc.record({ kind: fc.constant("memalign" as const), domain, alignment: size, size, result: ptr }),
  fc.record({ kind: fc.constant("arena-alloc" as const), size: arenaSize, result: arenaPtr }),
  fc.record({ kind: fc.constant("arena-free" as const), ptr: arenaPtr, size: arenaSize }),
  fc.record({ kind: fc.constant("write" as const), ptr, offset: size, bytes: fc.uint8Array({ minLength: 1, maxLength: 12 }) }),
  fc.record({ kind: fc.constant("heap-start" as const), address: ptr }),
  fc.record({ kind: fc.constant("cpus" as const), count: fc.integer({ min: 1, max: 4096 }) }),
  fc.record({ kind: fc.constantFrom("thread" as const, "thread-start" as const, "thread-exit" as const), thread: fc.integer({ min: 1, max: 2 ** 31 }) }),
  fc.record({ kind: fc.constant("comment" as const), text: commentText }),
);

describe("round trip", () => {
  it("parse(format(e)) equals e for every event", () => {
    fc.assert(
      fc.property(event, (e) => {
        expect(parseLine(formatEvent(e))).toEqual(e);
      }),
      { numRuns: 2000 },
    );
  });

  it("format(parse(x)) equals x for every canonical trace text", () => {
    fc.assert(
      fc.property(fc.array(event, { maxLength: 40 }), (events) => {
        const text = `# memtrace v1\n${formatTrace(events)}`;
        expect(formatTrace(parseTrace(text))).toBe(text);
      }),
      { numRuns: 300 },
    );
  });

  it("streaming over any chunking gives the same records as one parse", () => {
    fc.assert(
      fc.property(fc.array(event, { maxLength: 30 }), fc.array(fc.nat(), { maxLength: 8 }), (events, cuts) => {
        const text = `# memtrace v1\n${formatTrace(events)}`;
        const points = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b);
        const got: string[] = [];
        const s = new TraceStream((r) => got.push(formatEvent(r)));
        let prev = 0;
        for (const p of points) {
          s.push(text.slice(prev, p));
          prev = p;
        }
        s.push(text.slice(prev));
        s.end();
        expect(`${got.join("\n")}\n`).toBe(text);
      }),
      { numRuns: 300 },
    );
  });
});
